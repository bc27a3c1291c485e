"""The backend's HTTP API (docs/backend-api.md) as one small async client.

Usage::

    async with BackendClient(settings.backend_url, timeout=30, bot_key="...") as backend:
        session = await backend.create_session(telegram_user_id=42, language="pt")
        result = await backend.process(session.session_id, wav=wav_bytes, idempotency_key="tg-1-2")
        wav = await backend.get_feedback_audio(session.session_id, "coaching", result.turn_id)

Answers are the contract's models (:mod:`phonicflow_common.contract`), parsed and validated here:
a field the backend renamed fails loudly as :class:`BackendProtocolError`, not as a ``None``
three calls later.

Errors (all subclasses of :class:`BackendError`)::

    BackendError
    ├── BackendUnavailable   connection refused/reset, or 5xx after every retry
    │   └── BackendTimeout   no answer within BACKEND_TIMEOUT after every retry
    ├── UnknownSession       404 code=unknown_session: the backend forgot the session
    ├── NotFound             any other 404 (e.g. no audio for this turn)
    ├── BackendRejected      other 4xx: the request itself is wrong; never retried
    └── BackendProtocolError a 2xx whose body is not what docs/backend-api.md promises

Timeouts, connection errors and 5xx are retried with jittered exponential backoff (tenacity,
capped at :data:`BACKOFF_MAX`) until ``retry_seconds`` (BACKEND_RETRY_SECONDS, 25 s) have
passed: long enough for a backend pod to be killed and come back (about 7 s here) without the
learner seeing an error. 4xx never are, because sending the same bad request again cannot
succeed. A retried ``POST /process`` is safe because every attempt of one call carries the same
``Idempotency-Key`` (see :func:`message_idempotency_key`): a backend that finished the attempt
the bot gave up on answers the retry with that turn instead of storing a second one. The bot's key
travels as ``X-Bot-Key``.

Transport: one pooled :class:`aiohttp.ClientSession`, created on first use inside the running
loop. httpx cost ~3x the CPU per request (py-spy on the bot, docs/benchmarks.md "Bot"). Each
request is a CLIENT span with the W3C ``traceparent`` injected (OpenTelemetry's propagator), so
the backend's spans join the learner's trace; Telegram's client is not traced, since its URLs
hold the bot token.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import aiohttp
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_before_delay,
    wait_exponential_jitter,
)

from phonicflow_bot.clients.forms import FilePart, form_body
from phonicflow_common.contract import (
    AudioType,
    CreateSessionResponse,
    HistoryItem,
    HistoryResponse,
    LabelCreated,
    LabelRequest,
    Learner,
    LearnerDeleted,
    LearnerExport,
    LearnerSession,
    LearnerSettings,
    LearnerSettingsUpdate,
    LearnerUpdate,
    PracticeItem,
    ProcessResponse,
    ProgressResponse,
    ReminderClaimResponse,
    ReminderOutcome,
)

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

#: Seconds a request keeps retrying timeouts, connection errors and 5xx: longer than a backend
#: restart, shorter than a learner's patience.
DEFAULT_RETRY_SECONDS = 25.0
#: Connections kept to the backend: far more than the bot has notes in flight.
MAX_CONNECTIONS = 200
#: Seconds for a readiness probe of the backend (no retries).
HEALTH_CHECK_TIMEOUT = 2.0
#: First backoff in seconds; doubles each retry (with jitter, so many bots that lost the same
#: backend do not come back in step), capped at :data:`BACKOFF_MAX`.
BACKOFF_INITIAL = 0.2
BACKOFF_MAX = 3.0
#: Up to this many seconds added at random to each pause.
BACKOFF_JITTER = 0.5

ModelT = TypeVar("ModelT", bound=BaseModel)

#: The header of the IETF httpapi draft, as docs/backend-api.md names it.
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"


def message_idempotency_key(chat_id: int, message_id: int) -> str:
    """The key for the turn a Telegram message starts: the same for every retry, bot restart
    and redelivery of that message, different for any other message (message ids are unique
    per chat). Nothing secret goes in it."""
    return f"tg-{chat_id}-{message_id}"


class BackendError(Exception):
    """Anything that went wrong talking to the backend."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class BackendUnavailable(BackendError):
    """The backend could not be reached, or kept failing with 5xx."""


class BackendTimeout(BackendUnavailable):
    """The backend did not answer in time."""


class UnknownSession(BackendError):
    """404 unknown_session: the backend lost the session (storage wiped); create a new one."""


class NotFound(BackendError):
    """404 for something other than the session (no audio for that turn, unknown sentence)."""


class BackendRejected(BackendError):
    """A 4xx answer other than 404: the request was wrong, retrying will not help."""


class BackendProtocolError(BackendError):
    """The backend answered 2xx with a body that breaks the contract."""


@dataclass(frozen=True)
class Response:
    """A backend answer, read whole (they are small: JSON, or a few seconds of WAV)."""

    path: str
    status_code: int
    content: bytes

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return json.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


def _parse(response: Response, model: type[ModelT]) -> ModelT:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        fields = ", ".join(sorted({".".join(map(str, e["loc"])) or "body" for e in exc.errors()}))
        raise BackendProtocolError(
            f"{response.path}: answer breaks the contract ({model.__name__}: {fields})"
        ) from None


class _Retryable(Exception):
    """A 5xx answer, raised inside the retry loop only."""

    def __init__(self, response: Response) -> None:
        super().__init__(f"{response.status_code}")
        self.response = response


def _error_from(response: Response) -> BackendError:
    try:
        body = response.json()
        detail = str(body.get("detail", "")) if isinstance(body, dict) else ""
        code = str(body.get("code", "")) if isinstance(body, dict) else ""
    except ValueError:
        detail, code = response.text[:200], ""
    message = f"backend answered {response.status_code} {code}: {detail}".strip()
    if response.status_code == 404:
        if code == "unknown_session":
            return UnknownSession(message, 404, code)
        return NotFound(message, 404, code or None)
    if response.status_code >= 500:
        return BackendUnavailable(message, response.status_code, code or None)
    return BackendRejected(message, response.status_code, code or None)


class BackendClient:
    """One pooled aiohttp session to the backend, with retries, tracing and typed errors."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        bot_key: str = "",
        retry_seconds: float = DEFAULT_RETRY_SECONDS,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._headers = {"X-Bot-Key": bot_key} if bot_key else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._retry_seconds = retry_seconds
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> BackendClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS),
                headers=self._headers,
                timeout=self._timeout,
            )
        return self._session

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        files: dict[str, FilePart] | None = None,
        json_body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        time_limit: aiohttp.ClientTimeout | None = None,
    ) -> Response:
        """One attempt: a traced HTTP exchange, its body built anew (see form_body)."""
        data = form_body(form, files)
        url = f"{self._base_url}{path}"
        attributes = {"http.request.method": method, "url.full": url}
        with tracer.start_as_current_span(
            method, kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            carrier = dict(headers or {})
            propagate.inject(carrier)
            async with self._client().request(
                method,
                url,
                params=params,
                data=data,
                json=json_body,
                headers=carrier,
                timeout=time_limit or self._timeout,
            ) as answer:
                response = Response(path, answer.status, await answer.read())
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(StatusCode.ERROR)
        return response

    async def _request(self, method: str, path: str, **kwargs: Any) -> Response:
        retrying = AsyncRetrying(
            stop=stop_before_delay(self._retry_seconds),
            wait=wait_exponential_jitter(
                multiplier=BACKOFF_INITIAL, max=BACKOFF_MAX, jitter=BACKOFF_JITTER
            ),
            retry=retry_if_exception_type((TimeoutError, aiohttp.ClientError, _Retryable)),
            reraise=False,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    response = await self._send(method, path, **kwargs)
                    if response.status_code >= 500:
                        raise _Retryable(response)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            if isinstance(last, _Retryable):
                raise _error_from(last.response) from None
            if isinstance(last, TimeoutError):  # aiohttp's timeouts subclass it
                raise BackendTimeout(f"backend timed out on {method} {path}") from None
            raise BackendUnavailable(f"backend unreachable on {method} {path}: {last!r}") from None
        if response.status_code >= 400:
            raise _error_from(response)
        return response

    async def _found(self, path: str, model: type[ModelT]) -> ModelT | None:
        """GET ``path`` as ``model``; None when the backend answers 404."""
        try:
            answer = await self._request("GET", path)
        except NotFound:
            return None
        return _parse(answer, model)

    async def create_session(
        self, telegram_user_id: int | None = None, language: str | None = None
    ) -> CreateSessionResponse:
        """POST /bot/session → a new backend session id."""
        body: dict[str, Any] = {}
        if telegram_user_id is not None:
            body["telegram_user_id"] = telegram_user_id
        if language:
            body["language"] = language
        answer = await self._request("POST", "/bot/session", json_body=body)
        return _parse(answer, CreateSessionResponse)

    async def process(
        self,
        session_id: str,
        *,
        wav: bytes | None = None,
        text: str | None = None,
        target_text: str | None = None,
        idempotency_key: str | None = None,
    ) -> ProcessResponse:
        """POST /process with a WAV recording and/or a text turn.

        ``idempotency_key`` travels on every attempt of this call, so a retry after a timeout
        gets the turn the backend already made (if it did) instead of a second one.
        """
        form: dict[str, str] = {}
        if text is not None:
            form["text"] = text
        if target_text:
            form["target_text"] = target_text
        files = {"file": ("speech.wav", wav, "audio/wav")} if wav is not None else None
        headers = {"session_id": session_id}
        if idempotency_key is not None:
            headers[IDEMPOTENCY_KEY_HEADER] = idempotency_key
        response = await self._request("POST", "/process", form=form, files=files, headers=headers)
        return _parse(response, ProcessResponse)

    async def get_conversation_history(self, session_id: str) -> list[HistoryItem]:
        """GET /conversation/{id} → turns, oldest first."""
        answer = await self._request("GET", f"/conversation/{session_id}")
        return _parse(answer, HistoryResponse).history

    async def get_feedback_audio(
        self, session_id: str, audio_type: AudioType, turn_id: str | None = None
    ) -> bytes:
        """GET /audio/{id}?audio_type=... → WAV bytes of the latest (or given) turn."""
        params: dict[str, str] = {"audio_type": audio_type}
        if turn_id:
            params["turn_id"] = turn_id
        return (await self._request("GET", f"/audio/{session_id}", params=params)).content

    async def words_said_right(self, session_id: str, turn_id: str) -> bytes | None:
        """GET /audio/{id}/words?turn_id=... → WAV of the turn's flagged words said slowly;
        None when the turn flagged none (or is gone)."""
        try:
            path = f"/audio/{session_id}/words"
            return (await self._request("GET", path, params={"turn_id": turn_id})).content
        except NotFound:
            return None

    async def learner_session(self, telegram_user_id: int) -> LearnerSession | None:
        """GET /learner/{id}/session → the learner's most recently active session, or None
        when the backend holds none (what a bot that lost its own memory continues)."""
        return await self._found(f"/learner/{telegram_user_id}/session", LearnerSession)

    async def delete_learner(self, telegram_user_id: int) -> LearnerDeleted:
        """DELETE /learner/{id}: every session, turn, audio, key and label of the learner,
        including sessions this bot no longer remembers."""
        answer = await self._request("DELETE", f"/learner/{telegram_user_id}")
        return _parse(answer, LearnerDeleted)

    async def clear_session(self, session_id: str) -> bool:
        """DELETE /conversation/{id}; False when the backend did not know the session."""
        try:
            await self._request("DELETE", f"/conversation/{session_id}")
        except (UnknownSession, NotFound):
            return False
        return True

    async def practice_next(
        self,
        exclude: str | None = None,
        focus: str | None = None,
        telegram_user_id: int | None = None,
    ) -> PracticeItem:
        """GET /practice/next → a sentence to say; 422 unknown_focus. With a learner, and no
        focus, the backend picks their weakest sound (and a sentence not drilled recently)."""
        wanted = {"exclude": exclude, "focus": focus, "telegram_user_id": telegram_user_id}
        params = {k: str(v) for k, v in wanted.items() if v} or None
        response = await self._request("GET", "/practice/next", params=params)
        return _parse(response, PracticeItem)

    async def progress(self, telegram_user_id: int) -> ProgressResponse | None:
        """GET /learner/{id}/progress; None for a learner the backend does not know yet."""
        return await self._found(f"/learner/{telegram_user_id}/progress", ProgressResponse)

    async def progress_picture(self, telegram_user_id: int, language: str) -> bytes:
        """GET /learner/{id}/progress.png: the /progress picture (NotFound: unknown learner)."""
        path = f"/learner/{telegram_user_id}/progress.png"
        return (await self._request("GET", path, params={"language": language})).content

    async def update_settings(
        self, telegram_user_id: int, changes: LearnerSettingsUpdate
    ) -> LearnerSettings:
        """PATCH /learner/{id}/settings with the fields set in ``changes`` (422: bad zone);
        with none, the learner's settings as they are (the learner is made if new)."""
        body = changes.model_dump(mode="json", exclude_unset=True)
        answer = await self._request(
            "PATCH", f"/learner/{telegram_user_id}/settings", json_body=body
        )
        return _parse(answer, LearnerSettings)

    async def update_learner(self, telegram_user_id: int, changes: LearnerUpdate) -> Learner:
        """PATCH /learner/{id} with the fields set in ``changes`` (language, labelling
        consent); with none, the record as it is (made if new)."""
        body = changes.model_dump(mode="json", exclude_unset=True)
        answer = await self._request("PATCH", f"/learner/{telegram_user_id}", json_body=body)
        return _parse(answer, Learner)

    async def add_label(self, telegram_user_id: int, label: LabelRequest) -> LabelCreated:
        """POST /learner/{id}/labels: the learner says a verdict was wrong (a repeat makes no
        second label). BackendRejected 403 ``consent_required``; NotFound ``unknown_turn`` or
        ``note_unavailable``."""
        path = f"/learner/{telegram_user_id}/labels"
        answer = await self._request("POST", path, json_body=label.model_dump(mode="json"))
        return _parse(answer, LabelCreated)

    async def export(self, telegram_user_id: int) -> LearnerExport | None:
        """GET /learner/{id}/export: everything stored about the learner; None if nothing."""
        return await self._found(f"/learner/{telegram_user_id}/export", LearnerExport)

    async def claim_reminders(self, limit: int) -> ReminderClaimResponse:
        """POST /reminders/claim: the reminders due now (the backend's clock), each handed to
        this caller alone."""
        answer = await self._request("POST", "/reminders/claim", json_body={"limit": limit})
        return _parse(answer, ReminderClaimResponse)

    async def report_reminder(self, claim_id: str, outcome: ReminderOutcome) -> bool:
        """POST /reminders/{claim}/outcome; False when the claim's lease had already run out
        (the backend offered it again)."""
        try:
            await self._request(
                "POST", f"/reminders/{claim_id}/outcome", json_body={"outcome": outcome}
            )
        except NotFound:
            return False
        return True

    async def practice_audio(self, sentence_id: str) -> bytes:
        """GET /practice/{id}/audio → the reference pronunciation as WAV."""
        return (await self._request("GET", f"/practice/{sentence_id}/audio")).content

    async def health_check(self) -> bool:
        """GET /readyz once, no retries: True when the backend can serve a turn.

        Readiness, not liveness: a backend still loading its speech models is alive but would
        fail the learner's note, so the bot reports it as down (readiness, the health gauge).
        """
        try:
            response = await self._send(
                "GET", "/readyz", time_limit=aiohttp.ClientTimeout(total=HEALTH_CHECK_TIMEOUT)
            )
        except (TimeoutError, aiohttp.ClientError):
            return False
        return response.status_code == 200
