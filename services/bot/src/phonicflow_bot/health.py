"""Health and metrics over HTTP on BOT_HEALTH_PORT, in the bot's own event loop.

- ``GET /healthz`` — liveness: 200 while the polling loop runs, 503 once it stopped;
- ``GET /readyz``  — readiness: 200 when Redis (if used), the converter's gRPC health and the
  backend's ``/readyz`` (models loaded: it can score a note) all answer; 503 with a JSON body naming what failed;
- ``GET /metrics`` — Prometheus text (:mod:`phonicflow_bot.metrics`).

A few lines of asyncio streams instead of a web framework: the server shares PTB's loop and
leaves PTB's signal handling alone (uvicorn would install its own SIGTERM handler).

Usage::

    server = HealthServer(host, port, live=lambda: app.running, checks={"redis": ping, ...})
    await server.start(); ...; await server.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from phonicflow_bot import metrics

log = logging.getLogger(__name__)

#: Seconds one readiness check may take before it counts as failed.
CHECK_TIMEOUT = 3.0
#: Largest request head we read; probes send a few hundred bytes.
MAX_REQUEST_BYTES = 8192

Check = Callable[[], Awaitable[bool]]


class HealthServer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        live: Callable[[], bool],
        checks: Mapping[str, Check],
        before_metrics: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._live = live
        self._checks = dict(checks)
        self._before_metrics = before_metrics
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        sockets = self._server.sockets
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("health server listening", extra={"port": self.port})

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def readiness(self) -> dict[str, bool]:
        async def run(check: Check) -> bool:
            try:
                return await asyncio.wait_for(check(), CHECK_TIMEOUT)
            except Exception:
                return False

        names = list(self._checks)
        results = await asyncio.gather(*(run(self._checks[name]) for name in names))
        return dict(zip(names, results, strict=True))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            request_line = head[:MAX_REQUEST_BYTES].split(b"\r\n", 1)[0].decode("latin-1")
            parts = request_line.split(" ")
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 else ""
            status, content_type, body = await self._route(path)
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        except Exception:
            log.exception("health request failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _route(self, path: str) -> tuple[str, str, bytes]:
        if path == "/healthz":
            alive = self._live()
            body = json.dumps({"status": "ok" if alive else "stopped"}).encode()
            return ("200 OK" if alive else "503 Service Unavailable"), "application/json", body
        if path == "/readyz":
            checks = await self.readiness()
            ready = all(checks.values())
            body = json.dumps({"ready": ready, "checks": checks}).encode()
            return ("200 OK" if ready else "503 Service Unavailable"), "application/json", body
        if path == "/metrics":
            if self._before_metrics is not None:
                with contextlib.suppress(Exception):
                    await self._before_metrics()
            return "200 OK", CONTENT_TYPE_LATEST, generate_latest(metrics.REGISTRY)
        return "404 Not Found", "application/json", b'{"detail":"not found"}'
