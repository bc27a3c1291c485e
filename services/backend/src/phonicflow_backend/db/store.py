"""Learners, sessions, turns, reply audio and idempotency keys in one SQL database.

One interface over SQLAlchemy's asyncio engine, for two databases: PostgreSQL in production
(any number of backend replicas share it) and SQLite in ``STORAGE_DIR`` (the embedded default:
``make run`` needs no database server). Everything a turn writes (the turn, its audio, its
idempotency key's answer, the session's last activity, retention) is one transaction, so a
process killed at any moment leaves either the whole turn or nothing.

Usage::

    store = Store.connect(settings.database_url, retention=Retention(...))
    await store.migrate()                               # Alembic upgrade head (once per start)
    info = await store.create_session(telegram_user_id=42, language="pt")
    await store.add_turn(info.session_id, NewTurn(...), audio={"coaching": wav})
    await store.history(info.session_id)                # oldest first
    await store.delete_learner(42)                      # everything of theirs, one transaction
    await store.learners.progress(42)                   # progress, settings, export
    await store.reminders.claim()                       # the reminders due now, each once

A voice note's sounds (``NewTurn.sounds``) are counted in the learner's progress in the turn's
own transaction (``db/learners.py``). ``clock`` is when the store thinks it is: the real time,
or a test's, which plays out a week of practice in seconds.

Retention (``Retention``): a session keeps its last ``max_turns`` turns and the audio of its
last ``max_audio_turns``; reply audio older than ``audio_hours`` and sessions idle for longer
than ``session_days`` are removed by :meth:`Store.sweep`, which the app runs periodically.

SQLite specifics: foreign keys on (the cascades), ``secure_delete`` (erased rows are overwritten,
not left in free pages), WAL, and one writer at a time inside the process (SQLite allows one
writer per file anyway; queuing here avoids its busy errors).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, event, func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from phonicflow_backend.db import learners, reminders
from phonicflow_backend.db.learners import LearnerRules, LearnerStore
from phonicflow_backend.db.reminders import ReminderStore
from phonicflow_backend.db.schema import IdempotencyKey, Label, Learner, Session, Turn, TurnAudio
from phonicflow_backend.progress import NoteSounds
from phonicflow_common.contract import (
    AUDIO_TYPES,
    AudioType,
    Language,
    LearnerDeleted,
    LearnerSession,
    NoteProgress,
    Pronunciation,
)
from phonicflow_common.contract import (
    Learner as LearnerInfo,
)

log = logging.getLogger(__name__)

#: Errors that mean "the database is not reachable right now" (restart, network), not "the
#: request is wrong": callers answer 503 and the bot retries.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
)


class UnknownSessionError(KeyError):
    """No session with that id (never created, deleted, or not a UUID)."""


class NoAudioError(KeyError):
    """The turn has no audio of that type (never made, or removed by retention)."""


class NoConsentError(Exception):
    """The learner has not agreed that corrected notes may be kept."""


class UnknownTurnError(KeyError):
    """No such turn of this learner (never made, pruned, or someone else's)."""


#: ``turn_audio.kind`` of the learner's own note, kept only with their label consent.
NOTE_KIND = "note"


class KeyReusedError(Exception):
    """The Idempotency-Key was already used in this session for a different request."""


class _Superseded(Exception):
    """Rolls back a turn whose key another process has stored meanwhile."""

    def __init__(self, replay: Replay) -> None:
        self.replay = replay


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def parse_session_id(value: str) -> str:
    """The canonical form of a UUID session id; UnknownSessionError for anything else."""
    try:
        return str(uuid.UUID(value.strip()))
    except (ValueError, AttributeError):
        raise UnknownSessionError(value) from None


def normalize_url(url: str) -> str:
    """Accept the plain ``postgresql://`` / ``postgres://`` forms operators write and use the
    asyncio drivers (asyncpg, aiosqlite)."""
    for plain in ("postgres://", "postgresql://"):
        if url.startswith(plain):
            return "postgresql+asyncpg://" + url[len(plain) :]
    if url.startswith("sqlite://") and not url.startswith("sqlite+"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


@dataclass(frozen=True)
class Retention:
    max_turns: int = 200
    max_audio_turns: int = 20
    audio_hours: float = 48.0
    session_days: float = 90.0


@dataclass(frozen=True)
class SessionInfo:
    session_id: str
    created_at: str
    telegram_user_id: int | None
    language: Language | None


@dataclass(frozen=True)
class NewTurn:
    """What a processed turn stores (its id is made by the caller: the answer names it)."""

    turn_id: str
    user_text: str
    conversational: str
    coaching: str
    coaching_portuguese: str | None
    conversational_portuguese: str | None
    score: float | None
    target_text: str | None
    pronunciation: dict[str, Any] | None
    #: A voice note's sounds, counted in the learner's progress; None for a text turn.
    sounds: NoteSounds | None = None


@dataclass(frozen=True)
class StoredTurn:
    turn_id: str
    created_at: str
    user_text: str
    conversational: str
    coaching: str
    coaching_portuguese: str | None
    conversational_portuguese: str | None
    score: float | None
    target_text: str | None


@dataclass(frozen=True)
class KeyClaim:
    """Ownership of an Idempotency-Key while its turn is processed."""

    session_id: str
    key: str
    fingerprint: str
    owner: str


@dataclass(frozen=True)
class Replay:
    """The key's turn was stored: its answer (with audio removed since then marked absent)."""

    turn_id: str
    response: dict[str, Any]


@dataclass(frozen=True)
class Busy:
    """Another live process is working on the key right now."""


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in (
        "PRAGMA foreign_keys=ON",
        "PRAGMA secure_delete=ON",
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        "PRAGMA busy_timeout=30000",
    ):
        cursor.execute(pragma)
    cursor.close()


class Store:
    def __init__(
        self,
        engine: AsyncEngine,
        retention: Retention,
        *,
        clock: Callable[[], datetime] = now,
        learner_rules: LearnerRules | None = None,
    ) -> None:
        self.engine = engine
        self.retention = retention
        #: Every time the store writes; a seam for tests that play out days in seconds.
        self.clock = clock
        learner_rules = learner_rules or LearnerRules()
        #: Progress, settings and the export (db/learners.py); reminders (db/reminders.py).
        self.learners = LearnerStore(self, learner_rules)
        self.reminders = ReminderStore(self, learner_rules)
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None
        if self.is_sqlite:
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)

    def time_statements(self, observe: Callable[[str, float], None]) -> None:
        """Call ``observe(sql, seconds)`` after every statement (the database-time metric)."""

        def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            conn.info.setdefault("phonicflow_started", []).append(time.perf_counter())

        def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            started = conn.info["phonicflow_started"].pop()
            observe(statement, time.perf_counter() - started)

        event.listen(self.engine.sync_engine, "before_cursor_execute", before)
        event.listen(self.engine.sync_engine, "after_cursor_execute", after)

    @classmethod
    def connect(
        cls,
        url: str,
        retention: Retention | None = None,
        *,
        pool_size: int = 10,
        clock: Callable[[], datetime] = now,
        learner_rules: LearnerRules | None = None,
    ) -> Store:
        url = normalize_url(url)
        options: dict[str, Any] = {"pool_pre_ping": True}
        if url.startswith("postgresql"):
            # A restarted PostgreSQL leaves dead connections in the pool: pre-ping replaces them
            # before use; recycling bounds how long an idle one may have been cut by a proxy.
            options.update(
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_recycle=1800,
                pool_timeout=10,
                connect_args={"timeout": 5, "command_timeout": 30},
            )
        else:
            options.update(connect_args={"timeout": 30})
        return cls(
            create_async_engine(url, **options),
            retention or Retention(),
            clock=clock,
            learner_rules=learner_rules,
        )

    async def close(self) -> None:
        await self.engine.dispose()

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction (one at a time on SQLite)."""
        async with contextlib.AsyncExitStack() as stack:
            if self._write_lock is not None:
                await stack.enter_async_context(self._write_lock)
            conn = await stack.enter_async_context(self.engine.begin())
            yield conn

    # -- schema --------------------------------------------------------------------------------
    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision; safe when replicas start together."""
        from phonicflow_backend.db.migrate import upgrade

        async with self._write() as conn:
            await conn.run_sync(upgrade)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(select(1))

    # -- learners and sessions -----------------------------------------------------------------
    async def create_session(
        self, *, telegram_user_id: int | None = None, language: Language | None = None
    ) -> SessionInfo:
        moment = self.clock()
        info = SessionInfo(str(uuid.uuid4()), iso(moment), telegram_user_id, language)
        async with self._write() as conn:
            if telegram_user_id is not None:
                await self._upsert_learner(conn, telegram_user_id, language, moment)
            await conn.execute(
                insert(Session).values(
                    session_id=info.session_id,
                    telegram_user_id=telegram_user_id,
                    language=language,
                    created_at=moment,
                    last_activity=moment,
                )
            )
        return info

    async def _upsert_learner(
        self, conn: AsyncConnection, user_id: int, language: str | None, moment: datetime
    ) -> None:
        changed = await conn.execute(
            update(Learner)
            .where(Learner.telegram_user_id == user_id)
            .values(updated_at=moment, **({"language": language} if language else {}))
        )
        if changed.rowcount:
            return
        try:
            async with conn.begin_nested():
                await conn.execute(
                    insert(Learner).values(
                        telegram_user_id=user_id,
                        language=language,
                        label_consent=False,
                        created_at=moment,
                        updated_at=moment,
                    )
                )
        except IntegrityError:
            pass  # another replica created the same learner a moment ago: that is the record

    async def update_learner(
        self, telegram_user_id: int, *, language: str | None = None,
        label_consent: bool | None = None,
    ) -> LearnerInfo:  # fmt: skip
        """Change the learner's language or consent, making the record if it is new."""
        moment = self.clock()
        async with self._write() as conn:
            await self._upsert_learner(conn, telegram_user_id, language, moment)
            if label_consent is not None:
                await conn.execute(
                    update(Learner)
                    .where(Learner.telegram_user_id == telegram_user_id)
                    .values(label_consent=label_consent)
                )
                if not label_consent:  # withdrawn: what was kept under it goes now
                    notes = (
                        select(Turn.turn_id)
                        .join(Session)
                        .where(Session.telegram_user_id == telegram_user_id)
                    )
                    await conn.execute(
                        delete(TurnAudio).where(
                            TurnAudio.kind == NOTE_KIND, TurnAudio.turn_id.in_(notes)
                        )
                    )
                    await conn.execute(
                        delete(Label).where(Label.telegram_user_id == telegram_user_id)
                    )
            row = (
                await conn.execute(
                    select(Learner).where(Learner.telegram_user_id == telegram_user_id)
                )
            ).one()
        return LearnerInfo(
            telegram_user_id=row.telegram_user_id,
            language=row.language if row.language in ("en", "pt") else None,
            label_consent=row.label_consent,
            created_at=iso(row.created_at),
        )

    async def get_session(self, session_id: str) -> SessionInfo:
        """The session; its language is the learner's as it is now (``/language`` changes it
        after the session began), else the one the session was made with."""
        sid = parse_session_id(session_id)
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        Session.session_id,
                        Session.created_at,
                        Session.telegram_user_id,
                        func.coalesce(Learner.language, Session.language).label("language"),
                    )
                    .outerjoin(Learner, Learner.telegram_user_id == Session.telegram_user_id)
                    .where(Session.session_id == sid)
                )
            ).first()
        if row is None:
            raise UnknownSessionError(session_id)
        language = row.language if row.language in ("en", "pt") else None
        return SessionInfo(row.session_id, iso(row.created_at), row.telegram_user_id, language)

    async def learner_session(self, telegram_user_id: int) -> LearnerSession | None:
        """The learner's most recently active session, or None."""
        turns = (
            select(func.count())
            .select_from(Turn)
            .where(Turn.session_id == Session.session_id)
            .scalar_subquery()
        )
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(Session, turns.label("turns"))
                    .where(Session.telegram_user_id == telegram_user_id)
                    .order_by(Session.last_activity.desc(), Session.created_at.desc())
                    .limit(1)
                )
            ).first()
        if row is None:
            return None
        return LearnerSession(
            telegram_user_id=telegram_user_id,
            session_id=row.session_id,
            created_at=iso(row.created_at),
            last_activity=iso(row.last_activity),
            turns=int(row.turns),
            language=row.language if row.language in ("en", "pt") else None,
        )

    async def delete_session(self, session_id: str) -> None:
        sid = parse_session_id(session_id)
        async with self._write() as conn:
            counts = await self._erase(conn, Session.session_id == sid)
        if counts["sessions"] == 0:
            raise UnknownSessionError(session_id)

    async def delete_learner(self, telegram_user_id: int) -> LearnerDeleted:
        """Erase the learner and everything that belongs to them, in one transaction."""
        async with self._write() as conn:
            counts = await self._erase(conn, Session.telegram_user_id == telegram_user_id)
            labels = await conn.execute(
                delete(Label).where(Label.telegram_user_id == telegram_user_id)
            )
            counts["labels"] = labels.rowcount
            progress = await learners.erase(conn, telegram_user_id)
            gone = await conn.execute(
                delete(Learner).where(Learner.telegram_user_id == telegram_user_id)
            )
        if self.is_sqlite:
            await self._checkpoint()
        return LearnerDeleted(
            telegram_user_id=telegram_user_id,
            deleted=bool(gone.rowcount),
            progress=progress,
            **counts,
        )

    async def _erase(self, conn: AsyncConnection, which_sessions: Any) -> dict[str, int]:
        """Delete the matching sessions with their turns, audio and keys; the counts.

        Explicit deletes, child tables first, rather than trusting every database's cascade
        settings: the counts are also what ``/delete`` reports."""
        sessions = select(Session.session_id).where(which_sessions)
        turns = select(Turn.turn_id).where(Turn.session_id.in_(sessions))
        audio = await conn.execute(delete(TurnAudio).where(TurnAudio.turn_id.in_(turns)))
        await conn.execute(delete(IdempotencyKey).where(IdempotencyKey.session_id.in_(sessions)))
        turn_rows = await conn.execute(delete(Turn).where(Turn.session_id.in_(sessions)))
        session_rows = await conn.execute(delete(Session).where(which_sessions))
        return {
            "sessions": session_rows.rowcount,
            "turns": turn_rows.rowcount,
            "audio": audio.rowcount,
        }

    async def _checkpoint(self) -> None:
        """SQLite: fold the WAL into the database file and truncate it, so erased rows do not
        linger in the log (secure_delete already zeroes them in the file itself)."""
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    async def count_sessions(self) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(Session))).scalar_one())

    # -- turns ---------------------------------------------------------------------------------
    async def add_turn(
        self,
        session_id: str,
        turn: NewTurn,
        audio: Mapping[AudioType, bytes],
        *,
        key: KeyClaim | None = None,
        response: dict[str, Any] | None = None,
        note: bytes | None = None,
    ) -> Replay | NoteProgress | None:
        """Store the turn, its audio and (with ``key``) the answer to replay, count the note in
        the learner's progress, then apply retention; all or nothing. UnknownSessionError if
        the session was deleted. ``note``, the learner's own recording, is kept only if its
        learner agreed to labelling.

        Returns the learner's progress after the note (None for a text turn or a session
        without a learner; it is also stored in the replayed answer as ``progress``), or a
        :class:`Replay` instead, storing nothing, when another process stored a turn for the
        same key meanwhile (it took over our claim, thinking us dead): every attempt of one
        key must get the same answer."""
        sid = parse_session_id(session_id)
        moment = self.clock()
        progress: NoteProgress | None = None
        try:
            async with self._write() as conn:
                owner = (
                    await conn.execute(
                        update(Session)
                        .where(Session.session_id == sid)
                        .values(last_activity=moment)
                        .returning(Session.telegram_user_id)
                    )
                ).first()
                if owner is None:
                    raise UnknownSessionError(session_id)
                await conn.execute(
                    insert(Turn).values(
                        turn_id=turn.turn_id,
                        session_id=sid,
                        created_at=moment,
                        user_text=turn.user_text,
                        conversational=turn.conversational,
                        coaching=turn.coaching,
                        coaching_portuguese=turn.coaching_portuguese,
                        conversational_portuguese=turn.conversational_portuguese,
                        score=turn.score,
                        target_text=turn.target_text,
                        pronunciation=turn.pronunciation,
                    )
                )
                if audio:
                    await conn.execute(
                        insert(TurnAudio),
                        [
                            {
                                "turn_id": turn.turn_id,
                                "kind": kind,
                                "wav": wav,
                                "created_at": moment,
                            }
                            for kind, wav in audio.items()
                        ],
                    )
                if note is not None and await self._consented(conn, sid):
                    await conn.execute(
                        insert(TurnAudio).values(
                            turn_id=turn.turn_id, kind=NOTE_KIND, wav=note, created_at=moment
                        )
                    )
                if turn.sounds is not None and owner.telegram_user_id is not None:
                    progress = await learners.record_note(
                        conn, owner.telegram_user_id, turn.sounds, moment, self.learners.rules
                    )
                if key is not None:
                    if response is not None and progress is not None:
                        response = {**response, "progress": progress.model_dump(mode="json")}
                    await self._finish_key(conn, key, turn.turn_id, response, moment)
                await self._prune(conn, sid)
        except _Superseded as superseded:
            return superseded.replay
        return progress

    async def _consented(self, conn: AsyncConnection, sid: str) -> bool:
        consent = await conn.execute(
            select(Learner.label_consent)
            .join(Session, Session.telegram_user_id == Learner.telegram_user_id)
            .where(Session.session_id == sid)
        )
        return bool(consent.scalar())

    async def add_label(
        self, telegram_user_id: int, turn_id: str, word_index: int, correction: str
    ) -> int:
        """Keep the note of ``turn_id`` with the word's verdict and the learner's correction.

        NoConsentError without consent; UnknownTurnError when the turn is not this learner's
        (or is gone); NoAudioError when its note was not kept or retention removed it."""
        async with self._write() as conn:
            learner = (
                await conn.execute(
                    select(Learner.label_consent).where(
                        Learner.telegram_user_id == telegram_user_id
                    )
                )
            ).first()
            if learner is None or not learner.label_consent:
                raise NoConsentError(telegram_user_id)
            row = (
                await conn.execute(
                    select(Turn)
                    .join(Session)
                    .where(Turn.turn_id == turn_id, Session.telegram_user_id == telegram_user_id)
                )
            ).first()
            if row is None:
                raise UnknownTurnError(turn_id)
            words = (row.pronunciation or {}).get("words") or []
            if word_index >= len(words):
                raise UnknownTurnError(f"{turn_id} has no word {word_index}")
            wav = (
                await conn.execute(
                    select(TurnAudio.wav).where(
                        TurnAudio.turn_id == turn_id, TurnAudio.kind == NOTE_KIND
                    )
                )
            ).scalar()
            if wav is None:
                raise NoAudioError(turn_id)
            word = words[word_index]
            earlier = (
                await conn.execute(
                    select(Label.label_id).where(
                        Label.telegram_user_id == telegram_user_id,
                        Label.turn_id == turn_id,
                        Label.word_index == word_index,
                    )
                )
            ).scalar()
            if earlier is not None:  # a repeat (a retried request): one label, the last word
                await conn.execute(
                    update(Label).where(Label.label_id == earlier).values(correction=correction)
                )
                return int(earlier)
            result = await conn.execute(
                insert(Label)
                .values(
                    telegram_user_id=telegram_user_id,
                    turn_id=turn_id,
                    created_at=self.clock(),
                    word_index=word_index,
                    word=str(word.get("expected", ""))[:100],
                    verdict=word.get("error"),
                    correction=correction,
                    target_text=row.target_text,
                    transcript=row.user_text,
                    pronunciation=row.pronunciation,
                    note_wav=wav,
                )
                .returning(Label.label_id)
            )
            return int(result.scalar_one())

    async def labels(self) -> AsyncIterator[dict[str, Any]]:
        """Every labelled example, oldest first (for ``make export-labels``)."""
        async with self.engine.connect() as conn:
            result = await conn.stream(select(Label).order_by(Label.label_id))
            async for row in result:
                yield dict(row._mapping)

    async def _finish_key(
        self,
        conn: AsyncConnection,
        key: KeyClaim,
        turn_id: str,
        response: dict[str, Any] | None,
        moment: datetime,
    ) -> None:
        where = (IdempotencyKey.session_id == key.session_id, IdempotencyKey.key == key.key)
        done = await conn.execute(
            update(IdempotencyKey)
            .where(*where, IdempotencyKey.owner == key.owner)
            .values(turn_id=turn_id, response=response, heartbeat_at=moment)
        )
        if done.rowcount:
            return
        row = (
            await conn.execute(
                select(IdempotencyKey.turn_id, IdempotencyKey.response).where(*where)
            )
        ).first()
        if row is not None and row.turn_id is not None and row.response is not None:
            raise _Superseded(
                Replay(row.turn_id, await self._replayable(conn, row.turn_id, row.response))
            )
        # The claim was taken over but not finished (or swept): the key is ours again.
        await conn.execute(delete(IdempotencyKey).where(*where))
        await conn.execute(
            insert(IdempotencyKey).values(
                session_id=key.session_id,
                key=key.key,
                fingerprint=key.fingerprint,
                owner=key.owner,
                heartbeat_at=moment,
                turn_id=turn_id,
                response=response,
            )
        )

    async def _prune(self, conn: AsyncConnection, sid: str) -> None:
        def cutoff(keep: int) -> Any:
            # the seq of the newest turn that falls outside the last `keep` turns
            return (
                select(Turn.seq)
                .where(Turn.session_id == sid)
                .order_by(Turn.seq.desc())
                .offset(keep)
                .limit(1)
                .scalar_subquery()
            )

        old_turns = select(Turn.turn_id).where(
            Turn.session_id == sid, Turn.seq <= cutoff(self.retention.max_turns)
        )
        await conn.execute(delete(TurnAudio).where(TurnAudio.turn_id.in_(old_turns)))
        await conn.execute(delete(IdempotencyKey).where(IdempotencyKey.turn_id.in_(old_turns)))
        await conn.execute(
            delete(Turn).where(Turn.session_id == sid, Turn.seq <= cutoff(self.retention.max_turns))
        )
        quiet = select(Turn.turn_id).where(
            Turn.session_id == sid, Turn.seq <= cutoff(self.retention.max_audio_turns)
        )
        await conn.execute(delete(TurnAudio).where(TurnAudio.turn_id.in_(quiet)))

    async def history(self, session_id: str) -> list[StoredTurn]:
        sid = parse_session_id(session_id)
        async with self.engine.connect() as conn:
            exists = (
                await conn.execute(select(Session.session_id).where(Session.session_id == sid))
            ).first()
            if exists is None:
                raise UnknownSessionError(session_id)
            rows = await conn.execute(select(Turn).where(Turn.session_id == sid).order_by(Turn.seq))
            return [
                StoredTurn(
                    turn_id=r.turn_id,
                    created_at=iso(r.created_at),
                    user_text=r.user_text,
                    conversational=r.conversational,
                    coaching=r.coaching,
                    coaching_portuguese=r.coaching_portuguese,
                    conversational_portuguese=r.conversational_portuguese,
                    score=r.score,
                    target_text=r.target_text,
                )
                for r in rows
            ]

    async def audio(self, session_id: str, kind: AudioType, turn_id: str | None = None) -> bytes:
        """The WAV of ``turn_id`` (default: the newest turn of the session with that audio)."""
        sid = parse_session_id(session_id)
        query = (
            select(TurnAudio.wav)
            .join(Turn, Turn.turn_id == TurnAudio.turn_id)
            .where(Turn.session_id == sid, TurnAudio.kind == kind)
        )
        if turn_id is not None:
            try:
                turn_id = str(uuid.UUID(turn_id))
            except ValueError:
                raise NoAudioError(turn_id) from None
            query = query.where(Turn.turn_id == turn_id)
        async with self.engine.connect() as conn:
            wav = (await conn.execute(query.order_by(Turn.seq.desc()).limit(1))).scalar()
        if wav is None:
            await self.get_session(sid)  # UnknownSessionError first, then "no audio"
            raise NoAudioError(turn_id or sid)
        return bytes(wav)

    async def turn_pronunciation(self, session_id: str, turn_id: str) -> Pronunciation | None:
        """The word verdicts of a turn of this session (None: the note was not scored);
        UnknownTurnError when the session has no such turn."""
        sid = parse_session_id(session_id)
        try:
            tid = str(uuid.UUID(turn_id))
        except ValueError:
            raise UnknownTurnError(turn_id) from None
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(Turn.pronunciation).where(Turn.session_id == sid, Turn.turn_id == tid)
                )
            ).first()
        if row is None:
            await self.get_session(sid)  # UnknownSessionError first
            raise UnknownTurnError(turn_id)
        return Pronunciation.model_validate(row.pronunciation) if row.pronunciation else None

    async def audio_kinds(self, turn_id: str) -> set[str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(TurnAudio.kind).where(TurnAudio.turn_id == turn_id))
            return {r.kind for r in rows}

    # -- idempotency keys ------------------------------------------------------------------
    async def claim_key(
        self, session_id: str, key: str, fingerprint: str, owner: str, *, stale_after: float
    ) -> KeyClaim | Replay | Busy:
        """Become the key's owner (a :class:`KeyClaim`), or learn that its turn is stored
        (:class:`Replay`) or that a live process is making it (:class:`Busy`: ask again).

        A claim whose heartbeat is older than ``stale_after`` seconds belonged to a process
        that died: it is taken over. :class:`KeyReusedError` when the key's first request
        had a different body.
        """
        sid = parse_session_id(session_id)
        moment = self.clock()
        claim = KeyClaim(sid, key, fingerprint, owner)
        async with self._write() as conn:
            try:
                async with conn.begin_nested():
                    await conn.execute(
                        insert(IdempotencyKey).values(
                            session_id=sid,
                            key=key,
                            fingerprint=fingerprint,
                            owner=owner,
                            heartbeat_at=moment,
                            turn_id=None,
                            response=None,
                        )
                    )
                return claim
            except IntegrityError:
                pass
            row = (
                await conn.execute(
                    select(IdempotencyKey).where(
                        IdempotencyKey.session_id == sid, IdempotencyKey.key == key
                    )
                )
            ).first()
            if row is None:  # released between our insert and our look: try again
                return Busy()
            if row.fingerprint != fingerprint:
                raise KeyReusedError(key)
            if row.response is not None and row.turn_id is not None:
                return Replay(row.turn_id, await self._replayable(conn, row.turn_id, row.response))
            if row.heartbeat_at > moment - timedelta(seconds=stale_after):
                return Busy()
            taken = await conn.execute(
                update(IdempotencyKey)
                .where(
                    IdempotencyKey.session_id == sid,
                    IdempotencyKey.key == key,
                    IdempotencyKey.owner == row.owner,
                    IdempotencyKey.heartbeat_at == row.heartbeat_at,
                )
                .values(owner=owner, heartbeat_at=moment)
            )
            if taken.rowcount:
                log.info("took over a stale idempotency claim", extra={"session_id": sid})
                return claim
            return Busy()

    async def _replayable(
        self, conn: AsyncConnection, turn_id: str, response: dict[str, Any]
    ) -> dict[str, Any]:
        rows = await conn.execute(select(TurnAudio.kind).where(TurnAudio.turn_id == turn_id))
        kinds = {r.kind for r in rows}
        body = dict(response)
        available = dict(body.get("audio_available") or {})
        for kind in AUDIO_TYPES:
            if kind not in kinds:
                body[f"{kind}_audio_path"] = None
                available[kind] = False
        body["audio_available"] = available
        return body

    async def heartbeat(self, claim: KeyClaim) -> bool:
        """Refresh the claim; False when it is no longer ours."""
        async with self._write() as conn:
            result = await conn.execute(
                update(IdempotencyKey)
                .where(
                    IdempotencyKey.session_id == claim.session_id,
                    IdempotencyKey.key == claim.key,
                    IdempotencyKey.owner == claim.owner,
                    IdempotencyKey.response.is_(None),
                )
                .values(heartbeat_at=self.clock())
            )
        return bool(result.rowcount)

    async def release_key(self, claim: KeyClaim) -> None:
        """Give up a claim whose turn failed: the next repeat is processed afresh."""
        async with self._write() as conn:
            await conn.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.session_id == claim.session_id,
                    IdempotencyKey.key == claim.key,
                    IdempotencyKey.owner == claim.owner,
                    IdempotencyKey.turn_id.is_(None),
                )
            )

    # -- retention -------------------------------------------------------------------------
    async def sweep(self, *, abandoned_claims_after: float = 3600.0) -> dict[str, int]:
        """Remove reply audio past its age, idle sessions, and claims nobody finished."""
        moment = self.clock()
        audio_before = moment - timedelta(hours=self.retention.audio_hours)
        idle_before = moment - timedelta(days=self.retention.session_days)
        async with self._write() as conn:
            audio = await conn.execute(delete(TurnAudio).where(TurnAudio.created_at < audio_before))
            counts = await self._erase(conn, Session.last_activity < idle_before)
            claims = await conn.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.turn_id.is_(None),
                    IdempotencyKey.heartbeat_at
                    < moment - timedelta(seconds=abandoned_claims_after),
                )
            )
            old_reminders = await reminders.sweep(conn, moment, self.reminders.rules)
        return {
            "audio": audio.rowcount + counts["audio"],
            "sessions": counts["sessions"],
            "claims": claims.rowcount,
            "reminders": old_reminders,
        }


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot be reached (retry later), not a bad query."""
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated) or isinstance(
            exc, OperationalError | InterfaceError
        )
    return isinstance(exc, UNAVAILABLE_ERRORS)


__all__ = [
    "Busy",
    "KeyClaim",
    "KeyReusedError",
    "NewTurn",
    "NoAudioError",
    "Replay",
    "Retention",
    "SessionInfo",
    "Store",
    "StoredTurn",
    "UnknownSessionError",
    "is_unavailable",
    "normalize_url",
    "parse_session_id",
]
