"""The bot's lifecycle: build the python-telegram-bot Application, poll, shut down cleanly.

Usage::

    from phonicflow_bot.bot import run
    run(settings)          # blocks until SIGTERM/SIGINT, then finishes in-flight work

How an update travels: PTB's Updater long-polls ``getUpdates`` → :class:`PerLearnerUpdateProcessor`
(many learners at once, one learner's updates in order, a root span per update) → the rate-limit
gate (group -1) → the handlers (commands, audio, text, buttons) → replies through PTB's
``AIORateLimiter`` (Telegram's flood limits, retries after ``retry_after``).

On SIGTERM, PTB stops fetching, then :meth:`telegram.ext.Application.stop` waits for every
update already being handled (they are tasks it created), and the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable
from typing import Any

import uvloop
from opentelemetry import trace
from redis.asyncio import Redis
from telegram import BotCommand, Update
from telegram.error import Forbidden, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationHandlerStop,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from phonicflow_bot import metrics
from phonicflow_bot.config import BotSettings
from phonicflow_bot.handlers import audio_handler, callback_handler, message_handler
from phonicflow_bot.handlers.common import language_of, send_html
from phonicflow_bot.health import HealthServer
from phonicflow_bot.i18n import COMMANDS, LANGUAGES, text
from phonicflow_bot.rate_limit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from phonicflow_bot.services import BOT_DATA_KEY, BotServices
from phonicflow_bot.telegram_http import AiohttpRequest
from phonicflow_bot.utils.api_client import BackendClient
from phonicflow_bot.utils.audio_converter import ConverterClient
from phonicflow_bot.utils.session_manager import (
    EXPIRED_SESSION_RETENTION_SECONDS,
    MemorySessionStore,
    RedisSessionStore,
    SessionManager,
    SessionStore,
)
from phonicflow_common.runtime import freeze_startup_heap

log = logging.getLogger(__name__)
tracer = trace.get_tracer("phonicflow_bot")

#: Extra seconds on top of the long-poll timeout before getUpdates counts as hung.
GET_UPDATES_GRACE_SECONDS = 10.0
#: Seconds to wait for the backend health probe feeding the gauge.
BACKEND_PROBE_TIMEOUT = 2.0

#: What counts as an audio message (4.1 of the seed registered only audio: voice never arrived).
AUDIO_FILTER = filters.VOICE | filters.AUDIO | filters.VIDEO_NOTE | filters.Document.AUDIO
#: Anything else a learner can send that is not text or a command.
UNSUPPORTED_FILTER = (filters.ATTACHMENT | filters.PHOTO | filters.Sticker.ALL | filters.VIDEO |
                      filters.LOCATION | filters.CONTACT | filters.POLL) & ~AUDIO_FILTER  # fmt: skip


def update_kind(update: object) -> str:
    """The ``type`` label of ``phonicflow_bot_updates_total``."""
    if not isinstance(update, Update):
        return "other"
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


class PerLearnerUpdateProcessor(BaseUpdateProcessor):
    """Handles updates of different learners concurrently and one learner's in arrival order.

    Each update runs inside a root span ``telegram.update``; its stages are child spans.
    """

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        kind = update_kind(update)
        metrics.UPDATES.labels(kind).inc()
        user = update.effective_user if isinstance(update, Update) else None
        attributes: dict[str, str | int] = {"telegram.update.kind": kind}
        if isinstance(update, Update):
            attributes["telegram.update_id"] = update.update_id
        if user is not None:
            attributes["telegram.user_id"] = user.id
        started = time.perf_counter()
        with tracer.start_as_current_span("telegram.update", attributes=attributes):
            if user is None:
                await coroutine
            else:
                await self._in_order(user.id, coroutine)
        metrics.STAGE_SECONDS.labels("total").observe(time.perf_counter() - started)

    async def _in_order(self, user_id: int, coroutine: Awaitable[Any]) -> None:
        lock = self._locks.setdefault(user_id, asyncio.Lock())
        self._users[user_id] = self._users.get(user_id, 0) + 1
        try:
            async with lock:  # asyncio locks are FIFO: arrival order is kept
                await coroutine
        finally:
            self._users[user_id] -= 1
            if self._users[user_id] == 0:  # nobody waiting: forget the learner's lock
                del self._users[user_id]
                del self._locks[user_id]

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None


async def rate_limit_gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Refuse messages over BOT_RATE_LIMIT_MPM; tell the learner once per window."""
    svc: BotServices = context.application.bot_data[BOT_DATA_KEY]
    user = update.effective_user
    if svc.limiter is None or user is None or update.message is None:
        return
    try:
        decision = await svc.limiter.hit(user.id)
    except Exception:
        # Redis down: serve the learner rather than refuse everyone.
        log.warning("rate limiter unavailable; message allowed", exc_info=True)
        return
    if decision.allowed:
        return
    metrics.RATE_LIMITED.inc()
    if decision.notify:
        lang = await language_of(update, context)
        with contextlib.suppress(TelegramError):
            await send_html(
                context,
                update.message.chat_id,
                text(lang, "rate_limited", seconds=decision.retry_after),
            )
    raise ApplicationHandlerStop


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Anything a handler did not expect: log it (redacted), count it, tell the learner."""
    if isinstance(context.error, Forbidden):
        # The learner blocked the bot: nothing is wrong here and nobody can be told.
        metrics.ERRORS.labels("blocked_by_user").inc()
        log.info("learner blocked the bot", extra={"update_id": getattr(update, "update_id", None)})
        return
    metrics.ERRORS.labels("unhandled").inc()
    log.error(
        "unhandled error",
        exc_info=context.error,
        extra={"update_id": getattr(update, "update_id", None)},
    )
    if isinstance(update, Update) and update.effective_chat is not None:
        with contextlib.suppress(Exception):
            lang = await language_of(update, context)
            await context.bot.send_message(update.effective_chat.id, text(lang, "unexpected"))


def register_handlers(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(TypeHandler(Update, rate_limit_gate), group=-1)
    commands = {
        "start": message_handler.start,
        "help": message_handler.help_command,
        "status": message_handler.status,
        "history": message_handler.history,
        "new": message_handler.new,
        "feedback": message_handler.feedback,
        "delete": message_handler.delete,
        "language": message_handler.language,
        "practice": message_handler.practice,
    }
    # New messages only: an edited message is not a new turn to score or answer again.
    new = filters.UpdateType.MESSAGE
    for name, callback in commands.items():
        application.add_handler(CommandHandler(name, callback, filters=new))
    application.add_handler(MessageHandler(new & AUDIO_FILTER, audio_handler.handle_audio))
    application.add_handler(
        MessageHandler(new & filters.TEXT & ~filters.COMMAND, message_handler.handle_text)
    )
    application.add_handler(MessageHandler(new & UNSUPPORTED_FILTER, message_handler.unsupported))
    application.add_handler(CallbackQueryHandler(callback_handler.handle_callback))
    application.add_error_handler(on_error)


async def build_services(settings: BotSettings) -> BotServices:
    backend = BackendClient(
        settings.backend_url,
        timeout=settings.backend_timeout,
        bot_key=settings.bot_private_key.get_secret_value(),
    )
    converter = ConverterClient(
        settings.converter_address,
        timeout=settings.converter_timeout,
        max_in_flight=settings.converter_max_in_flight,
    )
    store: SessionStore
    limiter: RateLimiter | None = None
    if settings.redis_url:
        redis = Redis.from_url(settings.redis_url, decode_responses=True)
        ttl = int(settings.session_timeout_hours * 3600) + EXPIRED_SESSION_RETENTION_SECONDS
        store = RedisSessionStore(redis, ttl)
        if settings.bot_rate_limit:
            limiter = RedisRateLimiter(redis, settings.bot_rate_limit_mpm)
    else:
        store = MemorySessionStore()
        if settings.bot_rate_limit:
            limiter = MemoryRateLimiter(settings.bot_rate_limit_mpm)
    sessions = SessionManager(store, backend, timeout_hours=settings.session_timeout_hours)
    return BotServices(settings, backend, converter, sessions, limiter)


async def set_commands(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """The command menu in English (default) and Portuguese (language_code "pt")."""
    for lang in LANGUAGES:
        commands = [BotCommand(name, texts[lang]) for name, texts in COMMANDS.items()]
        await application.bot.set_my_commands(
            commands, language_code=None if lang == "en" else lang
        )


def health_server(settings: BotSettings, svc: BotServices, live: Any) -> HealthServer:
    async def backend_ok() -> bool:
        up = await svc.backend.health_check()
        metrics.BACKEND_UP.set(1 if up else 0)
        return up

    async def refresh_gauges() -> None:
        metrics.ACTIVE_SESSIONS.set(await svc.sessions.active_count())
        with contextlib.suppress(Exception):
            await asyncio.wait_for(backend_ok(), BACKEND_PROBE_TIMEOUT)

    checks = {"converter": svc.converter.health_check, "backend": backend_ok}
    if settings.redis_url:
        checks["redis"] = svc.sessions.store.ping
    return HealthServer(
        settings.bot_health_host,
        settings.bot_health_port,
        live=live,
        checks=checks,
        before_metrics=refresh_gauges,
    )


def build_application(settings: BotSettings) -> Application[Any, Any, Any, Any, Any, Any]:
    """The PTB Application with every handler, limiter and lifecycle hook in place."""
    state: dict[str, HealthServer] = {}

    async def post_init(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        svc = await build_services(settings)
        application.bot_data[BOT_DATA_KEY] = svc
        try:
            await set_commands(application)
        except TelegramError as exc:  # a menu is nice to have, not a reason not to start
            log.warning("setMyCommands failed", extra={"error": repr(exc)})

        def live() -> bool:
            updater = application.updater
            return application.running and (updater is None or updater.running)

        server = health_server(settings, svc, live)
        await server.start()
        state["health"] = server
        frozen = freeze_startup_heap()
        log.info(
            "bot started",
            extra={"bot_username": application.bot.username, "frozen_objects": frozen},
        )

    async def post_shutdown(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        server = state.pop("health", None)
        if server is not None:
            await server.stop()
        svc: BotServices | None = application.bot_data.get(BOT_DATA_KEY)
        if svc is not None:
            await svc.close()
        log.info("bot stopped")

    token = settings.telegram_bot_token.get_secret_value()
    application = (
        Application.builder()
        .token(token)
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_file_base_url)
        .rate_limiter(
            AIORateLimiter(
                overall_max_rate=settings.bot_outgoing_rate_per_second,
                max_retries=settings.bot_send_max_retries,
            )
        )
        .concurrent_updates(PerLearnerUpdateProcessor(settings.bot_max_concurrent_updates))
        .request(
            AiohttpRequest(
                connection_pool_size=settings.bot_max_concurrent_updates,
                timeout=settings.bot_timeout,
            )
        )
        .get_updates_request(
            AiohttpRequest(
                connection_pool_size=1,
                timeout=settings.bot_timeout,
                read_timeout=settings.bot_polling_timeout + GET_UPDATES_GRACE_SECONDS,
            )
        )
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    register_handlers(application)
    return application


def run(settings: BotSettings) -> None:
    """Poll until SIGTERM/SIGINT; in-flight updates finish before the process exits."""
    # uvloop: the bot is a few dozen small HTTP and gRPC exchanges per voice note, and the
    # stdlib loop's own bookkeeping is a visible share of that (docs/benchmarks.md, "Bot").
    # PTB and asyncio.run both take their loop from the policy.
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    if not settings.telegram_bot_enabled:
        asyncio.run(_run_health_only(settings))
        return
    application = build_application(settings)
    application.run_polling(
        poll_interval=settings.bot_polling_interval,
        timeout=settings.bot_polling_timeout,
        allowed_updates=Update.ALL_TYPES,
        stop_signals=(signal.SIGINT, signal.SIGTERM),
    )


async def _run_health_only(settings: BotSettings) -> None:
    """TELEGRAM_BOT_ENABLED=false: no polling; health endpoints report the dependencies."""
    svc = await build_services(settings)
    server = health_server(settings, svc, live=lambda: True)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("telegram polling disabled (TELEGRAM_BOT_ENABLED=false)")
    await stop.wait()
    await server.stop()
    await svc.close()
