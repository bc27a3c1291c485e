"""The whole system as real processes on this machine: Redis, converter, backend, emulator, bot.

``system`` (module-scoped) starts everything once per test module; each scenario uses its own
learner ids so scenarios in one module do not interfere. Every process exports its spans to an
in-test OTLP receiver, so a scenario can check that one trace spans all three services.
"""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from phonicflow_emulator.testing import running_emulator
from phonicflow_testing.otlp import OtlpReceiver
from phonicflow_testing.processes import ServiceProcess, eventually, free_port
from phonicflow_testing.speech import encode, synth_wav, wav_info

BOT_KEY = "e2e-bot-key-" + uuid.uuid4().hex  # the backend's BOT_PRIVATE_KEY for this run


def _http_ok(url: str) -> Callable[[], bool]:
    return lambda: httpx.get(url, timeout=2).status_code == 200


def _grpc_serving(address: str) -> Callable[[], bool]:
    def check() -> bool:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        with grpc.insecure_channel(address) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=2
            )
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    return check


@dataclass
class System:
    """Handles on every running part, and ways to restart them mid-scenario."""

    tmp: Path
    redis_url: str
    otlp: OtlpReceiver
    emulator: Any  # phonicflow_emulator.testing.EmulatorHandle
    converter_port: int
    backend_port: int
    bot_port: int
    bot_extra_env: dict[str, str] = field(default_factory=dict)
    converter: ServiceProcess | None = None
    backend: ServiceProcess | None = None
    #: The bot as the chart runs it: one poller and a worker (``bot``, the one that answers).
    bot: ServiceProcess | None = None
    poller: ServiceProcess | None = None
    poller_port: int = field(default_factory=free_port)

    @property
    def backend_url(self) -> str:
        return f"http://127.0.0.1:{self.backend_port}"

    @property
    def storage_dir(self) -> Path:
        return self.tmp / "feedback_storage"

    @property
    def database_url(self) -> str:
        """The backend's database, as the tests read it (in a cluster: PostgreSQL, forwarded)."""
        return f"sqlite+aiosqlite:///{self.storage_dir / 'phonicflow.db'}"

    # -- the processes --------------------------------------------------------------------
    def start_converter(self) -> ServiceProcess:
        address = f"127.0.0.1:{self.converter_port}"
        self.converter = ServiceProcess(
            "phonicflow_converter",
            env={"CONVERTER_LISTEN_ADDRESS": address, **self.otlp.exporter_env()},
            ready=_grpc_serving(address),
            name="converter",
        ).start()
        return self.converter

    def start_backend(self) -> ServiceProcess:
        self.backend = ServiceProcess(
            "phonicflow_backend",
            env={
                "BACKEND_HOST": "127.0.0.1",
                "BACKEND_PORT": str(self.backend_port),
                "STORAGE_DIR": str(self.storage_dir),
                "BOT_PRIVATE_KEY": BOT_KEY,
                **self.otlp.exporter_env(),
            },
            ready=_http_ok(f"{self.backend_url}/readyz"),
            name="backend",
            startup_timeout=120,
        ).start()
        return self.backend

    def bot_env(self) -> dict[str, str]:
        return {
            "TELEGRAM_BOT_TOKEN": self.emulator.token,
            "TELEGRAM_API_BASE_URL": self.emulator.api_base_url,
            "TELEGRAM_FILE_BASE_URL": self.emulator.file_base_url,
            "BACKEND_URL": self.backend_url,
            "BACKEND_TIMEOUT": "20",
            "BOT_PRIVATE_KEY": BOT_KEY,
            "CONVERTER_ADDRESS": f"127.0.0.1:{self.converter_port}",
            "REDIS_URL": self.redis_url,
            "BOT_HEALTH_PORT": str(self.bot_port),
            "BOT_POLLING_TIMEOUT": "2",
            "LOG_LEVEL": "DEBUG",
            **self.otlp.exporter_env(),
            **self.bot_extra_env,
        }

    def start_bot(self) -> ServiceProcess:
        """Start the worker, and the poller unless it runs (two pollers on one token conflict)."""
        if self.poller is None or not self.poller.running:
            self.poller = ServiceProcess(
                [sys.executable, "-m", "phonicflow_bot", "--role", "poller"],
                env={**self.bot_env(), "BOT_HEALTH_PORT": str(self.poller_port)},
                ready=_http_ok(f"http://127.0.0.1:{self.poller_port}/healthz"),
                name="poller",
            ).start()
        self.bot = ServiceProcess(
            [sys.executable, "-m", "phonicflow_bot", "--role", "worker"],
            env=self.bot_env(),
            ready=_http_ok(f"http://127.0.0.1:{self.bot_port}/healthz"),
            name="worker",
        ).start()
        return self.bot

    def stop_all(self) -> None:
        for proc in (self.poller, self.bot, self.backend, self.converter):
            if proc is not None:
                proc.stop()

    def logs(self) -> str:
        parts = []
        for name, proc in (
            ("poller", self.poller),
            ("worker", self.bot),
            ("backend", self.backend),
            ("converter", self.converter),
        ):
            if proc is not None:
                parts.append(f"----- {name} -----\n{proc.logs()[-6000:]}")
        return "\n".join(parts)

    # -- the backend, seen from outside ---------------------------------------------------
    def backend_get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.backend_url}{path}", headers={"X-Bot-Key": BOT_KEY}, timeout=10)


@pytest.fixture(scope="module")
def system(request: pytest.FixtureRequest) -> Any:
    """The system under test: real processes on this machine, or with ``--k8s`` (make k8s-test)
    the chart's pods in a cluster (``phonicflow_testing.k8s_plugin.ClusterSystem``)."""
    return request.getfixturevalue(
        "k8s_system" if request.config.getoption("k8s") else "local_system"
    )


@pytest.fixture(scope="module")
def local_system(tmp_path_factory: pytest.TempPathFactory, redis_server: str) -> Iterator[System]:
    tmp = tmp_path_factory.mktemp("system")
    with OtlpReceiver() as otlp, running_emulator() as emulator:
        sys_ = System(
            tmp=tmp,
            redis_url=redis_server.rsplit("/", 1)[0] + "/1",
            otlp=otlp,
            emulator=emulator,
            converter_port=free_port(),
            backend_port=free_port(),
            bot_port=free_port(),
        )
        try:
            sys_.start_converter()
            sys_.start_backend()
            sys_.start_bot()
            yield sys_
        finally:
            logs = sys_.logs()
            sys_.stop_all()
            with contextlib.suppress(OSError):
                (tmp / "system.log").write_text(logs)


_next_user = iter(range(700_000, 800_000))


@pytest.fixture
def learner(system: System) -> Any:
    """A fresh learner (new Telegram user id) in the emulator."""
    return system.emulator.client.user(next(_next_user), first_name="Ana", language_code="en")


wait_until = eventually


def voice_note(text: str) -> tuple[bytes, int]:
    """A Telegram-style voice note of ``text`` and the whole-second duration Telegram reports."""
    wav = synth_wav(text)
    return encode(wav, "ogg"), max(1, round(wav_info(wav)[3]))


def wait_for_text(user: Any, contains: str, timeout: float = 30.0) -> dict[str, Any]:
    """The first bot message to ``user`` whose text contains ``contains`` (waits for it)."""
    found: list[dict[str, Any]] = []

    def seen() -> bool:
        found[:] = [m for m in user.messages() if contains in m.get("text", "")]
        return bool(found)

    wait_until(seen, timeout, message=f"a message containing {contains!r}")
    return found[0]
