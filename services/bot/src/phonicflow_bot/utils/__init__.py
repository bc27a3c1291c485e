"""Clients for everything outside the bot: the converter, the backend, the session store."""

from phonicflow_bot.utils.api_client import (
    BackendClient,
    BackendError,
    BackendRejected,
    BackendTimeout,
    BackendUnavailable,
    NotFound,
    UnknownSession,
)
from phonicflow_bot.utils.audio_converter import (
    AudioRejected,
    ConverterClient,
    ConverterError,
    ConverterUnavailable,
)
from phonicflow_bot.utils.session_manager import (
    MemorySessionStore,
    RedisSessionStore,
    Session,
    SessionManager,
    SessionStore,
)

__all__ = [
    "AudioRejected",
    "BackendClient",
    "BackendError",
    "BackendRejected",
    "BackendTimeout",
    "BackendUnavailable",
    "ConverterClient",
    "ConverterError",
    "ConverterUnavailable",
    "MemorySessionStore",
    "NotFound",
    "RedisSessionStore",
    "Session",
    "SessionManager",
    "SessionStore",
    "UnknownSession",
]
