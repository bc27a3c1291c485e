"""The update log: every update the bot received and has not finished answering.

An update is confirmed to Telegram only once it is in the log, and leaves the log only once
every reply to it was sent, so a process killed at any moment loses nothing. Usage::

    log = RedisUpdateLog(redis, claim_timeout=15)     # or MemoryUpdateLog() (one process)
    await log.setup()
    await log.append(update_id, chat, update_json)     # intake: False when already appended
    for entry in await log.read("worker-1", count=8, block=2.0):
        claim = await log.claim(entry, "worker-1")     # "go" (+ its journal), "wait" or "gone"
        ...handle it...
        await log.ack(entry, "worker-1")               # replies sent: forget it

The Redis log is a stream (``phonicflow:updates``) read through one consumer group, so each
entry goes to one worker; see :mod:`phonicflow_bot.keys` for every key. On top of the stream:

- **Deduplicated by update_id** (``SET NX`` beside ``XADD``, one script): a poller that died
  after appending but before confirming its offset, or Telegram retrying a webhook, appends
  nothing the second time.
- **One learner in order, one at a time**: each chat has a queue of its entry ids; only the
  head may be handled, under a lease (``phonicflow:chat:{id}:lease``) that the worker's
  heartbeat renews. Different chats go to different workers in parallel.
- **Nothing left behind by a dead worker**: entries a worker holds are touched by its heartbeat
  (``XCLAIM … JUSTID``, which resets their idle time); an entry idle longer than
  ``claim_timeout`` belongs to a worker that stopped, and :meth:`reclaim` (``XAUTOCLAIM``) hands
  it to a live one. Because idle time counts from the last heartbeat, not from delivery, the
  timeout need not exceed the longest voice note: it only has to exceed a worker's silence.
- **Bounded**: acknowledging deletes the entry (``XACK`` + ``XDEL``), so the stream holds only
  what is not yet answered; an entry delivered more than ``max_deliveries`` times (it kills
  whatever handles it) moves to ``phonicflow:updates:dead`` (capped).
- **A journal per update** (``phonicflow:journal:{update_id}``, :mod:`phonicflow_bot.journal`):
  what handling it already did, returned with the claim so handling it again resumes.

Redis durability is the log's durability: the chart runs Redis with ``appendonly yes`` and
``appendfsync everysec``, so a Redis restart keeps everything and a Redis *crash* may lose the
last second of appends (``appendfsync always`` closes that at some throughput).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from phonicflow_bot import keys

log = logging.getLogger(__name__)

#: How long "already appended" is remembered: far longer than Telegram keeps an update.
SEEN_SECONDS = 24 * 3600
#: How long an update's journal outlives its last step if the update is never acknowledged.
JOURNAL_SECONDS = 24 * 3600
#: Seconds without a heartbeat after which a worker's entries and leases go to others.
DEFAULT_CLAIM_TIMEOUT = 15.0
#: Deliveries after which an update is given up on (it keeps killing its workers).
DEFAULT_MAX_DELIVERIES = 5
#: The chat key of an update that belongs to no chat (rare: poll answers and the like).
NO_CHAT = "0"

ClaimKind = Literal["go", "wait", "gone"]


@dataclass(frozen=True)
class Entry:
    """One update in the log."""

    id: str
    update_id: int
    chat: str
    payload: str
    #: Times it was handed to a worker (1 on first delivery).
    deliveries: int = 1


@dataclass(frozen=True)
class Claim:
    """The answer to "may I handle this entry now?"."""

    kind: ClaimKind
    #: The update's journal (step → recorded JSON) when ``kind`` is "go".
    journal: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LogStats:
    """What the metrics report: see :mod:`phonicflow_bot.metrics`."""

    backlog: int
    pending: int
    lag: int
    oldest_seconds: float


class UpdateLog(ABC):
    """Where updates wait between intake and the replies; see the module docstring."""

    claim_timeout: float = DEFAULT_CLAIM_TIMEOUT
    durable: bool = False

    async def setup(self) -> None:
        """Create what the log needs (the consumer group); safe to call often."""
        return None

    @abstractmethod
    async def append(self, update_id: int, chat: str, payload: str) -> bool:
        """Record an update; False when this update_id was appended before."""

    @abstractmethod
    async def read(self, consumer: str, count: int, block: float) -> list[Entry]:
        """Up to ``count`` entries never delivered before, waiting up to ``block`` seconds."""

    @abstractmethod
    async def claim(self, entry: Entry, consumer: str) -> Claim:
        """May ``consumer`` handle ``entry`` now? "go": yes (the chat's lease is its own);
        "wait": an earlier update of the chat is not answered yet; "gone": already answered."""

    @abstractmethod
    async def ack(self, entry: Entry, consumer: str) -> None:
        """Every reply was sent: forget the entry, its place in the chat queue, its journal."""

    @abstractmethod
    async def record(self, update_id: int, step: str, value: str) -> None:
        """Add one step to an update's journal."""

    async def release(self, entry: Entry, consumer: str) -> None:
        """Give the chat's lease back without acknowledging: the entry is handled again."""
        return None

    async def reclaim(self, consumer: str, count: int) -> list[Entry]:
        """Entries whose worker went silent, now this consumer's."""
        return []

    async def heartbeat(self, consumer: str, chats: Sequence[str], held: Sequence[str]) -> set[str]:
        """Renew the leases of ``chats`` and touch the ``held`` entry ids; returns the chats
        whose lease this consumer lost (another worker took over: stop handling them)."""
        return set()

    async def hand_back(self, consumer: str, held: Sequence[str]) -> None:
        """Shutting down: let other workers take the ``held`` entries at once."""
        return None

    async def dead_letter(self, entry: Entry, consumer: str, reason: str) -> None:
        """Give up on an entry: keep it aside for people, acknowledge it."""
        await self.ack(entry, consumer)

    async def stats(self) -> LogStats:
        return LogStats(0, 0, 0, 0.0)

    async def ping(self) -> bool:
        return True


class MemoryUpdateLog(UpdateLog):
    """One process, no Redis (the embedded default): the same rules, kept in memory, so a
    crash loses what is in flight."""

    def __init__(self, remember: int = 100_000) -> None:
        self._remember = remember
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._new: deque[Entry] = deque()
        self._entries: dict[str, Entry] = {}
        self._queues: dict[str, deque[str]] = {}
        self._leases: dict[str, str] = {}
        self._journals: dict[int, dict[str, str]] = {}
        self._next = 0
        self._arrived = asyncio.Event()

    async def append(self, update_id: int, chat: str, payload: str) -> bool:
        if update_id in self._seen:
            return False
        self._seen[update_id] = None
        while len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        self._next += 1
        entry = Entry(f"{int(time.time() * 1000)}-{self._next}", update_id, chat, payload)
        self._entries[entry.id] = entry
        self._new.append(entry)
        self._queues.setdefault(chat, deque()).append(entry.id)
        self._arrived.set()
        return True

    async def read(self, consumer: str, count: int, block: float) -> list[Entry]:
        if not self._new:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), block)
        taken: list[Entry] = []
        while self._new and len(taken) < count:
            taken.append(self._new.popleft())
        return taken

    async def claim(self, entry: Entry, consumer: str) -> Claim:
        if entry.id not in self._entries:
            return Claim("gone")
        queue = self._queues.get(entry.chat)
        if queue and queue[0] != entry.id:
            return Claim("wait")
        if self._leases.get(entry.chat, consumer) != consumer:
            return Claim("wait")
        self._leases[entry.chat] = consumer
        return Claim("go", dict(self._journals.get(entry.update_id, {})))

    async def ack(self, entry: Entry, consumer: str) -> None:
        self._entries.pop(entry.id, None)
        queue = self._queues.get(entry.chat)
        if queue is not None:
            with contextlib.suppress(ValueError):
                queue.remove(entry.id)
            if not queue:
                del self._queues[entry.chat]
        if self._leases.get(entry.chat) == consumer:
            del self._leases[entry.chat]
        self._journals.pop(entry.update_id, None)

    async def release(self, entry: Entry, consumer: str) -> None:
        if self._leases.get(entry.chat) == consumer:
            del self._leases[entry.chat]
        # Nobody else will reclaim it in this process: put it back to be read again.
        if entry.id in self._entries:
            self._new.appendleft(entry)
            self._arrived.set()

    async def record(self, update_id: int, step: str, value: str) -> None:
        self._journals.setdefault(update_id, {})[step] = value

    async def stats(self) -> LogStats:
        oldest = min((int(i.split("-")[0]) for i in self._entries), default=None)
        age = 0.0 if oldest is None else max(0.0, time.time() - oldest / 1000)
        return LogStats(
            len(self._entries), len(self._entries) - len(self._new), len(self._new), age
        )


# -- Redis ------------------------------------------------------------------------------------

# KEYS: seen, stream, chat queue. ARGV: update JSON, chat, seen seconds, update id.
# Returns the entry id, or nil when the update was appended before.
_APPEND = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[3]) then return false end
local id = redis.call('XADD', KEYS[2], '*', 'id', ARGV[4], 'chat', ARGV[2], 'update', ARGV[1])
redis.call('RPUSH', KEYS[3], id)
return id
"""

# KEYS: chat queue, chat lease, stream, journal. ARGV: entry id, consumer, lease ms.
# A queue head whose entry left the stream (data lost in a Redis crash) would block the chat
# forever: it is dropped. An entry that is in the stream but in no queue is handled at once.
_CLAIM = """
for _ = 1, 16 do
  local head = redis.call('LINDEX', KEYS[1], 0)
  if not head or head == ARGV[1] then break end
  if #redis.call('XRANGE', KEYS[3], head, head) > 0 then
    if redis.call('LPOS', KEYS[1], ARGV[1]) then return {'wait'} end
    break
  end
  redis.call('LPOP', KEYS[1])
end
if #redis.call('XRANGE', KEYS[3], ARGV[1], ARGV[1]) == 0 then return {'gone'} end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[2] then return {'wait'} end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return {'go', redis.call('HGETALL', KEYS[4])}
"""

# KEYS: stream, chat queue, chat lease, journal. ARGV: group, entry id, consumer.
_ACK = """
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('LREM', KEYS[2], 1, ARGV[2])
if redis.call('GET', KEYS[3]) == ARGV[3] then redis.call('DEL', KEYS[3]) end
redis.call('DEL', KEYS[4])
return 1
"""

# KEYS: chat leases. ARGV: consumer, lease ms. Returns the 1-based indexes of leases lost.
_RENEW = """
local lost = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
  else
    table.insert(lost, i)
  end
end
return lost
"""

# KEYS: chat lease. ARGV: consumer.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""

# KEYS: journal. ARGV: step, value, seconds.
_RECORD = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


def _entry(entry_id: str, fields: dict[str, str], deliveries: int = 1) -> Entry:
    return Entry(
        entry_id,
        int(fields.get("id") or 0),
        fields.get("chat") or NO_CHAT,
        fields.get("update", ""),
        deliveries,
    )


class RedisUpdateLog(UpdateLog):
    """The log in Redis, shared by every poller, webhook receiver and worker."""

    durable = True

    def __init__(
        self,
        redis: Redis,
        *,
        claim_timeout: float = DEFAULT_CLAIM_TIMEOUT,
        max_deliveries: int = DEFAULT_MAX_DELIVERIES,
    ) -> None:
        self._redis = redis
        self.claim_timeout = claim_timeout
        self.max_deliveries = max_deliveries
        self._lease_ms = int(claim_timeout * 1000)
        self._append = redis.register_script(_APPEND)
        self._claim = redis.register_script(_CLAIM)
        self._ack = redis.register_script(_ACK)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._record = redis.register_script(_RECORD)
        self._reclaim_from = "0-0"

    async def setup(self) -> None:
        try:
            # "0", not "$": entries a poller appended before any worker existed are delivered.
            await self._redis.xgroup_create(keys.UPDATES, keys.WORKERS, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def append(self, update_id: int, chat: str, payload: str) -> bool:
        added = await self._append(
            keys=[keys.seen(update_id), keys.UPDATES, keys.chat_queue(chat)],
            args=[payload, chat, SEEN_SECONDS, update_id],
        )
        return bool(added)

    async def read(self, consumer: str, count: int, block: float) -> list[Entry]:
        try:
            answer: Any = await self._redis.xreadgroup(
                keys.WORKERS, consumer, {keys.UPDATES: ">"}, count=count, block=int(block * 1000)
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # Redis came back without its data (no persistence): start the group again.
            log.warning("update stream or its group was missing; created again")
            await self.setup()
            return []
        return [_entry(i, f) for _, items in answer or [] for i, f in items if f]

    async def claim(self, entry: Entry, consumer: str) -> Claim:
        answer = await self._claim(
            keys=[
                keys.chat_queue(entry.chat),
                keys.chat_lease(entry.chat),
                keys.UPDATES,
                keys.journal(entry.update_id),
            ],
            args=[entry.id, consumer, self._lease_ms],
        )
        kind = str(answer[0])
        if kind != "go":
            return Claim("gone" if kind == "gone" else "wait")
        flat = list(answer[1]) if len(answer) > 1 else []
        return Claim("go", dict(zip(flat[::2], flat[1::2], strict=True)))

    async def ack(self, entry: Entry, consumer: str) -> None:
        await self._ack(
            keys=[
                keys.UPDATES,
                keys.chat_queue(entry.chat),
                keys.chat_lease(entry.chat),
                keys.journal(entry.update_id),
            ],
            args=[keys.WORKERS, entry.id, consumer],
        )

    async def release(self, entry: Entry, consumer: str) -> None:
        await self._release(keys=[keys.chat_lease(entry.chat)], args=[consumer])

    async def record(self, update_id: int, step: str, value: str) -> None:
        await self._record(keys=[keys.journal(update_id)], args=[step, value, JOURNAL_SECONDS])

    async def reclaim(self, consumer: str, count: int) -> list[Entry]:
        if count <= 0:
            return []
        answer: list[Any] = await self._redis.xautoclaim(
            keys.UPDATES,
            keys.WORKERS,
            consumer,
            min_idle_time=int(self.claim_timeout * 1000),
            start_id=self._reclaim_from,
            count=count,
        )
        self._reclaim_from = str(answer[0])
        claimed: list[tuple[str, dict[str, str]]] = [(i, f) for i, f in answer[1] if f]
        if not claimed:
            return []
        deliveries = await self._deliveries([i for i, _ in claimed])
        return [_entry(i, f, deliveries.get(i, 1)) for i, f in claimed]

    async def _deliveries(self, ids: Iterable[str]) -> dict[str, int]:
        wanted = set(ids)
        low, high = min(wanted), max(wanted)
        rows = await self._redis.xpending_range(
            keys.UPDATES, keys.WORKERS, min=low, max=high, count=len(wanted) + 100
        )
        return {
            str(row["message_id"]): int(row["times_delivered"])
            for row in rows
            if str(row["message_id"]) in wanted
        }

    async def heartbeat(self, consumer: str, chats: Sequence[str], held: Sequence[str]) -> set[str]:
        lost: set[str] = set()
        async with self._redis.pipeline(transaction=False) as pipe:
            if held:
                # min idle 0 and JUSTID: reset the idle time, leave the delivery count alone.
                pipe.xclaim(keys.UPDATES, keys.WORKERS, consumer, 0, list(held), justid=True)
            if chats:
                await self._renew(
                    keys=[keys.chat_lease(c) for c in chats],
                    args=[consumer, self._lease_ms],
                    client=pipe,
                )
            results = await pipe.execute()
        if chats:
            lost = {chats[int(i) - 1] for i in results[-1]}
        return lost

    async def hand_back(self, consumer: str, held: Sequence[str]) -> None:
        if held:
            # Idle "forever": the next reclaim anywhere takes them.
            idle = int(self.claim_timeout * 1000) * 100
            await self._redis.xclaim(
                keys.UPDATES, keys.WORKERS, consumer, 0, list(held), idle=idle, justid=True
            )

    async def dead_letter(self, entry: Entry, consumer: str, reason: str) -> None:
        await self._redis.xadd(
            keys.DEAD_LETTERS,
            {"id": entry.update_id, "chat": entry.chat, "update": entry.payload, "reason": reason},
            maxlen=keys.DEAD_LETTERS_KEPT,
            approximate=True,
        )
        await self.ack(entry, consumer)

    async def stats(self) -> LogStats:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xlen(keys.UPDATES)
            pipe.xpending(keys.UPDATES, keys.WORKERS)
            pipe.xinfo_groups(keys.UPDATES)
            pipe.xrange(keys.UPDATES, count=1)
            backlog, pending, groups, first = await pipe.execute()
        group: dict[str, Any] = next((g for g in groups if str(g.get("name")) == keys.WORKERS), {})
        lag = group.get("lag")
        oldest = 0.0
        if first:
            oldest = max(0.0, time.time() - int(str(first[0][0]).split("-")[0]) / 1000)
        return LogStats(
            backlog=int(backlog),
            pending=int(pending.get("pending", 0)),
            lag=int(lag)
            if lag is not None
            else max(0, int(backlog) - int(pending.get("pending", 0))),
            oldest_seconds=oldest,
        )

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False
