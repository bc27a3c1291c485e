"""A learner (a Telegram user id) and everything that belongs to them."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from phonicflow_backend.errors import ApiError, error_responses
from phonicflow_backend.state import StateDep, require_bot_key
from phonicflow_common.contract import LearnerDeleted, LearnerSession

log = logging.getLogger(__name__)
router = APIRouter(dependencies=[Depends(require_bot_key)], tags=["learners"])

UserId = Annotated[int, Path(gt=0, le=2**53, description="The learner's Telegram user id")]


@router.get(
    "/learner/{telegram_user_id}/session",
    response_model=LearnerSession,
    responses=error_responses(401, 404, 422, 503),
    summary="The learner's most recently active session (for a bot that lost its memory)",
)
async def current_session(state: StateDep, telegram_user_id: UserId) -> LearnerSession:
    found = await state.store.learner_session(telegram_user_id)
    if found is None:
        raise ApiError(404, "unknown_learner", "no session is stored for this learner")
    return found


@router.delete(
    "/learner/{telegram_user_id}",
    response_model=LearnerDeleted,
    responses=error_responses(401, 422, 503),
    summary="Erase the learner and every session, turn, audio and key of theirs",
)
async def delete_learner(state: StateDep, telegram_user_id: UserId) -> LearnerDeleted:
    erased = await state.store.delete_learner(telegram_user_id)
    state.metrics.sessions_deleted.inc(erased.sessions)
    # No user id in the log: the record of an erasure must not itself identify the learner.
    log.info(
        "learner erased",
        extra={"sessions": erased.sessions, "turns": erased.turns, "audio": erased.audio},
    )
    return erased
