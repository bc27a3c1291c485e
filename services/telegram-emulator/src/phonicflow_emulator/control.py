"""The test/control API under ``/_emu/`` (no token): act as users, read what the bot did.

=====================================================  ===========================================
``GET  /_emu/health``                                  ``{"ok": true}`` once serving
``GET  /_emu/bot``                                     the bot's User object, switches and the
                                                       command lists set with setMyCommands
``GET  /_emu/users`` / ``POST /_emu/users``            list / create-or-update a user (JSON:
                                                       id, first_name, last_name, username,
                                                       language_code)
``POST /_emu/users/{id}/text``                         JSON {text, entities?}: the user sends a
                                                       message (``/commands`` get bot_command
                                                       entities); answers the Message
``POST /_emu/users/{id}/media``                        multipart: kind (voice | audio |
                                                       video_note | document), file, duration,
                                                       mime_type, file_name, title, performer,
                                                       caption, length, convert (browser
                                                       recordings → OGG/Opus); answers the Message
``POST /_emu/users/{id}/press``                        JSON {message_id, data}: press an inline
                                                       button; answers the CallbackQuery
``POST /_emu/users/{id}/block``                        JSON {blocked}: the user blocks (or
                                                       unblocks) the bot; sends to them get 403
``GET  /_emu/users/{id}/messages?sender=bot|user|all`` messages of the chat (current state)
``GET  /_emu/users/{id}/bot-messages?after=&count=&timeout=``
                                                       wait for ``count`` bot messages newer than
                                                       the cursor ``after``; answers
                                                       {messages, cursor, complete}
``GET  /_emu/users/{id}/chat-actions``                 sendChatAction calls ({action, time})
``GET  /_emu/users/{id}/callback-answers``             answerCallbackQuery calls
``GET  /_emu/events?after=&timeout=&chat_id=``         long-poll of everything that happens
                                                       (the chat page's feed)
``GET  /_emu/files/{file_id}``                         the bytes behind any file_id
``GET|POST|DELETE /_emu/faults``                       list / add / clear injected faults
``GET  /_emu/calls?method=``                           Bot API calls received
``GET  /_emu/webhook``                                 the webhook URL, pending updates, and every
                                                       delivery attempt {update_id, status, time,
                                                       error}
``POST /_emu/reset``                                   forget users, chats, files, calls, faults
=====================================================  ===========================================

Errors are ``{"error": "..."}`` with 400 (bad input) or 404 (unknown user/message/file).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from phonicflow_emulator import media
from phonicflow_emulator.botapi import BotApi, new_callback_query_id
from phonicflow_emulator.formatting import command_entities
from phonicflow_emulator.store import JSON, Chat, Fault

log = logging.getLogger("phonicflow_emulator.control")

MEDIA_KINDS = ("voice", "audio", "video_note", "document")
# Longest a control call may wait (bot-messages, events); clients ask for less.
MAX_WAIT_SECONDS = 300.0
DEFAULT_MIME = {
    "voice": "audio/ogg",
    "audio": "audio/mpeg",
    "video_note": "video/mp4",
    "document": "application/octet-stream",
}
# What browsers' MediaRecorder produces; converted to OGG/Opus voice notes when asked.
_BROWSER_RECORDING_TYPES = ("audio/webm", "video/webm", "audio/mp4", "audio/x-matroska")


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _error(exc: ControlError) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=exc.status)


def _api(request: Request) -> BotApi:
    api: BotApi = request.app.state.api
    return api


def _chat(request: Request) -> Chat:
    try:
        user_id = int(request.path_params["user_id"])
    except ValueError:
        raise ControlError(400, "user id must be an integer") from None
    chat = _api(request).store.chat(user_id)
    if chat is None:
        raise ControlError(404, f"unknown user {user_id}; create it first with POST /_emu/users")
    return chat


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ControlError(400, "body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ControlError(400, "body must be a JSON object")
    return body


def _float_query(request: Request, name: str, default: float) -> float:
    try:
        return float(request.query_params.get(name, default))
    except ValueError:
        raise ControlError(400, f"{name} must be a number") from None


def _int_query(request: Request, name: str, default: int) -> int:
    try:
        return int(request.query_params.get(name, default))
    except ValueError:
        raise ControlError(400, f"{name} must be an integer") from None


def _guarded(handler: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        try:
            result = await handler(request)
        except ControlError as exc:
            return _error(exc)
        except Exception as exc:
            log.exception("control request failed", extra={"path": request.url.path})
            return _error(ControlError(500, f"emulator error: {exc.__class__.__name__}: {exc}"))
        return result if isinstance(result, Response) else JSONResponse(result)

    endpoint.__name__ = handler.__name__
    return endpoint


async def health(request: Request) -> JSON:
    return {"ok": True}


async def bot_info(request: Request) -> JSON:
    api = _api(request)
    command_sets = []
    for key, commands in api.store.commands.items():
        scope, language_code = json.loads(key)
        command_sets.append({"scope": scope, "language_code": language_code, "commands": commands})
    return {"bot": api.store.bot, "flood_control": api.flood_control, "commands": command_sets}


async def users(request: Request) -> Any:
    store = _api(request).store
    if request.method == "GET":
        return [chat.user for chat in store.chats.values()]
    body = await _json_body(request)
    try:
        user_id = int(body["id"])
    except (KeyError, TypeError, ValueError):
        raise ControlError(400, "a user needs an integer id") from None
    if user_id <= 0:
        raise ControlError(400, "user ids are positive (negative ids are groups in Telegram)")
    first_name = str(body.get("first_name") or f"User {user_id}")
    user = store.upsert_user(
        user_id,
        first_name,
        last_name=body.get("last_name"),
        username=body.get("username"),
        language_code=body.get("language_code"),
    )
    await store.notify()
    return user


async def send_text(request: Request) -> JSON:
    chat = _chat(request)
    body = await _json_body(request)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ControlError(400, "text must be a non-empty string")
    content: JSON = {"text": text}
    entities = body.get("entities")
    if entities is None:
        entities = command_entities(text)
    if entities:
        content["entities"] = entities
    return await _user_message(request, chat, content)


async def _user_message(request: Request, chat: Chat, content: JSON) -> JSON:
    store = _api(request).store
    message = store.add_message(chat, "user", content)
    store.push_update("message", message)
    await store.notify()
    return message


async def send_media(request: Request) -> JSON:
    chat = _chat(request)
    store = _api(request).store
    form = await request.form()
    try:
        kind = str(form.get("kind", "voice"))
        if kind not in MEDIA_KINDS:
            raise ControlError(400, f"kind must be one of {', '.join(MEDIA_KINDS)}")
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ControlError(400, "a multipart 'file' part is required")
        data = await upload.read()
        if not data:
            raise ControlError(400, "the file is empty")
        mime = str(form.get("mime_type") or upload.content_type or DEFAULT_MIME[kind])
        mime = mime.split(";")[0].strip() or DEFAULT_MIME[kind]
        file_name = str(form.get("file_name") or upload.filename or "") or None
        if (
            kind == "voice"
            and mime in _BROWSER_RECORDING_TYPES
            and str(form.get("convert", "true")).lower() != "false"
            and request.app.state.settings.convert_webm
        ):
            converted = await media.webm_to_ogg_opus(data)
            if converted:
                data, mime, file_name = converted, "audio/ogg", None
        duration_raw = form.get("duration")
        try:
            duration = int(float(str(duration_raw))) if duration_raw not in (None, "") else None
        except ValueError:
            raise ControlError(400, "duration must be a number of seconds") from None
        if duration is None and kind != "document":
            duration = await media.probe_duration(data) or 0
        stored = store.store_file(
            data, kind, mime, file_name if kind in ("audio", "document") else None
        )
        media_object: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if kind != "document":
            media_object["duration"] = duration
        if kind == "video_note":
            media_object["length"] = int(str(form.get("length") or 240))
        if kind in ("audio", "document") and file_name:
            media_object["file_name"] = file_name
        if kind == "audio":
            for key in ("title", "performer"):
                if form.get(key):
                    media_object[key] = str(form.get(key))
        if kind != "video_note":
            media_object["mime_type"] = mime
        media_object["file_size"] = stored.size
        content: JSON = {kind: media_object}
        caption = form.get("caption")
        if isinstance(caption, str) and caption and kind != "video_note":
            content["caption"] = caption
    finally:
        await form.close()
    return await _user_message(request, chat, content)


async def press_button(request: Request) -> JSON:
    chat = _chat(request)
    store = _api(request).store
    body = await _json_body(request)
    try:
        message_id = int(body["message_id"])
    except (KeyError, TypeError, ValueError):
        raise ControlError(400, "message_id must be an integer") from None
    data = body.get("data")
    message = chat.messages.get(message_id)
    if message is None:
        raise ControlError(404, f"no message {message_id} in chat {chat.user['id']}")
    buttons = [
        button
        for row in message.get("reply_markup", {}).get("inline_keyboard", [])
        for button in row
        if "callback_data" in button
    ]
    if not any(button["callback_data"] == data for button in buttons):
        offered = [button["callback_data"] for button in buttons]
        raise ControlError(
            400,
            f"message {message_id} has no button with callback_data {data!r} (it has {offered})",
        )
    query_id = new_callback_query_id()
    query: JSON = {
        "id": query_id,
        "from": chat.user,
        "message": json.loads(json.dumps(message)),
        "chat_instance": _chat_instance(chat.user["id"]),
        "data": data,
    }
    store.callback_queries[query_id] = {"chat_id": chat.user["id"], "answered": False}
    store.push_update("callback_query", query)
    store.add_event("callback_query", chat.user["id"], query=query)
    await store.notify()
    return query


async def block(request: Request) -> JSON:
    chat = _chat(request)
    body = await _json_body(request)
    chat.blocked = bool(body.get("blocked", True))
    return {"id": chat.user["id"], "blocked": chat.blocked}


def _chat_instance(chat_id: int) -> str:
    """Stable per chat, opaque, like Telegram's (a signed 64-bit number as a string)."""
    digest = hashlib.sha256(f"chat_instance:{chat_id}".encode()).digest()
    return str(int.from_bytes(digest[:8], "big", signed=True))


async def chat_messages(request: Request) -> list[JSON]:
    chat = _chat(request)
    sender = request.query_params.get("sender", "bot")
    return [
        chat.messages[message_id]
        for _, message_id, who in chat.timeline
        if message_id in chat.messages and sender in ("all", who)
    ]


async def wait_bot_messages(request: Request) -> JSON:
    chat = _chat(request)
    store = _api(request).store
    after = _int_query(request, "after", 0)
    count = max(1, _int_query(request, "count", 1))
    timeout = min(_float_query(request, "timeout", 10.0), MAX_WAIT_SECONDS)
    complete = await store.wait_until(
        lambda: len(store.bot_messages_after(chat, after)) >= count, timeout
    )
    found = store.bot_messages_after(chat, after)[:count]
    cursor = found[-1][0] if complete and found else after
    return {"messages": [message for _, message in found], "cursor": cursor, "complete": complete}


async def chat_actions(request: Request) -> list[JSON]:
    return _chat(request).chat_actions


async def callback_answers(request: Request) -> list[JSON]:
    return _chat(request).callback_answers


async def events(request: Request) -> JSON:
    store = _api(request).store
    after = _int_query(request, "after", 0)
    timeout = min(_float_query(request, "timeout", 0.0), MAX_WAIT_SECONDS)
    chat_raw = request.query_params.get("chat_id")
    chat_id = int(chat_raw) if chat_raw and chat_raw.lstrip("-").isdigit() else None

    def pending() -> list[JSON]:
        newer = store.events_after(after)
        return [event for event in newer if chat_id is None or event["chat_id"] == chat_id]

    await store.wait_until(lambda: bool(pending()), timeout)
    # The cursor moves past events of other chats too, so a filtered feed never re-scans them.
    return {"events": pending(), "cursor": store.next_event_seq - 1}


async def file_bytes(request: Request) -> Response:
    stored = _api(request).store.files.get(request.path_params["file_id"])
    if stored is None:
        raise ControlError(404, "unknown file_id")
    return Response(stored.data, media_type=stored.mime_type or "application/octet-stream")


async def faults(request: Request) -> Any:
    store = _api(request).store
    if request.method == "DELETE":
        store.faults.clear()
        return {"ok": True}
    if request.method == "POST":
        body = await _json_body(request)
        fault = _parse_fault(body)
        store.faults.append(fault)
        return fault.as_json()
    return [fault.as_json() for fault in store.faults]


def _parse_fault(body: dict[str, Any]) -> Fault:
    method = body.get("method")
    if not isinstance(method, str) or not method:
        raise ControlError(400, "a fault needs the Bot API method it applies to ('*' for any)")
    try:
        fault = Fault(
            method=method,
            times=int(body.get("times", 1)),
            status=int(body["status"]) if body.get("status") is not None else None,
            retry_after=int(body["retry_after"]) if body.get("retry_after") is not None else None,
            delay=float(body.get("delay") or 0.0),
            drop_connection=bool(body.get("drop_connection", False)),
            description=body.get("description"),
        )
    except (TypeError, ValueError):
        raise ControlError(
            400, "times/status/retry_after must be integers, delay a number"
        ) from None
    if fault.times < 1:
        raise ControlError(400, "times must be at least 1")
    if fault.status is not None and not 400 <= fault.status <= 599:
        raise ControlError(400, "status must be an HTTP error status (400-599)")
    if fault.retry_after is not None and fault.status is None:
        fault.status = 429
    if fault.status is None and not fault.drop_connection and fault.delay <= 0:
        raise ControlError(400, "a fault needs a status, a delay or drop_connection")
    return fault


async def calls(request: Request) -> list[JSON]:
    method = request.query_params.get("method")
    recorded = list(_api(request).store.calls)
    if method:
        recorded = [call for call in recorded if call["method"].lower() == method.lower()]
    return recorded


async def webhook(request: Request) -> JSON:
    store = _api(request).store
    return {
        "url": store.webhook_url,
        "pending": len(store.updates),
        "deliveries": list(store.webhook_deliveries),
    }


async def reset(request: Request) -> JSON:
    store = _api(request).store
    store.reset()
    store.add_event("reset", 0, time=time.time())
    await store.notify()
    return {"ok": True}


def routes() -> list[BaseRoute]:
    """The control routes, to be mounted at ``/_emu``."""
    table: list[tuple[str, Any, list[str]]] = [
        ("/health", health, ["GET"]),
        ("/bot", bot_info, ["GET"]),
        ("/users", users, ["GET", "POST"]),
        ("/users/{user_id}/text", send_text, ["POST"]),
        ("/users/{user_id}/media", send_media, ["POST"]),
        ("/users/{user_id}/press", press_button, ["POST"]),
        ("/users/{user_id}/block", block, ["POST"]),
        ("/users/{user_id}/messages", chat_messages, ["GET"]),
        ("/users/{user_id}/bot-messages", wait_bot_messages, ["GET"]),
        ("/users/{user_id}/chat-actions", chat_actions, ["GET"]),
        ("/users/{user_id}/callback-answers", callback_answers, ["GET"]),
        ("/events", events, ["GET"]),
        ("/files/{file_id}", file_bytes, ["GET"]),
        ("/faults", faults, ["GET", "POST", "DELETE"]),
        ("/calls", calls, ["GET"]),
        ("/webhook", webhook, ["GET"]),
        ("/reset", reset, ["POST"]),
    ]
    return [Route(path, _guarded(handler), methods=methods) for path, handler, methods in table]
