"""Every error the API returns, as JSON ``{"detail": "...", "code": "..."}``.

:class:`ApiError` is an ``HTTPException`` so that it passes untouched through FastAPI's own
body parsing (which turns any other exception raised while reading a form into a 400).
:func:`install_error_handlers` makes FastAPI's validation errors, unknown routes and unexpected
exceptions follow the same shape.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

_DEFAULT_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    408: "request_timeout", 413: "too_large", 415: "not_audio", 422: "invalid_request",
    503: "not_ready",
}  # fmt: skip
#: Seconds a client should wait before retrying a 503 (the database or a replica is busy).
RETRY_AFTER_S = "1"


class ApiError(StarletteHTTPException):
    def __init__(
        self, status_code: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code=status_code, detail=detail, headers=headers)
        self.code = code


def error_body(detail: str, code: str) -> dict[str, str]:
    return {"detail": detail, "code": code}


def _describe_validation(exc: RequestValidationError) -> str:
    parts: list[str] = []
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "header", "path")]
        where = ".".join(loc) or "request"
        source = error.get("loc", ("",))[0]
        kind = f"{source} " if source in ("header", "query", "path") else ""
        if error.get("type") == "missing":
            parts.append(f"missing {kind}field '{where}'")
        else:
            parts.append(f"{kind}field '{where}': {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _allowed_methods(request: Request) -> str:
    """Every method any route serves at this path (Starlette names only the first route's),
    read from the app's own OpenAPI description of its paths."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        if re.fullmatch(re.sub(r"\{[^/]+\}", "[^/]+", template), request.url.path):
            methods |= {method.upper() for method in operations}
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    from phonicflow_backend.db.store import NoAudioError, UnknownSessionError, is_unavailable
    from phonicflow_backend.tts import TtsError
    from phonicflow_backend.turns import TurnRejected

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = getattr(exc, "code", None) or _DEFAULT_CODES.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 400 and code == "bad_request" and "parsing the body" in detail:
            # FastAPI's answer to a body it cannot decode (not JSON, not UTF-8): the
            # documented status for a malformed body is 422
            return JSONResponse(
                error_body("the body is not valid JSON (or not UTF-8)", "invalid_request"), 422
            )
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.method} {request.url.path}"
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
            detail = f"{request.method} is not allowed here; allowed: {headers['Allow']}"
        if exc.status_code == 503:
            headers.setdefault("Retry-After", RETRY_AFTER_S)
        return JSONResponse(error_body(detail, code), exc.status_code, headers=headers)

    @app.exception_handler(TurnRejected)
    async def turn_rejected(request: Request, exc: TurnRejected) -> JSONResponse:
        headers = {"Retry-After": RETRY_AFTER_S} if exc.status == 503 else None
        return JSONResponse(error_body(exc.detail, exc.code), exc.status, headers=headers)

    @app.exception_handler(UnknownSessionError)
    async def unknown_session(request: Request, exc: UnknownSessionError) -> JSONResponse:
        return JSONResponse(
            error_body("unknown session_id; create one with POST /bot/session", "unknown_session"),
            404,
        )

    @app.exception_handler(NoAudioError)
    async def no_audio(request: Request, exc: NoAudioError) -> JSONResponse:
        kind = request.query_params.get("audio_type", "coaching")
        return JSONResponse(error_body(f"no {kind} audio for that turn", "no_audio"), 404)

    @app.exception_handler(TtsError)
    async def tts_failed(request: Request, exc: TtsError) -> JSONResponse:
        # reference audio and "hear it right" (a turn's own speech degrades instead)
        return JSONResponse(
            error_body(f"text to speech failed: {exc}", "tts_unavailable"),
            503,
            headers={"Retry-After": RETRY_AFTER_S},
        )

    @app.exception_handler(SQLAlchemyError)
    async def database_error(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        if is_unavailable(exc):
            log.warning(
                "database unavailable", extra={"path": request.url.path, "error": repr(exc)}
            )
            return JSONResponse(
                error_body("the database is unavailable; try again", "database_unavailable"),
                503,
                headers={"Retry-After": RETRY_AFTER_S},
            )
        log.error("database error", exc_info=exc, extra={"path": request.url.path})
        return JSONResponse(error_body("internal error; see the backend logs", "internal"), 500)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body(_describe_validation(exc), "invalid_request"), 422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", exc_info=exc, extra={"path": request.url.path})
        return JSONResponse(error_body("internal error; see the backend logs", "internal"), 500)


#: OpenAPI ``responses=`` entries for the error statuses each route can return.
def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    from phonicflow_common.contract import ErrorResponse

    descriptions = {
        400: "Bad field", 401: "Missing or wrong X-Bot-Key", 403: "The learner has not consented",
        404: "Unknown session or no audio",
        408: "The body did not arrive in time",
        413: "Upload over MAX_AUDIO_SIZE_MB or audio over MAX_AUDIO_SECONDS",
        415: "Not WAV audio, or unreadable", 422: "Missing or malformed fields",
        503: "Engines still loading, database unavailable, or the same key in progress (retry)",
    }  # fmt: skip
    return {s: {"model": ErrorResponse, "description": descriptions[s]} for s in statuses}
