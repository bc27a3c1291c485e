"""The README's run command: everything starts, a learner can chat, Ctrl-C stops it all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from phonicflow_emulator.client import EmulatorClient
from phonicflow_testing.processes import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def test_run_local_starts_the_system_with_the_emulator_and_ctrl_c_stops_it(tmp_path):
    emulator_port = free_port()
    env = {
        **os.environ,
        "CONVERTER_LISTEN_ADDRESS": f"127.0.0.1:{free_port()}",
        "BACKEND_PORT": str(free_port()),
        "BOT_HEALTH_PORT": str(free_port()),
        "EMULATOR_PORT": str(emulator_port),
        "STORAGE_DIR": str(tmp_path / "storage"),
    }
    env.pop("TELEGRAM_BOT_TOKEN", None)
    log = (tmp_path / "run.log").open("w+")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "run_local.py")],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 150
        while "PhonicFlow is running" not in (tmp_path / "run.log").read_text():
            assert proc.poll() is None, (tmp_path / "run.log").read_text()
            assert time.monotonic() < deadline, "not running after 150 s"
            time.sleep(0.3)
        assert f"http://127.0.0.1:{emulator_port}/" in (tmp_path / "run.log").read_text()

        with EmulatorClient(f"http://127.0.0.1:{emulator_port}") as emu:
            learner = emu.user(5005, first_name="Lia", language_code="pt-br")
            learner.send_text("/start")
            (welcome,) = learner.wait_for_messages(count=1, timeout=30)
            assert "PhonicFlow" in welcome["text"]
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
    output = (tmp_path / "run.log").read_text()
    assert code == 0, output[-3000:]
    assert "[run]\x1b[0m stopped" in output
    for port in (emulator_port, int(env["BACKEND_PORT"]), int(env["BOT_HEALTH_PORT"])):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"something still listens on {port}"
