"""Reminders: one nudge a day at the learner's local time while their goal is not met, and a
weekly summary on Sundays; claimed by any number of senders, each sent once.

Usage (``store.reminders``)::

    claimed = await store.reminders.claim(now=moment, limit=50)   # list[Reminder], each yours
    await store.reminders.report(claimed[0].claim_id, "sent")     # or "failed", "blocked"

The database is the guard, so any number of senders may poll at once. Each learner with
reminders on has ``next_reminder_at`` (UTC); a sender that finds it due moves it to the next
occurrence with a compare-and-set (one sender wins the occurrence; on PostgreSQL the due rows
are read ``FOR UPDATE SKIP LOCKED``, so concurrent senders share the work instead of queueing)
and inserts a row in ``reminders`` whose primary key is (learner, local date, kind): a nudge
for a day can exist once, whatever the settings did meanwhile. A claim carries a lease: a
sender that died before reporting leaves it to run out and the next poll offers it again; a
failed send is offered again after ``reminder_retry``; a 403 (blocked) stops reminders until
the learner writes again.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from phonicflow_backend import progress as rules
from phonicflow_backend.db.learners import LearnerRules, insert_once, practice_days
from phonicflow_backend.db.schema import Learner, PracticeDay, SoundDay
from phonicflow_backend.db.schema import Reminder as ReminderRow
from phonicflow_backend.localtime import local_day, next_occurrence, zone_or_default
from phonicflow_common.contract import (
    Reminder,
    ReminderKind,
    ReminderOutcome,
    SoundCount,
    SoundRef,
    WeekSummary,
)

if TYPE_CHECKING:
    from phonicflow_backend.db.store import Store

Outcome = ReminderOutcome


async def sweep(conn: AsyncConnection, now: datetime, learner_rules: LearnerRules) -> int:
    result = await conn.execute(
        delete(ReminderRow).where(ReminderRow.due_at < now - learner_rules.reminder_keep)
    )
    return int(result.rowcount)


def _sound_ref(family: str, count: SoundCount) -> SoundRef:
    en, pt = rules.label(family)
    accuracy = rules.accuracy(count.right, count.attempts) or 0.0
    return SoundRef(family=family, label_en=en, label_pt=pt, accuracy=accuracy)


class ReminderStore:
    def __init__(self, store: Store, learner_rules: LearnerRules) -> None:
        self._store = store
        self.rules = learner_rules

    def _zone(self, stored: str | None) -> tuple[str, tzinfo]:
        return zone_or_default(stored, self.rules.default_time_zone)

    async def claim(self, *, now: datetime | None = None, limit: int = 50) -> list[Reminder]:
        """The reminders due at ``now``, each claimed for the caller alone (see the module
        docstring); report each with :meth:`report`."""
        moment = now or self._store.clock()
        claimed: list[Reminder] = []
        async with self._store._write() as conn:
            await self._reclaim(conn, moment, limit, claimed)
            if len(claimed) < limit:
                await self._claim_due(conn, moment, limit - len(claimed), claimed)
        return claimed

    async def _reclaim(
        self, conn: AsyncConnection, moment: datetime, limit: int, out: list[Reminder]
    ) -> None:
        """Claims whose lease ran out: offered again while still worth sending."""
        stale = await conn.execute(
            select(ReminderRow)
            .where(ReminderRow.status == "claimed", ReminderRow.lease_until <= moment)
            .order_by(ReminderRow.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        for r in stale.all():
            learner = (
                await conn.execute(
                    select(Learner).where(Learner.telegram_user_id == r.telegram_user_id)
                )
            ).one()
            status: str | None = None
            if learner.blocked_at is not None:
                status = "skipped"
            elif moment - r.due_at > self.rules.reminder_window:
                status = "expired"
            elif r.attempts >= self.rules.reminder_max_attempts:
                status = "failed"
            elif (
                r.kind == "daily"
                and await self._notes_on(conn, r.telegram_user_id, r.local_date)
                >= learner.daily_goal
            ):
                status = "skipped"
            if status is not None:
                await conn.execute(
                    update(ReminderRow)
                    .where(ReminderRow.claim_id == r.claim_id)
                    .values(status=status)
                )
                continue
            claim_id = str(uuid.uuid4())
            taken = await conn.execute(
                update(ReminderRow)
                .where(ReminderRow.claim_id == r.claim_id, ReminderRow.status == "claimed")
                .values(
                    claim_id=claim_id,
                    lease_until=moment + self.rules.reminder_lease,
                    attempts=ReminderRow.attempts + 1,
                )
            )
            if taken.rowcount:
                out.append(await self._reminder(conn, learner, r.local_date, r.kind, claim_id))

    async def _claim_due(
        self, conn: AsyncConnection, moment: datetime, limit: int, out: list[Reminder]
    ) -> None:
        due = await conn.execute(
            select(Learner)
            .where(
                Learner.next_reminder_at <= moment,
                Learner.blocked_at.is_(None),
                Learner.reminder_time.is_not(None),
            )
            .order_by(Learner.next_reminder_at)
            .limit(limit)
            # PostgreSQL: rows another sender is claiming are skipped, not waited for, so
            # concurrent senders share the work (SQLite has one writer anyway)
            .with_for_update(skip_locked=True)
        )
        for learner in due.all():
            occurrence: datetime = learner.next_reminder_at
            _, zone = self._zone(learner.time_zone)
            following = next_occurrence(learner.reminder_time, zone, after=max(occurrence, moment))
            won = await conn.execute(
                update(Learner)
                .where(
                    Learner.telegram_user_id == learner.telegram_user_id,
                    Learner.next_reminder_at == occurrence,
                )
                .values(next_reminder_at=following)
            )
            if not won.rowcount:  # another sender took this occurrence
                continue
            if moment - occurrence > self.rules.reminder_window:
                continue  # every sender was down for hours: skip it rather than nudge late
            day = local_day(occurrence, zone)
            kinds: list[ReminderKind] = []
            if await self._notes_on(conn, learner.telegram_user_id, day) < learner.daily_goal:
                kinds.append("daily")
            if learner.weekly_summary and day.weekday() == 6:  # Sunday ends the ISO week
                kinds.append("weekly")
            for kind in kinds:
                claim_id = str(uuid.uuid4())
                inserted = await conn.execute(
                    insert_once(
                        conn,
                        ReminderRow,
                        {
                            "telegram_user_id": learner.telegram_user_id,
                            "local_date": day,
                            "kind": kind,
                            "claim_id": claim_id,
                            "status": "claimed",
                            "due_at": occurrence,
                            "lease_until": moment + self.rules.reminder_lease,
                            "attempts": 1,
                            "sent_at": None,
                        },
                    )
                )
                if inserted.rowcount:
                    out.append(await self._reminder(conn, learner, day, kind, claim_id))

    @staticmethod
    async def _notes_on(conn: AsyncConnection, user_id: int, day: date) -> int:
        notes = (
            await conn.execute(
                select(PracticeDay.notes).where(
                    PracticeDay.telegram_user_id == user_id, PracticeDay.day == day
                )
            )
        ).scalar()
        return int(notes or 0)

    async def _reminder(
        self, conn: AsyncConnection, learner: Any, day: date, kind: ReminderKind, claim_id: str
    ) -> Reminder:
        user_id = learner.telegram_user_id
        days = await practice_days(conn, user_id, day)
        streak_days, _ = rules.streak(days, day)
        week = await self._week(conn, user_id, day, days) if kind == "weekly" else None
        return Reminder(
            claim_id=claim_id,
            telegram_user_id=user_id,
            kind=kind,
            local_date=day.isoformat(),
            language=learner.language if learner.language in ("en", "pt") else None,
            daily_goal=learner.daily_goal,
            notes_today=days.get(day, 0),
            streak_days=streak_days,
            week=week,
        )

    @staticmethod
    async def _week(
        conn: AsyncConnection, user_id: int, last: date, days: dict[date, int]
    ) -> WeekSummary:
        first = last - timedelta(days=6)
        counts: dict[str, SoundCount] = {}
        for r in await conn.execute(
            select(SoundDay).where(
                SoundDay.telegram_user_id == user_id, SoundDay.day >= first, SoundDay.day <= last
            )
        ):
            c = counts.setdefault(r.family, SoundCount(attempts=0, right=0))
            c.attempts += r.attempts
            c.right += r.right
        ranked = sorted(
            counts, key=lambda f: (counts[f].right / counts[f].attempts, counts[f].attempts)
        )
        best = _sound_ref(ranked[-1], counts[ranked[-1]]) if ranked else None
        weakest = _sound_ref(ranked[0], counts[ranked[0]]) if len(ranked) > 1 else None
        practised = [d for d in days if first <= d <= last]
        return WeekSummary(
            week_start=first.isoformat(),
            week_end=last.isoformat(),
            notes=sum(days[d] for d in practised),
            days_practised=len(practised),
            best=best,
            weakest=weakest,
        )

    async def report(
        self, claim_id: str, outcome: Outcome, *, now: datetime | None = None
    ) -> str | None:
        """Record how the send went; the reminder's status, or None for an unknown claim (a
        lease that ran out was given a new claim id: the late report is refused)."""
        moment = now or self._store.clock()
        async with self._store._write() as conn:
            row = (
                await conn.execute(select(ReminderRow).where(ReminderRow.claim_id == claim_id))
            ).first()
            if row is None:
                return None
            if row.status != "claimed":
                return str(row.status)  # a repeated report (the sender retried it)
            where = ReminderRow.claim_id == claim_id
            if outcome == "sent":
                await conn.execute(
                    update(ReminderRow).where(where).values(status="sent", sent_at=moment)
                )
                return "sent"
            if outcome == "failed":
                await conn.execute(
                    update(ReminderRow)
                    .where(where)
                    .values(lease_until=moment + self.rules.reminder_retry)
                )
                return "claimed"
            await conn.execute(update(ReminderRow).where(where).values(status="blocked"))
            await conn.execute(
                update(Learner)
                .where(Learner.telegram_user_id == row.telegram_user_id)
                .values(blocked_at=moment, next_reminder_at=None)
            )
            return "blocked"


__all__ = ["Outcome", "ReminderStore", "sweep"]
