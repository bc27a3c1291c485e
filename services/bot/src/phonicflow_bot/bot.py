"""The bot's processes: what each role starts, in which order, and how it stops.

Usage::

    from phonicflow_bot.bot import run
    run(settings)          # blocks until SIGTERM/SIGINT; exit status 0, or 1 when start-up failed

An update's path (services/bot/README.md draws it)::

    Telegram ─► intake (poller | webhook) ─► update log ─► worker ─► handlers ─► replies ─► ack

Roles (BOT_ROLE / ``--role``): ``poller`` and ``webhook`` run only the intake, ``worker`` only
the worker, ``all`` both in one process — with an in-memory update log when REDIS_URL is unset.
Every process that handles updates also runs the reminder sender (:mod:`phonicflow_bot.reminders`;
the backend hands each reminder to one of them).

Start-up waits for what the role cannot work without — Redis, and Telegram (getMe) — for up to
BOT_STARTUP_RETRY_SECONDS (60): a pod's network may be programmed only seconds after it starts,
and Telegram or the emulator may come up after the bot. Meanwhile /healthz answers (alive) and
/readyz does not. Giving up is one clear error line and exit status 1, not a traceback per try.

Stop (SIGTERM/SIGINT): the intake first (the poller confirms its last offset), then the worker
finishes what it holds (BOT_SHUTDOWN_GRACE_SECONDS) and hands the rest back, then the clients
close. Nothing depends on a clean stop: a SIGKILL loses nothing either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import uvloop
from redis.asyncio import Redis
from redis.exceptions import RedisError
from telegram.error import BadRequest, InvalidToken, NetworkError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_delay,
    wait_exponential_jitter,
)

from phonicflow_bot import metrics
from phonicflow_bot.application import (
    build_application,
    make_bot,
    set_commands,
    telegram_requests,
)
from phonicflow_bot.clients.backend import BackendClient
from phonicflow_bot.clients.converter import ConverterClient
from phonicflow_bot.clients.redis_connection import connect, safe_url
from phonicflow_bot.clients.sessions import (
    EXPIRED_SESSION_RETENTION_SECONDS,
    MemorySessionStore,
    RedisSessionStore,
    SessionManager,
    SessionStore,
)
from phonicflow_bot.config import BotSettings, Role
from phonicflow_bot.context import SERVICES_KEY, BotServices
from phonicflow_bot.health import Check, HealthServer
from phonicflow_bot.intake.poller import Poller
from phonicflow_bot.intake.webhook import WebhookReceiver, register
from phonicflow_bot.journal import JournaledBot
from phonicflow_bot.rate_limit import (
    MemoryPressDebounce,
    MemoryRateLimiter,
    MemorySendPacer,
    PressDebounce,
    RateLimiter,
    RedisPressDebounce,
    RedisRateLimiter,
    RedisSendPacer,
    SendPacer,
)
from phonicflow_bot.reminders import (
    MemorySentMarks,
    RedisSentMarks,
    ReminderSender,
    SentMarks,
)
from phonicflow_bot.update_log import MemoryUpdateLog, RedisUpdateLog, UpdateLog
from phonicflow_bot.worker import Worker
from phonicflow_common.runtime import freeze_startup_heap

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds for the backend health probe feeding the gauge.
BACKEND_PROBE_TIMEOUT = 2.0
#: Exit status when start-up gave up (2 is for invalid settings).
EXIT_STARTUP_FAILED = 1


class StartupFailed(Exception):
    """Something the role needs never answered; the message is the one line to print."""


def run(settings: BotSettings) -> int:
    """Run the configured role until SIGTERM/SIGINT; the process's exit status."""
    # uvloop: the bot is a few dozen small HTTP and gRPC exchanges per voice note, and the
    # stdlib loop's own bookkeeping is a visible share of that (docs/benchmarks.md, "Bot").
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        asyncio.run(serve(settings))
    except StartupFailed as exc:
        log.error(str(exc))
        return EXIT_STARTUP_FAILED
    return 0


def consumer_prefix(pid: int | None = None) -> str:
    """What every consumer name of process ``pid`` (default: this one) on this host starts
    with: a test or an operator reading XPENDING can tell which process holds an update."""
    return f"{socket.gethostname()}-{pid if pid is not None else os.getpid()}-"


def consumer_name() -> str:
    """This process's name in the consumer group: unique, and readable in XINFO."""
    return f"{consumer_prefix()}{secrets.token_hex(2)}"


async def serve(settings: BotSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    role: Role = settings.bot_role
    takes_in = role in ("all", "poller", "webhook") and settings.telegram_bot_enabled
    handles = role in ("all", "worker")
    redis = connect(settings.redis_url) if settings.redis_url else None
    update_log: UpdateLog = (
        RedisUpdateLog(
            redis,
            claim_timeout=settings.bot_claim_timeout_seconds,
            max_deliveries=settings.bot_max_deliveries,
        )
        if redis is not None
        else MemoryUpdateLog()
    )
    services = await build_services(settings, redis) if handles else None
    state = _State()
    health = health_server(settings, update_log, services, state)
    await health.start()
    try:
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(_close, redis, services)
            if not settings.telegram_bot_enabled:
                log.info("Telegram disabled (TELEGRAM_BOT_ENABLED=false): health endpoints only")
                state.parts["idle"] = lambda: True
                await stop.wait()
                return
            if redis is not None:
                await _patiently(settings, "Redis", update_log.setup, stop)
            requests = telegram_requests(settings)
            for request in requests:
                stack.push_async_callback(request.shutdown)
            bot = make_bot(settings, requests)
            await _patiently(settings, "Telegram", bot.initialize, stop)
            stack.push_async_callback(bot.shutdown)  # late: the worker replies until it drained
            if stop.is_set():
                return
            worker_task: asyncio.Task[None] | None = None
            if handles:
                assert services is not None
                application = build_application(bot)
                await application.initialize()
                stack.push_async_callback(application.shutdown)
                application.bot_data[SERVICES_KEY] = services
                await set_commands(application)
                worker = Worker(
                    application,
                    update_log,
                    consumer_name(),
                    concurrency=settings.bot_max_concurrent_updates,
                    max_deliveries=settings.bot_max_deliveries,
                    grace=settings.bot_shutdown_grace_seconds,
                )
                worker_stop = asyncio.Event()
                worker_task = asyncio.create_task(worker.run(worker_stop), name="worker")
                state.parts["worker"] = lambda: not worker_task.done()

                async def stop_worker() -> None:
                    worker_stop.set()
                    await asyncio.gather(worker_task, return_exceptions=True)

                stack.push_async_callback(stop_worker)
                if settings.bot_reminders:
                    sender = reminder_sender(settings, bot, services, redis)
                    reminders_stop = asyncio.Event()
                    reminders_task = asyncio.create_task(
                        sender.run(reminders_stop), name="reminders"
                    )

                    async def stop_reminders() -> None:
                        reminders_stop.set()
                        await asyncio.gather(reminders_task, return_exceptions=True)

                    stack.push_async_callback(stop_reminders)
            if takes_in and settings.bot_webhook_url:
                receiver = WebhookReceiver(update_log, settings)
                await receiver.start()
                stack.push_async_callback(receiver.stop)
                await _patiently(
                    settings, "Telegram (setWebhook)", lambda: register(bot, settings), stop
                )
                state.parts["webhook"] = lambda: receiver.running
            elif takes_in:
                poller = Poller(bot, update_log, settings)
                await poller.start()
                stack.push_async_callback(poller.stop)
                state.parts["poller"] = lambda: poller.running
            frozen = freeze_startup_heap()
            log.info(
                "bot started",
                extra={"role": role, "bot_username": bot.username, "frozen_objects": frozen},
            )
            stopped = asyncio.create_task(stop.wait())
            watched: set[asyncio.Task[Any]] = {stopped}
            if worker_task is not None:
                watched.add(worker_task)
            await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            log.info("stopping", extra={"role": role})
    finally:
        await health.stop()
        log.info("bot stopped")


class _State:
    """Which parts this process runs, each with a "still running?" probe (for /healthz)."""

    def __init__(self) -> None:
        self.parts: dict[str, Callable[[], bool]] = {}

    def live(self) -> bool:
        return all(probe() for probe in self.parts.values())


async def build_services(settings: BotSettings, redis: Redis | None) -> BotServices:
    backend = BackendClient(
        settings.backend_url,
        timeout=settings.backend_timeout,
        bot_key=settings.bot_private_key.get_secret_value(),
        retry_seconds=settings.backend_retry_seconds,
    )
    converter = ConverterClient(
        settings.converter_address,
        timeout=settings.converter_timeout,
        max_in_flight=settings.converter_max_in_flight,
    )
    store: SessionStore
    limiter: RateLimiter | None = None
    debounce: PressDebounce
    if redis is not None:
        ttl = int(settings.session_timeout_hours * 3600) + EXPIRED_SESSION_RETENTION_SECONDS
        store = RedisSessionStore(redis, ttl)
        debounce = RedisPressDebounce(redis)
        if settings.bot_rate_limit:
            limiter = RedisRateLimiter(redis, settings.bot_rate_limit_mpm)
    else:
        store = MemorySessionStore()
        debounce = MemoryPressDebounce()
        if settings.bot_rate_limit:
            limiter = MemoryRateLimiter(settings.bot_rate_limit_mpm)
    sessions = SessionManager(store, backend, timeout_hours=settings.session_timeout_hours)
    return BotServices(settings, backend, converter, sessions, limiter, debounce)


def reminder_sender(
    settings: BotSettings, bot: JournaledBot, services: BotServices, redis: Redis | None
) -> ReminderSender:
    """The reminder sender of a process that handles updates; with Redis, its send pace and
    "already sent" marks are shared by every worker."""
    rate = settings.bot_reminder_rate_per_second
    if redis is not None:
        marks: SentMarks = RedisSentMarks(redis)
        pacer: SendPacer = RedisSendPacer(redis, rate)
    else:
        marks, pacer = MemorySentMarks(), MemorySendPacer(rate)
    return ReminderSender(
        bot, services.backend, marks, pacer, poll_seconds=settings.bot_reminder_poll_seconds
    )


def health_server(
    settings: BotSettings, update_log: UpdateLog, services: BotServices | None, state: _State
) -> HealthServer:
    checks: dict[str, Check] = {}
    if update_log.durable:
        checks["redis"] = update_log.ping

    async def refresh_gauges() -> None:
        with contextlib.suppress(RedisError):
            stats = await update_log.stats()
            metrics.STREAM_BACKLOG.set(stats.backlog)
            metrics.STREAM_PENDING.set(stats.pending)
            metrics.STREAM_LAG.set(stats.lag)
            metrics.STREAM_OLDEST.set(stats.oldest_seconds)
        if services is not None:
            metrics.ACTIVE_SESSIONS.set(await services.sessions.active_count())
            with contextlib.suppress(Exception):
                await asyncio.wait_for(backend_ok(), BACKEND_PROBE_TIMEOUT)

    async def backend_ok() -> bool:
        assert services is not None
        up = await services.backend.health_check()
        metrics.BACKEND_UP.set(1 if up else 0)
        return up

    if services is not None:
        checks["converter"] = services.converter.health_check
        checks["backend"] = backend_ok
    return HealthServer(
        settings.bot_health_host,
        settings.bot_health_port,
        live=state.live,
        checks=checks,
        before_metrics=refresh_gauges,
    )


def _retryable(exc: BaseException) -> bool:
    # NetworkError covers connection refused, timeouts and Telegram's 5xx; BadRequest (its
    # subclass) and InvalidToken mean the request itself is wrong.
    if isinstance(exc, (InvalidToken, BadRequest)):
        return False
    return isinstance(exc, (NetworkError, RedisError, OSError))


async def _patiently(
    settings: BotSettings, what: str, action: Callable[[], Awaitable[T]], stop: asyncio.Event
) -> T | None:
    """Run ``action`` until it succeeds, for up to BOT_STARTUP_RETRY_SECONDS (one log line when
    it first fails, one error when giving up); None if ``stop`` was set meanwhile."""
    limit = settings.bot_startup_retry_seconds
    where = _where(settings, what)

    def first_failure(state: RetryCallState) -> None:
        if state.attempt_number == 1 and state.outcome is not None:
            log.info(
                "%s not reachable yet; retrying for up to %g s",
                what,
                limit,
                extra={"at": where, "error": repr(state.outcome.exception())},
            )

    retrying = AsyncRetrying(
        stop=stop_after_delay(limit),
        wait=wait_exponential_jitter(multiplier=0.5, max=5.0),
        retry=retry_if_exception(_retryable),
        after=first_failure,
        reraise=True,
    )

    async def attempt() -> T:
        # tenacity awaits only coroutine functions; ``action`` may be a lambda returning one.
        return await action()

    attempt_task: asyncio.Task[T] = asyncio.create_task(retrying(attempt))
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({attempt_task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if attempt_task not in done:
        attempt_task.cancel()
        await asyncio.gather(attempt_task, return_exceptions=True)
        return None
    try:
        result: T = attempt_task.result()
    except InvalidToken:
        raise StartupFailed(
            "Telegram refused TELEGRAM_BOT_TOKEN (401 Unauthorized): check the token"
        ) from None
    except Exception as exc:
        raise StartupFailed(
            f"cannot reach {what} at {where} after {limit:g} s ({type(exc).__name__}: {exc}); "
            "check the network and the address setting"
        ) from None
    return result


def _where(settings: BotSettings, what: str) -> str:
    if what == "Redis":
        return f"REDIS_URL={safe_url(settings.redis_url or '')}"
    return f"TELEGRAM_API_BASE_URL={settings.telegram_api_base_url.split('/bot')[0]}"


async def _close(redis: Redis | None, services: BotServices | None) -> None:
    if services is not None:
        await services.close()
    if redis is not None:
        await redis.aclose()
