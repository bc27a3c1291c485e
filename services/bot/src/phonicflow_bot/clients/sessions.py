"""Learner sessions: which backend session a Telegram user is talking to, and their state.

Usage::

    store = RedisSessionStore(redis, ttl_seconds=...)      # or MemorySessionStore()
    sessions = SessionManager(store, backend, timeout_hours=24)
    session, expired = await sessions.ensure(user_id, "pt-br")   # create / renew / expire
    result = await sessions.call(session, lambda sid: backend.process(sid, wav=wav))
    await sessions.save(session)

A session expires SESSION_TIMEOUT_HOURS after the learner's last activity (sliding). The
record is kept a while longer (:data:`EXPIRED_SESSION_RETENTION_SECONDS`) so that a returning
learner is told their session expired, and keeps their interface language.

:meth:`SessionManager.call` handles the backend forgetting a session (404 unknown_session,
e.g. its storage was wiped): it creates a new backend session and retries once. The reverse —
the bot forgetting (Redis wiped, the in-memory store restarted) — is handled in
:meth:`SessionManager.ensure`: before making a new session it asks the backend for the
learner's current one, so their history continues instead of splitting.

Keys are described in :mod:`phonicflow_bot.keys`; records are JSON with string keys, so
nothing depends on Python's int keys surviving a round trip (the seed's bug).
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import ValidationError
from redis.asyncio import Redis

from phonicflow_bot import keys
from phonicflow_bot.clients.backend import BackendClient, UnknownSession
from phonicflow_bot.i18n import Language, as_language, detect_language
from phonicflow_common.contract import ProcessResponse

#: How long an expired session's record is kept so the learner can be told it expired.
EXPIRED_SESSION_RETENTION_SECONDS = 7 * 24 * 3600
#: The window of the "active sessions" gauge (seed 8.2: unique users in the last 24 h).
ACTIVE_WINDOW_SECONDS = 24 * 3600

STATE_ACTIVE = "active"
STATE_PRACTICE = "practice"

T = TypeVar("T")
Origin = Literal["existing", "created", "expired"]


@dataclass
class Session:
    """One learner's session (seed 2.1.5, plus practice target and last feedback)."""

    user_id: int
    session_id: str
    created_at: float
    last_activity: float
    conversation_turns: int = 0
    language: Language = "en"
    state: str = STATE_ACTIVE
    #: {"id", "text", "hint_en", "hint_pt"} while a practice sentence is waiting for an attempt.
    practice_target: dict[str, Any] | None = None
    #: The last /process result (for /feedback and the replay button) plus sent voice file ids,
    #: as JSON: {"result": ProcessResponse, "voice_file_ids": {audio type: file_id}}.
    last_feedback: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def remember_feedback(self, result: ProcessResponse, voice_file_ids: dict[str, str]) -> None:
        self.last_feedback = {
            "result": result.model_dump(mode="json"),
            "voice_file_ids": dict(voice_file_ids),
        }

    def last_result(self) -> ProcessResponse | None:
        """The last turn's result, or None (none yet, or stored by an older bot and unreadable)."""
        raw = (self.last_feedback or {}).get("result")
        if not raw:
            return None
        try:
            return ProcessResponse.model_validate(raw)
        except ValidationError:
            return None

    def voice_file_ids(self) -> dict[str, str]:
        found = (self.last_feedback or {}).get("voice_file_ids") or {}
        return {str(k): str(v) for k, v in found.items()}

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Session:
        data = json.loads(raw)
        data["language"] = as_language(data.get("language"))
        known = {name for name in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


class SessionStore(ABC):
    """Where sessions live: Redis (shared by replicas) or memory (one process)."""

    @abstractmethod
    async def get(self, user_id: int) -> Session | None: ...

    @abstractmethod
    async def put(self, session: Session) -> None: ...

    @abstractmethod
    async def delete(self, user_id: int) -> None:
        """Forget everything stored about ``user_id``."""

    @abstractmethod
    async def count_active(self, since: float) -> int:
        """Learners active since ``since`` (epoch seconds)."""

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None


class MemorySessionStore(SessionStore):
    """The embedded default when REDIS_URL is unset."""

    def __init__(self) -> None:
        self._sessions: dict[int, str] = {}

    async def get(self, user_id: int) -> Session | None:
        raw = self._sessions.get(user_id)
        return Session.from_json(raw) if raw else None

    async def put(self, session: Session) -> None:
        self._sessions[session.user_id] = session.to_json()

    async def delete(self, user_id: int) -> None:
        self._sessions.pop(user_id, None)

    async def count_active(self, since: float) -> int:
        return sum(
            1 for raw in self._sessions.values() if json.loads(raw)["last_activity"] >= since
        )


class RedisSessionStore(SessionStore):
    """Sessions as JSON strings under ``phonicflow:session:{user_id}``."""

    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds

    async def get(self, user_id: int) -> Session | None:
        raw = await self._redis.get(keys.session(user_id))
        return Session.from_json(raw) if raw else None

    async def put(self, session: Session) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.session(session.user_id), session.to_json(), ex=self._ttl)
            pipe.zadd(keys.ACTIVE, {str(session.user_id): session.last_activity})
            await pipe.execute()

    async def delete(self, user_id: int) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(*keys.all_for_user(user_id))
            pipe.zrem(keys.ACTIVE, str(user_id))
            await pipe.execute()

    async def count_active(self, since: float) -> int:
        # Trim what fell out of the window so the set stays small.
        await self._redis.zremrangebyscore(keys.ACTIVE, "-inf", f"({since}")
        return int(await self._redis.zcard(keys.ACTIVE))

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False


class SessionManager:
    """Creates, renews, expires and erases sessions; keeps the backend session in step."""

    def __init__(
        self,
        store: SessionStore,
        backend: BackendClient,
        *,
        timeout_hours: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.backend = backend
        self.timeout_seconds = timeout_hours * 3600
        self._clock = clock

    async def peek(self, user_id: int) -> Session | None:
        """The stored session, without touching or creating it."""
        return await self.store.get(user_id)

    async def ensure(self, user_id: int, language_code: str | None) -> tuple[Session, Origin]:
        """The learner's live session: ``"existing"`` (renewed), ``"created"`` (first contact)
        or ``"expired"`` (a new one replaced an expired one: tell the learner)."""
        now = self._clock()
        session = await self.store.get(user_id)
        if session is None:
            recovered = await self._recover(user_id, language_code, now)
            if recovered is not None:
                return recovered
            return await self._create(user_id, detect_language(language_code), now), "created"
        if now - session.last_activity > self.timeout_seconds:
            return await self._create(user_id, session.language, now), "expired"
        session.last_activity = now
        return session, "existing"

    async def _recover(
        self, user_id: int, language_code: str | None, now: float
    ) -> tuple[Session, Origin] | None:
        """The learner's session as the backend knows it, when this bot has lost its record."""
        found = await self.backend.learner_session(user_id)
        if found is None:
            return None
        language = as_language(found.language) if found.language else detect_language(language_code)
        last = datetime.fromisoformat(found.last_activity).timestamp()
        if now - last > self.timeout_seconds:
            return await self._create(user_id, language, now), "expired"
        session = Session(
            user_id=user_id,
            session_id=found.session_id,
            created_at=datetime.fromisoformat(found.created_at).timestamp(),
            last_activity=now,
            conversation_turns=found.turns,
            language=language,
        )
        await self.store.put(session)
        return session, "existing"

    async def restart(self, session: Session) -> Session:
        """A new conversation (/start, /new): new backend session, same learner settings."""
        return await self._create(session.user_id, session.language, self._clock())

    async def _create(self, user_id: int, language: Language, now: float) -> Session:
        backend_session = await self.backend.create_session(user_id, language)
        session = Session(
            user_id=user_id,
            session_id=backend_session.session_id,
            created_at=now,
            last_activity=now,
            language=language,
        )
        await self.store.put(session)
        return session

    async def save(self, session: Session) -> None:
        await self.store.put(session)

    async def call(self, session: Session, request: Callable[[str], Awaitable[T]]) -> T:
        """Run a backend request for this session; on 404 unknown_session make a new backend
        session, store it, and retry once."""
        try:
            return await request(session.session_id)
        except UnknownSession:
            fresh = await self.backend.create_session(session.user_id, session.language)
            session.session_id = fresh.session_id
            session.conversation_turns = 0
            await self.store.put(session)
            return await request(session.session_id)

    async def erase(self, user_id: int) -> bool:
        """Delete the learner in the backend (every session of theirs, also ones this bot
        forgot) and here; True when the backend held anything of theirs."""
        erased = await self.backend.delete_learner(user_id)
        await self.store.delete(user_id)
        return erased.deleted or erased.sessions > 0

    async def active_count(self) -> int:
        return await self.store.count_active(self._clock() - ACTIVE_WINDOW_SECONDS)
