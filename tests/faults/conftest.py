"""The whole system as real processes, ready to be killed: :class:`Stack`.

Redis persists as the chart's does (``appendonly yes``, ``appendfsync everysec``, its own
directory, so a restart keeps the log); the backend is the real one (pocketsphinx speech to
text, espeak-ng speech) on a real PostgreSQL; the converter is real; Telegram is the emulator;
the bot runs as the chart runs it — one poller (or webhook receivers) and N workers.

Every process keeps its port across restarts, so a restarted one is found where the others
expect it. ``kill_*`` are SIGKILLs (an OOM kill, a node loss); ``restart_redis`` is a Redis
restart (SIGTERM, then the same server again on the same files).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from phonicflow_emulator.testing import EmulatorHandle, running_emulator
from phonicflow_testing.backend import BackendServer
from phonicflow_testing.processes import ServiceProcess, free_port

BOT_KEY = "fault-suite-bot-key-0001"
WEBHOOK_SECRET = "fault-suite-webhook-secret"
#: A worker silent this long loses its updates to the others (the chart's default is 15 s; a
#: shorter one keeps the suite short without changing what is tested).
CLAIM_TIMEOUT_SECONDS = 5


def _http_ok(url: str) -> Callable[[], bool]:
    return lambda: httpx.get(url, timeout=2).status_code == 200


def _grpc_serving(address: str) -> Callable[[], bool]:
    def check() -> bool:
        with grpc.insecure_channel(address) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=2
            )
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    return check


@dataclass
class Stack:
    tmp: Path
    emulator: EmulatorHandle
    database_url: str
    intake: str  # "polling" | "webhook"
    workers_wanted: int
    redis_port: int = field(default_factory=free_port)
    converter_port: int = field(default_factory=free_port)
    backend_port: int = field(default_factory=free_port)
    intake_health_port: int = field(default_factory=free_port)
    webhook_port: int = field(default_factory=free_port)
    worker_ports: list[int] = field(default_factory=list)
    redis: ServiceProcess | None = None
    converter: ServiceProcess | None = None
    backend: BackendServer | None = None
    intake_process: ServiceProcess | None = None
    workers: list[ServiceProcess | None] = field(default_factory=list)
    retired: list[ServiceProcess] = field(default_factory=list)

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    # -- starting -------------------------------------------------------------------------
    def start(self) -> Stack:
        self.start_redis()
        address = f"127.0.0.1:{self.converter_port}"
        self.converter = ServiceProcess(
            "phonicflow_converter",
            env={"CONVERTER_LISTEN_ADDRESS": address, "LOG_LEVEL": "WARNING"},
            ready=_grpc_serving(address),
            name="converter",
        ).start()
        self.start_backend()
        self.worker_ports = [free_port() for _ in range(self.workers_wanted)]
        self.workers = [None] * self.workers_wanted
        self.start_intake()
        for index in range(self.workers_wanted):
            self.start_worker(index)
        return self

    def start_redis(self) -> None:
        data = self.tmp / "redis"
        data.mkdir(exist_ok=True)
        argv = [shutil.which("redis-server") or "redis-server", "--port", str(self.redis_port),
                "--bind", "127.0.0.1", "--dir", str(data), "--appendonly", "yes",
                "--appendfsync", "everysec", "--save", ""]  # fmt: skip
        self.redis = ServiceProcess(argv, name="redis", port=self.redis_port).start()

    def start_backend(self) -> None:
        self.backend = BackendServer(
            self.tmp / "backend",
            port=self.backend_port,
            database_url=self.database_url,
            env={"BOT_PRIVATE_KEY": BOT_KEY, "STT_ENGINE": "pocketsphinx", "LOG_LEVEL": "WARNING"},
        ).start()

    def bot_env(self, health_port: int) -> dict[str, str]:
        env = {
            "TELEGRAM_BOT_TOKEN": self.emulator.token,
            "TELEGRAM_API_BASE_URL": self.emulator.api_base_url,
            "TELEGRAM_FILE_BASE_URL": self.emulator.file_base_url,
            "BACKEND_URL": f"http://127.0.0.1:{self.backend_port}",
            "BOT_PRIVATE_KEY": BOT_KEY,
            "CONVERTER_ADDRESS": f"127.0.0.1:{self.converter_port}",
            "REDIS_URL": self.redis_url,
            "BOT_HEALTH_PORT": str(health_port),
            "BOT_HEALTH_HOST": "127.0.0.1",
            "BOT_POLLING_TIMEOUT": "10",
            "BOT_CLAIM_TIMEOUT_SECONDS": str(CLAIM_TIMEOUT_SECONDS),
            "LOG_LEVEL": "INFO",
            "OTEL_TRACES_EXPORTER": "none",
        }
        if self.intake == "webhook":
            env |= {
                "BOT_WEBHOOK_URL": f"http://127.0.0.1:{self.webhook_port}/telegram",
                "BOT_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "BOT_WEBHOOK_PORT": str(self.webhook_port),
                "BOT_WEBHOOK_HOST": "127.0.0.1",
            }
        return env

    def _bot(self, role: str, health_port: int, name: str) -> ServiceProcess:
        return ServiceProcess(
            [sys.executable, "-m", "phonicflow_bot", "--role", role],
            env=self.bot_env(health_port),
            ready=_http_ok(f"http://127.0.0.1:{health_port}/healthz"),
            name=name,
        ).start()

    def start_intake(self) -> None:
        role = "poller" if self.intake == "polling" else "webhook"
        self.intake_process = self._bot(role, self.intake_health_port, role)

    def start_worker(self, index: int) -> None:
        self.workers[index] = self._bot("worker", self.worker_ports[index], f"worker-{index}")

    # -- faults ---------------------------------------------------------------------------
    def kill_intake(self) -> None:
        assert self.intake_process is not None
        self.intake_process.kill()
        self.retired.append(self.intake_process)

    def kill_worker(self, index: int) -> None:
        worker = self.workers[index]
        assert worker is not None
        worker.kill()
        self.retired.append(worker)

    def kill_backend(self) -> None:
        assert self.backend is not None
        self.backend.process.kill()

    def restart_redis(self) -> None:
        assert self.redis is not None
        self.redis.stop()
        self.start_redis()

    # -- afterwards -----------------------------------------------------------------------
    def processes(self) -> list[tuple[str, ServiceProcess]]:
        found: list[tuple[str, ServiceProcess]] = []
        for proc in [self.intake_process, *self.workers, *self.retired, self.converter]:
            if proc is not None:
                found.append((proc.name, proc))
        if self.backend is not None:
            found.append(("backend", self.backend.process))
        return found

    def stop(self) -> None:
        for proc in [self.intake_process, *self.workers]:
            if proc is not None:
                with contextlib.suppress(Exception):
                    proc.stop()
        for proc in (self.backend.process if self.backend else None, self.converter, self.redis):
            if proc is not None:
                with contextlib.suppress(Exception):
                    proc.stop()

    def logs(self, tail: int = 4000) -> str:
        return "\n".join(f"----- {name} -----\n{p.logs()[-tail:]}" for name, p in self.processes())


@pytest.fixture
def stack_factory(
    tmp_path: Path, postgres_url: str, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Stack]]:
    started: list[Stack] = []
    with running_emulator() as emulator:

        def make(intake: str, workers: int) -> Stack:
            stack = Stack(tmp_path, emulator, postgres_url, intake, workers)
            started.append(stack)
            return stack.start()

        try:
            yield make
        finally:
            for stack in started:
                failed = getattr(request.node, "rep_call", None)
                if failed is not None and failed.failed:
                    (tmp_path / "stack.log").write_text(stack.logs(20000))
                stack.stop()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
