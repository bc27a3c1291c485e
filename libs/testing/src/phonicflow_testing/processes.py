"""Start real service processes on free ports and stop them cleanly."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TypeVar

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def eventually(
    probe: Callable[[], T | None], timeout: float = 20.0, message: str = "", interval: float = 0.05
) -> T:
    """Poll ``probe`` until it returns something truthy and return that, or fail the test.

    For conditions that become true in another process (a bot's reply, a key in Redis).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {message or probe}")
        time.sleep(interval)


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 20.0) -> None:
    """Block until something accepts TCP connections on host:port, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


class ServiceProcess:
    """A service started as ``python -m <module>`` (or any argv) with its own environment.

    Output goes to a log file so a failing test can show it (:meth:`logs`). Use as a context
    manager, or call :meth:`start` / :meth:`stop`. ``ready`` is polled until it returns True.
    """

    def __init__(
        self,
        argv: Sequence[str] | str,
        *,
        env: Mapping[str, str] | None = None,
        ready: Callable[[], bool] | None = None,
        port: int | None = None,
        name: str | None = None,
        cwd: str | Path | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.argv = [sys.executable, "-m", argv] if isinstance(argv, str) else list(argv)
        self.name = name or (argv if isinstance(argv, str) else Path(argv[0]).name)
        # faulthandler: a crash in native code (a speech engine) leaves its stack in the log
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1", **(env or {})}
        self.ready = ready
        self.port = port
        self.cwd = cwd
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix=f"{self.name}-", suffix=".log", delete=False)  # noqa: SIM115

    def start(self) -> ServiceProcess:
        self.proc = subprocess.Popen(
            self.argv, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.cwd
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode} during start-up:\n{self.logs()}"
                )
            try:
                if self.port is not None:
                    wait_for_port(self.port, timeout=0.2)
                if self.ready is None or self.ready():
                    return self
            except (OSError, TimeoutError):
                pass
            except Exception:  # noqa: S110 - a readiness probe may raise anything while starting
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"{self.name} not ready after {self.startup_timeout}s:\n{self.logs()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        """Send ``sig`` (SIGTERM), wait, then SIGKILL. Returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        """The process id once started (for psutil and signals)."""
        if self.proc is None:
            raise RuntimeError(f"{self.name} has not been started")
        return self.proc.pid

    def logs(self) -> str:
        self._log.flush()
        return Path(self._log.name).read_text(encoding="utf-8", errors="replace")

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
