"""A small ASGI layer around the real backend app for tests of its callers (the bot): it records
what they sent, and misbehaves on demand. The backend behind it is the real one.

Control API (plain HTTP, so a test in another process drives it):

- ``POST /_test/faults`` ``{"path": "/process", "status": 503, "delay": 0, "times": 1}``: the
  next ``times`` requests whose path starts with ``path`` (``times`` -1: until cleared) get
  ``status`` without reaching the backend (``status`` 0: they do reach it), after ``delay``
  seconds. For ``/process`` the delay comes *after* the backend answered (the answer is held
  back): the turn is made and stored, the caller just does not hear in time — a slow backend as
  the bot sees it, so its retry must get the same turn back.
- ``DELETE /_test/faults`` — behave again;
- ``POST /_test/wipe`` — delete every row of the backend's database (its storage lost);
- ``POST /_test/engines`` ``{"transcript": "...", "errors": {"think": "th_to_t"}}`` — what the
  stub engines hear and flag from now on;
- ``GET /_test/requests`` — every request received: ``method``, ``path``, ``query``,
  ``session_id``, ``x_bot_key``, ``traceparent``, ``idempotency_key``, ``form`` (the text
  fields of a multipart or urlencoded form), ``json``, ``wav`` (rate, channels, width, frames of an uploaded WAV), ``status``,
  ``replayed`` (answered from a stored Idempotency-Key) and ``ms`` (the backend's own time).
"""

from __future__ import annotations

import asyncio
import io
import json
import time
import wave
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTROL = "/_test/"


@dataclass
class Fault:
    path: str
    status: int = 0
    delay: float = 0.0
    times: int = 1


@dataclass
class Control:
    faults: list[Fault] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def take_fault(self, path: str) -> Fault | None:
        for fault in self.faults:
            if path.startswith(fault.path) and fault.times != 0:
                if fault.times > 0:
                    fault.times -= 1
                return fault
        return None


def _wav_info(data: bytes) -> dict[str, int] | None:
    try:
        with wave.open(io.BytesIO(data)) as wav:
            return {"rate": wav.getframerate(), "channels": wav.getnchannels(),
                    "width": wav.getsampwidth(), "frames": wav.getnframes()}  # fmt: skip
    except (wave.Error, EOFError):
        return None


class FaultLayer:
    """Wraps ``app``; ``on_wipe`` erases the backend's data, ``on_engines`` sets stub engines."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        on_wipe: Callable[[], Awaitable[None]],
        on_engines: Callable[[dict[str, Any]], None],
    ) -> None:
        self.app = app
        self.control = Control()
        self.on_wipe = on_wipe
        self.on_engines = on_engines

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(CONTROL):
            await self._control(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        record = await self._record(scope, body)
        fault = self.control.take_fault(path)
        if fault is not None and fault.status:
            await asyncio.sleep(fault.delay)
            record["status"] = fault.status
            response = JSONResponse({"detail": "injected by the test", "code": "fault"},
                                    status_code=fault.status)  # fmt: skip
            await response(scope, receive, send)
            return
        if fault is not None and fault.delay and path != "/process":
            await asyncio.sleep(fault.delay)
        held: list[Message] = []
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                record["status"] = message["status"]
                headers = dict(message.get("headers") or [])
                record["replayed"] = headers.get(b"idempotent-replayed") == b"true"
            held.append(message)

        started = time.perf_counter()
        await self.app(scope, replay, capture)
        record["ms"] = (time.perf_counter() - started) * 1000
        if fault is not None and fault.delay and path == "/process":
            await asyncio.sleep(fault.delay)  # made and stored; the caller hears late
        for message in held:
            await send(message)

    async def _record(self, scope: Scope, body: bytes) -> dict[str, Any]:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        record: dict[str, Any] = {
            "method": scope["method"],
            "path": scope["path"],
            "query": dict(Request(scope).query_params),
            "session_id": headers.get("session_id"),
            "x_bot_key": headers.get("x-bot-key"),
            "traceparent": headers.get("traceparent"),
            "idempotency_key": headers.get("idempotency-key"),
            "form": {},
            "json": {},
        }
        content_type = headers.get("content-type", "")
        if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            # both: a caller may send a text-only turn as a urlencoded form (the bot does)

            async def once() -> Message:
                return {"type": "http.request", "body": body, "more_body": False}

            form = await Request(scope, once).form()
            for name, value in form.multi_items():
                if isinstance(value, str):
                    record["form"][name] = value
                elif name == "file":
                    record["wav"] = _wav_info(await value.read())
            await form.close()
        elif content_type.startswith("application/json") and body:
            try:
                record["json"] = json.loads(body)
            except ValueError:
                record["json"] = None
        self.control.requests.append(record)
        return record

    async def _control(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        name = scope["path"][len(CONTROL) :]
        answer: Any = {"ok": True}
        if name == "faults" and request.method == "POST":
            self.control.faults.append(Fault(**(await request.json())))
        elif name == "faults" and request.method == "DELETE":
            self.control.faults.clear()
        elif name == "wipe" and request.method == "POST":
            await self.on_wipe()
        elif name == "engines" and request.method == "POST":
            self.on_engines(await request.json())
        elif name == "requests" and request.method == "GET":
            answer = self.control.requests
        else:
            answer = {"detail": f"no control {request.method} {name}", "code": "not_found"}
            await JSONResponse(answer, status_code=404)(scope, receive, send)
            return
        await JSONResponse(answer)(scope, receive, send)
