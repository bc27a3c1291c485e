"""ASGI middleware: request size and time limits, and per-route request metrics.

Uvicorn has neither a body size limit nor a body read timeout, and FastAPI reads an upload
before the route runs; so a client must not be able to make us buffer (or wait for) more than
a note: :class:`RequestLimitsMiddleware` answers 413 before reading a body whose
Content-Length is over the limit, cuts one off that turns out bigger than it said, and answers
408 when the body takes longer than ``BACKEND_BODY_TIMEOUT_S`` to arrive. (Slow *headers* are
handled one level down, in :mod:`phonicflow_backend.serving`.)
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from phonicflow_backend.errors import ApiError, error_body
from phonicflow_backend.metrics import Metrics


class RequestLimitsMiddleware:
    def __init__(
        self, app: ASGIApp, *, upload_limit: int, default_limit: int, body_timeout_s: float
    ) -> None:
        self.app = app
        self.upload_limit = upload_limit
        self.default_limit = default_limit
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "DELETE", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        is_upload = scope["path"] == "/process"
        limit = self.upload_limit if is_upload else self.default_limit
        too_large = ApiError(
            413,
            "too_large",
            f"the request body is over the {limit // (1024 * 1024) or 1} MB limit"
            + (" (MAX_AUDIO_SIZE_MB)" if is_upload else ""),
        )
        for name, value in scope["headers"]:
            if name == b"content-length":
                with contextlib.suppress(ValueError):
                    if int(value) > limit:
                        response = JSONResponse(
                            error_body(str(too_large.detail), too_large.code),
                            413,
                            headers={"Connection": "close"},
                        )
                        await response(scope, receive, send)
                        return
        received = 0
        body_done = False
        deadline = time.monotonic() + self.body_timeout_s

        async def guarded_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # later calls wait for the disconnect: no deadline for that
                return await receive()
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    message = await receive()
            except TimeoutError:
                raise ApiError(
                    408,
                    "request_timeout",
                    f"the request body did not arrive within {self.body_timeout_s:g} s",
                    headers={"Connection": "close"},
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise too_large
                body_done = not message.get("more_body", False)
            return message

        await self.app(scope, guarded_receive, send)


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            # the route template, not the path: session ids would explode the label set
            label = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(scope["method"], label, str(status)).inc()
            self.metrics.request_seconds.labels(scope["method"], label).observe(
                time.perf_counter() - start
            )
