"""The emulator's ASGI application: Bot API, file downloads, control API, chat page.

Usage::

    from phonicflow_emulator.app import create_app
    from phonicflow_emulator.settings import EmulatorSettings
    app = create_app(EmulatorSettings())      # serve with uvicorn (see __main__)

A background task delivers updates to the webhook while one is set
(:mod:`phonicflow_emulator.webhook`). Routes: ``/bot<token>/<method>`` (Bot API), ``/file/bot<token>/<file_path>`` (downloads),
``/_emu/...`` (control, see :mod:`phonicflow_emulator.control`), ``/`` (the chat page) and
``/static/...`` (its assets).

Injected faults are applied here, after the call is recorded and before the method runs, so a
faulted ``sendMessage`` sends nothing — as with Telegram, where a 429 means "not sent".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator
from importlib import resources

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from phonicflow_emulator import control
from phonicflow_emulator.botapi import (
    CANONICAL_NAMES,
    METHODS,
    BotApi,
    BotApiError,
    Params,
    Upload,
)
from phonicflow_emulator.settings import EmulatorSettings
from phonicflow_emulator.store import JSON, Fault, Store
from phonicflow_emulator.webhook import WebhookDelivery

log = logging.getLogger("phonicflow_emulator")

# Form fields bigger than this are rejected by the multipart parser (files are not limited by
# it); Telegram's longest text parameter is a 4096-character message, JSON-encoded markup a bit
# more.
MAX_FORM_FIELD_BYTES = 1024 * 1024
_TRANSPORT_KEY = "phonicflow_emulator.transport"
_FAULT_DESCRIPTIONS = {
    400: "Bad Request: injected fault",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class _TransportCapture:
    """Keeps a handle on uvicorn's socket so a fault can drop the connection without a reply.

    uvicorn's ``send`` is a bound method of its request cycle, which holds the transport;
    aborting it is what a crashed proxy or a network cut looks like to the client.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[_TRANSPORT_KEY] = getattr(getattr(send, "__self__", None), "transport", None)
        await self.app(scope, receive, send)


def _error_response(error: BotApiError) -> JSONResponse:
    return JSONResponse(error.payload(), status_code=error.status)


async def _read_params(request: Request) -> Params:
    params: Params = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        body = await request.body()
        if body.strip():
            try:
                decoded = await request.json()
            except ValueError:
                raise BotApiError(400, "Bad Request: can't parse JSON request body") from None
            if not isinstance(decoded, dict):
                raise BotApiError(400, "Bad Request: request body must be a JSON object")
            params.update(decoded)
    elif content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        async with request.form(max_part_size=MAX_FORM_FIELD_BYTES) as form:
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    params[key] = Upload(await value.read(), value.filename, value.content_type)
                else:
                    params[key] = value
    return params


def _summarise(params: Params) -> JSON:
    return {
        key: (
            {"upload": value.filename, "content_type": value.content_type, "size": len(value.data)}
            if isinstance(value, Upload)
            else value
        )
        for key, value in params.items()
    }


def _take_fault(store: Store, method: str) -> Fault | None:
    for fault in store.faults:
        if fault.method == "*" or fault.method.lower() == method.lower():
            fault.times -= 1
            if fault.times <= 0:
                store.faults.remove(fault)
            return fault
    return None


async def _drop_connection(request: Request) -> None:
    transport = request.scope.get(_TRANSPORT_KEY)
    if transport is None:
        raise RuntimeError("cannot drop the connection: not served by uvicorn")
    transport.abort()
    # Let the server notice the disconnect before anything tries to write a response.
    for _ in range(3):
        await asyncio.sleep(0)


def create_app(settings: EmulatorSettings) -> ASGIApp:
    """Build the emulator for ``settings``; state lives in ``app.state.api.store``."""
    bot_id = int(settings.token.split(":", 1)[0])
    store = Store(bot_id, settings.bot_name, settings.bot_username)
    api = BotApi(store, flood_control=settings.flood_control)

    def token_ok(token: str) -> bool:
        return secrets.compare_digest(token.encode(), settings.token.encode())

    async def bot_api(request: Request) -> Response:
        if not token_ok(request.path_params["token"]):
            return _error_response(BotApiError(401, "Unauthorized"))
        name = request.path_params["method"]
        method = CANONICAL_NAMES.get(name.lower(), name)
        try:
            params = await _read_params(request)
        except BotApiError as exc:
            return _error_response(exc)
        except Exception:  # a malformed multipart or form body
            log.info("unreadable Bot API request body", extra={"method": name})
            return _error_response(BotApiError(400, "Bad Request: can't parse request body"))
        record: JSON = {"method": method, "params": _summarise(params), "time": time.time()}
        store.calls.append(record)
        handler = METHODS.get(name.lower())
        if handler is None:
            log.warning("unknown Bot API method", extra={"method": name})
            record["status"] = 404
            return _error_response(BotApiError(404, f"Not Found: method {name} not found"))
        fault = _take_fault(store, method)
        if fault is not None:
            record["fault"] = fault.as_json()
            response = await _apply_fault(request, fault)
            if response is not None:
                record["status"] = None if fault.drop_connection else response.status_code
                return response
        try:
            result = await handler(api, params)
        except BotApiError as exc:
            log.info(
                "Bot API error",
                extra={"method": method, "status": exc.status, "description": exc.description},
            )
            record["status"] = exc.status
            return _error_response(exc)
        except Exception:
            # An emulator bug must look like a Telegram hiccup to the bot, not kill the server.
            log.exception("Bot API method failed", extra={"method": method})
            record["status"] = 500
            return _error_response(BotApiError(500, "Internal Server Error"))
        record["status"] = 200
        log.debug(
            "Bot API call",
            extra={"method": method, "ms": round((time.time() - record["time"]) * 1000, 1)},
        )
        return JSONResponse({"ok": True, "result": result})

    async def _apply_fault(request: Request, fault: Fault) -> Response | None:
        if fault.delay > 0:
            await asyncio.sleep(fault.delay)
        if fault.drop_connection:
            await _drop_connection(request)
            return Response(status_code=500)
        if fault.status is None:
            return None
        description = fault.description or _FAULT_DESCRIPTIONS.get(fault.status, "Injected fault")
        parameters = None
        if fault.retry_after is not None:
            parameters = {"retry_after": fault.retry_after}
            if fault.description is None:
                description = f"Too Many Requests: retry after {fault.retry_after}"
        return _error_response(BotApiError(fault.status, description, parameters))

    async def download(request: Request) -> Response:
        if not token_ok(request.path_params["token"]):
            return _error_response(BotApiError(401, "Unauthorized"))
        stored = store.files_by_path.get(request.path_params["path"])
        if stored is None:
            return _error_response(BotApiError(404, "Not Found"))
        return Response(stored.data, media_type=stored.mime_type or "application/octet-stream")

    static_dir = resources.files("phonicflow_emulator") / "static"

    async def page(request: Request) -> Response:
        return FileResponse(str(static_dir / "index.html"), media_type="text/html")

    delivery = WebhookDelivery(store, settings.webhook_retry_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(delivery.run(), name="webhook-delivery")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = Starlette(
        lifespan=lifespan,
        routes=[
            Route("/bot{token}/{method}", bot_api, methods=["GET", "POST"]),
            Route("/file/bot{token}/{path:path}", download, methods=["GET"]),
            Mount("/_emu", routes=control.routes()),
            Route("/", page, methods=["GET"]),
            Mount("/static", StaticFiles(directory=str(static_dir)), name="static"),
        ],
    )
    app.state.api = api
    app.state.settings = settings
    return _TransportCapture(app)
