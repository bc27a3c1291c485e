"""The reminder sender: the daily nudges and weekly summaries the backend says are due.

Usage (every process that handles updates runs one, see :mod:`phonicflow_bot.bot`)::

    sender = ReminderSender(bot, backend, sent_marks, pacer, poll_seconds=30)
    await sender.run(stop)          # until ``stop`` is set
    await sender.poll_once()        # one claim and its sends (what run() repeats)

Why here, and how it stays "exactly once" with any number of workers: the backend hands each
due reminder to one claimer (``POST /reminders/claim``: a compare-and-set per learner in the
database, docs/backend-api.md "Reminders"), so no lock or leader election is needed, and the
workers already reach Telegram and the backend (no new NetworkPolicy, no extra pod). A
Kubernetes CronJob would start a Python process every minute to send mostly nothing, and a
nudge could be a minute late. Each poll:

1. claim up to ``batch`` reminders (the backend's clock decides what is due);
2. for each, unless Redis says it was already sent (a sender that died after sending and before
   reporting; the claim's lease ran out and the backend offered it again): wait for its slot
   in the bot-wide pace (BOT_REMINDER_RATE_PER_SECOND, one send every 1/rate seconds across
   every sender, through Redis, so replies to learners keep most of Telegram's ~30
   messages/s), send, mark it sent;
3. report the outcome: ``sent``; ``blocked`` for Telegram's 403 (the learner blocked the bot)
   or a chat Telegram no longer knows: their reminders stop until they write again; ``failed``
   for anything else, offered again later.

A sender killed at any point loses nothing: an unreported claim is offered again when its lease
runs out, and the sent mark keeps it from going out twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from telegram import Bot
from telegram.error import BadRequest, Forbidden, TelegramError

from phonicflow_bot import keys, metrics
from phonicflow_bot.clients.backend import BackendClient, BackendError
from phonicflow_bot.i18n import as_language, count, text
from phonicflow_bot.rate_limit import SendPacer
from phonicflow_common.catalogue import family_label
from phonicflow_common.contract import Reminder, ReminderOutcome, SoundRef

log = logging.getLogger(__name__)

#: How long a "sent" mark outlives its reminder (the backend offers a claim again for hours).
SENT_MARK_SECONDS = 2 * 24 * 3600
#: Telegram's answers for a chat that cannot be written to any more.
_GONE = ("chat not found", "user is deactivated", "bot was kicked")


class SentMarks(Protocol):
    """Which reminders went out (by learner, local date and kind: the backend's own key)."""

    async def seen(self, reminder: Reminder) -> bool: ...

    async def mark(self, reminder: Reminder) -> None: ...


class RedisSentMarks:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def seen(self, reminder: Reminder) -> bool:
        return bool(await self._redis.exists(_mark_key(reminder)))

    async def mark(self, reminder: Reminder) -> None:
        await self._redis.set(_mark_key(reminder), "1", ex=SENT_MARK_SECONDS)


class MemorySentMarks:
    """One process (no Redis): a crash between send and report may repeat a reminder."""

    def __init__(self) -> None:
        self._sent: set[str] = set()

    async def seen(self, reminder: Reminder) -> bool:
        return _mark_key(reminder) in self._sent

    async def mark(self, reminder: Reminder) -> None:
        self._sent.add(_mark_key(reminder))


def _mark_key(reminder: Reminder) -> str:
    return keys.reminder_sent(reminder.telegram_user_id, reminder.local_date, reminder.kind)


def reminder_text(reminder: Reminder) -> str:
    """The message for a claimed reminder, in the learner's language."""
    lang = as_language(reminder.language)
    if reminder.kind == "weekly" and reminder.week is not None:
        week = reminder.week
        lines = [
            text(
                lang,
                "reminder_weekly",
                start=week.week_start,
                end=week.week_end,
                notes=count(lang, "note", week.notes),
                days=count(lang, "day", week.days_practised),
            )
        ]
        if week.best is not None:
            lines.append(text(lang, "reminder_weekly_best", **_sound(week.best, lang)))
        if week.weakest is not None and week.weakest != week.best:
            lines.append(text(lang, "reminder_weekly_weakest", **_sound(week.weakest, lang)))
        return "\n".join(lines)
    values = {"today": reminder.notes_today, "goal": reminder.daily_goal}
    if reminder.streak_days == 0:
        return text(lang, "reminder_daily_first", **values)
    return text(lang, "reminder_daily", streak=count(lang, "day", reminder.streak_days), **values)


def _sound(ref: SoundRef, lang: str) -> dict[str, str]:
    return {"sound": family_label(ref.family, lang), "pct": f"{ref.accuracy * 100:.0f}"}


class ReminderSender:
    def __init__(
        self,
        bot: Bot,
        backend: BackendClient,
        marks: SentMarks,
        pacer: SendPacer,
        *,
        poll_seconds: float = 30.0,
        batch: int = 50,
    ) -> None:
        self.bot = bot
        self.backend = backend
        self.marks = marks
        self.pacer = pacer
        self.poll_seconds = poll_seconds
        self.batch = batch

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                while await self.poll_once() >= self.batch and not stop.is_set():
                    pass  # a full batch: more may be due
            except (BackendError, RedisError) as exc:
                log.warning("reminders not sent this round", extra={"error": str(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_seconds)

    async def poll_once(self) -> int:
        """Claim what is due and send it; the number of reminders claimed."""
        claimed = (await self.backend.claim_reminders(self.batch)).reminders
        for reminder in claimed:
            outcome = await self._deliver(reminder)
            metrics.REMINDERS.labels(reminder.kind, outcome).inc()
            if not await self.backend.report_reminder(reminder.claim_id, outcome):
                log.info("reminder claim expired before its report", extra={"kind": reminder.kind})
        return len(claimed)

    async def _deliver(self, reminder: Reminder) -> ReminderOutcome:
        if await self.marks.seen(reminder):
            return "sent"  # sent before a sender died; only the report was missing
        await self.pacer.wait()
        try:
            await self.bot.send_message(reminder.telegram_user_id, reminder_text(reminder))
        except Forbidden:
            return "blocked"
        except BadRequest as exc:
            if any(reason in exc.message.lower() for reason in _GONE):
                return "blocked"
            log.warning("reminder refused", extra={"error": exc.message})
            return "failed"
        except TelegramError as exc:
            log.warning("reminder not sent", extra={"error": repr(exc)})
            return "failed"
        await self.marks.mark(reminder)
        return "sent"
