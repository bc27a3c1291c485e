"""A session's history and reply audio, its flagged words said right, and deleting one
session."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from phonicflow_backend.coaching import VoicePart
from phonicflow_backend.db.store import UnknownTurnError, parse_session_id
from phonicflow_backend.errors import ApiError, error_responses
from phonicflow_backend.state import StateDep, require_bot_key
from phonicflow_backend.tts import speak_script
from phonicflow_common.contract import AudioType, DeleteResponse, HistoryItem, HistoryResponse

router = APIRouter(dependencies=[Depends(require_bot_key)], tags=["conversations"])


@router.get(
    "/conversation/{session_id}",
    response_model=HistoryResponse,
    responses=error_responses(401, 404, 503),
    summary="A session's turns, oldest first",
)
async def conversation(state: StateDep, session_id: str) -> HistoryResponse:
    session = parse_session_id(session_id)
    turns = await state.store.history(session)
    return HistoryResponse(
        session_id=session,
        history=[
            HistoryItem(
                user=t.user_text,
                conversational=t.conversational,
                coaching=t.coaching,
                timestamp=t.created_at,
                turn_id=t.turn_id,
                score=t.score,
                target_text=t.target_text,
                coaching_portuguese=t.coaching_portuguese,
                conversational_portuguese=t.conversational_portuguese,
            )
            for t in turns
        ],
    )


@router.get(
    "/audio/{session_id}",
    response_class=Response,
    responses={
        200: {"content": {"audio/wav": {}}, "description": "WAV audio"},
        **error_responses(401, 404, 422, 503),
    },
    summary="The latest (or a given turn's) coaching or conversational audio",
)
async def audio(
    state: StateDep,
    session_id: str,
    audio_type: AudioType = "coaching",
    turn_id: Annotated[str | None, Query(description="An older turn's id")] = None,
) -> Response:
    wav = await state.store.audio(session_id, audio_type, turn_id)
    return Response(wav, media_type="audio/wav")


@router.get(
    "/audio/{session_id}/words",
    response_class=Response,
    responses={
        200: {"content": {"audio/wav": {}}, "description": "WAV audio"},
        **error_responses(401, 404, 503),
    },
    summary='"Hear it right": the words a turn flagged, said slowly and correctly',
)
async def words_said_right(
    state: StateDep,
    session_id: str,
    turn_id: Annotated[str, Query(description="The turn whose flagged words to say")],
) -> Response:
    """Each word the turn marked ⚠️ or ❌ (at most four, in the sentence's order), in the
    English voice, slowly, with a pause between: the model to copy after the feedback."""
    try:
        pronunciation = await state.store.turn_pronunciation(session_id, turn_id)
    except UnknownTurnError:
        raise ApiError(404, "unknown_turn", f"this session has no turn {turn_id!r}") from None
    words = pronunciation.words_to_hear() if pronunciation is not None else []
    if not words:
        raise ApiError(404, "nothing_to_hear", "this turn flagged no word")
    parts: list[VoicePart] = [(word, "en") for word in words]
    wav = await speak_script(state.require_tts(), parts, gap_seconds=0.8, slow=True)
    return Response(wav, media_type="audio/wav")


@router.delete(
    "/conversation/{session_id}",
    response_model=DeleteResponse,
    responses=error_responses(401, 404, 503),
    summary="Delete a session, its turns and its audio",
)
async def delete(state: StateDep, session_id: str) -> DeleteResponse:
    session = (await state.session(session_id)).session_id
    await state.store.delete_session(session)
    state.metrics.sessions_deleted.inc()
    return DeleteResponse(session_id=session, deleted=True)
