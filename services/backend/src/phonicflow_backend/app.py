"""The FastAPI application: ``create_app(settings)`` builds it, routes in docs/backend-api.md.

Usage::

    from phonicflow_backend.app import create_app
    app = create_app(load_settings(BackendSettings))
    uvicorn.run(app, host=..., port=...)

Start-up returns at once and the engines load in a background thread: ``/healthz`` answers
from the first moment, ``/readyz`` and ``/process`` answer 503 until the engines are loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import time
import unicodedata
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from phonicflow_backend import __version__
from phonicflow_backend.audio import AudioError, AudioTooLongError, decode_wav
from phonicflow_backend.config import BackendSettings
from phonicflow_backend.errors import ApiError, error_body, error_responses, install_error_handlers
from phonicflow_backend.idempotency import (
    IDEMPOTENCY_KEY_HEADER,
    MAX_KEY_LENGTH,
    REPLAYED_HEADER,
    InFlight,
    KeyReusedError,
    parse_idempotency_key,
    request_fingerprint,
)
from phonicflow_backend.metrics import Metrics
from phonicflow_backend.pipeline import Engines, Pipeline, TurnResult
from phonicflow_backend.practice import UnknownFocusError, get_item, next_item
from phonicflow_backend.storage import (
    AUDIO_TYPES,
    AudioType,
    KeyedOutcome,
    NoAudioError,
    Storage,
    StoredKey,
    TurnRecord,
    UnknownSessionError,
    now_iso,
    parse_session_id,
)
from phonicflow_backend.tts import TtsError
from phonicflow_common.contract import (
    AcceptedResponse,
    AudioAvailable,
    BotMetricRequest,
    CreateSessionRequest,
    CreateSessionResponse,
    DeleteResponse,
    HealthResponse,
    HistoryItem,
    HistoryResponse,
    PracticeItem,
    ProcessResponse,
    Pronunciation,
    StatusResponse,
    WordResult,
)
from phonicflow_common.runtime import freeze_startup_heap

log = logging.getLogger(__name__)

#: Room for the multipart framing and the text fields on top of the audio itself.
MULTIPART_OVERHEAD_BYTES = 256 * 1024
#: Any non-upload body (JSON) is tiny; this bounds what a bad client can make us buffer.
MAX_JSON_BODY_BYTES = 64 * 1024
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class AppState:
    settings: BackendSettings
    storage: Storage
    metrics: Metrics
    started: float = field(default_factory=time.monotonic)
    pipeline: Pipeline | None = None
    load_error: str | None = None
    practice_audio: dict[str, bytes] = field(default_factory=dict)
    in_flight: InFlight = field(default_factory=InFlight)


class BodyLimitMiddleware:
    """413 before reading a body whose Content-Length is over the limit, and while reading one
    that turns out bigger than it said (or has no length at all)."""

    def __init__(self, app: ASGIApp, *, upload_limit: int, default_limit: int) -> None:
        self.app = app
        self.upload_limit = upload_limit
        self.default_limit = default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "DELETE", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        is_upload = scope["path"] == "/process"
        limit = self.upload_limit if is_upload else self.default_limit
        too_large = ApiError(
            413,
            "too_large",
            f"the request body is over the {limit // (1024 * 1024) or 1} MB limit"
            + (" (MAX_AUDIO_SIZE_MB)" if is_upload else ""),
        )
        for name, value in scope["headers"]:
            if name == b"content-length":
                with contextlib.suppress(ValueError):
                    if int(value) > limit:
                        response = JSONResponse(
                            error_body(str(too_large.detail), too_large.code), 413,
                            headers={"Connection": "close"},
                        )  # fmt: skip
                        await response(scope, receive, send)
                        return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise too_large
            return message

        await self.app(scope, counting_receive, send)


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            # the route template, not the path: session ids would explode the label set
            label = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(scope["method"], label, str(status)).inc()
            self.metrics.request_seconds.labels(scope["method"], label).observe(
                time.perf_counter() - start
            )


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
    expected = state.settings.bot_private_key
    if expected is None:
        return
    given = (x_bot_key or "").encode()
    if not hmac.compare_digest(given, expected.get_secret_value().encode()):
        raise ApiError(401, "unauthorized", "missing or wrong X-Bot-Key header")


def _pipeline(state: AppState) -> Pipeline:
    if state.pipeline is None:
        reason = state.load_error or "the speech engines are still loading"
        raise ApiError(503, "not_ready", f"not ready: {reason}")
    return state.pipeline


def _clean_text(value: str | None, field_name: str, limit: int) -> str | None:
    if value is None:
        return None
    text = _CONTROL_CHARS.sub(" ", unicodedata.normalize("NFC", value)).strip()
    if not text:
        return None
    if len(text) > limit:
        raise ApiError(422, "text_too_long", f"'{field_name}' is over {limit} characters")
    return text


def _session(state: AppState, session_id: str) -> str:
    try:
        canonical = parse_session_id(session_id)
        state.storage.get_session(canonical)
    except UnknownSessionError:
        raise ApiError(
            404, "unknown_session", "unknown session_id; create one with POST /bot/session"
        ) from None
    return canonical


def _audio_url(session_id: str, kind: str, turn_id: str) -> str:
    return f"/audio/{session_id}?audio_type={kind}&turn_id={turn_id}"


def _response(session_id: str, turn_id: str, result: TurnResult) -> ProcessResponse:
    assessment = result.assessment
    pronunciation = None
    if assessment is not None:
        pronunciation = Pronunciation(
            overall_score=assessment.overall_score,
            words=[
                WordResult(
                    expected=w.expected,
                    heard=w.heard,
                    score=w.score,
                    error=w.error,
                    error_type=w.error_type,
                    expected_phones=w.expected_phones,
                    heard_phones=w.heard_phones,
                    start=w.start,
                    end=w.end,
                    tip_en=w.tip_en,
                    tip_pt=w.tip_pt,
                )
                for w in assessment.words
            ],
        )
    has_coaching = result.coaching_audio is not None
    has_reply = result.conversational_audio is not None
    return ProcessResponse(
        session_id=session_id,
        turn_id=turn_id,
        user_transcript=result.transcript,
        coaching_feedback=result.coaching.en,
        coaching_feedback_portuguese=result.coaching.pt,
        conversational_response=result.reply.en,
        conversational_response_portuguese=result.reply.pt,
        coaching_audio_path=_audio_url(session_id, "coaching", turn_id) if has_coaching else None,
        conversational_audio_path=(
            _audio_url(session_id, "conversational", turn_id) if has_reply else None
        ),
        target_text=result.target_text,
        pronunciation=pronunciation,
        audio_available=AudioAvailable(coaching=has_coaching, conversational=has_reply),
        degraded=result.degraded,
        timings_ms=result.timings_ms,
    )


async def _read_upload(file: UploadFile, settings: BackendSettings) -> bytes:
    data = await file.read()
    if len(data) > settings.max_audio_bytes:
        raise ApiError(
            413, "too_large",
            f"the audio is over MAX_AUDIO_SIZE_MB={settings.max_audio_size_mb:g}",
        )  # fmt: skip
    return data


async def _run_turn(
    state: AppState,
    session: str,
    data: bytes | None,
    text: str | None,
    target: str | None,
    *,
    key: tuple[str, str] | None = None,
) -> ProcessResponse:
    """Decode, run the pipeline, store the turn (with its key and answer when ``key`` =
    (key, fingerprint) is given) and return the answer."""
    settings = state.settings
    pipeline = _pipeline(state)
    if data is not None:
        try:
            pcm = await asyncio.to_thread(decode_wav, data, max_seconds=settings.max_audio_seconds)
        except AudioTooLongError as exc:
            raise ApiError(413, "audio_too_long", str(exc)) from None
        except AudioError as exc:
            code = "empty_audio" if not data else "not_audio"
            raise ApiError(415, code, str(exc)) from None
        result = await pipeline.run_audio(pcm, target)
    else:
        assert text is not None
        result = await pipeline.run_text(text)
    turn_id = str(uuid.uuid4())
    record = TurnRecord(
        turn_id=turn_id, timestamp=now_iso(), user=result.transcript,
        conversational=result.reply.en, coaching=result.coaching.en,
        coaching_portuguese=result.coaching.pt,
        conversational_portuguese=result.reply.pt,
        score=result.assessment.overall_score if result.assessment else None,
        target_text=result.target_text,
    )  # fmt: skip
    audio: dict[AudioType, bytes] = {}
    if result.coaching_audio is not None:
        audio["coaching"] = result.coaching_audio
    if result.conversational_audio is not None:
        audio["conversational"] = result.conversational_audio
    answer = _response(session, turn_id, result)
    keyed = KeyedOutcome(key[0], key[1], answer.model_dump(mode="json")) if key else None
    try:
        async with state.storage.session_lock(session):
            await asyncio.to_thread(state.storage.add_turn, session, record, audio, key=keyed)
    except UnknownSessionError:
        raise ApiError(404, "unknown_session", "the session was deleted meanwhile") from None
    log.info(
        "turn processed",
        extra={"session_id": session, "turn_id": turn_id, "degraded": ",".join(result.degraded),
               "total_ms": result.timings_ms.get("total", 0)},
    )  # fmt: skip
    return answer


def _replayed_body(storage: Storage, session: str, stored: StoredKey) -> dict[str, Any]:
    """The stored answer; an audio URL whose file retention has removed since turns null."""
    body = dict(stored.response)
    available = dict(body.get("audio_available") or {})
    for kind in AUDIO_TYPES:
        try:
            storage.audio_path(session, kind, stored.turn_id)
        except (NoAudioError, UnknownSessionError):
            body[f"{kind}_audio_path"] = None
            available[kind] = False
    body["audio_available"] = available
    return body


def _build_router() -> APIRouter:
    api = APIRouter(dependencies=[Depends(require_bot_key)])

    @api.post(
        "/process",
        response_model=ProcessResponse,
        responses={
            **error_responses(400, 401, 404, 413, 415, 422, 503),
            200: {
                "description": f"The turn; a repeat of an {IDEMPOTENCY_KEY_HEADER} gets the "
                f"stored answer with the header {REPLAYED_HEADER}: true"
            },
        },
        summary="Process one learner turn: a WAV voice note, or a typed text",
    )
    async def process(
        state: StateDep,
        session_id: Annotated[str, Header(alias="session_id", convert_underscores=False,
                                          description="A session from POST /bot/session")],
        file: Annotated[UploadFile | None, File(description="WAV audio (16 kHz mono PCM16 preferred)")] = None,
        text: Annotated[str | None, Form(description="A text-only turn (no audio)")] = None,
        target_text: Annotated[str | None, Form(description="Drill mode: the sentence the learner was asked to say")] = None,
        idempotency_key: Annotated[str | None, Header(
            alias=IDEMPOTENCY_KEY_HEADER,
            description=f"Optional, 1-{MAX_KEY_LENGTH} printable ASCII characters: a repeat "
                        "with the same key in the same session gets the first answer back "
                        "instead of a second turn",
        )] = None,
    ) -> ProcessResponse | JSONResponse:  # fmt: skip
        settings = state.settings
        key = parse_idempotency_key(idempotency_key)
        session = _session(state, session_id)
        text = _clean_text(text, "text", settings.max_text_chars)
        target = _clean_text(target_text, "target_text", settings.max_text_chars)
        if file is None and text is None:
            raise ApiError(422, "invalid_request", "send a 'file' (WAV audio) or a 'text' field")
        if key is None:
            _pipeline(state)  # a 503 before reading the upload, as without a key
            data = await _read_upload(file, settings) if file is not None else None
            return await _run_turn(state, session, data, text, target)
        # With a key the upload is read first: its bytes tell a repeat from a different
        # request, and a repeat is answered from storage even while the engines load.
        data = await _read_upload(file, settings) if file is not None else None
        fingerprint = request_fingerprint(data, text, target)
        try:
            stored = await state.in_flight.claim(state.storage, session, key, fingerprint)
        except KeyReusedError:
            state.metrics.idempotent_requests.labels("conflict").inc()
            raise ApiError(
                422, "idempotency_key_reused",
                f"this {IDEMPOTENCY_KEY_HEADER} was already used in this session for a "
                "request with a different body",
            ) from None  # fmt: skip
        if stored is not None:
            state.metrics.idempotent_requests.labels("replayed").inc()
            log.info("turn replayed", extra={"session_id": session, "turn_id": stored.turn_id})
            return JSONResponse(
                _replayed_body(state.storage, session, stored), headers={REPLAYED_HEADER: "true"}
            )
        try:
            result = await _run_turn(state, session, data, text, target, key=(key, fingerprint))
        finally:
            state.in_flight.release(session, key)
        state.metrics.idempotent_requests.labels("processed").inc()
        return result

    @api.get(
        "/conversation/{session_id}",
        response_model=HistoryResponse,
        responses=error_responses(401, 404),
        summary="A session's turns, oldest first",
    )
    async def conversation(state: StateDep, session_id: str) -> HistoryResponse:
        session = _session(state, session_id)
        turns = await asyncio.to_thread(state.storage.history, session)
        return HistoryResponse(
            session_id=session,
            history=[
                HistoryItem(
                    user=t.user,
                    conversational=t.conversational,
                    coaching=t.coaching,
                    timestamp=t.timestamp,
                    turn_id=t.turn_id,
                    score=t.score,
                    target_text=t.target_text,
                    coaching_portuguese=t.coaching_portuguese,
                    conversational_portuguese=t.conversational_portuguese,
                )
                for t in turns
            ],
        )

    @api.get(
        "/audio/{session_id}",
        response_class=Response,
        responses={200: {"content": {"audio/wav": {}}, "description": "WAV audio"},
                   **error_responses(401, 404, 422)},
        summary="The latest (or a given turn's) coaching or conversational audio",
    )  # fmt: skip
    async def audio(
        state: StateDep,
        session_id: str,
        audio_type: Literal["coaching", "conversational"] = "coaching",
        turn_id: Annotated[str | None, Query(description="An older turn's id")] = None,
    ) -> Response:
        session = _session(state, session_id)
        try:
            path = state.storage.audio_path(session, audio_type, turn_id)
            data = await asyncio.to_thread(path.read_bytes)
        except (NoAudioError, FileNotFoundError):
            raise ApiError(404, "no_audio", f"no {audio_type} audio for that turn") from None
        return Response(data, media_type="audio/wav")

    @api.delete(
        "/conversation/{session_id}",
        response_model=DeleteResponse,
        responses=error_responses(401, 404),
        summary="Delete a session, its turns and its audio",
    )
    async def delete(state: StateDep, session_id: str) -> DeleteResponse:
        session = _session(state, session_id)
        try:
            async with state.storage.session_lock(session):
                await asyncio.to_thread(state.storage.delete_session, session)
        except UnknownSessionError:
            raise ApiError(404, "unknown_session", "unknown session_id") from None
        state.metrics.sessions_deleted.inc()
        log.info("session deleted", extra={"session_id": session})
        return DeleteResponse(session_id=session, deleted=True)

    @api.post(
        "/bot/session",
        response_model=CreateSessionResponse,
        status_code=201,
        responses=error_responses(401, 422),
        summary="Create a session",
    )
    async def create_session(
        state: StateDep, body: CreateSessionRequest | None = None
    ) -> CreateSessionResponse:
        body = body or CreateSessionRequest()
        info = await asyncio.to_thread(
            state.storage.create_session,
            telegram_user_id=body.telegram_user_id,
            language=body.language,
        )
        state.metrics.sessions_created.inc()
        return CreateSessionResponse(session_id=info.session_id, created_at=info.created_at)

    @api.get("/bot/status", response_model=StatusResponse, responses=error_responses(401))
    async def status(state: StateDep) -> StatusResponse:
        engines = state.pipeline.engines.describe() if state.pipeline else {}
        return StatusResponse(
            status="ok" if state.pipeline else ("error" if state.load_error else "loading"),
            version=__version__,
            engines=engines,
            uptime_seconds=round(time.monotonic() - state.started, 3),
        )

    @api.post(
        "/bot/metrics",
        response_model=AcceptedResponse,
        status_code=202,
        responses=error_responses(401, 422),
        summary="Count an event the bot observed (exported on /metrics)",
    )
    async def bot_metrics(state: StateDep, body: BotMetricRequest) -> AcceptedResponse:
        state.metrics.bot_events.labels(body.event).inc(body.value)
        return AcceptedResponse()

    @api.get(
        "/practice/next",
        response_model=PracticeItem,
        responses=error_responses(401, 422),
        summary="A drill sentence, optionally for one focus sound or error slug",
    )
    async def practice_next(focus: str | None = None, exclude: str | None = None) -> PracticeItem:
        try:
            item = next_item(focus, exclude)
        except UnknownFocusError as exc:
            raise ApiError(422, "unknown_focus", str(exc)) from None
        return PracticeItem(**vars(item))

    @api.get(
        "/practice/{item_id}/audio",
        response_class=Response,
        responses={200: {"content": {"audio/wav": {}}, "description": "Reference WAV"},
                   **error_responses(401, 404, 503)},
        summary="The reference pronunciation of a drill sentence",
    )  # fmt: skip
    async def practice_audio(state: StateDep, item_id: str) -> Response:
        item = get_item(item_id)
        if item is None:
            raise ApiError(404, "unknown_practice_item", f"no practice item {item_id!r}")
        cached = state.practice_audio.get(item.id)
        if cached is None:
            tts = _pipeline(state).engines.tts
            if tts is None:
                raise ApiError(503, "tts_unavailable", "text to speech is switched off")
            try:
                cached = await tts.speak(item.text, "en")
            except TtsError as exc:
                raise ApiError(503, "tts_unavailable", f"text to speech failed: {exc}") from None
            state.practice_audio[item.id] = cached
        return Response(cached, media_type="audio/wav")

    return api


def _build_health_router() -> APIRouter:
    health = APIRouter(tags=["health"])

    @health.get("/healthz", response_model=HealthResponse)
    async def healthz() -> HealthResponse:
        return HealthResponse(status="ok")

    @health.get(
        "/readyz",
        response_model=HealthResponse,
        responses={503: {"model": HealthResponse, "description": "Not ready"}},
    )
    async def readyz(state: StateDep) -> Response:
        checks = {"engines": "ok" if state.pipeline else (state.load_error or "loading")}
        try:
            await asyncio.to_thread(state.storage.ensure_writable)
            checks["storage"] = "ok"
        except OSError as exc:
            checks["storage"] = f"not writable: {exc.strerror or exc}"
        ready = all(value == "ok" for value in checks.values())
        body: dict[str, Any] = {"status": "ok" if ready else "not_ready", "checks": checks}
        if not ready:
            body.update(error_body("not ready: " + ", ".join(f"{k}: {v}" for k, v in checks.items() if v != "ok"), "not_ready"))  # fmt: skip
        return JSONResponse(body, status_code=200 if ready else 503)

    @health.get("/metrics", response_class=Response,
                responses={200: {"content": {"text/plain": {}}}})  # fmt: skip
    async def metrics(state: StateDep) -> Response:
        state.metrics.sessions.set(await asyncio.to_thread(state.storage.count_sessions))
        return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")

    return health


def create_app(
    settings: BackendSettings,
    *,
    load_engines: Callable[[BackendSettings], Engines] = Engines.load,
) -> FastAPI:
    """The application; engines are loaded by ``load_engines`` in a thread after start-up."""
    metrics = Metrics()
    storage = Storage(
        settings.storage_dir,
        max_turns=settings.session_max_turns,
        max_audio_turns=settings.session_max_audio_turns,
    )
    state = AppState(settings=settings, storage=storage, metrics=metrics)

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

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        storage.ensure_writable()
        task = asyncio.create_task(load())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if state.pipeline and state.pipeline.engines.llm:
            await state.pipeline.engines.llm.aclose()

    app = FastAPI(
        title="PhonicFlow backend",
        version=__version__,
        description="Speech to text, pronunciation scoring, coaching and speech for the "
        "PhonicFlow Telegram bot. Contract: docs/backend-api.md.",
        lifespan=lifespan,
    )
    app.state.backend = state
    install_error_handlers(app)
    app.include_router(_build_health_router())
    app.include_router(_build_router())
    app.add_middleware(
        BodyLimitMiddleware,
        upload_limit=settings.max_audio_bytes + MULTIPART_OVERHEAD_BYTES,
        default_limit=MAX_JSON_BODY_BYTES,
    )
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    return app


__all__ = ["create_app"]
