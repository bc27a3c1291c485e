"""Structured logging for every service: one JSON object per line on stderr.

Usage::

    from phonicflow_common.logging import configure_logging, register_secret
    configure_logging("bot", level="INFO", log_file=None)
    register_secret(settings.telegram_bot_token)

Every handler installed here carries a :class:`RedactingFilter`. It removes registered secrets
and anything shaped like a Telegram bot token (``123456:ABC...``) from the message, its
arguments and the formatted traceback, because libraries log URLs that contain the token
(httpx logs ``POST https://api.telegram.org/bot<token>/getUpdates`` at INFO).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opentelemetry import trace

# A Telegram bot token: the bot's numeric id, a colon, 35 URL-safe base64 characters. Matched
# loosely (30+) so that a test token or a future format is caught too, and with the colon
# percent-encoded as it appears in file-download URLs (/file/bot123%3AABC.../voice.ogg).
_TOKEN_PATTERN = re.compile(r"\d{3,}(?::|%3[Aa])[A-Za-z0-9_-]{30,}")
_REDACTED = "[REDACTED]"
_secrets: set[str] = set()
_secrets_lock = threading.Lock()

# Attributes every LogRecord has; anything else passed through ``extra=`` is an event field.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


def register_secret(value: str | None) -> None:
    """Redact ``value`` from every log line from now on (ignored when empty or very short)."""
    if value and len(value) >= 6:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Return ``text`` with registered secrets and token-shaped strings replaced."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, _REDACTED)
    return _TOKEN_PATTERN.sub(_REDACTED, text)


class RedactingFilter(logging.Filter):
    """Rewrites a record so that no secret survives formatting."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.exc_info = None  # the redacted exc_text is what gets printed
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, redact(value))
        return True


class TraceIdFilter(logging.Filter):
    """Adds ``otelTraceID`` to every record so JSON log lines can be joined to traces."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = trace.get_current_span().get_span_context()
        record.otelTraceID = format(ctx.trace_id, "032x") if ctx.is_valid else "0"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, service, message, extra fields."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        trace_id = getattr(record, "otelTraceID", None)
        if trace_id and trace_id != "0":
            event["trace_id"] = trace_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("otel") and key not in event:
                event[key] = (
                    value if isinstance(value, str | int | float | bool | None) else str(value)
                )
        if record.exc_text:
            event["exception"] = record.exc_text
        return json.dumps(event, ensure_ascii=False)


def configure_logging(
    service: str, level: str = "INFO", log_file: str | Path | None = None
) -> None:
    """Send every logger's records, redacted, as JSON lines to stderr (and ``log_file`` if set).

    Replaces the root logger's handlers, so calling it twice is harmless. httpx and httpcore are
    held at WARNING unless ``level`` is DEBUG: at INFO they print one line per request.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        path = Path(log_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(path, encoding="utf-8"))
    formatter = JsonFormatter(service)
    for handler in handlers:
        handler.addFilter(RedactingFilter())
        handler.addFilter(TraceIdFilter())
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level.upper())
    quiet = logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    for noisy in ("httpx", "httpcore", "hpack"):
        logging.getLogger(noisy).setLevel(quiet)
