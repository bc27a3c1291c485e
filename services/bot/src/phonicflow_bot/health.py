"""Health and metrics over HTTP on BOT_HEALTH_PORT, in every role, on aiohttp.web.

- ``GET /healthz`` — liveness: 200 while this process's parts run (polling, the webhook
  receiver, the worker loop), 503 once one stopped;
- ``GET /readyz``  — readiness: 200 when every dependency of this role answers — Redis (the
  update log; every role that uses it fails readiness while Redis is unreachable), and for the
  roles that handle updates the converter's gRPC health and the backend's ``/readyz``; 503 with
  a JSON body naming what failed;
- ``GET /metrics`` — Prometheus text (:mod:`phonicflow_bot.metrics`).

It runs in the bot's own event loop and installs no signal handlers of its own.

Usage::

    server = HealthServer(host, port, live=lambda: worker_running, checks={"redis": ping, ...})
    await server.start(); ...; await server.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from phonicflow_bot import metrics

log = logging.getLogger(__name__)

#: Seconds one readiness check may take before it counts as failed.
CHECK_TIMEOUT = 3.0

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
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self._runner.addresses:  # the port actually bound (BOT_HEALTH_PORT=0: any)
            self.port = int(self._runner.addresses[0][1])
        log.info("health server listening", extra={"port": self.port})

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._runner.cleanup(), 2)

    async def readiness(self) -> dict[str, bool]:
        async def run(check: Check) -> bool:
            try:
                return await asyncio.wait_for(check(), CHECK_TIMEOUT)
            except Exception:
                return False

        names = list(self._checks)
        results = await asyncio.gather(*(run(self._checks[name]) for name in names))
        return dict(zip(names, results, strict=True))

    async def _healthz(self, request: web.Request) -> web.Response:
        alive = self._live()
        return web.json_response(
            {"status": "ok" if alive else "stopped"}, status=200 if alive else 503
        )

    async def _readyz(self, request: web.Request) -> web.Response:
        checks = await self.readiness()
        ready = all(checks.values())
        return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        if self._before_metrics is not None:
            with contextlib.suppress(Exception):
                await self._before_metrics()
        body = generate_latest(metrics.REGISTRY)
        response = web.Response(body=body)
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response
