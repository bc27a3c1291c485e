"""What the database keeps per learner beyond their sessions: progress and settings, and the
export of everything of theirs. Reminders are :mod:`.reminders`.

``Store.add_turn`` calls :func:`record_note` inside the turn's transaction, so a note is counted
exactly when its turn is stored (a replayed or rolled-back turn counts nothing). Everything
else is :class:`LearnerStore` (``store.learners``)::

    await store.learners.progress(42, now=moment)           # ProgressResponse | None
    await store.learners.update_settings(42, LearnerSettingsUpdate(reminder_time="19:00"))
    await store.learners.export(42)                         # LearnerExport | None

Days are the learner's local days, in the zone they had when the note came (default
``LearnerRules.default_time_zone``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from phonicflow_backend import progress as rules
from phonicflow_backend.db.schema import (
    Base,
    IdempotencyKey,
    Label,
    Learner,
    PracticeDay,
    Session,
    SoundDay,
    SoundProgress,
    Turn,
    TurnAudio,
)
from phonicflow_backend.db.schema import Reminder as ReminderRow
from phonicflow_backend.localtime import (
    local_day,
    next_occurrence,
    parse_time_zone,
    week_start,
    zone_or_default,
)
from phonicflow_common.contract import (
    DayActivity,
    DrillOutcome,
    LearnerExport,
    LearnerSettings,
    LearnerSettingsUpdate,
    NoteProgress,
    ProgressResponse,
    SoundCount,
    WeekSounds,
)
from phonicflow_common.contract import SoundProgress as SoundProgressModel

if TYPE_CHECKING:
    from phonicflow_backend.db.store import Store

#: Days shown in the progress answer's ``days`` (the picture's bars).
DAYS_SHOWN = 28
#: Practice days read for a streak: longer streaks are shown as this many.
STREAK_LOOKBACK = 1000


@dataclass(frozen=True)
class LearnerRules:
    #: The zone days are counted in for a learner who gave none (learners are Brazilian).
    default_time_zone: str = "America/Sao_Paulo"
    #: A nudge more than this late (every sender was down) is skipped, not sent at midnight.
    reminder_window: timedelta = timedelta(hours=3)
    #: A claim not reported within this is offered again (its sender died).
    reminder_lease: timedelta = timedelta(minutes=2)
    #: A failed send is offered again after this.
    reminder_retry: timedelta = timedelta(minutes=1)
    reminder_max_attempts: int = 5
    #: Rows of ``reminders`` are only a guard against sending twice: kept this long.
    reminder_keep: timedelta = timedelta(days=35)


def _insert(conn: AsyncConnection, model: type[Base], rows: list[dict[str, Any]]) -> Any:
    table = cast(Table, model.__table__)
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    return dialect_insert(table).values(rows)


def upsert_add(
    conn: AsyncConnection, model: type[Base], keys: list[str], rows: list[dict[str, Any]]
) -> Any:
    """INSERT the rows, or add their other columns to those of the existing rows with the same
    ``keys``: one statement, atomic on both databases."""
    statement = _insert(conn, model, rows)
    table = cast(Table, model.__table__)
    return statement.on_conflict_do_update(
        index_elements=keys,
        set_={c: table.c[c] + statement.excluded[c] for c in rows[0] if c not in keys},
    )


def upsert_replace(
    conn: AsyncConnection, model: type[Base], keys: list[str], rows: list[dict[str, Any]]
) -> Any:
    """INSERT the rows, or overwrite the existing rows with the same ``keys``."""
    statement = _insert(conn, model, rows)
    return statement.on_conflict_do_update(
        index_elements=keys, set_={c: statement.excluded[c] for c in rows[0] if c not in keys}
    )


def insert_once(conn: AsyncConnection, model: type[Base], values: dict[str, Any]) -> Any:
    """INSERT the row unless one with its primary key exists (rowcount 0 then)."""
    return _insert(conn, model, [values]).on_conflict_do_nothing()


async def practice_days(conn: AsyncConnection, user_id: int, until: date) -> dict[date, int]:
    rows = await conn.execute(
        select(PracticeDay.day, PracticeDay.notes)
        .where(PracticeDay.telegram_user_id == user_id, PracticeDay.day <= until)
        .order_by(PracticeDay.day.desc())
        .limit(STREAK_LOOKBACK)
    )
    return {r.day: r.notes for r in rows}


def next_reminder(reminder_time: str | None, zone: tzinfo, after: datetime) -> datetime | None:
    """When the learner's next nudge falls due; None with reminders off."""
    return None if reminder_time is None else next_occurrence(reminder_time, zone, after=after)


async def record_note(
    conn: AsyncConnection,
    user_id: int,
    sounds: rules.NoteSounds,
    moment: datetime,
    learner_rules: LearnerRules,
) -> NoteProgress | None:
    """Count one voice note of the learner: their day, each sound it exercised, mastery.
    None when the learner record is gone (erased while the note was processed).

    Six statements whatever the note holds. The learner's row is locked first, so two notes
    of one learner (two replicas) are counted one after the other, never from the same read."""
    learner = (
        await conn.execute(
            select(Learner).where(Learner.telegram_user_id == user_id).with_for_update()
        )
    ).first()
    if learner is None:
        return None
    _, zone = zone_or_default(learner.time_zone, learner_rules.default_time_zone)
    today = local_day(moment, zone)
    await conn.execute(
        upsert_add(
            conn, PracticeDay, ["telegram_user_id", "day"],
            [{"telegram_user_id": user_id, "day": today, "notes": 1}],
        )
    )  # fmt: skip
    drill = await _record_sounds(conn, user_id, sounds, today, moment) if sounds.sounds else None
    if learner.blocked_at is not None:  # they wrote to us: they unblocked the bot
        await conn.execute(
            update(Learner)
            .where(Learner.telegram_user_id == user_id)
            .values(
                blocked_at=None,
                next_reminder_at=next_reminder(learner.reminder_time, zone, moment),
            )
        )
    days = await practice_days(conn, user_id, today)
    streak_days, _ = rules.streak(days, today)
    notes_today = days.get(today, 0)
    return NoteProgress(
        notes_today=notes_today,
        daily_goal=learner.daily_goal,
        goal_met=notes_today >= learner.daily_goal,
        goal_just_met=notes_today == learner.daily_goal,
        streak_days=streak_days,
        drill=drill,
    )


async def _record_sounds(
    conn: AsyncConnection, user_id: int, note: rules.NoteSounds, today: date, moment: datetime
) -> DrillOutcome | None:
    """The note's sounds into ``sound_days`` and ``sound_progress``; the drill's outcome."""
    await conn.execute(
        upsert_add(
            conn,
            SoundDay,
            ["telegram_user_id", "day", "family"],
            [
                {"telegram_user_id": user_id, "day": today, "family": family,
                 "attempts": 1, "right": int(right)}
                for family, right in note.sounds.items()
            ],
        )
    )  # fmt: skip
    before = {
        r.family: r
        for r in await conn.execute(
            select(SoundProgress).where(
                SoundProgress.telegram_user_id == user_id,
                SoundProgress.family.in_(list(note.sounds)),
            )
        )
    }
    rows, drill = [], None
    for family, right in note.sounds.items():
        old = before.get(family)
        recent = rules.push(old.recent if old else "", right)
        since = old.mastered_at if old is not None else None
        was = since is not None
        mastered = rules.is_mastered(recent, was_mastered=was)
        rows.append(
            {
                "telegram_user_id": user_id,
                "family": family,
                "attempts": (old.attempts if old else 0) + 1,
                "right": (old.right if old else 0) + int(right),
                "recent": recent,
                "mastered_at": (since or moment) if mastered else None,
                "last_day": today,
                "updated_at": moment,
            }
        )
        if family == note.drill_focus:
            good, window = rules.recent_right(recent)
            drill = DrillOutcome(
                focus=family,
                right=right,
                recent_right=good,
                recent_attempts=window,
                mastered=mastered,
                newly_mastered=mastered and not was,
            )
    await conn.execute(upsert_replace(conn, SoundProgress, ["telegram_user_id", "family"], rows))
    return drill


async def erase(conn: AsyncConnection, user_id: int) -> int:
    """Delete the learner's progress and reminder rows (the learner row is the caller's)."""
    erased = 0
    for table in (ReminderRow, SoundProgress, SoundDay, PracticeDay):
        result = await conn.execute(delete(table).where(table.telegram_user_id == user_id))
        erased += result.rowcount
    return erased


def json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


class LearnerStore:
    def __init__(self, store: Store, learner_rules: LearnerRules) -> None:
        self._store = store
        self.rules = learner_rules

    def _zone(self, stored: str | None) -> tuple[str, tzinfo]:
        return zone_or_default(stored, self.rules.default_time_zone)

    # -- progress --------------------------------------------------------------------------
    async def progress(
        self, user_id: int, *, now: datetime | None = None, weeks: int = 4
    ) -> ProgressResponse | None:
        moment = now or self._store.clock()
        async with self._store.engine.connect() as conn:
            return await self._progress(conn, user_id, moment, weeks)

    async def _progress(
        self, conn: AsyncConnection, user_id: int, moment: datetime, weeks: int
    ) -> ProgressResponse | None:
        learner = (
            await conn.execute(select(Learner).where(Learner.telegram_user_id == user_id))
        ).first()
        if learner is None:
            return None
        zone_name, zone = self._zone(learner.time_zone)
        today = local_day(moment, zone)
        days = await practice_days(conn, user_id, today)
        streak_days, practised_today = rules.streak(days, today)
        total = (
            await conn.execute(
                select(PracticeDay.notes).where(PracticeDay.telegram_user_id == user_id)
            )
        ).scalars()
        sounds = {
            r.family: r
            for r in await conn.execute(
                select(SoundProgress).where(SoundProgress.telegram_user_id == user_id)
            )
        }
        first_week = week_start(today) - timedelta(weeks=weeks - 1)
        by_week: dict[date, dict[str, SoundCount]] = defaultdict(dict)
        for r in await conn.execute(
            select(SoundDay).where(SoundDay.telegram_user_id == user_id, SoundDay.day >= first_week)
        ):
            counts = by_week[week_start(r.day)].setdefault(
                r.family, SoundCount(attempts=0, right=0)
            )
            counts.attempts += r.attempts
            counts.right += r.right
        notes_by_week: dict[date, int] = defaultdict(int)
        for day, notes in days.items():
            if day >= first_week:
                notes_by_week[week_start(day)] += notes
        families = list(rules.FAMILIES) + sorted(set(sounds) - set(rules.FAMILIES))
        states = {
            f: rules.SoundState(r.attempts, r.recent, r.mastered_at is not None)
            for f, r in sounds.items()
        }
        weakest, _ = rules.weakest(states)
        notes_today = days.get(today, 0)
        return ProgressResponse(
            telegram_user_id=user_id,
            today=today.isoformat(),
            time_zone=zone_name,
            daily_goal=learner.daily_goal,
            notes_today=notes_today,
            goal_met=notes_today >= learner.daily_goal,
            streak_days=streak_days,
            practised_today=practised_today,
            total_notes=sum(total),
            sounds=[self._sound(f, sounds.get(f)) for f in families],
            weakest=weakest,
            days=[
                DayActivity(date=d.isoformat(), notes=days.get(d, 0))
                for d in (today - timedelta(days=n) for n in range(DAYS_SHOWN - 1, -1, -1))
            ],
            weeks=[
                WeekSounds(
                    week_start=w.isoformat(),
                    notes=notes_by_week.get(w, 0),
                    sounds=by_week.get(w, {}),
                )
                for w in (first_week + timedelta(weeks=n) for n in range(weeks))
            ],
        )

    @staticmethod
    def _sound(family: str, row: Any | None) -> SoundProgressModel:
        en, pt = rules.label(family)
        attempts, right, recent = (row.attempts, row.right, row.recent) if row else (0, 0, "")
        return SoundProgressModel(
            family=family,
            label_en=en,
            label_pt=pt,
            attempts=attempts,
            right=right,
            accuracy=rules.accuracy(right, attempts),
            recent=[c == "1" for c in recent],
            trend=rules.trend(recent),
            mastered=row is not None and row.mastered_at is not None,
            last_practised=row.last_day.isoformat() if row else None,
        )

    async def sound_states(self, user_id: int) -> dict[str, rules.SoundState]:
        async with self._store.engine.connect() as conn:
            rows = await conn.execute(
                select(SoundProgress).where(SoundProgress.telegram_user_id == user_id)
            )
            return {
                r.family: rules.SoundState(r.attempts, r.recent, r.mastered_at is not None)
                for r in rows
            }

    async def recent_drills(self, user_id: int, limit: int = rules.RECENT_DRILLS) -> list[str]:
        """The sentences of the learner's last drills, newest first (from their turns)."""
        async with self._store.engine.connect() as conn:
            rows = await conn.execute(
                select(Turn.target_text)
                .join(Session, Session.session_id == Turn.session_id)
                .where(Session.telegram_user_id == user_id, Turn.target_text.is_not(None))
                .order_by(Turn.seq.desc())
                .limit(limit)
            )
            return [text for text in rows.scalars() if text]

    # -- settings --------------------------------------------------------------------------
    async def settings(self, user_id: int) -> LearnerSettings | None:
        async with self._store.engine.connect() as conn:
            row = (
                await conn.execute(select(Learner).where(Learner.telegram_user_id == user_id))
            ).first()
        return None if row is None else self._settings(row)

    def _settings(self, row: Any) -> LearnerSettings:
        zone_name, _ = self._zone(row.time_zone)
        return LearnerSettings(
            telegram_user_id=row.telegram_user_id,
            language=row.language if row.language in ("en", "pt") else None,
            daily_goal=row.daily_goal,
            reminder_time=row.reminder_time,
            time_zone=row.time_zone,
            effective_time_zone=zone_name,
            weekly_summary=row.weekly_summary,
            blocked=row.blocked_at is not None,
            next_reminder_at=json_value(row.next_reminder_at),
        )

    async def update_settings(
        self, user_id: int, change: LearnerSettingsUpdate, *, now: datetime | None = None
    ) -> LearnerSettings:
        """Apply the fields ``change`` sets (creating the learner if need be). Changing
        anything also lifts a "blocked" mark: the learner is talking to the bot.
        InvalidTimeZoneError for a zone that is neither a name nor an offset."""
        moment = now or self._store.clock()
        sent = change.model_fields_set
        values: dict[str, Any] = {
            name: getattr(change, name)
            for name in ("language", "daily_goal", "weekly_summary")
            if name in sent and getattr(change, name) is not None
        }
        if "reminder_time" in sent:
            values["reminder_time"] = change.reminder_time
        if "time_zone" in sent:
            values["time_zone"] = (
                parse_time_zone(change.time_zone)[0] if change.time_zone is not None else None
            )
        async with self._store._write() as conn:
            await self._store._upsert_learner(conn, user_id, None, moment)
            row = (
                await conn.execute(
                    select(Learner).where(Learner.telegram_user_id == user_id).with_for_update()
                )
            ).one()
            reminder_time = values.get("reminder_time", row.reminder_time)
            _, zone = self._zone(values.get("time_zone", row.time_zone))
            values["next_reminder_at"] = next_reminder(reminder_time, zone, moment)
            values["blocked_at"] = None
            await conn.execute(
                update(Learner)
                .where(Learner.telegram_user_id == user_id)
                .values(updated_at=moment, **values)
            )
            row = (
                await conn.execute(select(Learner).where(Learner.telegram_user_id == user_id))
            ).one()
        return self._settings(row)

    # -- export ----------------------------------------------------------------------------
    async def export(self, user_id: int, *, now: datetime | None = None) -> LearnerExport | None:
        """Every row stored about the learner, by table, and their progress."""
        moment = now or self._store.clock()
        async with self._store.engine.connect() as conn:
            summary = await self._progress(conn, user_id, moment, weeks=12)
            if summary is None:
                return None
            sessions = select(Session.session_id).where(Session.telegram_user_id == user_id)
            turns = select(Turn.turn_id).where(Turn.session_id.in_(sessions))
            queries: dict[str, Any] = {
                "learners": select(Learner).where(Learner.telegram_user_id == user_id),
                "sessions": select(Session).where(Session.telegram_user_id == user_id),
                "turns": select(Turn).where(Turn.session_id.in_(sessions)).order_by(Turn.seq),
                # the backend's own speech, described rather than embedded (megabytes of WAV)
                "turn_audio": select(
                    TurnAudio.turn_id,
                    TurnAudio.kind,
                    TurnAudio.created_at,
                    func.length(TurnAudio.wav).label("bytes"),
                ).where(TurnAudio.turn_id.in_(turns)),
                "idempotency_keys": select(IdempotencyKey).where(
                    IdempotencyKey.session_id.in_(sessions)
                ),
                # the learner's own recording is theirs: described here, fetched by the bot
                "labels": select(
                    *(c for c in Label.__table__.c if c.name != "note_wav"),
                    func.length(Label.note_wav).label("note_bytes"),
                ).where(Label.telegram_user_id == user_id),
            }
            for table in (PracticeDay, SoundDay, SoundProgress, ReminderRow):
                queries[table.__tablename__] = select(table).where(
                    table.telegram_user_id == user_id
                )
            tables = {
                name: [
                    {k: json_value(v) for k, v in row._mapping.items()}
                    for row in await conn.execute(query)
                ]
                for name, query in queries.items()
            }
        return LearnerExport(
            exported_at=json_value(moment),
            telegram_user_id=user_id,
            progress=summary,
            tables=tables,
        )


__all__ = [
    "LearnerRules",
    "LearnerStore",
    "erase",
    "insert_once",
    "next_reminder",
    "practice_days",
    "record_note",
    "upsert_add",
    "upsert_replace",
]
