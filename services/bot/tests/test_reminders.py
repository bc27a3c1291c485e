"""The reminder sender on its own: real emulator, real backend app (stub engines), real Redis.

What the week in test_progress.py cannot show: a sender that died after sending and before
reporting does not make the next one send again, and the sends of many reminders are spread
by the bot-wide pace, one slot every 1/rate seconds across senders.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from telegram import Bot

from phonicflow_bot import keys
from phonicflow_bot.clients.backend import BackendClient
from phonicflow_bot.handlers.progress_handler import parse_time
from phonicflow_bot.i18n import count
from phonicflow_bot.rate_limit import RedisSendPacer
from phonicflow_bot.reminders import RedisSentMarks, ReminderSender, reminder_text
from phonicflow_common.contract import Reminder, SoundRef, WeekSummary
from phonicflow_emulator.testing import EmulatorHandle
from phonicflow_testing.clock import LocalClock
from phonicflow_testing.stub_backend import StubBackend

KEY = "reminder-test-key"


@pytest.fixture(scope="module")
def clock() -> LocalClock:
    return LocalClock("America/Sao_Paulo", start=date(2026, 11, 30))


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory, clock: LocalClock) -> Iterator[StubBackend]:
    storage: Path = tmp_path_factory.mktemp("reminders")
    with StubBackend(storage, env={"BOT_PRIVATE_KEY": KEY}, clock=clock) as server:
        yield server


def wants_reminder(backend: StubBackend, user_id: int, at: str = "19:00") -> None:
    with httpx.Client(base_url=backend.url, headers={"X-Bot-Key": KEY}) as client:
        answer = client.patch(f"/learner/{user_id}/settings", json={"reminder_time": at})
        answer.raise_for_status()


def sender(
    emulator: EmulatorHandle, backend: StubBackend, redis_url: str, rate: int
) -> ReminderSender:
    bot = Bot(
        emulator.token,
        base_url=emulator.api_base_url,
        base_file_url=emulator.file_base_url,
    )
    redis = aioredis.from_url(redis_url)
    return ReminderSender(
        bot,
        BackendClient(backend.url, timeout=5, bot_key=KEY, retry_seconds=2),
        RedisSentMarks(redis),
        RedisSendPacer(redis, rate),
    )


def test_a_reminder_sent_by_a_sender_that_died_before_reporting_is_not_sent_again(
    emulator: EmulatorHandle, backend: StubBackend, clock: LocalClock, redis_server: str
) -> None:
    user = emulator.client.user(5201, first_name="Caio", language_code="en")
    wants_reminder(backend, 5201)
    clock.at(0, 19, 0)

    async def scenario() -> int:
        first = sender(emulator, backend, redis_server, rate=10)
        [claimed] = (await first.backend.claim_reminders(10)).reminders
        assert await first._deliver(claimed) == "sent"  # sent; then "killed" before reporting
        clock.at(0, 19, 5)  # the claim's lease (2 min) runs out
        second = sender(emulator, backend, redis_server, rate=10)
        again = await second.poll_once()
        later = await second.poll_once()
        return again * 10 + later

    assert asyncio.run(scenario()) == 10, "offered again once, then done"
    nudges = [m for m in user.messages() if m["text"].startswith("⏰")]
    assert len(nudges) == 1


def test_many_reminders_are_spread_by_the_bot_wide_budget(
    emulator: EmulatorHandle, backend: StubBackend, clock: LocalClock, redis_server: str
) -> None:
    learners = range(5301, 5307)
    for user_id in learners:
        emulator.client.user(user_id, first_name="L", language_code="pt")
        wants_reminder(backend, user_id, "20:00")
    clock.at(0, 20, 0)
    before = len(emulator.client.calls("sendMessage"))

    async def scenario() -> int:
        return await sender(emulator, backend, redis_server, rate=2).poll_once()

    assert asyncio.run(scenario()) == len(learners)
    sends = emulator.client.calls("sendMessage")[before:]
    times = sorted(call["time"] for call in sends)
    assert len(times) == len(learners)
    # two a second, one every half second: six sends take about 2.5 s (the exact spacing of the
    # slots is the pacer test's; here the network and the event loop add their own jitter)
    assert times[-1] - times[0] >= 1.5


def test_senders_sharing_the_pace_get_slots_one_interval_apart(redis_server: str) -> None:
    """However many senders take slots at once, no two are closer than 1/rate: never more than
    the rate in any second, not even across a second's boundary."""

    async def scenario() -> list[tuple[float, float]]:
        redis = aioredis.from_url(redis_server)
        await redis.delete(keys.REMINDER_PACE)
        pacers = [RedisSendPacer(redis, 4), RedisSendPacer(redis, 4)]
        taken = await asyncio.gather(*(pacers[i % 2].reserve() for i in range(10)))
        await redis.aclose()
        return list(taken)

    taken = asyncio.run(scenario())
    slots = sorted(slot for slot, _ in taken)
    gaps = [later - earlier for earlier, later in itertools.pairwise(slots)]
    assert all(abs(gap - 0.25) < 1e-6 for gap in gaps), gaps
    first_now = min(now for _, now in taken)
    assert slots[0] - first_now < 0.05, "the first send waits for nothing"
    assert all(slot >= now for slot, now in taken)


def test_slots_taken_seconds_ahead_are_not_forgotten(redis_server: str) -> None:
    """Ten senders queue slots 2.25 s ahead; the next one taken later still follows them."""

    async def scenario() -> tuple[list[float], float]:
        redis = aioredis.from_url(redis_server)
        await redis.delete(keys.REMINDER_PACE)
        pacer = RedisSendPacer(redis, 4)
        taken = await asyncio.gather(*(pacer.reserve() for _ in range(10)))
        await asyncio.sleep(1.5)
        later, _ = await pacer.reserve()
        await redis.aclose()
        return sorted(slot for slot, _ in taken), later

    slots, later = asyncio.run(scenario())
    assert abs(later - (slots[-1] + 0.25)) < 1e-6, (slots[-1], later)


@pytest.mark.parametrize(
    ("said", "meant"),
    [
        ("19:00", "19:00"),
        ("7:30", "07:30"),
        ("19h", "19:00"),
        ("19h30", "19:30"),
        ("7pm", "19:00"),
        ("12am", "00:00"),
        ("12pm", "12:00"),
        ("7.15", "07:15"),
        ("25:00", None),
        ("19:75", None),
        ("13pm", None),
        ("tonight", None),
        ("", None),
    ],
)
def test_reminder_times_as_learners_write_them(said: str, meant: str | None) -> None:
    assert parse_time(said) == meant


def test_the_weekly_summary_names_the_best_and_weakest_sound_in_the_learners_language() -> None:
    week = WeekSummary(
        week_start="2026-11-30",
        week_end="2026-12-06",
        notes=1,
        days_practised=1,
        best=SoundRef(family="th", label_en="", label_pt="", accuracy=0.75),
        weakest=SoundRef(family="h_r", label_en="", label_pt="", accuracy=0.25),
    )
    reminder = Reminder(
        claim_id="c",
        telegram_user_id=1,
        kind="weekly",
        local_date="2026-12-06",
        language="pt",
        daily_goal=5,
        notes_today=0,
        streak_days=0,
        week=week,
    )
    assert reminder_text(reminder).split("\n") == [
        "📅 <b>Sua semana</b> (2026-11-30 – 2026-12-06)",
        "🎙 1 áudio em 1 dia",
        "💪 Melhor som: TH (think, this) (75%)",
        "🎯 Para treinar: H e R (house, red) (25%) → /practice",
    ]
    assert count("en", "day", 2) == "2 days"
