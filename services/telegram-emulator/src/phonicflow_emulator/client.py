"""Typed Python client for the emulator's control API (``/_emu/``), sync and async (httpx).

Usage::

    from phonicflow_emulator.client import EmulatorClient

    with EmulatorClient("http://127.0.0.1:8081") as emu:
        ana = emu.user(1001, first_name="Ana", language_code="pt-br")  # chat id == user id
        ana.send_text("/start")                      # -> the user's Message dict
        ana.send_voice(ogg_bytes, duration=3)        # also send_audio / send_video_note / send_document
        reply, = ana.wait_for_messages(count=1, timeout=10)   # bot -> user, since the last wait
        ana.press_button(reply["message_id"], "retry")        # -> the CallbackQuery dict
        ana.messages(); ana.chat_actions(); ana.callback_answers()
        emu.download(reply["voice"]["file_id"])      # bytes of anything stored
        emu.inject_fault(method="sendMessage", status=429, retry_after=2, times=1)
        emu.calls("sendMessage"); emu.reset()

:class:`AsyncEmulatorClient` / :class:`AsyncEmulatorUser` have the same methods, awaitable
(``ana = await emu.user(1001)``). Failures of the control API raise :class:`EmulatorError`;
:meth:`EmulatorUser.wait_for_messages` raises :class:`TimeoutError` naming what did arrive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

JSON = dict[str, Any]

DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_WAIT_SECONDS = 10.0
# Extra HTTP time on top of a server-side wait, so the server answers before httpx gives up.
_WAIT_MARGIN_SECONDS = 5.0


class EmulatorError(RuntimeError):
    """The control API refused a request (bad input, unknown user/message/file)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


@dataclass
class _Call:
    """One control-API request, built once and executed by either client."""

    method: str
    path: str
    json: Any = None
    params: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    files: dict[str, Any] | None = None
    timeout: float | None = None
    raw: bool = False
    headers: dict[str, str] = field(default_factory=dict)


def _result(call: _Call, response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            message = str(response.json().get("error", response.text))
        except ValueError:
            message = response.text
        raise EmulatorError(response.status_code, message)
    return response.content if call.raw else response.json()


def _user_call(
    user_id: int,
    first_name: str | None,
    last_name: str | None,
    username: str | None,
    language_code: str | None,
) -> _Call:
    body = {
        "id": user_id,
        "first_name": first_name,
        "last_name": last_name,
        "username": username,
        "language_code": language_code,
    }
    return _Call("POST", "/_emu/users", json={k: v for k, v in body.items() if v is not None})


def _media_call(user_id: int, kind: str, data: bytes, fields: dict[str, Any]) -> _Call:
    file_name = fields.get("file_name") or f"{kind}.bin"
    mime = fields.get("mime_type") or "application/octet-stream"
    form = {key: str(value) for key, value in fields.items() if value is not None}
    form["kind"] = kind
    return _Call(
        "POST", f"/_emu/users/{user_id}/media", data=form, files={"file": (file_name, data, mime)}
    )


def _fault_call(
    method: str,
    status: int | None,
    retry_after: int | None,
    delay: float,
    drop_connection: bool,
    times: int,
    description: str | None,
) -> _Call:
    body = {
        "method": method,
        "status": status,
        "retry_after": retry_after,
        "delay": delay,
        "drop_connection": drop_connection,
        "times": times,
        "description": description,
    }
    return _Call("POST", "/_emu/faults", json=body)


def _wait_call(user_id: int, cursor: int, count: int, timeout: float) -> _Call:
    return _Call(
        "GET",
        f"/_emu/users/{user_id}/bot-messages",
        params={"after": cursor, "count": count, "timeout": timeout},
        timeout=timeout + _WAIT_MARGIN_SECONDS,
    )


def _timeout_error(user_id: int, count: int, timeout: float, found: list[JSON]) -> TimeoutError:
    seen = [
        m.get("text") or next((k for k in ("voice", "audio", "document") if k in m), "?")
        for m in found
    ]
    return TimeoutError(
        f"user {user_id}: expected {count} bot message(s) within {timeout}s, got {len(found)}: {seen}"
    )


class _Base:
    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _kwargs(self, call: _Call) -> dict[str, Any]:
        return {
            "params": call.params,
            "json": call.json,
            "data": call.data,
            "files": call.files,
            "timeout": call.timeout or self.timeout,
        }


class EmulatorClient(_Base):
    """Synchronous client; see the module docstring."""

    def __init__(self, base_url: str, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        super().__init__(base_url, timeout)
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def _do(self, call: _Call) -> Any:
        return _result(call, self._http.request(call.method, call.path, **self._kwargs(call)))

    def user(
        self,
        user_id: int,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> EmulatorUser:
        """Create (or update) a user and act as them; ``first_name`` defaults to "User <id>"."""
        info = self._do(_user_call(user_id, first_name, last_name, username, language_code))
        return EmulatorUser(self, info)

    def users(self) -> list[JSON]:
        return list(self._do(_Call("GET", "/_emu/users")))

    def bot(self) -> JSON:
        """The bot's User object (what getMe answers)."""
        return dict(self._do(_Call("GET", "/_emu/bot"))["bot"])

    def download(self, file_id: str) -> bytes:
        """Bytes of any stored file: the bot's uploads and the users'."""
        return bytes(self._do(_Call("GET", f"/_emu/files/{file_id}", raw=True)))

    def inject_fault(
        self,
        method: str,
        status: int | None = None,
        retry_after: int | None = None,
        delay: float = 0.0,
        drop_connection: bool = False,
        times: int = 1,
        description: str | None = None,
    ) -> JSON:
        """Make the next ``times`` calls of ``method`` ('*' = any) fail, stall or drop.

        ``retry_after`` alone means a 429 carrying it; ``delay`` may be combined with a status.
        """
        call = _fault_call(method, status, retry_after, delay, drop_connection, times, description)
        return dict(self._do(call))

    def faults(self) -> list[JSON]:
        """Faults not yet used up."""
        return list(self._do(_Call("GET", "/_emu/faults")))

    def clear_faults(self) -> None:
        self._do(_Call("DELETE", "/_emu/faults"))

    def calls(self, method: str | None = None) -> list[JSON]:
        """Bot API calls received, oldest first: {method, params, time, status[, fault]}."""
        return list(
            self._do(_Call("GET", "/_emu/calls", params={"method": method} if method else None))
        )

    def webhook(self) -> JSON:
        """The webhook as delivered: {url, pending, deliveries: [{update_id, status, time,
        error}]} (status None: no answer)."""
        return dict(self._do(_Call("GET", "/_emu/webhook")))

    def events(self, after: int = 0, timeout: float = 0.0, chat_id: int | None = None) -> JSON:
        params: dict[str, Any] = {"after": after, "timeout": timeout}
        if chat_id is not None:
            params["chat_id"] = chat_id
        return dict(
            self._do(
                _Call("GET", "/_emu/events", params=params, timeout=timeout + _WAIT_MARGIN_SECONDS)
            )
        )

    def reset(self) -> None:
        """Forget users, messages, updates, files, calls and faults."""
        self._do(_Call("POST", "/_emu/reset"))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> EmulatorClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class EmulatorUser:
    """One learner talking to the bot (sync). Made by :meth:`EmulatorClient.user`."""

    def __init__(self, client: EmulatorClient, info: JSON) -> None:
        self.client = client
        self.info = info
        self.id: int = int(info["id"])
        self._cursor = 0

    @property
    def chat_id(self) -> int:
        return self.id

    def send_text(self, text: str, entities: list[JSON] | None = None) -> JSON:
        """Send a message; ``/commands`` get Telegram's bot_command entities automatically."""
        body: JSON = {"text": text} | ({"entities": entities} if entities is not None else {})
        return dict(self.client._do(_Call("POST", f"/_emu/users/{self.id}/text", json=body)))

    def send_voice(
        self,
        data: bytes,
        duration: int | None = None,
        mime_type: str = "audio/ogg",
        caption: str | None = None,
    ) -> JSON:
        """A voice note (``duration`` is probed with ffprobe when omitted)."""
        fields = {
            "duration": duration,
            "mime_type": mime_type,
            "caption": caption,
            "file_name": "voice.ogg",
        }
        return dict(self.client._do(_media_call(self.id, "voice", data, fields)))

    def send_audio(
        self,
        data: bytes,
        duration: int | None = None,
        mime_type: str = "audio/mpeg",
        file_name: str = "audio.mp3",
        title: str | None = None,
        performer: str | None = None,
        caption: str | None = None,
    ) -> JSON:
        fields = {
            "duration": duration,
            "mime_type": mime_type,
            "file_name": file_name,
            "title": title,
            "performer": performer,
            "caption": caption,
        }
        return dict(self.client._do(_media_call(self.id, "audio", data, fields)))

    def send_video_note(self, data: bytes, duration: int | None = None, length: int = 240) -> JSON:
        fields = {
            "duration": duration,
            "length": length,
            "mime_type": "video/mp4",
            "file_name": "video_note.mp4",
        }
        return dict(self.client._do(_media_call(self.id, "video_note", data, fields)))

    def send_document(
        self,
        data: bytes,
        file_name: str = "document.bin",
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
    ) -> JSON:
        fields = {"file_name": file_name, "mime_type": mime_type, "caption": caption}
        return dict(self.client._do(_media_call(self.id, "document", data, fields)))

    def press_button(self, message_id: int, data: str) -> JSON:
        """Press the inline button carrying ``data`` on the bot's message; returns the query."""
        body = {"message_id": message_id, "data": data}
        return dict(self.client._do(_Call("POST", f"/_emu/users/{self.id}/press", json=body)))

    def block(self, blocked: bool = True) -> None:
        """The user blocks the bot: its sends to them fail with 403 Forbidden until unblocked."""
        self.client._do(_Call("POST", f"/_emu/users/{self.id}/block", json={"blocked": blocked}))

    def unblock(self) -> None:
        self.block(False)

    def wait_for_messages(
        self, count: int = 1, timeout: float = DEFAULT_WAIT_SECONDS
    ) -> list[JSON]:
        """The next ``count`` bot → user messages after the previous wait, in order.

        Messages are in their current state (edits applied). Raises :class:`TimeoutError`
        if fewer arrive within ``timeout`` seconds (and then does not move the cursor).
        """
        answer = self.client._do(_wait_call(self.id, self._cursor, count, timeout))
        if not answer["complete"]:
            raise _timeout_error(self.id, count, timeout, answer["messages"])
        self._cursor = int(answer["cursor"])
        return list(answer["messages"])

    def messages(self) -> list[JSON]:
        """Every bot → user message so far (current state), oldest first."""
        return list(self.client._do(_Call("GET", f"/_emu/users/{self.id}/messages")))

    def sent_messages(self) -> list[JSON]:
        """Every message this user sent."""
        call = _Call("GET", f"/_emu/users/{self.id}/messages", params={"sender": "user"})
        return list(self.client._do(call))

    def chat_actions(self) -> list[str]:
        """Actions of sendChatAction calls for this chat ("typing", "record_voice", ...)."""
        actions = self.client._do(_Call("GET", f"/_emu/users/{self.id}/chat-actions"))
        return [str(action["action"]) for action in actions]

    def callback_answers(self) -> list[JSON]:
        """answerCallbackQuery calls for this user's presses: {text, show_alert, url, ...}."""
        return list(self.client._do(_Call("GET", f"/_emu/users/{self.id}/callback-answers")))


class AsyncEmulatorClient(_Base):
    """Asynchronous client: the methods of :class:`EmulatorClient`, awaitable."""

    def __init__(self, base_url: str, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        super().__init__(base_url, timeout)
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout)

    async def _do(self, call: _Call) -> Any:
        return _result(call, await self._http.request(call.method, call.path, **self._kwargs(call)))

    async def user(
        self,
        user_id: int,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> AsyncEmulatorUser:
        info = await self._do(_user_call(user_id, first_name, last_name, username, language_code))
        return AsyncEmulatorUser(self, info)

    async def users(self) -> list[JSON]:
        return list(await self._do(_Call("GET", "/_emu/users")))

    async def bot(self) -> JSON:
        return dict((await self._do(_Call("GET", "/_emu/bot")))["bot"])

    async def download(self, file_id: str) -> bytes:
        return bytes(await self._do(_Call("GET", f"/_emu/files/{file_id}", raw=True)))

    async def inject_fault(
        self,
        method: str,
        status: int | None = None,
        retry_after: int | None = None,
        delay: float = 0.0,
        drop_connection: bool = False,
        times: int = 1,
        description: str | None = None,
    ) -> JSON:
        call = _fault_call(method, status, retry_after, delay, drop_connection, times, description)
        return dict(await self._do(call))

    async def faults(self) -> list[JSON]:
        return list(await self._do(_Call("GET", "/_emu/faults")))

    async def clear_faults(self) -> None:
        await self._do(_Call("DELETE", "/_emu/faults"))

    async def calls(self, method: str | None = None) -> list[JSON]:
        params = {"method": method} if method else None
        return list(await self._do(_Call("GET", "/_emu/calls", params=params)))

    async def webhook(self) -> JSON:
        return dict(await self._do(_Call("GET", "/_emu/webhook")))

    async def events(
        self,
        after: int = 0,
        timeout: float = 0.0,  # noqa: ASYNC109 - a server-side long-poll wait, as in the sync client
        chat_id: int | None = None,
    ) -> JSON:
        params: dict[str, Any] = {"after": after, "timeout": timeout}
        if chat_id is not None:
            params["chat_id"] = chat_id
        call = _Call("GET", "/_emu/events", params=params, timeout=timeout + _WAIT_MARGIN_SECONDS)
        return dict(await self._do(call))

    async def reset(self) -> None:
        await self._do(_Call("POST", "/_emu/reset"))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncEmulatorClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class AsyncEmulatorUser:
    """One learner talking to the bot (async). Made by :meth:`AsyncEmulatorClient.user`."""

    def __init__(self, client: AsyncEmulatorClient, info: JSON) -> None:
        self.client = client
        self.info = info
        self.id: int = int(info["id"])
        self._cursor = 0

    @property
    def chat_id(self) -> int:
        return self.id

    async def send_text(self, text: str, entities: list[JSON] | None = None) -> JSON:
        body: JSON = {"text": text} | ({"entities": entities} if entities is not None else {})
        return dict(await self.client._do(_Call("POST", f"/_emu/users/{self.id}/text", json=body)))

    async def send_voice(
        self,
        data: bytes,
        duration: int | None = None,
        mime_type: str = "audio/ogg",
        caption: str | None = None,
    ) -> JSON:
        fields = {
            "duration": duration,
            "mime_type": mime_type,
            "caption": caption,
            "file_name": "voice.ogg",
        }
        return dict(await self.client._do(_media_call(self.id, "voice", data, fields)))

    async def send_audio(
        self,
        data: bytes,
        duration: int | None = None,
        mime_type: str = "audio/mpeg",
        file_name: str = "audio.mp3",
        title: str | None = None,
        performer: str | None = None,
        caption: str | None = None,
    ) -> JSON:
        fields = {
            "duration": duration,
            "mime_type": mime_type,
            "file_name": file_name,
            "title": title,
            "performer": performer,
            "caption": caption,
        }
        return dict(await self.client._do(_media_call(self.id, "audio", data, fields)))

    async def send_video_note(
        self, data: bytes, duration: int | None = None, length: int = 240
    ) -> JSON:
        fields = {
            "duration": duration,
            "length": length,
            "mime_type": "video/mp4",
            "file_name": "video_note.mp4",
        }
        return dict(await self.client._do(_media_call(self.id, "video_note", data, fields)))

    async def send_document(
        self,
        data: bytes,
        file_name: str = "document.bin",
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
    ) -> JSON:
        fields = {"file_name": file_name, "mime_type": mime_type, "caption": caption}
        return dict(await self.client._do(_media_call(self.id, "document", data, fields)))

    async def press_button(self, message_id: int, data: str) -> JSON:
        body = {"message_id": message_id, "data": data}
        return dict(await self.client._do(_Call("POST", f"/_emu/users/{self.id}/press", json=body)))

    async def block(self, blocked: bool = True) -> None:
        await self.client._do(
            _Call("POST", f"/_emu/users/{self.id}/block", json={"blocked": blocked})
        )

    async def unblock(self) -> None:
        await self.block(False)

    async def wait_for_messages(
        self,
        count: int = 1,
        timeout: float = DEFAULT_WAIT_SECONDS,  # noqa: ASYNC109 - the documented contract
    ) -> list[JSON]:
        answer = await self.client._do(_wait_call(self.id, self._cursor, count, timeout))
        if not answer["complete"]:
            raise _timeout_error(self.id, count, timeout, answer["messages"])
        self._cursor = int(answer["cursor"])
        return list(answer["messages"])

    async def messages(self) -> list[JSON]:
        return list(await self.client._do(_Call("GET", f"/_emu/users/{self.id}/messages")))

    async def sent_messages(self) -> list[JSON]:
        call = _Call("GET", f"/_emu/users/{self.id}/messages", params={"sender": "user"})
        return list(await self.client._do(call))

    async def chat_actions(self) -> list[str]:
        actions = await self.client._do(_Call("GET", f"/_emu/users/{self.id}/chat-actions"))
        return [str(action["action"]) for action in actions]

    async def callback_answers(self) -> list[JSON]:
        return list(await self.client._do(_Call("GET", f"/_emu/users/{self.id}/callback-answers")))
