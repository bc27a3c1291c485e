"""Everything the emulator remembers, in memory: users, chats, messages, updates, files, calls.

One :class:`Store` per emulator process. It lives on the event loop's thread only, so it needs no
locks; waiters (long polling, tests waiting for bot messages, the chat page) sleep on one
:class:`asyncio.Condition` that every change wakes. Messages, users and files are plain dicts
shaped exactly as the Bot API returns them, so they can go over the wire unchanged.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

# How many Bot API calls are remembered for emu.calls(); a long test run polls a lot.
MAX_REMEMBERED_CALLS = 20_000
# How many page/test events are remembered; the chat page only needs the recent ones.
MAX_REMEMBERED_EVENTS = 20_000

# Telegram's file paths start with a folder named after the kind of file.
_FILE_FOLDERS = {
    "voice": "voice",
    "audio": "music",
    "video_note": "video_notes",
    "document": "documents",
    "photo": "photos",
}
_DEFAULT_EXTENSIONS = {
    "voice": "oga",
    "audio": "mp3",
    "video_note": "mp4",
    "document": "bin",
    "photo": "jpg",
}


def now() -> int:
    """Telegram dates: whole seconds since the epoch."""
    return int(time.time())


@dataclass
class StoredFile:
    """Bytes behind a file_id, whoever uploaded them."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    kind: str
    mime_type: str | None = None
    file_name: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    def as_file(self) -> JSON:
        """The Bot API ``File`` object (getFile's answer)."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
            "file_path": self.file_path,
        }


@dataclass
class Fault:
    """A planned misbehaviour for the next ``times`` calls of one Bot API method."""

    method: str
    times: int = 1
    status: int | None = None
    retry_after: int | None = None
    delay: float = 0.0
    drop_connection: bool = False
    description: str | None = None

    def as_json(self) -> JSON:
        return {
            "method": self.method,
            "times": self.times,
            "status": self.status,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "drop_connection": self.drop_connection,
            "description": self.description,
        }


@dataclass
class Chat:
    """A private chat between the bot and one user (chat id == user id, as in Telegram)."""

    user: JSON
    next_message_id: int = 1
    messages: dict[int, JSON] = field(default_factory=dict)
    # (event seq, message_id, sender) for every message in order; sender is "user" or "bot"
    timeline: list[tuple[int, int, str]] = field(default_factory=list)
    # A user who blocked the bot: sends to them fail with 403, as in Telegram.
    blocked: bool = False
    chat_actions: list[JSON] = field(default_factory=list)
    callback_answers: list[JSON] = field(default_factory=list)
    # Flood control: timestamps of recent bot messages
    recent_sends: deque[float] = field(default_factory=deque)

    @property
    def as_chat(self) -> JSON:
        chat: JSON = {
            "id": self.user["id"],
            "type": "private",
            "first_name": self.user["first_name"],
        }
        for key in ("last_name", "username"):
            if self.user.get(key):
                chat[key] = self.user[key]
        return chat


class Store:
    """The emulator's whole memory. See the module docstring."""

    def __init__(self, bot_id: int, bot_name: str, bot_username: str) -> None:
        self.bot: JSON = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
        }
        self.changed = asyncio.Condition()
        # Both survive reset(): a bot still polling keeps its offset and the chat page keeps its
        # cursor, so numbers must only grow.
        self.next_update_id = secrets.randbelow(10_000_000) + 100_000_000
        self.next_event_seq = 1
        self.reset()

    def reset(self) -> None:
        """Forget users, chats, updates, files, calls and faults (the bot's identity stays)."""
        self.chats: dict[int, Chat] = {}
        self.updates: deque[JSON] = deque()
        self.allowed_updates: list[str] = []
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.calls: deque[JSON] = deque(maxlen=MAX_REMEMBERED_CALLS)
        self.faults: list[Fault] = []
        self.events: deque[JSON] = deque(maxlen=MAX_REMEMBERED_EVENTS)
        self.callback_queries: dict[str, JSON] = {}
        self.commands: dict[str, list[JSON]] = {}
        self.webhook_url = ""
        self.webhook_secret = ""
        self.webhook_max_connections = 40
        #: (unix time, message) of the last failed webhook delivery, for getWebhookInfo.
        self.webhook_last_error: tuple[int, str] | None = None
        #: Every delivery attempt: {update_id, status (None: no answer), time, error}.
        self.webhook_deliveries: deque[JSON] = deque(maxlen=MAX_REMEMBERED_CALLS)
        # Bumped by every getUpdates; an older poll that sees a newer one answers 409.
        self.poll_generation = 0

    # -- waking waiters ---------------------------------------------------------------------

    async def notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def wait_until(self, predicate: Callable[[], bool], within: float) -> bool:
        """Sleep until ``predicate()`` holds (True) or ``within`` seconds pass (False)."""
        if predicate():
            return True
        if within <= 0:
            return False
        async with self.changed:
            try:
                await asyncio.wait_for(self.changed.wait_for(predicate), within)
            except TimeoutError:
                return predicate()
        return True

    def add_event(self, kind: str, chat_id: int, **payload: Any) -> int:
        seq = self.next_event_seq
        self.next_event_seq += 1
        self.events.append(
            {"seq": seq, "kind": kind, "chat_id": chat_id, "time": time.time(), **payload}
        )
        return seq

    def events_after(self, seq: int) -> list[JSON]:
        """Events newer than ``seq``, oldest first. Sequence numbers only grow, so they are the
        last few of the deque: found from its right end, not by scanning all 20 000 (every
        waiting long poll re-asks on every change, which made the emulator's CPU grow with the
        length of a run)."""
        newer: list[JSON] = []
        for event in reversed(self.events):
            if event["seq"] <= seq:
                break
            newer.append(event)
        newer.reverse()
        return newer

    # -- users and chats --------------------------------------------------------------------

    def upsert_user(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> JSON:
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        chat = self.chats.get(user_id)
        if chat is None:
            self.chats[user_id] = Chat(user=user)
            self.add_event("user", user_id, user=user)
        else:
            chat.user = user
        return user

    def chat(self, chat_id: int) -> Chat | None:
        return self.chats.get(chat_id)

    # -- messages -------------------------------------------------------------------------

    def add_message(self, chat: Chat, sender: str, content: JSON) -> JSON:
        """Store a new message from ``sender`` ("user" or "bot") and return it."""
        message_id = chat.next_message_id
        chat.next_message_id += 1
        message: JSON = {
            "message_id": message_id,
            "from": dict(self.bot if sender == "bot" else chat.user),
            "chat": chat.as_chat,
            "date": now(),
            **content,
        }
        chat.messages[message_id] = message
        seq = self.add_event("message", chat.user["id"], sender=sender, message=message)
        chat.timeline.append((seq, message_id, sender))
        return message

    def bot_messages_after(self, chat: Chat, after_seq: int) -> list[tuple[int, JSON]]:
        return [
            (seq, chat.messages[message_id])
            for seq, message_id, sender in chat.timeline
            if sender == "bot" and seq > after_seq and message_id in chat.messages
        ]

    # -- updates --------------------------------------------------------------------------

    def push_update(self, kind: str, payload: JSON) -> JSON:
        update = {"update_id": self.next_update_id, kind: payload}
        self.next_update_id += 1
        self.updates.append(update)
        return update

    def confirm_updates(self, offset: int) -> None:
        """Drop updates below ``offset`` (a negative offset keeps only the last -offset)."""
        if offset < 0:
            keep = -offset
            while len(self.updates) > keep:
                self.updates.popleft()
            return
        while self.updates and self.updates[0]["update_id"] < offset:
            self.updates.popleft()

    def deliverable_updates(self, limit: int) -> list[JSON]:
        if self.allowed_updates:
            allowed = set(self.allowed_updates)
            # Telegram never delivers updates of types the bot opted out of.
            self.updates = deque(u for u in self.updates if _update_kind(u) in allowed)
        return list(self.updates)[:limit]

    # -- files ----------------------------------------------------------------------------

    def store_file(
        self, data: bytes, kind: str, mime_type: str | None = None, file_name: str | None = None
    ) -> StoredFile:
        digest = hashlib.sha256(data).hexdigest()
        unique = "AgAD" + digest[:12]
        file_id = _file_id_prefix(kind) + secrets.token_urlsafe(36)
        extension = (file_name.rsplit(".", 1)[-1] if file_name and "." in file_name else None) or (
            _DEFAULT_EXTENSIONS[kind]
        )
        path = f"{_FILE_FOLDERS[kind]}/file_{len(self.files)}.{extension}"
        stored = StoredFile(file_id, unique, path, data, kind, mime_type, file_name)
        self.files[file_id] = stored
        self.files_by_path[path] = stored
        return stored


def _update_kind(update: JSON) -> str:
    return next(key for key in update if key != "update_id")


def _file_id_prefix(kind: str) -> str:
    # Real file_ids are opaque base64; a per-kind prefix makes them easy to tell apart in logs.
    return {
        "voice": "AwACAgEAAx",
        "audio": "CQACAgEAAx",
        "video_note": "DQACAgEAAx",
        "photo": "AgACAgEAAx",
    }.get(kind, "BQACAgEAAx")
