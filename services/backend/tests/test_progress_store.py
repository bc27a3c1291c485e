"""Progress, settings, reminders and the export in the real databases (PostgreSQL and SQLite),
with the store's clock injected: days pass in microseconds, nothing sleeps."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from phonicflow_backend.db.store import NewTurn, Retention, Store
from phonicflow_backend.localtime import InvalidTimeZoneError
from phonicflow_backend.practice import CATALOGUE
from phonicflow_backend.progress import NoteSounds
from phonicflow_common.contract import LearnerSettingsUpdate, NoteProgress, Reminder
from phonicflow_testing.backend import stored_rows
from phonicflow_testing.postgres import PostgresServer

#: Monday 30 November 2026, 12:00 in São Paulo (UTC-3, the default zone).
MONDAY_NOON = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
TH = CATALOGUE["th-01"].text


@dataclass
class Clock:
    moment: datetime = MONDAY_NOON

    def __call__(self) -> datetime:
        return self.moment

    def at(self, day: int, hour: int, minute: int = 0) -> datetime:
        """``day`` days after Monday, at local São Paulo ``hour:minute``; the clock goes there."""
        local = datetime(2026, 11, 30, hour, minute) + timedelta(days=day)
        self.moment = local.replace(tzinfo=UTC) + timedelta(hours=3)
        return self.moment


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'phonicflow.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def open_store(url: str, clock: Clock, **retention: Any) -> Store:
    store = Store.connect(url, Retention(**retention), clock=clock)
    await store.migrate()
    return store


@pytest.fixture
async def store(database_url: str, clock: Clock) -> AsyncIterator[Store]:
    store = await open_store(database_url, clock)
    yield store
    await store.close()


def voice_note(sounds: dict[str, bool], drill: str | None = None, text: str = "hi") -> NewTurn:
    focus = next((i.focus for i in CATALOGUE.values() if i.text == drill), None)
    return NewTurn(
        turn_id=str(uuid.uuid4()), user_text=text, conversational="", coaching="",
        coaching_portuguese=None, conversational_portuguese=None, score=80.0, target_text=drill,
        pronunciation={"overall_score": 80.0, "words": []}, sounds=NoteSounds(sounds, focus),
    )  # fmt: skip


async def send(
    store: Store, session: str, sounds: dict[str, bool], drill: str | None = None
) -> NoteProgress:
    result = await store.add_turn(session, voice_note(sounds, drill), {})
    assert isinstance(result, NoteProgress)
    return result


class TestProgress:
    async def test_progress_outlives_its_sessions_and_the_pruning_of_turns(
        self, database_url: str, clock: Clock
    ) -> None:
        store = await open_store(database_url, clock, max_turns=2, session_days=90)
        try:
            first = (await store.create_session(telegram_user_id=11)).session_id
            for right in (False, True, True):
                await send(store, first, {"th": right}, TH)
            second = (await store.create_session(telegram_user_id=11)).session_id
            await send(store, second, {"th": True, "h_r": False})
            assert len(await store.history(first)) == 2, "turns were pruned to 2"
            clock.moment += timedelta(days=91)
            assert (await store.sweep())["sessions"] == 2
            assert await store.learner_session(11) is None, "both sessions are gone"
            found = await store.learners.progress(11)
        finally:
            await store.close()
        assert found is not None
        th = next(s for s in found.sounds if s.family == "th")
        assert (th.attempts, th.right, th.recent, th.accuracy) == (
            4,
            3,
            [False, True, True, True],
            0.75,
        )
        h_r = next(s for s in found.sounds if s.family == "h_r")
        assert (h_r.attempts, h_r.right) == (1, 0)
        assert found.total_notes == 4
        assert found.streak_days == 0, "91 days later the streak is over"

    async def test_a_day_is_the_learners_local_day(self, store: Store, clock: Clock) -> None:
        session = (await store.create_session(telegram_user_id=12)).session_id
        clock.at(0, 23, 30)  # Monday 23:30 in São Paulo is Tuesday 02:30 UTC
        monday = await send(store, session, {})
        clock.at(1, 0, 30)  # Tuesday 00:30 local: a new day, the streak goes on
        tuesday = await send(store, session, {})
        assert (monday.notes_today, monday.streak_days) == (1, 1)
        assert (tuesday.notes_today, tuesday.streak_days) == (1, 2)
        await store.learners.update_settings(12, LearnerSettingsUpdate(time_zone="UTC"))
        found = await store.learners.progress(12, now=clock.at(1, 22))
        assert found is not None
        assert [d.date for d in found.days if d.notes] == ["2026-11-30", "2026-12-01"]

    async def test_the_goal_is_reached_once_and_a_drill_reports_mastery_once(
        self, store: Store
    ) -> None:
        session = (await store.create_session(telegram_user_id=13)).session_id
        await store.learners.update_settings(13, LearnerSettingsUpdate(daily_goal=3))
        outcomes = [
            await send(store, session, {"th": right}, TH)
            for right in (False, True, True, True, True)
        ]
        assert [o.goal_just_met for o in outcomes] == [False, False, True, False, False]
        assert [o.goal_met for o in outcomes] == [False, False, True, True, True]
        drills = [o.drill for o in outcomes]
        assert all(d is not None and d.focus == "th" for d in drills)
        assert [d.mastered for d in drills if d] == [False, False, False, False, True]
        assert [d.newly_mastered for d in drills if d] == [False, False, False, False, True]
        assert [(d.recent_right, d.recent_attempts) for d in drills if d][-1] == (4, 5)

    async def test_concurrent_notes_of_one_learner_are_all_counted(self, store: Store) -> None:
        sessions = [(await store.create_session(telegram_user_id=14)).session_id for _ in range(3)]
        await asyncio.gather(*(send(store, sessions[i % 3], {"th": i % 2 == 0}) for i in range(12)))
        found = await store.learners.progress(14)
        assert found is not None
        th = next(s for s in found.sounds if s.family == "th")
        assert (found.notes_today, th.attempts, th.right) == (12, 12, 6)

    async def test_a_text_turn_or_a_session_without_a_learner_counts_nothing(
        self, store: Store
    ) -> None:
        anonymous = (await store.create_session()).session_id
        assert await store.add_turn(anonymous, voice_note({"th": True}), {}) is None
        session = (await store.create_session(telegram_user_id=15)).session_id
        text_turn = voice_note({})
        text_turn = NewTurn(**{**text_turn.__dict__, "sounds": None})
        assert await store.add_turn(session, text_turn, {}) is None
        found = await store.learners.progress(15)
        assert found is not None and found.total_notes == 0


class TestSettings:
    async def test_settings_change_only_what_is_sent_and_reminders_can_be_switched_off(
        self, store: Store, clock: Clock
    ) -> None:
        await store.create_session(telegram_user_id=21, language="pt")
        clock.at(0, 10)
        s = await store.learners.update_settings(
            21, LearnerSettingsUpdate(reminder_time="19:00", time_zone="-3", weekly_summary=True)
        )
        assert (s.language, s.daily_goal, s.reminder_time, s.time_zone) == (
            "pt",
            5,
            "19:00",
            "UTC-03:00",
        )
        assert s.next_reminder_at == "2026-11-30T22:00:00+00:00"
        s = await store.learners.update_settings(21, LearnerSettingsUpdate(daily_goal=8))
        assert (s.daily_goal, s.reminder_time, s.weekly_summary) == (8, "19:00", True)
        s = await store.learners.update_settings(
            21, LearnerSettingsUpdate.model_validate({"reminder_time": None})
        )
        assert (s.reminder_time, s.next_reminder_at) == (None, None)
        with pytest.raises(InvalidTimeZoneError):
            await store.learners.update_settings(
                21, LearnerSettingsUpdate(time_zone="Nowhere/City")
            )
        assert (await store.learners.settings(21)) == s, "a refused change stores nothing"

    async def test_settings_for_a_learner_never_seen_create_their_record(
        self, store: Store
    ) -> None:
        assert await store.learners.settings(22) is None
        s = await store.learners.update_settings(22, LearnerSettingsUpdate(daily_goal=2))
        assert (s.telegram_user_id, s.daily_goal, s.effective_time_zone) == (
            22,
            2,
            "America/Sao_Paulo",
        )


async def with_reminder(store: Store, user_id: int, **settings: Any) -> str:
    session = (await store.create_session(telegram_user_id=user_id, language="pt")).session_id
    await store.learners.update_settings(
        user_id, LearnerSettingsUpdate(reminder_time="19:00", **settings)
    )
    return session


def kinds(claimed: list[Reminder]) -> list[tuple[int, str, str]]:
    return sorted((r.telegram_user_id, r.kind, r.local_date) for r in claimed)


class TestReminders:
    async def test_one_nudge_at_the_local_hour_and_not_again(
        self, store: Store, clock: Clock
    ) -> None:
        clock.at(0, 9)
        session = await with_reminder(store, 31)
        await send(store, session, {"th": False})
        assert await store.reminders.claim(now=clock.at(0, 18, 59)) == []
        claimed = await store.reminders.claim(now=clock.at(0, 19))
        assert kinds(claimed) == [(31, "daily", "2026-11-30")]
        (reminder,) = claimed
        assert (
            reminder.language,
            reminder.notes_today,
            reminder.daily_goal,
            reminder.streak_days,
        ) == ("pt", 1, 5, 1)
        assert await store.reminders.report(reminder.claim_id, "sent") == "sent"
        assert await store.reminders.claim(now=clock.at(0, 19, 5)) == []
        assert await store.reminders.claim(now=clock.at(0, 23, 59)) == []
        assert kinds(await store.reminders.claim(now=clock.at(1, 19, 1))) == [
            (31, "daily", "2026-12-01")
        ]

    async def test_no_nudge_on_a_day_the_goal_is_met(self, store: Store, clock: Clock) -> None:
        clock.at(0, 9)
        session = await with_reminder(store, 32, daily_goal=2)
        for _ in range(2):
            await send(store, session, {})
        assert await store.reminders.claim(now=clock.at(0, 19, 1)) == []
        assert await store.reminders.claim(now=clock.at(0, 21)) == []

    async def test_a_blocked_learner_gets_nothing_until_they_write_again(
        self, store: Store, clock: Clock
    ) -> None:
        clock.at(0, 9)
        session = await with_reminder(store, 33)
        (reminder,) = await store.reminders.claim(now=clock.at(0, 19))
        assert await store.reminders.report(reminder.claim_id, "blocked") == "blocked"
        settings = await store.learners.settings(33)
        assert settings is not None and settings.blocked and settings.next_reminder_at is None
        for day in range(1, 4):
            assert await store.reminders.claim(now=clock.at(day, 19, 30)) == []
        clock.at(4, 8)
        await send(store, session, {})  # they unblocked the bot and sent a note: 1 of 5
        assert kinds(await store.reminders.claim(now=clock.at(4, 19))) == [
            (33, "daily", "2026-12-04")
        ]

    async def test_a_claim_whose_sender_died_is_offered_again_and_a_failure_is_retried(
        self, store: Store, clock: Clock
    ) -> None:
        clock.at(0, 9)
        await with_reminder(store, 34)
        (first,) = await store.reminders.claim(now=clock.at(0, 19))
        assert await store.reminders.claim(now=clock.at(0, 19, 1)) == [], "leased"
        (again,) = await store.reminders.claim(now=clock.at(0, 19, 3))  # lease: 2 min
        assert again.claim_id != first.claim_id
        assert await store.reminders.report(first.claim_id, "sent") is None, "stale"
        assert await store.reminders.report(again.claim_id, "failed") == "claimed"
        assert await store.reminders.claim(now=clock.at(0, 19, 3)) == []
        (third,) = await store.reminders.claim(now=clock.at(0, 19, 5))
        assert await store.reminders.report(third.claim_id, "sent") == "sent"
        assert await store.reminders.report(third.claim_id, "sent") == "sent", "repeat"
        assert await store.reminders.claim(now=clock.at(0, 19, 30)) == []

    async def test_a_nudge_hours_late_is_skipped_not_sent_at_midnight(
        self, store: Store, clock: Clock
    ) -> None:
        clock.at(0, 9)
        await with_reminder(store, 35)
        assert await store.reminders.claim(now=clock.at(0, 23, 30)) == []
        assert kinds(await store.reminders.claim(now=clock.at(1, 19))) == [
            (35, "daily", "2026-12-01")
        ]

    async def test_the_weekly_summary_comes_on_sunday_with_the_weeks_best_and_weakest(
        self, store: Store, clock: Clock
    ) -> None:
        clock.at(0, 9)
        session = await with_reminder(store, 36, weekly_summary=True, daily_goal=1)
        for day, sounds in enumerate([{"th": False}, {"th": False, "h_r": True}, {"h_r": True}]):
            clock.at(day, 10)
            await send(store, session, sounds)
        nudged = [kinds(await store.reminders.claim(now=clock.at(day, 19, 1))) for day in range(6)]
        assert nudged == [[], [], []] + [[(36, "daily", f"2026-12-0{day}")] for day in (3, 4, 5)], (
            "goal met Monday to Wednesday"
        )
        claimed = await store.reminders.claim(now=clock.at(6, 19, 1))
        assert kinds(claimed) == [(36, "daily", "2026-12-06"), (36, "weekly", "2026-12-06")]
        week = next(r for r in claimed if r.kind == "weekly").week
        assert week is not None
        assert (week.week_start, week.week_end, week.notes, week.days_practised) == (
            "2026-11-30", "2026-12-06", 3, 3
        )  # fmt: skip
        assert week.best is not None and (week.best.family, week.best.accuracy) == ("h_r", 1.0)
        assert week.weakest is not None and (week.weakest.family, week.weakest.accuracy) == (
            "th",
            0.0,
        )

    async def test_two_replicas_claiming_at_once_send_each_reminder_once(
        self, postgres_url: str, clock: Clock
    ) -> None:
        """Two backends on one PostgreSQL, each polled by its own sender."""
        first, second = await open_store(postgres_url, clock), await open_store(postgres_url, clock)
        try:
            clock.at(0, 9)
            users = list(range(1000, 1040))
            for user in users:
                await with_reminder(first, user)
            moment = clock.at(0, 19, 0)

            async def drain(store: Store) -> list[Reminder]:
                got: list[Reminder] = []
                while batch := await store.reminders.claim(now=moment, limit=3):
                    got += batch
                return got

            results = await asyncio.gather(drain(first), drain(second), drain(first), drain(second))
        finally:
            await first.close()
            await second.close()
        claimed = [r for batch in results for r in batch]
        assert sorted(r.telegram_user_id for r in claimed) == users, "each learner exactly once"
        assert sum(1 for batch in results if batch) >= 2, "the work was shared"


class TestErasureAndExport:
    async def prepare(self, store: Store, clock: Clock, user_id: int) -> str:
        clock.at(0, 9)
        session = await with_reminder(store, user_id, weekly_summary=True)
        await send(store, session, {"th": False, "h_r": True}, TH)
        (reminder,) = await store.reminders.claim(now=clock.at(0, 19))
        await store.reminders.report(reminder.claim_id, "sent")
        return session

    async def test_the_export_holds_every_row_of_the_learner(
        self, store: Store, clock: Clock, database_url: str
    ) -> None:
        session = await self.prepare(store, clock, 41)
        await self.prepare(store, clock, 42)
        export = await store.learners.export(41)
        assert export is not None and export.progress is not None
        rows = stored_rows(database_url)
        for table, table_rows in rows.items():
            mine = [
                r
                for r in table_rows
                if r.get("telegram_user_id") == 41 or r.get("session_id") == session
            ]
            if table == "turn_audio":
                continue  # no audio in these notes; covered by the HTTP test
            assert len(export.tables.get(table, [])) == len(mine), table
        assert {r["family"] for r in export.tables["sound_progress"]} == {"th", "h_r"}
        assert export.tables["reminders"][0]["status"] == "sent"
        assert export.progress.total_notes == 1

    async def test_erasing_a_learner_removes_their_progress_and_reminders_too(
        self, store: Store, clock: Clock, database_url: str
    ) -> None:
        await self.prepare(store, clock, 43)
        before = stored_rows(database_url)
        await self.prepare(store, clock, 44)
        erased = await store.learners.export(44)
        assert erased is not None
        deleted = await store.delete_learner(44)
        assert deleted.progress == 6  # a practice day, 2 sound days, 2 sounds, a reminder
        after = stored_rows(database_url)
        for table, table_rows in after.items():
            assert [r for r in table_rows if r.get("telegram_user_id") == 44] == [], table
        assert after == before, "the other learner's rows are untouched"
        assert await store.learners.progress(44) is None
