"""A worker: takes updates from the log, handles them, and acknowledges them once answered.

Usage::

    worker = Worker(application, update_log, consumer="bot-7f3a", concurrency=32)
    await worker.run(stop)        # until ``stop`` is set, then drains (see below)

Each entry goes through three steps:

1. **claim**: only the oldest unanswered update of a chat may be handled, by whoever holds the
   chat's lease (:meth:`UpdateLog.claim`); a later one waits for it — woken here when this
   process acknowledges the earlier one, else retried after a short pause (it is on another
   worker);
2. **handle**: ``await application.process_update(update)`` runs python-telegram-bot's handlers
   and returns when they are done, inside the update's journal (:mod:`phonicflow_bot.journal`),
   so a handled-again update replays what was already sent; a root span per update;
3. **acknowledge**: only now does the update leave the log. A fault of Redis or of the network
   to Telegram during handling (:func:`~phonicflow_bot.handlers.common.is_retry_later`) is not an
   answer: the update is handled again here after a back-off, the learner sees no error.

Beside them, a heartbeat (every ``claim_timeout / 5``) renews the leases of the chats being
handled and touches every entry held, so no other worker takes them; a lease found lost (this
process stalled past the timeout and another worker took over) cancels that handling. A reclaim
pass (every ``claim_timeout / 3``) takes over entries whose worker went silent; one delivered
more than ``max_deliveries`` times is set aside as a dead letter instead.

On stop: nothing new is read; updates still waiting for their turn are handed back at once (any
worker may take them); those being handled get ``grace`` seconds to finish, and whatever is left
is handed back too. A SIGKILL skips all that and loses nothing either: the entries are reclaimed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from opentelemetry import trace
from redis.exceptions import RedisError
from telegram import Update

from phonicflow_bot import metrics
from phonicflow_bot.context import BotApplication
from phonicflow_bot.journal import UpdateJournal, handling
from phonicflow_bot.update_log import Claim, Entry, UpdateLog

log = logging.getLogger(__name__)
tracer = trace.get_tracer("phonicflow_bot")

#: Longest a read of new entries blocks (also how soon a stop is noticed).
READ_BLOCK_SECONDS = 1.0
#: Entries held (waiting for their turn or being handled) per handling slot.
HELD_PER_SLOT = 4
#: Pause before asking again whether it is an update's turn: first, and ceiling (seconds).
TURN_PAUSE_INITIAL = 0.05
TURN_PAUSE_MAX = 1.0
#: Back-off before handling again an update that met a Redis or network fault (seconds).
RETRY_PAUSE_INITIAL = 0.5
RETRY_PAUSE_MAX = 15.0
#: Seconds the in-flight updates get to finish on stop (within Kubernetes' 30 s grace period).
DEFAULT_GRACE_SECONDS = 20.0


def update_kind(update: Update) -> str:
    """The ``type`` label of ``phonicflow_bot_updates_total``."""
    if update.callback_query is not None:
        return "callback"
    message = update.message
    if message is None:
        return "other"
    for kind in ("voice", "audio", "video_note", "document"):
        if getattr(message, kind, None) is not None:
            return kind
    if message.text:
        return "command" if message.text.startswith("/") else "text"
    return "other"


@dataclass
class _Held:
    entry: Entry
    task: asyncio.Task[None] | None = None
    #: True once the chat's lease is this worker's (claimed "go").
    leased: bool = False
    lease_lost: bool = False
    #: True once the entry needs nothing more from this worker (acknowledged, gone, given up).
    done: bool = False


@dataclass
class Worker:
    application: BotApplication
    log: UpdateLog
    consumer: str
    concurrency: int = 32
    max_deliveries: int = 5
    grace: float = DEFAULT_GRACE_SECONDS
    _held: dict[str, _Held] = field(default_factory=dict, init=False)
    _turns: dict[str, asyncio.Event] = field(default_factory=dict, init=False)
    _slots: asyncio.Semaphore = field(init=False)
    _stopping: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.concurrency)

    @property
    def max_held(self) -> int:
        return self.concurrency * HELD_PER_SLOT

    async def run(self, stop: asyncio.Event) -> None:
        background = [
            asyncio.create_task(self._every(self.log.claim_timeout / 5, self._heartbeat, stop)),
            asyncio.create_task(self._every(self.log.claim_timeout / 3, self._reclaim, stop)),
        ]
        outage = _Outage("update log unreachable; reading again shortly")
        try:
            while not stop.is_set():
                room = self.max_held - len(self._held)
                if room <= 0:
                    await self._wait_for_room(stop)
                    continue
                try:
                    entries = await self.log.read(self.consumer, room, READ_BLOCK_SECONDS)
                except RedisError as exc:
                    await outage.failed(exc, stop)
                    continue
                outage.recovered()
                for entry in entries:
                    self._start(entry)
        finally:
            await self._drain()
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)

    # -- one entry --------------------------------------------------------------------------

    def _start(self, entry: Entry) -> None:
        if entry.id in self._held:
            return
        held = _Held(entry)
        self._held[entry.id] = held
        held.task = asyncio.create_task(self._handle(held), name=f"update-{entry.update_id}")

    async def _handle(self, held: _Held) -> None:
        entry = held.entry
        try:
            if entry.deliveries > self.max_deliveries:
                await self._give_up(entry, f"delivered {entry.deliveries} times")
                held.done = True
                return
            claim = await self._wait_turn(entry)
            if claim is None:
                return
            if claim.kind == "gone":
                held.done = True
                return
            held.leased = True
            async with self._slots:
                answered = await self._answer(held, claim)
            if answered:
                await self._acknowledge(entry)
                held.done = True
        finally:
            self._held.pop(entry.id, None)

    async def _answer(self, held: _Held, claim: Claim) -> bool:
        """Handle the update until it is answered (True), or until the lease is lost (False):
        a Redis or network fault means "again, after a pause", never an error reply."""
        pause = RETRY_PAUSE_INITIAL
        while True:
            try:
                journal = await self._process(held, claim)
            except asyncio.CancelledError:
                if held.lease_lost:
                    log.warning(
                        "lease lost while handling; another worker resumes the update",
                        extra={"update_id": held.entry.update_id},
                    )
                    return False
                raise
            except Exception:
                # Not even a handler ran (an update that cannot be read): it never will.
                log.exception("update cannot be handled", extra={"update_id": held.entry.update_id})
                await self._give_up(held.entry, "cannot be handled")
                held.done = True
                return False
            if not journal.retry_later:
                return True
            metrics.STREAM_RETRIES.inc()
            await asyncio.sleep(pause)
            pause = min(pause * 2, RETRY_PAUSE_MAX)
            claim = Claim("go", journal.recorded)

    async def _wait_turn(self, entry: Entry) -> Claim | None:
        """Claim ``entry``, waiting while an earlier update of its chat is being answered."""
        pause = TURN_PAUSE_INITIAL
        while not self._stopping:
            try:
                claim = await self.log.claim(entry, self.consumer)
            except RedisError:
                claim = Claim("wait")
            if claim.kind != "wait":
                return claim
            turn = self._turns.setdefault(entry.chat, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(turn.wait(), pause)
            pause = min(pause * 2, TURN_PAUSE_MAX)
        return None

    async def _process(self, held: _Held, claim: Claim) -> UpdateJournal:
        """Run the handlers for the entry, inside its journal and a root span."""
        entry = held.entry
        update = Update.de_json(json.loads(entry.payload), self.application.bot)
        journal = UpdateJournal(self.log, entry.update_id, claim.journal)
        kind = update_kind(update)
        metrics.UPDATES.labels(kind).inc()
        attributes: dict[str, str | int] = {
            "telegram.update.kind": kind,
            "telegram.update_id": update.update_id,
            "phonicflow.deliveries": entry.deliveries,
        }
        if update.effective_user is not None:
            attributes["telegram.user_id"] = update.effective_user.id
        started = time.perf_counter()
        with (
            tracer.start_as_current_span("telegram.update", attributes=attributes),
            handling(journal),
        ):
            await self.application.process_update(update)
        if journal.resumed:
            log.info(
                "update handled again",
                extra={"update_id": entry.update_id, "replayed": journal.replayed},
            )
        metrics.STAGE_SECONDS.labels("total").observe(time.perf_counter() - started)
        return journal

    async def _acknowledge(self, entry: Entry) -> None:
        outage = _Outage("update log unreachable; the update stays until it can be acknowledged")
        while True:
            try:
                await self.log.ack(entry, self.consumer)
                break
            except RedisError as exc:
                # Not acknowledged is not lost: if this process dies now, the update is handled
                # again elsewhere and its journal replays every reply without sending it.
                await outage.failed(exc, None)
        outage.recovered()
        turn = self._turns.pop(entry.chat, None)
        if turn is not None:
            turn.set()

    async def _give_up(self, entry: Entry, reason: str) -> None:
        metrics.STREAM_DEAD_LETTERS.inc()
        log.error(
            "update given up; kept as a dead letter",
            extra={"update_id": entry.update_id, "deliveries": entry.deliveries, "reason": reason},
        )
        with contextlib.suppress(RedisError):
            await self.log.dead_letter(entry, self.consumer, reason)
        turn = self._turns.pop(entry.chat, None)
        if turn is not None:
            turn.set()

    # -- background -------------------------------------------------------------------------

    async def _every(
        self, seconds: float, action: Callable[[], Awaitable[None]], stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), seconds)
            if stop.is_set():
                return
            try:
                await action()
            except RedisError as exc:
                log.debug("background step failed", extra={"error": repr(exc)})
            except Exception:
                log.exception("background step failed")

    async def _heartbeat(self) -> None:
        leased = [h for h in self._held.values() if h.leased]
        chats = [h.entry.chat for h in leased]
        lost = await self.log.heartbeat(self.consumer, chats, list(self._held))
        for held in leased:
            if held.entry.chat in lost and held.task is not None:
                held.lease_lost = True
                held.task.cancel()

    async def _reclaim(self) -> None:
        room = self.max_held - len(self._held)
        for entry in await self.log.reclaim(self.consumer, room):
            if entry.id in self._held:
                continue
            metrics.STREAM_REDELIVERIES.inc()
            log.info(
                "reclaimed an update a silent worker held",
                extra={"update_id": entry.update_id, "deliveries": entry.deliveries},
            )
            self._start(entry)

    async def _wait_for_room(self, stop: asyncio.Event) -> None:
        tasks = {h.task for h in self._held.values() if h.task is not None}
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait(tasks | {stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()

    async def _drain(self) -> None:
        self._stopping = True
        everything = list(self._held.values())
        for held in everything:
            if not held.leased and held.task is not None:
                held.task.cancel()  # still waiting for its turn: any worker may take it now
        busy = [h.task for h in everything if h.leased and h.task is not None]
        if busy:
            log.info("finishing updates in hand", extra={"count": len(busy), "grace": self.grace})
            _, late = await asyncio.wait(busy, timeout=self.grace)
            for task in late:
                task.cancel()
        await asyncio.gather(
            *(h.task for h in everything if h.task is not None), return_exceptions=True
        )
        left = [h.entry for h in everything if not h.done]
        if not left:
            return
        with contextlib.suppress(RedisError):
            await self.log.hand_back(self.consumer, [e.id for e in left])
        for entry in left:
            with contextlib.suppress(RedisError):
                await self.log.release(entry, self.consumer)


class _Outage:
    """Logs one line when a dependency goes away and one when it is back, and paces retries
    with a growing pause, instead of a traceback per attempt."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.since: float | None = None
        self.pause = RETRY_PAUSE_INITIAL

    async def failed(self, exc: BaseException, stop: asyncio.Event | None) -> None:
        if self.since is None:
            self.since = time.monotonic()
            log.warning(self.message, extra={"error": repr(exc)})
        if stop is None:
            await asyncio.sleep(self.pause)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.pause)
        self.pause = min(self.pause * 2, RETRY_PAUSE_MAX)

    def recovered(self) -> None:
        if self.since is not None:
            seconds = round(time.monotonic() - self.since, 1)
            log.info("update log reachable again", extra={"seconds": seconds})
        self.since = None
        self.pause = RETRY_PAUSE_INITIAL
