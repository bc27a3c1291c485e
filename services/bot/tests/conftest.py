"""The bot's test rig: every part is a real process on a free loopback port.

- the Telegram Bot API emulator (``phonicflow_emulator.testing.running_emulator``);
- the real audio converter (``python -m phonicflow_converter``);
- ``fake_backend.py`` beside this file: the backend's HTTP contract, controllable;
- real Redis (``redis_server`` from phonicflow_testing);
- the bot itself, ``python -m phonicflow_bot``, started by :class:`BotRig`.

Processes are shared per test module; scenarios keep apart by using different learner ids.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from phonicflow_emulator.testing import EmulatorHandle, running_emulator
from phonicflow_testing.processes import ServiceProcess, free_port

FAKE_BACKEND = Path(__file__).with_name("fake_backend.py")
BOT_KEY = "bot-private-key-for-tests-0001"


class FakeBackend:
    """The fake backend process and its control API."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process = ServiceProcess(
            [sys.executable, str(FAKE_BACKEND), "--port", str(port), "--bot-key", BOT_KEY],
            name="fake-backend",
            port=port,
            ready=self._healthy,
        )

    def _healthy(self) -> bool:
        return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200

    def fault(self, path: str, status: int = 0, delay: float = 0.0, times: int = 1) -> None:
        body = {"path": path, "status": status, "delay": delay, "times": times}
        httpx.post(f"{self.url}/_fake/faults", json=body, timeout=5).raise_for_status()

    def clear_faults(self) -> None:
        httpx.delete(f"{self.url}/_fake/faults", timeout=5).raise_for_status()

    def wipe(self) -> None:
        httpx.post(f"{self.url}/_fake/wipe", timeout=5).raise_for_status()

    def requests(self, path: str | None = None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = httpx.get(f"{self.url}/_fake/requests", timeout=5).json()
        return [r for r in found if path is None or r["path"].startswith(path)]

    def get(self, path: str) -> httpx.Response:
        """A GET as the bot makes it (with its key), e.g. to see what the backend still holds."""
        return httpx.get(f"{self.url}{path}", headers={"X-Bot-Key": BOT_KEY}, timeout=5)

    def stop(self) -> None:
        self.process.stop()

    def start(self) -> None:
        self.process.start()


class Converter:
    def __init__(self, port: int) -> None:
        self.port = port
        self.address = f"127.0.0.1:{port}"
        self.process = ServiceProcess(
            "phonicflow_converter",
            env={"CONVERTER_LISTEN_ADDRESS": self.address, "LOG_LEVEL": "WARNING"},
            port=port,
        )

    def start(self) -> None:
        self.process.start()

    def stop(self) -> None:
        self.process.stop()


class BotRig:
    """Starts bots wired to this module's emulator, converter and fake backend."""

    def __init__(
        self, emulator: EmulatorHandle, converter: Converter, backend: FakeBackend, redis: str
    ) -> None:
        self.emulator = emulator
        self.converter = converter
        self.backend = backend
        self.redis = redis
        self.bots: list[ServiceProcess] = []

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            "TELEGRAM_BOT_TOKEN": self.emulator.token,
            "TELEGRAM_API_BASE_URL": self.emulator.api_base_url,
            "TELEGRAM_FILE_BASE_URL": self.emulator.file_base_url,
            "BACKEND_URL": self.backend.url,
            "BOT_PRIVATE_KEY": BOT_KEY,
            "BACKEND_TIMEOUT": "5",
            "CONVERTER_ADDRESS": self.converter.address,
            "CONVERTER_TIMEOUT": "5",
            "REDIS_URL": self.redis,
            "BOT_POLLING_TIMEOUT": "10",
            "BOT_POLLING_INTERVAL": "0",
            "BOT_HEALTH_HOST": "127.0.0.1",
            "LOG_LEVEL": "INFO",
            "OTEL_TRACES_EXPORTER": "none",
        }
        env.update(overrides)
        return env

    def start(self, role: str | None = None, **overrides: str) -> ServiceProcess:
        """A bot process; ``role`` (poller, worker, webhook) as ``--role`` on its command line."""
        port = free_port()
        env = self.env(BOT_HEALTH_PORT=str(port), **overrides)

        def ready() -> bool:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200

        argv = [sys.executable, "-m", "phonicflow_bot"] + (["--role", role] if role else [])
        bot = ServiceProcess(argv, env=env, port=port, ready=ready, name=f"bot-{role or 'all'}")
        bot.health_url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
        bot.start()
        self.bots.append(bot)
        return bot

    def stop_all(self) -> None:
        for bot in self.bots:
            bot.stop()
        self.bots.clear()


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    with running_emulator() as handle:
        yield handle


@pytest.fixture(scope="module")
def converter() -> Iterator[Converter]:
    conv = Converter(free_port())
    conv.start()
    yield conv
    conv.stop()


@pytest.fixture(scope="module")
def fake_backend() -> Iterator[FakeBackend]:
    backend = FakeBackend(free_port())
    backend.start()
    yield backend
    backend.stop()


@pytest.fixture(scope="module")
def rig(
    emulator: EmulatorHandle, converter: Converter, fake_backend: FakeBackend, redis_server: str
) -> Iterator[BotRig]:
    rig = BotRig(emulator, converter, fake_backend, redis_server)
    yield rig
    rig.stop_all()


@pytest.fixture(scope="module")
def bot(rig: BotRig) -> Iterator[ServiceProcess]:
    """One bot for the module, with Redis, a generous rate limit."""
    process = rig.start()
    yield process
    with contextlib.suppress(Exception):
        process.stop()


@pytest.fixture(autouse=True)
def _healthy_backend(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts with a backend that behaves (faults never leak between tests)."""
    yield
    if "fake_backend" in request.fixturenames:
        backend: FakeBackend = request.getfixturevalue("fake_backend")
        with contextlib.suppress(Exception):
            backend.clear_faults()
