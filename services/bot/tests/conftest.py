"""The bot's test rig: every part is a real process on a free loopback port.

- the Telegram Bot API emulator (``phonicflow_emulator.testing.running_emulator``);
- the real audio converter (``python -m phonicflow_converter``);
- the real backend app on deterministic stub speech engines, as its own process
  (``python -m phonicflow_testing.stub_backend``) behind the fault layer
  (:mod:`phonicflow_testing.fault_layer`): :class:`StubBackendProcess`, the ``stub_backend``
  fixture. Its engines hear :data:`HEARD` with a TH→T error (``th_to_t``) on the learner's
  "think" (:data:`ENGINES`, set again before every test);
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

BOT_KEY = "bot-private-key-for-tests-0001"
#: What the stub speech engines hear in every voice note: "I think three trees are there" said
#: with TH as T. The stub scorer scores the words it is given (the transcript in free speech,
#: the sentence in a drill) 90, except those in ``errors``: 30 and that error, heard as "x". So
#: free speech flags "tink" (TH→T) and "are" (omitted); a drill of "I think three trees are
#: there" flags "think" and "three" too.
HEARD = "i tink tree trees are dere"
ENGINES: dict[str, Any] = {
    "transcript": HEARD,
    "errors": {"tink": "th_to_t", "think": "th_to_t", "three": "th_to_t", "are": "omitted"},
}


class StubBackendProcess:
    """The real backend on stub engines, as a process, and the fault layer's control API.

    Its storage (SQLite, audio) is a directory of its own that outlives :meth:`stop`: a restart
    keeps every session, as the real backend's does; :meth:`wipe` is the storage lost.
    """

    def __init__(self, port: int, storage: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        argv = [sys.executable, "-m", "phonicflow_testing.stub_backend", "--port", str(port),
                "--storage", str(storage), "--bot-key", BOT_KEY]  # fmt: skip
        self.process = ServiceProcess(
            argv, name="stub-backend", port=port, ready=self._ready, startup_timeout=60
        )

    def _ready(self) -> bool:
        return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200

    def _control(self, method: str, name: str, body: Any = None) -> Any:
        response = httpx.request(method, f"{self.url}/_test/{name}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def fault(self, path: str, status: int = 0, delay: float = 0.0, times: int = 1) -> None:
        """See the fault layer: a ``delay`` on ``/process`` holds back an answer already made."""
        self._control("POST", "faults", {"path": path, "status": status, "delay": delay,
                                         "times": times})  # fmt: skip

    def clear_faults(self) -> None:
        self._control("DELETE", "faults")

    def engines(self, **values: Any) -> None:
        """What the stub engines hear and flag from now on (``transcript``, ``errors``)."""
        self._control("POST", "engines", values)

    def wipe(self) -> None:
        """Delete every row of the backend's database: sessions, turns, idempotency keys."""
        self._control("POST", "wipe")

    def requests(self, path: str | None = None) -> list[dict[str, Any]]:
        """Every request since this process started (see the fault layer for the fields)."""
        found: list[dict[str, Any]] = self._control("GET", "requests")
        return [r for r in found if path is None or r["path"].startswith(path)]

    def get(self, path: str) -> httpx.Response:
        """A GET as the bot makes it (with its key), e.g. to see what the backend still holds."""
        return httpx.get(f"{self.url}{path}", headers={"X-Bot-Key": BOT_KEY}, timeout=5)

    def stop(self) -> None:
        self.process.stop()

    def start(self) -> None:
        self.process.start()
        self.engines(**ENGINES)


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
    """Starts bots wired to this module's emulator, converter and stub backend."""

    def __init__(
        self,
        emulator: EmulatorHandle,
        converter: Converter,
        backend: StubBackendProcess,
        redis: str,
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
def stub_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StubBackendProcess]:
    backend = StubBackendProcess(free_port(), tmp_path_factory.mktemp("stub-backend"))
    backend.start()
    yield backend
    backend.stop()


@pytest.fixture(scope="module")
def rig(
    emulator: EmulatorHandle,
    converter: Converter,
    stub_backend: StubBackendProcess,
    redis_server: str,
) -> Iterator[BotRig]:
    rig = BotRig(emulator, converter, stub_backend, redis_server)
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
    """Each test starts with a backend that behaves and hears :data:`ENGINES` (faults and
    engine settings never leak between tests)."""
    if "stub_backend" in request.fixturenames:
        request.getfixturevalue("stub_backend").engines(**ENGINES)
    yield
    if "stub_backend" in request.fixturenames:
        backend: StubBackendProcess = request.getfixturevalue("stub_backend")
        with contextlib.suppress(Exception):
            backend.clear_faults()
