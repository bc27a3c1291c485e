"""Drill sentences and their reference audio."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from phonicflow_backend import progress
from phonicflow_backend.errors import ApiError, error_responses
from phonicflow_backend.practice import (
    FOCUS_NAMES,
    UnknownFocusError,
    get_item,
    next_item,
    normalize_focus,
)
from phonicflow_backend.state import StateDep, require_bot_key
from phonicflow_common.contract import PracticeItem, PracticeReason

router = APIRouter(dependencies=[Depends(require_bot_key)], tags=["practice"])


@router.get(
    "/practice/next",
    response_model=PracticeItem,
    responses=error_responses(401, 422),
    summary="A drill sentence: for one focus sound, or a learner's weakest sound",
)
async def practice_next(
    state: StateDep,
    focus: Annotated[
        str | None,
        Query(
            description="A sound family, or an error slug that maps to one",
            json_schema_extra={"enum": list(FOCUS_NAMES)},
        ),
    ] = None,
    exclude: Annotated[str | None, Query(description="A drill id not to repeat")] = None,
    telegram_user_id: Annotated[
        int | None,
        Query(
            gt=0,
            le=2**53,
            description="Adapt to this learner: without a focus their weakest sound that is "
            "not mastered yet; and a sentence they did not drill recently",
        ),
    ] = None,
) -> PracticeItem:
    if focus is not None and not focus.strip():
        raise ApiError(422, "unknown_focus", "focus is empty; leave it out for any sound")
    try:
        family = normalize_focus(focus)
    except UnknownFocusError as exc:
        raise ApiError(422, "unknown_focus", str(exc)) from None
    if telegram_user_id is None:
        return PracticeItem(**vars(next_item(family, exclude)))
    reason: PracticeReason = "requested"
    if family is None:
        family, reason = progress.weakest(await state.store.learners.sound_states(telegram_user_id))
    recent = await state.store.learners.recent_drills(telegram_user_id)
    item = progress.pick_item(family, recent, exclude=exclude)
    return PracticeItem(**vars(item), reason=reason)


@router.get(
    "/practice/{item_id}/audio",
    response_class=Response,
    responses={
        200: {"content": {"audio/wav": {}}, "description": "Reference WAV"},
        **error_responses(401, 404, 503),
    },
    summary="The reference pronunciation of a drill sentence",
)
async def practice_audio(state: StateDep, item_id: str) -> Response:
    item = get_item(item_id)
    if item is None:
        raise ApiError(404, "unknown_practice_item", f"no practice item {item_id!r}")
    cached = state.practice_audio.get(item.id)
    if cached is None:
        cached = await state.require_tts().speak(item.text, "en")
        state.practice_audio[item.id] = cached
    return Response(cached, media_type="audio/wav")
