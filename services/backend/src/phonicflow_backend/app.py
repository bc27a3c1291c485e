"""The FastAPI application: ``create_app(settings)`` builds it; routes in :mod:`.routes`.

Usage::

    from phonicflow_backend.app import create_app
    app = create_app(load_settings(BackendSettings))
    uvicorn.run(app, host=..., port=...)      # or phonicflow_backend.serving.serve(app, settings)

Start-up returns at once. In the background the database is migrated (retrying while it is
unreachable, e.g. PostgreSQL still starting) and the speech engines load in a thread:
``/healthz`` answers from the first moment; ``/readyz`` and the API answer 503 until both are
done. Every 10 minutes a sweep applies the retention of reply audio and idle sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from fastapi import FastAPI
from tenacity import AsyncRetrying, retry_if_exception, wait_exponential

from phonicflow_backend import __version__
from phonicflow_backend.config import BackendSettings
from phonicflow_backend.db.learners import LearnerRules
from phonicflow_backend.db.store import Retention, Store, is_unavailable, now
from phonicflow_backend.errors import install_error_handlers
from phonicflow_backend.metrics import Metrics
from phonicflow_backend.middleware import RequestLimitsMiddleware, RequestMetricsMiddleware
from phonicflow_backend.pipeline import Engines, Pipeline
from phonicflow_backend.routes import (
    bot,
    conversations,
    health,
    learners,
    practice,
    progress,
    reminders,
    turns,
)
from phonicflow_backend.state import AppState
from phonicflow_backend.turns import Turns
from phonicflow_common.runtime import freeze_startup_heap

log = logging.getLogger(__name__)

#: Room for the multipart framing and the text fields on top of the audio itself.
MULTIPART_OVERHEAD_BYTES = 256 * 1024
#: Any non-upload body (JSON) is tiny; this bounds what a bad client can make us buffer.
MAX_JSON_BODY_BYTES = 64 * 1024
#: How often retention runs (reply audio past its age, idle sessions, abandoned key claims).
SWEEP_INTERVAL_S = 600.0


def build_store(settings: BackendSettings, clock: Callable[[], datetime] = now) -> Store:
    if settings.database_url is None:
        settings.storage_dir.mkdir(parents=True, exist_ok=True)
    retention = Retention(
        max_turns=settings.session_max_turns,
        max_audio_turns=settings.session_max_audio_turns,
        audio_hours=settings.audio_retention_hours,
        session_days=settings.session_retention_days,
    )
    learner_rules = LearnerRules(
        default_time_zone=settings.learner_default_time_zone,
        reminder_window=timedelta(hours=settings.reminder_window_hours),
        reminder_lease=timedelta(seconds=settings.reminder_lease_s),
    )
    return Store.connect(
        settings.database(),
        retention,
        pool_size=settings.database_pool_size,
        clock=clock,
        learner_rules=learner_rules,
    )


def create_app(
    settings: BackendSettings,
    *,
    load_engines: Callable[[BackendSettings], Engines] = Engines.load,
    clock: Callable[[], datetime] = now,
) -> FastAPI:
    """The application; engines are loaded by ``load_engines`` in a thread after start-up.
    ``clock`` is the time turns and progress are stored at (a test's own, to play out days)."""
    metrics = Metrics()
    store = build_store(settings, clock)
    store.time_statements(metrics.observe_statement)
    state: AppState

    turns_service = Turns(
        store, settings, metrics, pipeline=lambda: state.pipeline,
        not_ready=lambda: state.not_ready_reason(),
    )  # fmt: skip
    state = AppState(settings=settings, store=store, metrics=metrics, turns=turns_service)

    async def prepare_database() -> None:
        if not settings.database_migrate:
            state.database_ready = True
            return
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(is_unavailable), wait=wait_exponential(0.2, max=5)
        ):
            with attempt:
                if attempt.retry_state.attempt_number > 1:
                    log.info("database unreachable; retrying the migrations")
                await store.migrate()
        state.database_ready = True
        log.info("database ready", extra={"dialect": store.engine.dialect.name})

    async def load() -> None:
        try:
            engines = await asyncio.to_thread(load_engines, settings)
        except Exception as exc:
            state.load_error = f"{type(exc).__name__}: {exc}"
            log.exception("engines failed to load")
            return
        state.pipeline = Pipeline(engines, metrics)
        # The models are loaded: keep the collector from walking them (and all start-up
        # objects) on every full collection.
        frozen = freeze_startup_heap()
        log.info("engines loaded", extra={**engines.describe(), "frozen_objects": frozen})

    async def sweep() -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            try:
                removed = await store.sweep()
            except Exception as exc:  # the database blinked: the next sweep catches up
                log.warning("retention sweep failed", extra={"error": repr(exc)})
                continue
            if any(removed.values()):
                log.info("retention sweep", extra=removed)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(job()) for job in (prepare_database, load, sweep)]
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if state.pipeline and state.pipeline.engines.llm:
            await state.pipeline.engines.llm.aclose()
        await store.close()

    app = FastAPI(
        title="PhonicFlow backend",
        version=__version__,
        description="Speech to text, pronunciation scoring, coaching and speech for the "
        "PhonicFlow Telegram bot. Contract: docs/backend-api.md.",
        lifespan=lifespan,
    )
    app.state.backend = state
    install_error_handlers(app)
    for module in (health, turns, conversations, learners, progress, reminders, bot, practice):
        app.include_router(module.router)
    app.add_middleware(
        RequestLimitsMiddleware,
        upload_limit=settings.max_audio_bytes + MULTIPART_OVERHEAD_BYTES,
        default_limit=MAX_JSON_BODY_BYTES,
        body_timeout_s=settings.backend_body_timeout_s,
    )
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    return app


__all__ = ["create_app"]
