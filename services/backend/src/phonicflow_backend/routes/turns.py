"""``POST /process``: one learner turn (the use-case itself is :mod:`phonicflow_backend.turns`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Header, UploadFile
from fastapi.responses import JSONResponse

from phonicflow_backend.config import BackendSettings
from phonicflow_backend.errors import ApiError, error_responses
from phonicflow_backend.state import StateDep, clean_text, require_bot_key
from phonicflow_backend.turns import (
    IDEMPOTENCY_KEY_HEADER,
    MAX_KEY_LENGTH,
    REPLAYED_HEADER,
    parse_idempotency_key,
)
from phonicflow_common.contract import ProcessResponse

router = APIRouter(dependencies=[Depends(require_bot_key)], tags=["turns"])


async def _read_upload(file: UploadFile, settings: BackendSettings) -> bytes:
    data = await file.read()
    if len(data) > settings.max_audio_bytes:
        raise ApiError(
            413, "too_large", f"the audio is over MAX_AUDIO_SIZE_MB={settings.max_audio_size_mb:g}"
        )
    return data


@router.post(
    "/process",
    response_model=ProcessResponse,
    responses={
        **error_responses(400, 401, 404, 408, 413, 415, 422, 503),
        200: {
            "description": f"The turn; a repeat of an {IDEMPOTENCY_KEY_HEADER} gets the "
            f"stored answer with the header {REPLAYED_HEADER}: true"
        },
    },
    summary="Process one learner turn: a WAV voice note, or a typed text",
)
async def process(
    state: StateDep,
    session_id: Annotated[
        str,
        Header(
            alias="session_id",
            convert_underscores=False,
            description="A session from POST /bot/session",
        ),
    ],
    file: Annotated[
        UploadFile | None, File(description="WAV audio (16 kHz mono PCM16 preferred)")
    ] = None,
    text: Annotated[str | None, Form(description="A text-only turn (no audio)")] = None,
    target_text: Annotated[
        str | None, Form(description="Drill mode: the sentence the learner was asked to say")
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=IDEMPOTENCY_KEY_HEADER,
            description=f"Optional, 1-{MAX_KEY_LENGTH} printable ASCII characters: a repeat "
            "with the same key in the same session gets the first answer back instead of a "
            "second turn",
        ),
    ] = None,
) -> ProcessResponse | JSONResponse:
    settings = state.settings
    key = parse_idempotency_key(idempotency_key)
    session = await state.session(session_id)
    text = clean_text(text, "text", settings.max_text_chars)
    target = clean_text(target_text, "target_text", settings.max_text_chars)
    if file is None and text is None:
        raise ApiError(422, "invalid_request", "send a 'file' (WAV audio) or a 'text' field")
    if key is None:
        state.require_pipeline()  # a 503 before reading the upload
    # With a key the upload is read first: its bytes tell a repeat from a different request,
    # and a repeat is answered from the database even while the engines load.
    data = await _read_upload(file, settings) if file is not None else None
    answer, replayed = await state.turns.process(
        session.session_id, wav=data, text=text, target=target, key=key, language=session.language
    )
    if replayed:
        return JSONResponse(answer, headers={REPLAYED_HEADER: "true"})
    assert isinstance(answer, ProcessResponse)
    return answer
