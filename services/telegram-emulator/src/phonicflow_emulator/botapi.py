"""The Bot API methods, answering as Telegram does (shapes, descriptions, status codes).

Every method is ``async def method(api, params) -> result`` where ``params`` are the request's
parameters as received (form values are strings, JSON bodies are typed, uploads are
:class:`Upload`) and ``result`` is what goes into ``{"ok": true, "result": ...}``. A method fails
by raising :class:`BotApiError`, which becomes ``{"ok": false, "error_code": ..., "description":
..., "parameters": ...}`` with the same HTTP status, which is what python-telegram-bot maps to its
exceptions (400 → BadRequest, 401/404 → InvalidToken, 403 → Forbidden, 409 → Conflict,
``retry_after`` → RetryAfter, anything else → NetworkError).

``METHODS`` maps lower-cased method names to handlers (Telegram's method names are
case-insensitive).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from phonicflow_emulator import media
from phonicflow_emulator.formatting import EntityParseError, parse_text, utf16_len
from phonicflow_emulator.store import JSON, Chat, Store, StoredFile

# Telegram's limits (https://core.telegram.org/bots/api and https://limits.tginfo.me).
MAX_MESSAGE_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_GET_FILE_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
#: Telegram's limit for a photo sent by a bot.
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_UPDATES_LIMIT = 100
MAX_COMMANDS = 100
MAX_CALLBACK_ANSWER_LENGTH = 200
# Flood control (off unless EMULATOR_FLOOD_CONTROL): ~1 message/s per chat, short bursts allowed.
FLOOD_BURST = 3
FLOOD_RATE_PER_SECOND = 1.0

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
# Inline buttons need exactly one action; these are the ones besides callback_data and url.
_OTHER_BUTTON_FIELDS = frozenset(
    {
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "web_app",
        "login_url",
        "pay",
        "copy_text",
        "callback_game",
    }
)


class BotApiError(Exception):
    """A Telegram-shaped failure: HTTP status == error_code."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {detail}")


@dataclass
class Upload:
    """A file part of a multipart request."""

    data: bytes
    filename: str | None
    content_type: str | None


@dataclass
class BotApi:
    """What the methods need: the store and the emulator's switches."""

    store: Store
    flood_control: bool = False


Params = dict[str, Any]
Method = Callable[[BotApi, Params], Awaitable[Any]]


# -- parameter helpers ------------------------------------------------------------------------


def _str(params: Params, name: str) -> str | None:
    value = params.get(name)
    if value is None or isinstance(value, Upload):
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _int(params: Params, name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise bad_request(f"invalid {name} specified")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise bad_request(f"invalid {name} specified") from None


def _float(params: Params, name: str) -> float | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise bad_request(f"invalid {name} specified") from None


def _bool(params: Params, name: str) -> bool:
    value = params.get(name)
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1") if value is not None else False


def _json(params: Params, name: str, what: str) -> Any:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {what} JSON object") from None
    return value


def _chat(api: BotApi, params: Params) -> Chat:
    raw = params.get("chat_id")
    if raw is None or raw == "":
        raise bad_request("chat_id is empty")
    try:
        chat_id = int(raw)
    except (TypeError, ValueError):
        raise bad_request("chat not found") from None
    chat = api.store.chat(chat_id)
    if chat is None:
        raise bad_request("chat not found")
    if chat.blocked:
        raise BotApiError(403, "Forbidden: bot was blocked by the user")
    return chat


def _formatted(params: Params, text_field: str, entities_field: str) -> tuple[str, list[JSON]]:
    text = _str(params, text_field) or ""
    parse_mode = _str(params, "parse_mode")
    try:
        plain, entities = parse_text(text, parse_mode)
    except EntityParseError as exc:
        raise bad_request(f"can't parse entities: {exc}") from None
    except ValueError:
        raise bad_request(f"unsupported parse_mode {parse_mode!r}") from None
    if not parse_mode:
        explicit = _json(params, entities_field, "message entities")
        if isinstance(explicit, list):
            entities = explicit
    return plain, entities


def _reply_markup(params: Params) -> JSON | None:
    """The markup a bot message shows (only inline keyboards are part of a Message)."""
    markup = _json(params, "reply_markup", "reply keyboard markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        # Reply keyboards, ForceReply and ReplyKeyboardRemove change the user's client, not
        # the message; Telegram does not echo them.
        return None
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'can\'t parse inline keyboard: field "inline_keyboard" must be an Array of Arrays'
        )
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request(
                    'can\'t parse inline keyboard button: Field "text" must be of type String'
                )
            if not button["text"].strip():
                raise bad_request("BUTTON_TEXT_EMPTY")
            if "callback_data" in button:
                data = button["callback_data"]
                if (
                    not isinstance(data, str)
                    or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES
                ):
                    raise bad_request("BUTTON_DATA_INVALID")
            elif "url" in button:
                if not re.match(r"^(https?|tg)://", str(button["url"])):
                    raise bad_request("BUTTON_URL_INVALID")
            elif not _OTHER_BUTTON_FIELDS.intersection(button):
                raise bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                )
    return {"inline_keyboard": rows}


def _reply_to(api: BotApi, chat: Chat, params: Params) -> JSON | None:
    reply_id = _int(params, "reply_to_message_id")
    allow_missing = _bool(params, "allow_sending_without_reply")
    reply_parameters = _json(params, "reply_parameters", "reply parameters")
    if isinstance(reply_parameters, dict):
        reply_id = reply_parameters.get("message_id", reply_id)
        allow_missing = bool(reply_parameters.get("allow_sending_without_reply", allow_missing))
    if reply_id is None:
        return None
    try:
        original = chat.messages.get(int(reply_id))
    except (TypeError, ValueError):
        raise bad_request("invalid reply_to_message_id specified") from None
    if original is None:
        if allow_missing:
            return None
        raise bad_request("message to be replied not found")
    return {key: value for key, value in original.items() if key != "reply_to_message"}


def _check_flood(api: BotApi, chat: Chat) -> None:
    if not api.flood_control:
        return
    now = time.monotonic()
    window = FLOOD_BURST / FLOOD_RATE_PER_SECOND
    while chat.recent_sends and now - chat.recent_sends[0] > window:
        chat.recent_sends.popleft()
    if len(chat.recent_sends) >= FLOOD_BURST:
        retry_after = max(1, round(window - (now - chat.recent_sends[0]) + 0.5))
        raise BotApiError(
            429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
        )
    chat.recent_sends.append(now)


async def _send(api: BotApi, chat: Chat, params: Params, content: JSON) -> JSON:
    _check_flood(api, chat)
    markup = _reply_markup(params)
    reply_to = _reply_to(api, chat, params)
    if reply_to is not None:
        content["reply_to_message"] = reply_to
    if markup is not None:
        content["reply_markup"] = markup
    message = api.store.add_message(chat, "bot", content)
    await api.store.notify()
    return message


# -- methods ----------------------------------------------------------------------------------


async def get_me(api: BotApi, params: Params) -> JSON:
    return {
        **api.store.bot,
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


async def get_updates(api: BotApi, params: Params) -> list[JSON]:
    store = api.store
    if store.webhook_url:
        raise BotApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
            "delete the webhook first",
        )
    offset = _int(params, "offset")
    limit = _int(params, "limit") or MAX_UPDATES_LIMIT
    limit = min(max(limit, 1), MAX_UPDATES_LIMIT)
    timeout = max(_float(params, "timeout") or 0.0, 0.0)
    allowed = _json(params, "allowed_updates", "allowed updates")
    if isinstance(allowed, list):
        store.allowed_updates = [str(kind) for kind in allowed]
    # A newer getUpdates ends an older one with 409, as Telegram does with two bot instances.
    store.poll_generation += 1
    mine = store.poll_generation
    await store.notify()
    if offset is not None:
        store.confirm_updates(offset)
    await store.wait_until(
        lambda: store.poll_generation != mine or bool(store.deliverable_updates(limit)), timeout
    )
    if store.poll_generation != mine:
        raise BotApiError(
            409,
            "Conflict: terminated by other getUpdates request; make sure that only one bot "
            "instance is running",
        )
    return store.deliverable_updates(limit)


async def send_message(api: BotApi, params: Params) -> JSON:
    chat = _chat(api, params)
    if not (_str(params, "text") or "").strip():
        raise bad_request("message text is empty")
    text, entities = _formatted(params, "text", "entities")
    if not text.strip():
        raise bad_request("message text is empty")
    if utf16_len(text) > MAX_MESSAGE_LENGTH:
        raise bad_request("message is too long")
    content: JSON = {"text": text}
    if entities:
        content["entities"] = entities
    link_preview = _json(params, "link_preview_options", "link preview options")
    if isinstance(link_preview, dict):
        content["link_preview_options"] = link_preview
    return await _send(api, chat, params, content)


def _message_to_edit(api: BotApi, params: Params) -> tuple[Chat, JSON]:
    if params.get("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")
    chat = _chat(api, params)
    message_id = _int(params, "message_id")
    if message_id is None:
        raise bad_request("message identifier is not specified")
    message = chat.messages.get(message_id)
    if message is None:
        raise bad_request("message to edit not found")
    if not message["from"].get("is_bot"):
        raise bad_request("message can't be edited")
    return chat, message


def _apply_edit(api: BotApi, chat: Chat, message: JSON, changes: JSON, markup: JSON | None) -> JSON:
    current = {key: message.get(key) for key in changes} | {
        "reply_markup": message.get("reply_markup")
    }
    wanted = dict(changes) | {"reply_markup": markup}
    if current == wanted:
        raise bad_request(NOT_MODIFIED[len("Bad Request: ") :])
    for key, value in wanted.items():
        if value is None or value == []:
            message.pop(key, None)
        else:
            message[key] = value
    message["edit_date"] = int(time.time())
    api.store.add_event("edit", chat.user["id"], message=message)
    return message


async def edit_message_text(api: BotApi, params: Params) -> JSON:
    chat, message = _message_to_edit(api, params)
    if "text" not in message:
        raise bad_request("there is no text in the message to edit")
    if not (_str(params, "text") or "").strip():
        raise bad_request("message text is empty")
    text, entities = _formatted(params, "text", "entities")
    if utf16_len(text) > MAX_MESSAGE_LENGTH:
        raise bad_request("MESSAGE_TOO_LONG")
    edited = _apply_edit(
        api, chat, message, {"text": text, "entities": entities or None}, _reply_markup(params)
    )
    await api.store.notify()
    return edited


async def edit_message_caption(api: BotApi, params: Params) -> JSON:
    chat, message = _message_to_edit(api, params)
    caption, entities = _formatted(params, "caption", "caption_entities")
    if utf16_len(caption) > MAX_CAPTION_LENGTH:
        raise bad_request("message caption is too long")
    edited = _apply_edit(
        api,
        chat,
        message,
        {"caption": caption or None, "caption_entities": entities or None},
        _reply_markup(params),
    )
    await api.store.notify()
    return edited


async def edit_message_reply_markup(api: BotApi, params: Params) -> JSON:
    chat, message = _message_to_edit(api, params)
    edited = _apply_edit(api, chat, message, {}, _reply_markup(params))
    await api.store.notify()
    return edited


async def delete_message(api: BotApi, params: Params) -> bool:
    chat = _chat(api, params)
    message_id = _int(params, "message_id")
    if message_id is None or message_id not in chat.messages:
        raise bad_request("message to delete not found")
    del chat.messages[message_id]
    api.store.add_event("delete", chat.user["id"], message_id=message_id)
    await api.store.notify()
    return True


async def answer_callback_query(api: BotApi, params: Params) -> bool:
    query_id = _str(params, "callback_query_id") or ""
    query = api.store.callback_queries.get(query_id)
    if query is None or query["answered"]:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = _str(params, "text")
    if text and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
        raise bad_request("MESSAGE_TOO_LONG")
    query["answered"] = True
    answer = {
        "callback_query_id": query_id,
        "text": text,
        "show_alert": _bool(params, "show_alert"),
        "url": _str(params, "url"),
        "time": time.time(),
    }
    chat_id = int(query["chat_id"])
    chat = api.store.chat(chat_id)
    if chat is not None:
        chat.callback_answers.append(answer)
    api.store.add_event("callback_answer", chat_id, answer=answer)
    await api.store.notify()
    return True


async def send_chat_action(api: BotApi, params: Params) -> bool:
    chat = _chat(api, params)
    action = _str(params, "action")
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    record = {"action": action, "time": time.time()}
    chat.chat_actions.append(record)
    api.store.add_event("chat_action", chat.user["id"], action=action)
    await api.store.notify()
    return True


async def _input_file(api: BotApi, params: Params, field: str, kind: str) -> StoredFile:
    """The file a send method refers to: a fresh upload, or a file_id sent before."""
    value = params.get(field)
    if isinstance(value, str) and value.startswith("attach://"):
        value = params.get(value.removeprefix("attach://"))
    if isinstance(value, Upload):
        if not value.data:
            raise bad_request("file must be non-empty")
        if len(value.data) > MAX_UPLOAD_BYTES:
            raise BotApiError(413, "Request Entity Too Large")
        return api.store.store_file(value.data, kind, value.content_type, value.filename)
    if not isinstance(value, str) or not value:
        raise bad_request(f"there is no {field} in the request")
    if value.startswith(("http://", "https://")):
        raise bad_request("failed to get HTTP URL content")
    stored = api.store.files.get(value)
    if stored is None:
        raise bad_request("wrong file identifier/HTTP URL specified")
    return stored


async def _duration(params: Params, stored: StoredFile) -> int:
    given = _int(params, "duration")
    if given is not None:
        return given
    return await media.probe_duration(stored.data) or 0


async def _send_media(api: BotApi, params: Params, kind: str) -> JSON:
    chat = _chat(api, params)
    stored = await _input_file(api, params, kind, kind)
    caption, caption_entities = _formatted(params, "caption", "caption_entities")
    if utf16_len(caption) > MAX_CAPTION_LENGTH:
        raise bad_request("message caption is too long")
    media_object: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
    if kind == "voice":
        media_object["duration"] = await _duration(params, stored)
        mime = stored.mime_type if (stored.mime_type or "").startswith("audio/") else "audio/ogg"
        media_object["mime_type"] = mime
    elif kind == "audio":
        media_object["duration"] = await _duration(params, stored)
        for key in ("performer", "title"):
            if _str(params, key):
                media_object[key] = _str(params, key)
        if stored.file_name:
            media_object["file_name"] = stored.file_name
        media_object["mime_type"] = stored.mime_type or "audio/mpeg"
    elif kind == "video_note":
        media_object["duration"] = await _duration(params, stored)
        media_object["length"] = _int(params, "length") or 240
    else:
        media_object["file_name"] = stored.file_name or "document"
        media_object["mime_type"] = stored.mime_type or "application/octet-stream"
    media_object["file_size"] = stored.size
    content: JSON = {kind: media_object}
    if caption and kind != "video_note":
        content["caption"] = caption
        if caption_entities:
            content["caption_entities"] = caption_entities
    return await _send(api, chat, params, content)


async def send_voice(api: BotApi, params: Params) -> JSON:
    return await _send_media(api, params, "voice")


async def send_audio(api: BotApi, params: Params) -> JSON:
    return await _send_media(api, params, "audio")


async def send_document(api: BotApi, params: Params) -> JSON:
    return await _send_media(api, params, "document")


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG or JPEG, read from its header; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data) and data[i] == 0xFF:
            marker, length = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(
                    data[i + 5 : i + 7], "big"
                )
            i += 2 + length
    return None


async def send_photo(api: BotApi, params: Params) -> JSON:
    """sendPhoto: Telegram answers with the picture as a list of PhotoSize (its thumbnails and
    the original); the emulator keeps one size, the upload itself. Like Telegram, it refuses
    what is not an image it can read (PNG or JPEG here) and photos over 10 MB."""
    chat = _chat(api, params)
    stored = await _input_file(api, params, "photo", "photo")
    size = image_size(stored.data)
    if size is None:
        raise bad_request("IMAGE_PROCESS_FAILED")
    if stored.size > MAX_PHOTO_BYTES:
        raise bad_request("PHOTO_INVALID_DIMENSIONS")
    caption, caption_entities = _formatted(params, "caption", "caption_entities")
    if utf16_len(caption) > MAX_CAPTION_LENGTH:
        raise bad_request("message caption is too long")
    width, height = size
    photo = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "width": width,
        "height": height,
        "file_size": stored.size,
    }
    content: JSON = {"photo": [photo]}
    if caption:
        content["caption"] = caption
        if caption_entities:
            content["caption_entities"] = caption_entities
    return await _send(api, chat, params, content)


async def send_video_note(api: BotApi, params: Params) -> JSON:
    return await _send_media(api, params, "video_note")


async def get_file(api: BotApi, params: Params) -> JSON:
    file_id = _str(params, "file_id") or ""
    stored = api.store.files.get(file_id)
    if stored is None:
        raise bad_request("invalid file_id")
    if stored.size > MAX_GET_FILE_BYTES:
        raise bad_request("file is too big")
    return stored.as_file()


def _commands_key(params: Params) -> str:
    scope = _json(params, "scope", "bot command scope") or {"type": "default"}
    language = _str(params, "language_code") or ""
    return json.dumps([scope, language], sort_keys=True)


async def set_my_commands(api: BotApi, params: Params) -> bool:
    commands = _json(params, "commands", "bot commands")
    if not isinstance(commands, list):
        raise bad_request("can't parse commands JSON object")
    if len(commands) > MAX_COMMANDS:
        raise bad_request("too many commands specified")
    cleaned = []
    for command in commands:
        if not isinstance(command, dict):
            raise bad_request("can't parse BotCommand JSON object")
        name = str(command.get("command", "")).removeprefix("/")
        description = str(command.get("description", ""))
        if not _COMMAND_NAME.match(name):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(description) <= 256:
            raise bad_request(
                "command description is empty"
                if not description
                else "BOT_COMMAND_DESCRIPTION_INVALID"
            )
        cleaned.append({"command": name, "description": description})
    api.store.commands[_commands_key(params)] = cleaned
    return True


async def get_my_commands(api: BotApi, params: Params) -> list[JSON]:
    return api.store.commands.get(_commands_key(params), [])


async def delete_my_commands(api: BotApi, params: Params) -> bool:
    api.store.commands.pop(_commands_key(params), None)
    return True


async def set_webhook(api: BotApi, params: Params) -> bool:
    # Telegram accepts only https://. The emulator also takes http:// so that a bot on this
    # machine or in a cluster without TLS can receive it.
    url = _str(params, "url") or ""
    if url and not url.startswith(("https://", "http://")):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = _str(params, "secret_token") or ""
    if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
        raise bad_request("bad webhook: secret token contains unallowed characters")
    connections = _int(params, "max_connections") or 40
    if not 1 <= connections <= 100:
        raise bad_request("bad webhook: max_connections must be between 1 and 100")
    allowed = _json(params, "allowed_updates", "allowed updates")
    if isinstance(allowed, list):
        api.store.allowed_updates = [str(kind) for kind in allowed]
    if _bool(params, "drop_pending_updates"):
        api.store.updates.clear()
    api.store.webhook_url = url
    api.store.webhook_secret = secret
    api.store.webhook_max_connections = connections
    await api.store.notify()
    return True


async def delete_webhook(api: BotApi, params: Params) -> bool:
    api.store.webhook_url = ""
    api.store.webhook_secret = ""
    if _bool(params, "drop_pending_updates"):
        api.store.updates.clear()
    await api.store.notify()
    return True


async def get_webhook_info(api: BotApi, params: Params) -> JSON:
    info: JSON = {
        "url": api.store.webhook_url,
        "has_custom_certificate": False,
        "pending_update_count": len(api.store.updates),
    }
    if api.store.webhook_url:
        info["max_connections"] = api.store.webhook_max_connections
        if api.store.allowed_updates:
            info["allowed_updates"] = list(api.store.allowed_updates)
        if api.store.webhook_last_error is not None:
            info["last_error_date"], info["last_error_message"] = api.store.webhook_last_error
    return info


async def always_true(api: BotApi, params: Params) -> bool:
    return True


METHODS: dict[str, Method] = {
    name.lower(): handler
    for name, handler in {
        "getMe": get_me,
        "getUpdates": get_updates,
        "sendMessage": send_message,
        "editMessageText": edit_message_text,
        "editMessageCaption": edit_message_caption,
        "editMessageReplyMarkup": edit_message_reply_markup,
        "deleteMessage": delete_message,
        "answerCallbackQuery": answer_callback_query,
        "sendChatAction": send_chat_action,
        "sendVoice": send_voice,
        "sendAudio": send_audio,
        "sendDocument": send_document,
        "sendPhoto": send_photo,
        "sendVideoNote": send_video_note,
        "getFile": get_file,
        "setMyCommands": set_my_commands,
        "getMyCommands": get_my_commands,
        "deleteMyCommands": delete_my_commands,
        "setWebhook": set_webhook,
        "deleteWebhook": delete_webhook,
        "getWebhookInfo": get_webhook_info,
        "close": always_true,
        "logOut": always_true,
    }.items()
}
CANONICAL_NAMES = {
    name.lower(): name
    for name in [
        "getMe",
        "getUpdates",
        "sendMessage",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
        "deleteMessage",
        "answerCallbackQuery",
        "sendChatAction",
        "sendVoice",
        "sendAudio",
        "sendDocument",
        "sendPhoto",
        "sendVideoNote",
        "getFile",
        "setMyCommands",
        "getMyCommands",
        "deleteMyCommands",
        "setWebhook",
        "deleteWebhook",
        "getWebhookInfo",
        "close",
        "logOut",
    ]
}


def new_callback_query_id() -> str:
    """Telegram's callback query ids are large decimal numbers as strings."""
    return str(secrets.randbits(62))
