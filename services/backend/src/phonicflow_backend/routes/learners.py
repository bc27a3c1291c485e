"""A learner (a Telegram user id) and everything that belongs to them."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from phonicflow_backend.db.store import NoAudioError, NoConsentError, UnknownTurnError
from phonicflow_backend.errors import ApiError, error_responses
from phonicflow_backend.localtime import InvalidTimeZoneError
from phonicflow_backend.state import StateDep, require_bot_key
from phonicflow_common.contract import (
    LabelCreated,
    LabelRequest,
    Learner,
    LearnerDeleted,
    LearnerExport,
    LearnerSession,
    LearnerSettings,
    LearnerSettingsUpdate,
    LearnerUpdate,
)

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
    summary="Erase the learner and every session, turn, audio, key, progress and reminder of theirs",
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


@router.patch(
    "/learner/{telegram_user_id}",
    response_model=Learner,
    responses=error_responses(401, 422, 503),
    summary="Change the learner's language or labelling consent (made if new)",
)
async def update_learner(state: StateDep, telegram_user_id: UserId, body: LearnerUpdate) -> Learner:
    return await state.store.update_learner(
        telegram_user_id, language=body.language, label_consent=body.label_consent
    )


@router.post(
    "/learner/{telegram_user_id}/labels",
    response_model=LabelCreated,
    status_code=201,
    responses=error_responses(401, 403, 404, 422, 503),
    summary="The learner says a word's verdict was wrong: keep the note as a labelled example",
)
async def add_label(state: StateDep, telegram_user_id: UserId, body: LabelRequest) -> LabelCreated:
    try:
        label_id = await state.store.add_label(
            telegram_user_id, body.turn_id, body.word_index, body.correction
        )
    except NoConsentError:
        raise ApiError(
            403, "consent_required", "the learner has not agreed that notes may be kept"
        ) from None
    except UnknownTurnError:
        raise ApiError(404, "unknown_turn", "no such turn or word of this learner") from None
    except NoAudioError:
        raise ApiError(
            404, "note_unavailable", "that note was not kept (no consent then) or has expired"
        ) from None
    return LabelCreated(label_id=label_id)


@router.get(
    "/learner/{telegram_user_id}/settings",
    response_model=LearnerSettings,
    responses=error_responses(401, 404, 422, 503),
    summary="The learner's daily goal, language, reminder time and zone, weekly summary",
)
async def get_settings(state: StateDep, telegram_user_id: UserId) -> LearnerSettings:
    found = await state.store.learners.settings(telegram_user_id)
    if found is None:
        raise ApiError(404, "unknown_learner", "no learner with this Telegram user id")
    return found


@router.patch(
    "/learner/{telegram_user_id}/settings",
    response_model=LearnerSettings,
    responses=error_responses(401, 422, 503),
    summary="Change some settings (only the fields sent); reminder_time null switches off",
)
async def update_settings(
    state: StateDep, telegram_user_id: UserId, body: LearnerSettingsUpdate
) -> LearnerSettings:
    try:
        return await state.store.learners.update_settings(telegram_user_id, body)
    except InvalidTimeZoneError as exc:
        raise ApiError(422, "invalid_time_zone", str(exc)) from None


@router.get(
    "/learner/{telegram_user_id}/export",
    response_model=LearnerExport,
    responses=error_responses(401, 404, 422, 503),
    summary="Everything stored about the learner, as one JSON document (/export)",
)
async def export(state: StateDep, telegram_user_id: UserId) -> LearnerExport:
    found = await state.store.learners.export(telegram_user_id)
    if found is None:
        raise ApiError(404, "unknown_learner", "nothing is stored about this learner")
    log.info("learner exported")  # no user id in the log, as for erasures
    return found
