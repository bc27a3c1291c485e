"""One learner turn, end to end: decode → pipeline → answer → store; idempotent across replicas.

This is the use-case behind ``POST /process``, free of HTTP: the route parses the request and
hands over bytes and strings; failures are :class:`TurnRejected` (status, code, sentence),
which the HTTP layer turns into the JSON error.

Usage::

    turns = Turns(store, settings, metrics, pipeline=lambda: state.pipeline)
    answer, replayed = await turns.process(session_id, wav=data, text=None, target=None,
                                           key="tg-42-1001")

Idempotency (header ``Idempotency-Key``): the first request with a key claims it in the
database (``idempotency_keys``, unique per session and key) and keeps the claim alive with a
heartbeat while it works; its answer is stored with the turn in the same transaction. A repeat
— on this replica or another — that finds the answer replays it; one that finds a live claim
waits for it (up to ``IDEMPOTENCY_WAIT_S``, then a retryable 503 ``in_progress``); one that
finds a claim whose heartbeat stopped (its process died) takes it over. A first attempt that
failed gives the key up, so its repeat is processed afresh. The same key with a different body
is refused (422 ``idempotency_key_reused``). Never a second turn for one key.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential

from phonicflow_backend.audio import AudioError, AudioTooLongError, decode_wav
from phonicflow_backend.config import BackendSettings
from phonicflow_backend.db.store import (
    Busy,
    KeyClaim,
    KeyReusedError,
    NewTurn,
    Replay,
    Store,
    UnknownSessionError,
    is_unavailable,
)
from phonicflow_backend.metrics import Metrics
from phonicflow_backend.pipeline import Pipeline, TurnResult
from phonicflow_backend.progress import sounds_of
from phonicflow_common.contract import (
    AudioAvailable,
    AudioType,
    Language,
    NoteProgress,
    ProcessResponse,
    Pronunciation,
    WordResult,
)

log = logging.getLogger(__name__)

#: Header names, as the IETF httpapi draft "The Idempotency-Key HTTP Header Field" spells them.
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
#: Longest key accepted; a UUID is 36, the bot's ``tg-<chat>-<message>`` about 30.
MAX_KEY_LENGTH = 255
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]+")
#: How long storing a finished turn keeps retrying while the database is unreachable: the
#: answer took seconds of CPU, and a database restart takes about as long.
STORE_RETRY_S = 15.0
#: How often a repeat looks again while another process makes the key's turn.
POLL_S = 0.1
POLL_MAX_S = 1.0


class TurnRejected(Exception):
    """The request cannot be a turn; ``status``/``code``/``detail`` say why (docs/backend-api.md)."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def parse_idempotency_key(value: str | None) -> str | None:
    """The key from the header's value, None when absent; :class:`TurnRejected` (400) when
    malformed. The draft's Structured-Field string form (``"abc"``) is unwrapped."""
    if value is None:
        return None
    key = value.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not key or len(key) > MAX_KEY_LENGTH or not _PRINTABLE_ASCII.fullmatch(key):
        raise TurnRejected(
            400,
            "invalid_idempotency_key",
            f"the {IDEMPOTENCY_KEY_HEADER} header must be 1 to {MAX_KEY_LENGTH} printable "
            "ASCII characters",
        )
    return key


def request_fingerprint(wav: bytes | None, text: str | None, target_text: str | None) -> str:
    """What makes two requests "the same": the audio's bytes and the (cleaned) text fields."""
    parts = {
        "file": hashlib.sha256(wav).hexdigest() if wav is not None else None,
        "text": text,
        "target_text": target_text,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def audio_url(session_id: str, kind: AudioType, turn_id: str) -> str:
    return f"/audio/{session_id}?audio_type={kind}&turn_id={turn_id}"


def build_response(session_id: str, turn_id: str, result: TurnResult) -> ProcessResponse:
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
                    scored=w.scored,
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
        coaching_audio_path=audio_url(session_id, "coaching", turn_id) if has_coaching else None,
        conversational_audio_path=(
            audio_url(session_id, "conversational", turn_id) if has_reply else None
        ),
        target_text=result.target_text,
        pronunciation=pronunciation,
        audio_available=AudioAvailable(coaching=has_coaching, conversational=has_reply),
        degraded=result.degraded,
        timings_ms=result.timings_ms,
        drill_match=result.drill_match,
    )


class Turns:
    def __init__(
        self,
        store: Store,
        settings: BackendSettings,
        metrics: Metrics,
        pipeline: Callable[[], Pipeline | None],
        not_ready: Callable[[], str],
    ) -> None:
        self.store = store
        self.settings = settings
        self.metrics = metrics
        self._pipeline = pipeline
        self._not_ready = not_ready
        #: Names this process's claims; a restarted process is a new owner.
        self.owner = f"{uuid.uuid4().hex[:12]}"

    def pipeline(self) -> Pipeline:
        found = self._pipeline()
        if found is None:
            raise TurnRejected(503, "not_ready", f"not ready: {self._not_ready()}")
        return found

    async def process(
        self,
        session_id: str,
        *,
        wav: bytes | None,
        text: str | None,
        target: str | None,
        key: str | None,
        language: Language | None = None,
    ) -> tuple[dict[str, Any] | ProcessResponse, bool]:
        """The answer and whether it was replayed from an earlier request with ``key``; the
        coaching voice speaks ``language``."""
        if key is None:
            return await self._make(session_id, wav, text, target, None, language)
        fingerprint = request_fingerprint(wav, text, target)
        claim = await self._claim(session_id, key, fingerprint)
        if isinstance(claim, Replay):
            self.metrics.idempotent_requests.labels("replayed").inc()
            log.info("turn replayed", extra={"session_id": session_id, "turn_id": claim.turn_id})
            return claim.response, True
        try:
            async with self._heartbeat(claim):
                answer, replayed = await self._make(session_id, wav, text, target, claim, language)
        except BaseException:
            with contextlib.suppress(Exception):
                await self.store.release_key(claim)
            raise
        self.metrics.idempotent_requests.labels("replayed" if replayed else "processed").inc()
        return answer, replayed

    async def _claim(self, session_id: str, key: str, fingerprint: str) -> KeyClaim | Replay:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.idempotency_wait_s
        pause = POLL_S
        while True:
            try:
                outcome = await self.store.claim_key(
                    session_id,
                    key,
                    fingerprint,
                    self.owner,
                    stale_after=self.settings.idempotency_stale_s,
                )
            except KeyReusedError:
                self.metrics.idempotent_requests.labels("conflict").inc()
                raise TurnRejected(
                    422,
                    "idempotency_key_reused",
                    f"this {IDEMPOTENCY_KEY_HEADER} was already used in this session for a "
                    "request with a different body",
                ) from None
            if not isinstance(outcome, Busy):
                return outcome
            if loop.time() >= deadline:
                raise TurnRejected(
                    503,
                    "in_progress",
                    "a request with this Idempotency-Key is still being processed; try again",
                )
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, POLL_MAX_S)

    @contextlib.asynccontextmanager
    async def _heartbeat(self, claim: KeyClaim) -> AsyncIterator[None]:
        """Refresh the claim while the turn is made, so other replicas see a live owner."""
        interval = self.settings.idempotency_stale_s / 3

        async def beat() -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.store.heartbeat(claim)
                except Exception as exc:  # the database blinked: the next beat may get through
                    log.warning("idempotency heartbeat failed", extra={"error": repr(exc)})

        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _make(
        self,
        session_id: str,
        data: bytes | None,
        text: str | None,
        target: str | None,
        claim: KeyClaim | None,
        language: Language | None,
    ) -> tuple[dict[str, Any] | ProcessResponse, bool]:
        pipeline = self.pipeline()
        if data is not None:
            try:
                pcm = await asyncio.to_thread(
                    decode_wav, data, max_seconds=self.settings.max_audio_seconds
                )
            except AudioTooLongError as exc:
                raise TurnRejected(413, "audio_too_long", str(exc)) from None
            except AudioError as exc:
                raise TurnRejected(
                    415, "empty_audio" if not data else "not_audio", str(exc)
                ) from None
            result = await pipeline.run_audio(pcm, target, language)
        else:
            assert text is not None
            result = await pipeline.run_text(text, language)
        turn_id = str(uuid.uuid4())
        answer = build_response(session_id, turn_id, result)
        audio: dict[AudioType, bytes] = {}
        if result.coaching_audio is not None:
            audio["coaching"] = result.coaching_audio
        if result.conversational_audio is not None:
            audio["conversational"] = result.conversational_audio
        turn = NewTurn(
            turn_id=turn_id,
            user_text=result.transcript,
            conversational=result.reply.en,
            coaching=result.coaching.en,
            coaching_portuguese=result.coaching.pt,
            conversational_portuguese=result.reply.pt,
            score=result.assessment.overall_score if result.assessment else None,
            target_text=result.target_text,
            pronunciation=answer.pronunciation.model_dump(mode="json")
            if answer.pronunciation
            else None,
            sounds=sounds_of(answer.pronunciation, result.target_text)
            if data is not None
            else None,
        )
        stored = await self._store(session_id, turn, audio, claim, answer, note=data)
        if isinstance(stored, Replay):
            log.info(
                "turn made twice; the first one stored is the answer",
                extra={"session_id": session_id, "turn_id": stored.turn_id},
            )
            return stored.response, True
        answer.progress = stored
        log.info(
            "turn processed",
            extra={
                "session_id": session_id,
                "turn_id": turn_id,
                "degraded": ",".join(result.degraded),
                "total_ms": result.timings_ms.get("total", 0),
            },
        )
        return answer, False

    async def _store(
        self,
        session_id: str,
        turn: NewTurn,
        audio: dict[AudioType, bytes],
        claim: KeyClaim | None,
        answer: ProcessResponse,
        *,
        note: bytes | None,
    ) -> Replay | NoteProgress | None:
        response = answer.model_dump(mode="json") if claim is not None else None
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(is_unavailable),
                stop=stop_after_delay(STORE_RETRY_S),
                wait=wait_exponential(multiplier=0.2, max=2),
                reraise=True,
            ):
                with attempt:
                    return await self.store.add_turn(
                        session_id, turn, audio, key=claim, response=response, note=note
                    )
        except UnknownSessionError:
            raise TurnRejected(
                404, "unknown_session", "the session was deleted meanwhile"
            ) from None
        raise AssertionError("unreachable: tenacity either returns or raises")


__all__ = [
    "IDEMPOTENCY_KEY_HEADER",
    "MAX_KEY_LENGTH",
    "REPLAYED_HEADER",
    "TurnRejected",
    "Turns",
    "audio_url",
    "build_response",
    "parse_idempotency_key",
    "request_fingerprint",
]
