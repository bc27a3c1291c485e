"""Start the whole PhonicFlow system on this machine (``make run``).

Starts, in order, each as its own process with readable, prefixed logs:

1. the audio converter (gRPC, ``CONVERTER_LISTEN_ADDRESS``, default 127.0.0.1:50051);
2. the backend (HTTP, ``BACKEND_PORT``, default 8000) with its storage under ``var/``;
3. without ``TELEGRAM_BOT_TOKEN``: the local Telegram emulator and its chat page
   (``EMULATOR_PORT``, default 8081) — with a token, real Telegram is used instead;
4. the bot (health and metrics on ``BOT_HEALTH_PORT``, default 8080): one process with an
   in-memory update log; with ``REDIS_URL`` set, a poller and a worker sharing the log in
   Redis (the worker's health on ``BOT_WORKER_HEALTH_PORT``, default 8082), as the chart runs.

Every port is checked before anything starts: a second ``make run`` beside a running one says
which port is taken (and by which variable to move it) instead of half-starting. Embedded
defaults throughout: no Redis unless ``REDIS_URL`` is set, no cloud services. Ctrl-C (or
SIGTERM) stops everything in reverse order; if any service dies, the others are stopped and the
exit status is 1.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Not a secret: the emulator accepts whatever token it is started with.
EMULATOR_TOKEN = "1000000:local-emulator-token"  # noqa: S105
COLOURS = {
    "converter": "36",
    "backend": "35",
    "emulator": "33",
    "bot": "32",
    "poller": "32",
    "worker": "32",
}
STARTUP_TIMEOUT_SECONDS = 120.0  # the backend loads its speech models before it is ready
_print_lock = threading.Lock()


def say(text: str) -> None:
    with _print_lock:
        print(f"\033[1m[run]\033[0m {text}", flush=True)


def _pretty(line: str) -> str:
    """Turn a JSON log line into ``level message key=value``; other lines pass through."""
    try:
        event = json.loads(line)
    except ValueError:
        return line
    if not isinstance(event, dict) or "message" not in event:
        return line
    skip = {"time", "service", "logger", "message", "level"}
    extras = " ".join(f"{k}={v}" for k, v in event.items() if k not in skip)
    return f"{event.get('level', ''):<7} {event['message']} {extras}".rstrip()


@dataclass
class Service:
    name: str
    module: str
    env: dict[str, str]
    ready: Callable[[], bool]
    #: (the variable that sets it, the port) for every port the service listens on.
    ports: list[tuple[str, int]] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[str] | None = field(default=None, repr=False)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module, *self.args],
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
            start_new_session=True,  # Ctrl-C reaches only this runner, which stops them in order
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        prefix = f"\033[{COLOURS.get(self.name, '0')}m{self.name:>9}\033[0m |"
        for line in self.proc.stdout:
            with _print_lock:
                print(prefix, _pretty(line.rstrip()), flush=True)

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited during start-up (see its log above)")
            try:
                if self.ready():
                    return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f}s")

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            say(f"{self.name} did not stop in {timeout:.0f}s; killing it")
            self.proc.kill()
            self.proc.wait()


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - local URL we built
            return bool(response.status == 200)

    return check


def grpc_serving(address: str) -> Callable[[], bool]:
    def check() -> bool:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        with grpc.insecure_channel(address) as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=2
                )
            except grpc.RpcError:  # not listening yet
                return False
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    return check


def taken(port: int) -> bool:
    """True when something on this machine already listens on ``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def ports_in_use(services: list[Service]) -> list[str]:
    """One sentence per port some service needs that is already taken."""
    return [
        f"port {port} ({variable}, for the {service.name}) is already in use: is PhonicFlow "
        f"already running? Stop it, or set {variable} to a free port."
        for service in services
        for variable, port in service.ports
        if taken(port)
    ]


def build_services(env: dict[str, str]) -> tuple[list[Service], str | None]:
    """The services to start, in order, and the chat page URL (None with real Telegram)."""
    converter_address = env.get("CONVERTER_LISTEN_ADDRESS", "127.0.0.1:50051")
    converter_port = converter_address.rsplit(":", 1)[1]
    backend_port = env.get("BACKEND_PORT", "8000")
    bot_port = env.get("BOT_HEALTH_PORT", "8080")
    worker_port = env.get("BOT_WORKER_HEALTH_PORT", "8082")
    emulator_port = env.get("EMULATOR_PORT", "8081")
    storage = env.get("STORAGE_DIR", str(ROOT / "var" / "feedback_storage"))

    services = [
        Service(
            "converter",
            "phonicflow_converter",
            {"CONVERTER_LISTEN_ADDRESS": converter_address},
            grpc_serving(f"127.0.0.1:{converter_port}"),
            ports=[("CONVERTER_LISTEN_ADDRESS", int(converter_port))],
        ),
        Service(
            "backend",
            "phonicflow_backend",
            {"BACKEND_HOST": "127.0.0.1", "BACKEND_PORT": backend_port, "STORAGE_DIR": storage},
            http_ok(f"http://127.0.0.1:{backend_port}/readyz"),
            ports=[("BACKEND_PORT", int(backend_port))],
        ),
    ]
    bot_env = {
        "CONVERTER_ADDRESS": f"127.0.0.1:{converter_port}",
        "BACKEND_URL": f"http://127.0.0.1:{backend_port}",
        "BOT_HEALTH_PORT": bot_port,
    }
    chat_url = None
    if not env.get("TELEGRAM_BOT_TOKEN") and not env.get("TELEGRAM_BOT_TOKEN_FILE"):
        emulator = f"http://127.0.0.1:{emulator_port}"
        token = env.get("EMULATOR_TOKEN", EMULATOR_TOKEN)
        services.append(
            Service(
                "emulator",
                "phonicflow_emulator",
                {
                    "EMULATOR_HOST": "127.0.0.1",
                    "EMULATOR_PORT": emulator_port,
                    "EMULATOR_TOKEN": token,
                },
                http_ok(f"{emulator}/"),
                ports=[("EMULATOR_PORT", int(emulator_port))],
            )
        )
        bot_env |= {
            "TELEGRAM_BOT_TOKEN": token,
            "TELEGRAM_API_BASE_URL": f"{emulator}/bot",
            "TELEGRAM_FILE_BASE_URL": f"{emulator}/file/bot",
        }
        chat_url = f"{emulator}/"
    if env.get("REDIS_URL"):
        # As the chart runs it: one poller, and a worker (add more with --role worker).
        services.append(
            Service(
                "worker",
                "phonicflow_bot",
                {**bot_env, "BOT_HEALTH_PORT": worker_port},
                http_ok(f"http://127.0.0.1:{worker_port}/healthz"),
                ports=[("BOT_WORKER_HEALTH_PORT", int(worker_port))],
                args=["--role", "worker"],
            )
        )
    services.append(
        Service(
            "poller" if env.get("REDIS_URL") else "bot",
            "phonicflow_bot",
            bot_env,
            http_ok(f"http://127.0.0.1:{bot_port}/healthz"),
            ports=[("BOT_HEALTH_PORT", int(bot_port))],
            args=["--role", "poller"] if env.get("REDIS_URL") else [],
        )
    )
    return services, chat_url


def main() -> int:
    services, chat_url = build_services(dict(os.environ))
    busy = ports_in_use(services)
    if busy:
        for sentence in busy:
            say(sentence)
        return 1
    stopping = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    started: list[Service] = []
    status = 0
    try:
        for service in services:
            if stopping.is_set():
                break
            say(f"starting {service.name}")
            service.start()
            started.append(service)
            service.wait_ready()
        if not stopping.is_set():
            if chat_url:
                say(f"PhonicFlow is running. Open {chat_url} to chat with the bot (Ctrl-C stops).")
            else:
                say("PhonicFlow is running against real Telegram: message your bot. Ctrl-C stops.")
        while not stopping.wait(0.5):
            for service in started:
                if service.proc is not None and service.proc.poll() is not None:
                    say(f"{service.name} exited with status {service.proc.returncode}; stopping")
                    status = 1
                    stopping.set()
    except RuntimeError as exc:
        say(str(exc))
        status = 1
    finally:
        for service in reversed(started):
            say(f"stopping {service.name}")
            service.stop()
    say("stopped")
    return status


if __name__ == "__main__":
    sys.exit(main())
