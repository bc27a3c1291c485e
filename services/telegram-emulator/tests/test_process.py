"""The emulator as a process: configuration errors and shutdown."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from phonicflow_emulator.testing import EmulatorHandle, running_emulator


def test_a_bad_setting_stops_it_naming_the_variable() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "phonicflow_emulator"],
        env={**os.environ, "EMULATOR_PORT": "eighty", "EMULATOR_TOKEN": "bad token"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "EMULATOR_PORT" in result.stderr and "EMULATOR_TOKEN" in result.stderr


def test_it_stops_promptly_while_a_bot_is_long_polling(emulator: EmulatorHandle) -> None:
    with running_emulator() as private:
        url = f"{private.api_base_url}{private.token}/getUpdates"
        code = (
            "import httpx, contextlib\n"
            "with contextlib.suppress(httpx.HTTPError):\n"
            f"    httpx.post({url!r}, data={{'timeout': '50'}}, timeout=60)"
        )
        poll = subprocess.Popen([sys.executable, "-c", code])
        time.sleep(1.0)
        started = time.monotonic()
    stopped_in = time.monotonic() - started
    poll.wait(10)
    assert stopped_in < 5, f"shutdown took {stopped_in:.1f}s with a long poll open"
    # The shared emulator is unaffected.
    assert httpx.get(f"{emulator.url}/_emu/health").json() == {"ok": True}
