"""The tables (SQLAlchemy 2 declarative): one definition for PostgreSQL and SQLite.

::

    learners ─┬─< sessions ─┬─< turns ─┬─< turn_audio
              │             │          └─< idempotency_keys.turn_id (nullable)
              │             └─< idempotency_keys
              ├─< labels (a learner's corrections of a verdict, with their note)
              ├─< practice_days       notes per local day (streak, daily goal)
              ├─< sound_days          per local day and sound family: attempts, right
              ├─< sound_progress      per sound family: totals, last outcomes, mastery
              └─< reminders           one row per (local date, kind) claimed or sent

A learner is a Telegram user id; every row of theirs hangs off that record with
``ON DELETE CASCADE``, so erasing a learner (``DELETE /learner/{id}``) reaches everything they
ever sent. Progress hangs off the learner, not a session: it outlives session retention
(90 days idle) and turn pruning (200 per session). A session may also exist without a learner (the seed's ``POST /bot/session`` with no
body). Turns are ordered by ``seq``, an autoincrement key that is monotonic across replicas
sharing one database. Migrations (Alembic, ``db/migrations``) create these tables; a test
checks that the migrations and this module describe the same schema.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Constraint names Alembic can refer to on both databases.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: An autoincrementing 64-bit key; SQLite only autoincrements an ``INTEGER PRIMARY KEY``.
AutoId = BigInteger().with_variant(Integer(), "sqlite")


class Timestamp(TypeDecorator[datetime]):
    """An aware UTC datetime on both databases: timestamptz in PostgreSQL; in SQLite, naive
    UTC text (which also makes its string comparisons chronological)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: A session or turn id: a canonical UUID string (36 characters).
UuidText = String(36)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Learner(Base):
    __tablename__ = "learners"

    telegram_user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    language: Mapped[str | None] = mapped_column(String(8))
    #: The learner agreed that notes they correct may be kept as labelled examples.
    label_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(Timestamp())
    updated_at: Mapped[datetime] = mapped_column(Timestamp())
    #: Voice notes a day the learner aims for (``/goal``).
    daily_goal: Mapped[int] = mapped_column(Integer, server_default=text("5"))
    #: Local ``HH:MM`` of the daily nudge, null when reminders are off.
    reminder_time: Mapped[str | None] = mapped_column(String(5))
    #: An IANA zone or a canonical UTC offset (``UTC-03:00``); null: the backend's default.
    time_zone: Mapped[str | None] = mapped_column(String(64))
    weekly_summary: Mapped[bool] = mapped_column(Boolean, server_default=false())
    #: Telegram answered 403 (the learner blocked the bot): no reminders until they write.
    blocked_at: Mapped[datetime | None] = mapped_column(Timestamp())
    #: When the next nudge falls due (UTC), null when none is scheduled; senders poll it.
    next_reminder_at: Mapped[datetime | None] = mapped_column(Timestamp(), index=True)


class Session(Base):
    __tablename__ = "sessions"

    session_id: Mapped[str] = mapped_column(UuidText, primary_key=True)
    telegram_user_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("learners.telegram_user_id", ondelete="CASCADE"), index=True
    )
    language: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(Timestamp())
    last_activity: Mapped[datetime] = mapped_column(Timestamp(), index=True)


class Turn(Base):
    __tablename__ = "turns"
    __table_args__ = (Index("ix_turns_session_seq", "session_id", "seq"),)

    seq: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    turn_id: Mapped[str] = mapped_column(UuidText, unique=True)
    session_id: Mapped[str] = mapped_column(
        UuidText, ForeignKey("sessions.session_id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(Timestamp())
    user_text: Mapped[str] = mapped_column(Text)
    conversational: Mapped[str] = mapped_column(Text)
    coaching: Mapped[str] = mapped_column(Text)
    coaching_portuguese: Mapped[str | None] = mapped_column(Text)
    conversational_portuguese: Mapped[str | None] = mapped_column(Text)
    score: Mapped[float | None] = mapped_column(Float)
    target_text: Mapped[str | None] = mapped_column(Text)
    #: The per-word results (contract.Pronunciation as JSON), for progress per sound.
    pronunciation: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


class TurnAudio(Base):
    """A reply's WAV (coaching or conversational), kept for a limited time (see Store)."""

    __tablename__ = "turn_audio"

    turn_id: Mapped[str] = mapped_column(
        UuidText, ForeignKey("turns.turn_id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    wav: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(Timestamp(), index=True)


class IdempotencyKey(Base):
    """One ``Idempotency-Key`` of one session: claimed while processed, then its answer.

    ``response`` is null while a replica works on it; that replica refreshes
    ``heartbeat_at`` until it stores the turn (and the answer) or gives the key up. A claim
    whose heartbeat stopped (its process died) is taken over by the next repeat.
    """

    __tablename__ = "idempotency_keys"

    session_id: Mapped[str] = mapped_column(
        UuidText, ForeignKey("sessions.session_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(64))
    heartbeat_at: Mapped[datetime] = mapped_column(Timestamp())
    turn_id: Mapped[str | None] = mapped_column(
        UuidText, ForeignKey("turns.turn_id", ondelete="CASCADE"), index=True
    )
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


class Label(Base):
    """A verdict the learner said was wrong, with their note: a labelled example for a real
    learner test set. Only made with the learner's consent (``learners.label_consent``); kept
    until the learner is erased, independent of the turn's own retention."""

    __tablename__ = "labels"

    label_id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    telegram_user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("learners.telegram_user_id", ondelete="CASCADE"), index=True
    )
    turn_id: Mapped[str] = mapped_column(UuidText)
    created_at: Mapped[datetime] = mapped_column(Timestamp())
    word_index: Mapped[int] = mapped_column(Integer)
    word: Mapped[str] = mapped_column(String(100))
    #: What the scorer said about the word: an error slug, or null for "said well".
    verdict: Mapped[str | None] = mapped_column(String(64))
    #: What the learner says instead: "said_right", "said_wrong", or the error slug they meant.
    correction: Mapped[str] = mapped_column(String(64))
    target_text: Mapped[str | None] = mapped_column(Text)
    transcript: Mapped[str] = mapped_column(Text)
    pronunciation: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    note_wav: Mapped[bytes] = mapped_column(LargeBinary)


def _learner_key() -> Mapped[int]:
    """The owning learner: part of the primary key, erased with them."""
    return mapped_column(
        BigInteger,
        ForeignKey("learners.telegram_user_id", ondelete="CASCADE"),
        primary_key=True,
    )


class PracticeDay(Base):
    """Voice notes on one local day of the learner (the zone they had that day)."""

    __tablename__ = "practice_days"

    telegram_user_id: Mapped[int] = _learner_key()
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    notes: Mapped[int] = mapped_column(Integer)


class SoundDay(Base):
    """One sound family on one local day: the notes it came up in, and those said right."""

    __tablename__ = "sound_days"

    telegram_user_id: Mapped[int] = _learner_key()
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    family: Mapped[str] = mapped_column(String(32), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    right: Mapped[int] = mapped_column(Integer)


class SoundProgress(Base):
    """One sound family of the learner: totals, the last outcomes (mastery, trend)."""

    __tablename__ = "sound_progress"

    telegram_user_id: Mapped[int] = _learner_key()
    family: Mapped[str] = mapped_column(String(32), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    right: Mapped[int] = mapped_column(Integer)
    #: The last outcomes, oldest first: "1" right, "0" not (at most progress.RECENT).
    recent: Mapped[str] = mapped_column(String(16))
    mastered_at: Mapped[datetime | None] = mapped_column(Timestamp())
    last_day: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(Timestamp())


class Reminder(Base):
    """A nudge or weekly summary for one local date: the row is the guard against sending it
    twice (any number of senders may race for it; the primary key lets one win)."""

    __tablename__ = "reminders"
    __table_args__ = (Index("ix_reminders_status_lease", "status", "lease_until"),)

    telegram_user_id: Mapped[int] = _learner_key()
    local_date: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    #: Names the current claim; a new claim (after a lease ran out) gets a new one.
    claim_id: Mapped[str] = mapped_column(UuidText, unique=True)
    #: claimed | sent | failed | blocked | expired | skipped
    status: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(Timestamp(), index=True)
    #: A claim not reported by then is offered again (its sender died).
    lease_until: Mapped[datetime] = mapped_column(Timestamp())
    attempts: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime | None] = mapped_column(Timestamp())
