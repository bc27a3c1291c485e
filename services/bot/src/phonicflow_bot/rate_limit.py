"""Per-learner rate limit: BOT_RATE_LIMIT_MPM messages per one-minute window; the debounce
of button presses (:class:`PressDebounce`); and the pacing of the bot's own sends
(:class:`SendPacer`).

Usage::

    limiter = RedisRateLimiter(redis, limit=30)      # or MemoryRateLimiter(limit=30)
    decision = await limiter.hit(user_id)
    if not decision.allowed:
        if decision.notify:          # only the first refusal in a window gets an answer,
            ...tell the learner to wait decision.retry_after seconds

The Redis version runs as one Lua script, so the count is atomic across bot replicas. The
window is fixed (it starts at a learner's first message): simple, and at worst a learner gets
twice the limit across a window boundary, which is harmless here.
"""

from __future__ import annotations

import asyncio
import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

from redis.asyncio import Redis

from phonicflow_bot import keys

#: Length of one counting window, seconds.
WINDOW_SECONDS = 60
#: A press of a button repeated within this long after the last one was handled is dropped.
PRESS_DEBOUNCE_SECONDS = 3


@dataclass(frozen=True)
class Decision:
    allowed: bool
    #: Seconds until the window resets (0 when allowed).
    retry_after: int = 0
    #: True for the first refusal of a window: answer it; later refusals stay quiet.
    notify: bool = False


class RateLimiter(ABC):
    """Counts a learner's messages; see the module docstring."""

    def __init__(self, limit: int, window: int = WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window = window

    @abstractmethod
    async def hit(self, user_id: int) -> Decision:
        """Count one message from ``user_id`` and say whether to handle it."""

    @abstractmethod
    async def reset(self, user_id: int) -> None:
        """Forget a learner's counters (/delete)."""


class MemoryRateLimiter(RateLimiter):
    """One process only: counters in a dict."""

    def __init__(self, limit: int, window: int = WINDOW_SECONDS) -> None:
        super().__init__(limit, window)
        self._windows: dict[int, tuple[float, int, bool]] = {}

    async def hit(self, user_id: int) -> Decision:
        now = time.monotonic()
        start, count, notified = self._windows.get(user_id, (now, 0, False))
        if now - start >= self.window:
            start, count, notified = now, 0, False
        count += 1
        if count <= self.limit:
            self._windows[user_id] = (start, count, notified)
            return Decision(True)
        retry = max(1, math.ceil(self.window - (now - start)))
        self._windows[user_id] = (start, count, True)
        return Decision(False, retry, not notified)

    async def reset(self, user_id: int) -> None:
        self._windows.pop(user_id, None)


# KEYS[1] counter, KEYS[2] notice flag; ARGV[1] limit, ARGV[2] window seconds.
# Returns {allowed 0/1, seconds left in the window, notify 0/1}.
_HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]); ttl = tonumber(ARGV[2]) end
if ttl < 1 then ttl = 1 end  -- the window's last moment: TTL says 0, and SET EX 0 is an error
if count <= tonumber(ARGV[1]) then return {1, 0, 0} end
local first = redis.call('SET', KEYS[2], '1', 'NX', 'EX', ttl)
if first then return {0, ttl, 1} end
return {0, ttl, 0}
"""


class RedisRateLimiter(RateLimiter):
    """Shared by every replica: one atomic Lua script per message."""

    def __init__(self, redis: Redis, limit: int, window: int = WINDOW_SECONDS) -> None:
        super().__init__(limit, window)
        self._redis = redis
        self._script = redis.register_script(_HIT_SCRIPT)

    async def hit(self, user_id: int) -> Decision:
        allowed, ttl, notify = await self._script(
            keys=[keys.rate_limit(user_id), keys.rate_limit_notice(user_id)],
            args=[self.limit, self.window],
        )
        if int(allowed):
            return Decision(True)
        return Decision(False, max(1, int(ttl)), bool(int(notify)))

    async def reset(self, user_id: int) -> None:
        await self._redis.delete(keys.rate_limit(user_id), keys.rate_limit_notice(user_id))


class PressDebounce(ABC):
    """One press of a button does its work; presses of the same button (chat, message,
    callback data) while it runs or within ``window`` seconds after are duplicates.

    Usage::

        if await debounce.first(chat, message_id, data):
            ...do the button's work...
            await debounce.hold(chat, message_id, data)   # the window starts when work ends
    """

    def __init__(self, window: int = PRESS_DEBOUNCE_SECONDS) -> None:
        self.window = window

    @abstractmethod
    async def first(self, chat: int, message: int, data: str) -> bool:
        """True for a press to handle, False for a duplicate (and the window starts)."""

    @abstractmethod
    async def hold(self, chat: int, message: int, data: str) -> None:
        """Restart the window now that the press's work is done."""

    @abstractmethod
    async def release(self, chat: int, message: int, data: str) -> None:
        """Forget the press (the one that erased the learner leaves no key naming them)."""


class MemoryPressDebounce(PressDebounce):
    """One process only: expiry times in a dict."""

    def __init__(self, window: int = PRESS_DEBOUNCE_SECONDS) -> None:
        super().__init__(window)
        self._until: dict[str, float] = {}

    async def first(self, chat: int, message: int, data: str) -> bool:
        now = time.monotonic()
        self._until = {k: t for k, t in self._until.items() if t > now}
        key = keys.press(chat, message, data)
        if key in self._until:
            return False
        self._until[key] = now + self.window
        return True

    async def hold(self, chat: int, message: int, data: str) -> None:
        self._until[keys.press(chat, message, data)] = time.monotonic() + self.window

    async def release(self, chat: int, message: int, data: str) -> None:
        self._until.pop(keys.press(chat, message, data), None)


class RedisPressDebounce(PressDebounce):
    """Shared by every replica: ``SET NX EX`` per press."""

    def __init__(self, redis: Redis, window: int = PRESS_DEBOUNCE_SECONDS) -> None:
        super().__init__(window)
        self._redis = redis

    async def first(self, chat: int, message: int, data: str) -> bool:
        return bool(
            await self._redis.set(keys.press(chat, message, data), "1", nx=True, ex=self.window)
        )

    async def hold(self, chat: int, message: int, data: str) -> None:
        await self._redis.set(keys.press(chat, message, data), "1", ex=self.window)

    async def release(self, chat: int, message: int, data: str) -> None:
        await self._redis.delete(keys.press(chat, message, data))


class SendPacer(ABC):
    """Spreads the bot's own sends (reminders) evenly: at most ``rate`` a second, one every
    ``1/rate`` seconds, however many senders share it. A fixed one-second window would let two
    windows' worth through within a moment at the boundary; Telegram asks for sends spread out.

    Usage::

        await pacer.wait()      # returns when this send's slot has come
        ...send...
    """

    def __init__(self, rate: int) -> None:
        self.interval = 1.0 / rate

    @abstractmethod
    async def reserve(self) -> tuple[float, float]:
        """Take the next free slot: (the slot, now), both in seconds on the pacer's clock."""

    async def wait(self) -> None:
        slot, now = await self.reserve()
        if slot > now:
            await asyncio.sleep(slot - now)


class MemorySendPacer(SendPacer):
    """One process only."""

    def __init__(self, rate: int) -> None:
        super().__init__(rate)
        self._next = 0.0

    async def reserve(self) -> tuple[float, float]:
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self.interval
        return slot, now


# KEYS[1] the next free slot (microseconds, Redis clock); ARGV[1] the interval, microseconds.
# Returns {slot, now} in microseconds (below 2^53, exact in Lua's doubles).
_PACE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local interval = tonumber(ARGV[1])
-- kept until a second after the slot it names: slots taken ahead must not be forgotten
local keep_ms = math.ceil((slot + interval - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%d', slot + interval), 'PX', keep_ms)
return {string.format('%d', slot), string.format('%d', now)}
"""


class RedisSendPacer(SendPacer):
    """Shared by every sender: the next free slot is one Redis key, taken by an atomic script
    on Redis's own clock (the senders' clocks need not agree)."""

    def __init__(self, redis: Redis, rate: int) -> None:
        super().__init__(rate)
        self._script = redis.register_script(_PACE_SCRIPT)

    async def reserve(self) -> tuple[float, float]:
        slot, now = await self._script(
            keys=[keys.REMINDER_PACE], args=[round(self.interval * 1_000_000)]
        )
        return int(slot) / 1_000_000, int(now) / 1_000_000
