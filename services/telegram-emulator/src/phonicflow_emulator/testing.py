"""Start a private, real emulator process for a test.

Usage::

    from phonicflow_emulator.testing import running_emulator

    with running_emulator() as emu:          # a free port on 127.0.0.1
        app = (Application.builder().token(emu.token)
               .base_url(emu.api_base_url).base_file_url(emu.file_base_url).build())
        ana = emu.client.user(1001, first_name="Ana")
        ...

The handle has ``.url``, ``.token``, ``.api_base_url`` (``<url>/bot``), ``.file_base_url``
(``<url>/file/bot``), ``.client`` (an :class:`EmulatorClient`, closed on exit), ``.port``,
``.pid`` and ``.logs()`` (the process's output, for failure messages). Extra ``EMULATOR_*`` settings go
in ``env``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from phonicflow_emulator.client import EmulatorClient
from phonicflow_emulator.settings import DEFAULT_TOKEN

STARTUP_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 10.0


@dataclass
class EmulatorHandle:
    """A running emulator; see the module docstring."""

    url: str
    token: str
    port: int
    client: EmulatorClient
    log_path: Path
    pid: int

    @property
    def api_base_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def file_base_url(self) -> str:
        return f"{self.url}/file/bot"

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"emulator exited with {proc.returncode} during start-up:\n"
                + log_path.read_text(encoding="utf-8", errors="replace")
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/_emu/health", timeout=1.0).status_code == 200:
                return
        time.sleep(0.05)
    raise TimeoutError(f"emulator not ready after {STARTUP_TIMEOUT_SECONDS}s")


@contextlib.contextmanager
def running_emulator(
    port: int | None = None, *, token: str = DEFAULT_TOKEN, env: Mapping[str, str] | None = None
) -> Iterator[EmulatorHandle]:
    """Run ``python -m phonicflow_emulator`` on ``port`` (a free one by default) until exit."""
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}"
    log_file = tempfile.NamedTemporaryFile(prefix="emulator-", suffix=".log", delete=False)  # noqa: SIM115
    process_env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "EMULATOR_HOST": "127.0.0.1",
        "EMULATOR_PORT": str(port),
        "EMULATOR_TOKEN": token,
        **(env or {}),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "phonicflow_emulator"],
        env=process_env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    log_path = Path(log_file.name)
    client: EmulatorClient | None = None
    try:
        _wait_ready(url, proc, log_path)
        client = EmulatorClient(url)
        yield EmulatorHandle(
            url=url, token=token, port=port, client=client, log_path=log_path, pid=proc.pid
        )
    finally:
        if client is not None:
            client.close()
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log_file.close()


def png(width: int, height: int) -> bytes:
    """A valid grey PNG of that size (stdlib only): something for sendPhoto in tests."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
