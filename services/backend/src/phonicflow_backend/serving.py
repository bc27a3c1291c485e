"""Uvicorn, configured against slow and numerous clients.

Uvicorn bounds neither how long a client may take to send its request headers nor how many
connections it holds: 300 connections that each sent half a request line stayed open for a
minute. Here:

- ``BACKEND_MAX_CONNECTIONS`` (uvicorn's ``limit_concurrency``): beyond it, new requests get an
  immediate 503 instead of a queue;
- ``BACKEND_HEADER_TIMEOUT_S``: a connection that has not finished its request headers that
  long after it opened (or after its previous response) is closed — :class:`GuardedHttpProtocol`,
  uvicorn's own httptools protocol with one timer added;
- the body has ``BACKEND_BODY_TIMEOUT_S`` (:mod:`phonicflow_backend.middleware`), and an idle
  keep-alive connection uvicorn's usual 5 s.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from phonicflow_backend.config import BackendSettings

#: uvicorn's exit status when it could not start serving.
STARTUP_FAILURE = 3
#: Seconds in-flight requests get to finish after SIGTERM (Kubernetes allows 30 by default).
GRACEFUL_SHUTDOWN_S = 20


class GuardedHttpProtocol(HttpToolsProtocol):
    """Closes a connection whose request headers do not arrive within ``header_timeout``."""

    header_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request on this keep-alive connection gets the same bound

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def server_config(app: ASGIApp, settings: BackendSettings) -> uvicorn.Config:
    protocol = type(
        "GuardedHttpProtocol",
        (GuardedHttpProtocol,),
        {"header_timeout": settings.backend_header_timeout_s},
    )
    return uvicorn.Config(
        app,
        host=settings.backend_host,
        port=settings.backend_port,
        http=protocol,
        limit_concurrency=settings.backend_max_connections,
        log_config=None,  # keep our JSON logging
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )


def serve(app: FastAPI, settings: BackendSettings) -> None:
    server = uvicorn.Server(server_config(app, settings))
    server.run()
    if not server.started:  # e.g. the port is taken: uvicorn logged why
        sys.exit(STARTUP_FAILURE)
