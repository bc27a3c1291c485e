"""The seed's ``/bot/*`` endpoints: sessions, status, and events the bot counts."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends

from phonicflow_backend import __version__
from phonicflow_backend.errors import error_responses
from phonicflow_backend.state import StateDep, require_bot_key
from phonicflow_common.contract import (
    AcceptedResponse,
    BotMetricRequest,
    CreateSessionRequest,
    CreateSessionResponse,
    StatusResponse,
)

router = APIRouter(dependencies=[Depends(require_bot_key)], tags=["bot"])


@router.post(
    "/bot/session",
    response_model=CreateSessionResponse,
    status_code=201,
    responses=error_responses(401, 422, 503),
    summary="Create a session (and the learner's record, given a Telegram user id)",
)
async def create_session(
    state: StateDep, body: CreateSessionRequest | None = None
) -> CreateSessionResponse:
    body = body or CreateSessionRequest()
    info = await state.store.create_session(
        telegram_user_id=body.telegram_user_id, language=body.language
    )
    state.metrics.sessions_created.inc()
    return CreateSessionResponse(session_id=info.session_id, created_at=info.created_at)


@router.get("/bot/status", response_model=StatusResponse, responses=error_responses(401))
async def status(state: StateDep) -> StatusResponse:
    engines = state.pipeline.engines.describe() if state.pipeline else {}
    return StatusResponse(
        status="ok" if state.pipeline else ("error" if state.load_error else "loading"),
        version=__version__,
        engines=engines,
        uptime_seconds=round(time.monotonic() - state.started, 3),
    )


@router.post(
    "/bot/metrics",
    response_model=AcceptedResponse,
    status_code=202,
    responses=error_responses(401, 422),
    summary="Count an event the bot observed (exported on /metrics)",
)
async def bot_metrics(state: StateDep, body: BotMetricRequest) -> AcceptedResponse:
    state.metrics.bot_events.labels(body.event).inc(body.value)
    return AcceptedResponse()
