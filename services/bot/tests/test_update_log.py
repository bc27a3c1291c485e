"""The update log's rules, against a real Redis (and the in-memory log where it applies).

Scenarios as the workers live them: an update appended twice is one entry; one learner's
updates are handled one at a time in order while another learner's go ahead; an answered update
leaves no trace; a worker that goes silent loses its entries to a live one, a live one keeps
them; one that keeps dying is set aside.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from phonicflow_bot import keys
from phonicflow_bot.update_log import MemoryUpdateLog, RedisUpdateLog, UpdateLog

TIMEOUT = 0.6  # claim timeout: a worker silent this long loses its entries


def update(update_id: int, chat: int) -> str:
    return json.dumps({"update_id": update_id, "message": {"chat": {"id": chat}}})


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def log(redis: Redis) -> RedisUpdateLog:
    update_log = RedisUpdateLog(redis, claim_timeout=TIMEOUT, max_deliveries=2)
    await update_log.setup()
    await update_log.setup()  # safe to call again (every process does at start)
    return update_log


@pytest.fixture(params=["redis", "memory"])
async def any_log(request: pytest.FixtureRequest, redis: Redis) -> UpdateLog:
    if request.param == "memory":
        return MemoryUpdateLog()
    update_log = RedisUpdateLog(redis, claim_timeout=TIMEOUT)
    await update_log.setup()
    return update_log


async def test_an_update_appended_twice_is_one_entry(any_log: UpdateLog) -> None:
    assert await any_log.append(1, "10", update(1, 10)) is True
    assert await any_log.append(1, "10", update(1, 10)) is False  # the poller died, refetched
    entries = await any_log.read("w1", 10, 0.1)
    assert [(e.update_id, e.chat) for e in entries] == [(1, "10")]
    assert json.loads(entries[0].payload)["update_id"] == 1
    assert await any_log.read("w1", 10, 0.1) == []


async def test_one_learner_in_order_another_in_parallel(any_log: UpdateLog) -> None:
    for update_id, chat in ((1, "10"), (2, "10"), (3, "20")):
        await any_log.append(update_id, chat, update(update_id, chat=int(chat)))
    first, second, other = await any_log.read("w1", 10, 0.1)
    assert (await any_log.claim(second, "w2")).kind == "wait"  # learner 10's first is open
    assert (await any_log.claim(first, "w1")).kind == "go"
    assert (await any_log.claim(other, "w2")).kind == "go"  # learner 20 is not held up
    assert (await any_log.claim(second, "w2")).kind == "wait"
    await any_log.ack(first, "w1")
    assert (await any_log.claim(second, "w2")).kind == "go"
    await any_log.ack(first, "w1")  # a second ack changes nothing
    assert (await any_log.claim(first, "w1")).kind == "gone"


async def test_the_journal_comes_with_the_claim_and_goes_with_the_ack(any_log: UpdateLog) -> None:
    await any_log.append(5, "50", update(5, 50))
    (entry,) = await any_log.read("w1", 1, 0.1)
    assert (await any_log.claim(entry, "w1")).journal == {}
    await any_log.record(5, "tg:0", '{"method": "sendMessage"}')
    assert (await any_log.claim(entry, "w1")).journal == {"tg:0": '{"method": "sendMessage"}'}
    await any_log.ack(entry, "w1")
    stats = await any_log.stats()
    assert (stats.backlog, stats.pending, stats.lag) == (0, 0, 0)


async def test_answered_updates_leave_nothing_behind(log: RedisUpdateLog, redis: Redis) -> None:
    for n in range(20):
        await log.append(100 + n, "7", update(100 + n, 7))
    entries = await log.read("w1", 50, 0.1)
    for entry in entries:
        assert (await log.claim(entry, "w1")).kind == "go"
        await log.record(entry.update_id, "memo:process:0", "{}")
        await log.ack(entry, "w1")
    assert await redis.xlen(keys.UPDATES) == 0  # the stream is bounded by what is unanswered
    assert (await redis.xpending(keys.UPDATES, keys.WORKERS))["pending"] == 0
    assert await redis.exists(keys.chat_queue(7), keys.chat_lease(7), keys.journal(100)) == 0
    assert await redis.exists(keys.seen(100)) == 1  # still remembered, to refuse a repeat


async def test_a_silent_worker_loses_its_entries_and_chats_a_live_one_keeps_them(
    log: RedisUpdateLog,
) -> None:
    await log.append(1, "10", update(1, 10))
    await log.append(2, "20", update(2, 20))
    dead_one, live_one = await log.read("dead", 10, 0.1)
    assert (await log.claim(dead_one, "dead")).kind == "go"
    assert (await log.claim(live_one, "alive")).kind == "go"
    assert await log.reclaim("other", 10) == []  # nobody is silent yet
    for _ in range(4):  # "alive" keeps its heartbeat; "dead" was SIGKILLed
        await asyncio.sleep(TIMEOUT / 3)
        assert await log.heartbeat("alive", ["20"], [live_one.id]) == set()
    (taken,) = await log.reclaim("other", 10)
    assert taken.id == dead_one.id and taken.deliveries == 2
    assert (await log.claim(taken, "other")).kind == "go"  # the dead worker's lease expired
    # the dead worker, were it only stalled, finds out at its next heartbeat
    assert await log.heartbeat("dead", ["10"], [dead_one.id]) == {"10"}


async def test_shutting_down_hands_entries_back_at_once(log: RedisUpdateLog) -> None:
    await log.append(1, "10", update(1, 10))
    (entry,) = await log.read("leaving", 10, 0.1)
    await log.hand_back("leaving", [entry.id])
    await log.release(entry, "leaving")
    (taken,) = await log.reclaim("staying", 10)
    assert taken.id == entry.id


async def test_a_worker_may_not_take_a_chat_another_worker_holds(log: RedisUpdateLog) -> None:
    await log.append(1, "10", update(1, 10))
    (entry,) = await log.read("w1", 10, 0.1)
    assert (await log.claim(entry, "w1")).kind == "go"
    # w2 got the same entry (w1 stalled past the timeout) while w1 still holds the lease
    assert (await log.claim(entry, "w2")).kind == "wait"
    await log.ack(entry, "w1")
    assert (await log.claim(entry, "w2")).kind == "gone"


async def test_an_update_that_keeps_killing_workers_is_set_aside(
    log: RedisUpdateLog, redis: Redis
) -> None:
    await log.append(9, "90", update(9, 90))
    (_first,) = await log.read("w1", 10, 0.1)
    await asyncio.sleep(TIMEOUT * 1.2)
    (again,) = await log.reclaim("w2", 10)
    assert again.deliveries == 2
    await asyncio.sleep(TIMEOUT * 1.2)
    (third,) = await log.reclaim("w3", 10)
    assert third.deliveries > log.max_deliveries
    await log.dead_letter(third, "w3", "delivered 3 times")
    assert await redis.xlen(keys.UPDATES) == 0
    (dead,) = await redis.xrange(keys.DEAD_LETTERS)
    assert dead[1]["id"] == "9" and dead[1]["reason"] == "delivered 3 times"


async def test_a_lost_queue_head_does_not_block_the_learner_forever(
    log: RedisUpdateLog, redis: Redis
) -> None:
    # A Redis crash (not a restart) can lose the last writes: a queue head whose entry is gone.
    await redis.rpush(keys.chat_queue(10), "1-0")
    await log.append(1, "10", update(1, 10))
    (entry,) = await log.read("w1", 10, 0.1)
    assert (await log.claim(entry, "w1")).kind == "go"


async def test_a_redis_that_came_back_empty_gets_its_group_again(
    log: RedisUpdateLog, redis: Redis
) -> None:
    await redis.flushall()  # a Redis without persistence, restarted
    assert await log.read("w1", 10, 0.1) == []
    await log.append(1, "10", update(1, 10))
    assert [e.update_id for e in await log.read("w1", 10, 0.1)] == [1]
