"""What progress costs: the ``/progress`` picture, a note's extra statements, reading progress,
and claiming reminders, on SQLite and on a real PostgreSQL.

Usage::

    .venv/bin/python bench/progress.py                      # both databases, defaults
    .venv/bin/python bench/progress.py --learners 2000 --runs 50 --databases postgresql

Measures, in this process (the backend's own code, no HTTP):

- the picture: ``render_png`` wall time (first call, which imports matplotlib and loads fonts,
  then p50 / p95 of ``--runs``), and the process's resident memory before and after;
- a voice note's turn with and without counting it in progress (``Store.add_turn`` p50): the
  price of keeping progress in the turn's transaction;
- ``LearnerStore.progress`` p50 for a learner with ``--days`` days of history;
- reminders: ``--learners`` learners due at the same minute, claimed by two concurrent senders
  (two ``Store`` instances: two replicas) in batches of 50 and reported sent; reminders/s, and
  a check that each learner got exactly one.
Prints Markdown tables for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

from phonicflow_backend.db.store import NewTurn, Store
from phonicflow_backend.practice import CATALOGUE
from phonicflow_backend.progress import NoteSounds
from phonicflow_common.contract import LearnerSettingsUpdate, Reminder
from phonicflow_testing.postgres import PostgresServer

MONDAY_9 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # 09:00 in São Paulo


class Clock:
    def __init__(self) -> None:
        self.moment = MONDAY_9

    def __call__(self) -> datetime:
        return self.moment


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"{1000 * statistics.median(ordered):.1f} / {1000 * p95:.1f}"


def bench_picture(runs: int) -> list[str]:
    from phonicflow_common.contract import (
        DayActivity,
        ProgressResponse,
        SoundCount,
        SoundProgress,
        WeekSounds,
    )

    families = ["th", "vowel_insertion", "h_r", "i_ih", "final_s_ed"]
    progress = ProgressResponse(
        telegram_user_id=1, today="2026-11-30", time_zone="UTC", daily_goal=5, notes_today=3,
        goal_met=False, streak_days=12, practised_today=True, total_notes=300, weakest="th",
        sounds=[SoundProgress(family=f, label_en=f, label_pt=f, attempts=40, right=30,
                              accuracy=0.75, recent=[True] * 10, trend="up", mastered=False,
                              last_practised="2026-11-30") for f in families],
        days=[DayActivity(date=(datetime(2026, 11, 3) + timedelta(days=d)).date().isoformat(),
                          notes=d % 7) for d in range(28)],
        weeks=[WeekSounds(week_start=(datetime(2026, 11, 9) + timedelta(weeks=w)).date().isoformat(),
                          notes=20, sounds={f: SoundCount(attempts=8, right=w + i)
                                            for i, f in enumerate(families)}) for w in range(4)],
    )  # fmt: skip
    process = psutil.Process()
    before = process.memory_info().rss
    started = time.perf_counter()
    from phonicflow_backend.progress_chart import render_png

    png = render_png(progress, "pt")
    first = time.perf_counter() - started
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        render_png(progress, "pt")
        times.append(time.perf_counter() - started)
    after = process.memory_info().rss
    return [
        "| picture | first call (import + fonts) | p50 / p95 | PNG | RSS before → after |",
        "|---|---|---|---|---|",
        f"| 800×600, 5 sounds × 4 weeks, 28 bars | {1000 * first:.0f} ms | {ms(times)} ms "
        f"| {len(png) // 1024} kB | {before >> 20} → {after >> 20} MB |",
    ]


def note_turn(drill: bool) -> NewTurn:
    text = CATALOGUE["th-01"].text
    return NewTurn(
        turn_id=str(uuid.uuid4()), user_text=text, conversational="Nice.", coaching="Good.",
        coaching_portuguese="Boa.", conversational_portuguese="Legal.", score=80.0,
        target_text=text, pronunciation={"overall_score": 80.0, "words": []},
        sounds=NoteSounds({"th": False, "final_s_ed": True, "i_ih": True}, "th") if drill else None,
    )  # fmt: skip


async def bench_database(name: str, url: str, learners: int, days: int, runs: int) -> list[str]:
    clock = Clock()
    stores = [Store.connect(url, clock=clock), Store.connect(url, clock=clock)]
    await stores[0].migrate()
    first, second = stores
    try:
        session = (await first.create_session(telegram_user_id=1)).session_id
        for day in range(days):  # history: a note a day
            clock.moment = MONDAY_9 - timedelta(days=days - day)
            await first.add_turn(session, note_turn(True), {})
        clock.moment = MONDAY_9
        plain, counted, reads = [], [], []
        for _ in range(runs):
            started = time.perf_counter()
            await first.add_turn(session, note_turn(False), {})
            plain.append(time.perf_counter() - started)
            started = time.perf_counter()
            await first.add_turn(session, note_turn(True), {})
            counted.append(time.perf_counter() - started)
            started = time.perf_counter()
            await first.learners.progress(1)
            reads.append(time.perf_counter() - started)

        users = range(1000, 1000 + learners)
        for user in users:
            await first.create_session(telegram_user_id=user)
            await first.learners.update_settings(user, LearnerSettingsUpdate(reminder_time="19:00"))
        due = MONDAY_9 + timedelta(hours=10)

        async def sender(store: Store) -> list[Reminder]:
            got: list[Reminder] = []
            while batch := await store.reminders.claim(now=due, limit=50):
                for reminder in batch:
                    await store.reminders.report(reminder.claim_id, "sent", now=due)
                got += batch
            return got

        started = time.perf_counter()
        results = await asyncio.gather(sender(first), sender(second))
        elapsed = time.perf_counter() - started
        claimed = sorted(r.telegram_user_id for batch in results for r in batch)
        assert claimed == list(users), "each learner exactly once"
    finally:
        for store in stores:
            await store.close()
    return [
        f"| {name} | {ms(plain)} | {ms(counted)} | {ms(reads)} "
        f"| {learners / elapsed:.0f} /s ({len(results[0])} + {len(results[1])}) |"
    ]


async def main_async(args: argparse.Namespace) -> None:
    print(*bench_picture(args.runs), sep="\n")
    print()
    print(
        "| database | turn, no progress p50 / p95 | turn + progress p50 / p95 "
        f"| read progress ({args.days} days) p50 / p95 | reminders claimed + reported "
        "(2 senders) |"
    )
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.databases:
            if name == "sqlite":
                url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
                print(*await bench_database(name, url, args.learners, args.days, args.runs))
            else:
                with PostgresServer() as server:
                    url = server.create_database()
                    print(*await bench_database(name, url, args.learners, args.days, args.runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--learners", type=int, default=1000)
    parser.add_argument(
        "--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"]
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
