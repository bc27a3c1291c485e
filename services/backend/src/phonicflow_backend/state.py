"""What every route needs: the app's state (settings, store, engines, metrics) and the bot key.

Usage inside a route::

    async def route(state: StateDep) -> ...:
        await state.store.history(session_id)
"""

from __future__ import annotations

import hmac
import re
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from phonicflow_backend.config import BackendSettings
from phonicflow_backend.db.store import SessionInfo, Store, parse_session_id
from phonicflow_backend.errors import ApiError
from phonicflow_backend.metrics import Metrics
from phonicflow_backend.pipeline import Pipeline
from phonicflow_backend.tts import TextToSpeech
from phonicflow_backend.turns import Turns

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class AppState:
    settings: BackendSettings
    store: Store
    metrics: Metrics
    turns: Turns
    started: float = field(default_factory=time.monotonic)
    pipeline: Pipeline | None = None
    load_error: str | None = None
    #: Set once the migrations ran (or were left to a Job): before it the API answers 503.
    database_ready: bool = False
    practice_audio: dict[str, bytes] = field(default_factory=dict)

    def not_ready_reason(self) -> str:
        return self.load_error or "the speech engines are still loading"

    def require_pipeline(self) -> Pipeline:
        if self.pipeline is None:
            raise ApiError(503, "not_ready", f"not ready: {self.not_ready_reason()}")
        return self.pipeline

    def require_tts(self) -> TextToSpeech:
        """The TTS engine (a 503 when it is switched off; a failing one raises TtsError, which
        the error handlers answer 503 ``tts_unavailable``)."""
        tts = self.require_pipeline().engines.tts
        if tts is None:
            raise ApiError(503, "tts_unavailable", "text to speech is switched off")
        return tts

    async def session(self, session_id: str) -> SessionInfo:
        """An existing session, by its canonical id (UnknownSessionError → 404 otherwise)."""
        return await self.store.get_session(parse_session_id(session_id))


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.backend
    return state


StateDep = Annotated[AppState, Depends(_state)]

_bot_key_header = APIKeyHeader(
    name="X-Bot-Key",
    auto_error=False,  # so that a missing key gets our JSON 401, not FastAPI's 403
    description="The shared BOT_PRIVATE_KEY; required only when the backend has one set.",
)


def require_bot_key(
    state: StateDep, x_bot_key: Annotated[str | None, Depends(_bot_key_header)] = None
) -> None:
    """Every API route's gate: the bot's key (when one is set), then a migrated database."""
    expected = state.settings.bot_private_key
    if expected is not None:
        given = (x_bot_key or "").encode()
        if not hmac.compare_digest(given, expected.get_secret_value().encode()):
            raise ApiError(401, "unauthorized", "missing or wrong X-Bot-Key header")
    if not state.database_ready:
        raise ApiError(503, "not_ready", "not ready: the database is being prepared")


def clean_text(value: str | None, field_name: str, limit: int) -> str | None:
    """NFC, control characters removed, stripped; None when empty; 422 when over ``limit``."""
    if value is None:
        return None
    text = _CONTROL_CHARS.sub(" ", unicodedata.normalize("NFC", value)).strip()
    if not text:
        return None
    if len(text) > limit:
        raise ApiError(422, "text_too_long", f"'{field_name}' is over {limit} characters")
    return text
