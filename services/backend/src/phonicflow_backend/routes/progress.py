"""A learner's progress: as JSON, and as the ``/progress`` picture (PNG)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from phonicflow_backend.errors import ApiError, error_responses
from phonicflow_backend.routes.learners import UserId
from phonicflow_backend.state import StateDep, require_bot_key
from phonicflow_common.contract import Language, ProgressResponse

router = APIRouter(dependencies=[Depends(require_bot_key)], tags=["progress"])


def reference_time(
    now: Annotated[
        datetime | None,
        Query(
            description="The moment to read progress at (ISO 8601; without a zone: UTC); "
            "default: now. Days and streaks are counted up to it."
        ),
    ] = None,
) -> datetime | None:
    if now is None:
        return None
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now


NowDep = Annotated[datetime | None, Depends(reference_time)]
Weeks = Annotated[int, Query(ge=1, le=26, description="Weeks of history, oldest first")]


async def _progress(
    state: StateDep, user_id: int, now: datetime | None, weeks: int
) -> ProgressResponse:
    found = await state.store.learners.progress(user_id, now=now, weeks=weeks)
    if found is None:
        raise ApiError(404, "unknown_learner", "no learner with this Telegram user id")
    return found


@router.get(
    "/learner/{telegram_user_id}/progress",
    response_model=ProgressResponse,
    responses=error_responses(401, 404, 422, 503),
    summary="Per sound: attempts, share said right, trend, mastery; streak and daily goal",
)
async def progress(
    state: StateDep, telegram_user_id: UserId, now: NowDep, weeks: Weeks = 4
) -> ProgressResponse:
    return await _progress(state, telegram_user_id, now, weeks)


@router.get(
    "/learner/{telegram_user_id}/progress.png",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "The /progress picture"},
        **error_responses(401, 404, 422, 503),
    },
    summary="The progress picture: accuracy per sound over the weeks, notes per day, streak",
)
async def progress_picture(
    state: StateDep,
    telegram_user_id: UserId,
    now: NowDep,
    weeks: Weeks = 4,
    language: Annotated[
        Language | None, Query(description="Labels' language; default: the learner's")
    ] = None,
) -> Response:
    found = await _progress(state, telegram_user_id, now, weeks)
    if language is None:
        settings = await state.store.learners.settings(telegram_user_id)
        language = settings.language if settings and settings.language else "en"
    # matplotlib costs a third of a second and ~25 MB: loaded with the first picture, not at start
    from phonicflow_backend.progress_chart import render_png

    png = await asyncio.to_thread(render_png, found, language)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})
