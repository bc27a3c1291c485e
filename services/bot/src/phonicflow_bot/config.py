"""The bot's settings: one typed object, read from the environment at start-up.

Usage::

    from phonicflow_bot.config import BotSettings, load
    settings = load()            # exits with status 2 naming the bad variable

Names follow the architecture document (sections 4.4 and 5.3) plus what the design adds
(``REDIS_URL``, ``CONVERTER_ADDRESS``, health port, Bot API base URLs, the process's role and the
webhook). Secrets may come from a file: ``TELEGRAM_BOT_TOKEN_FILE``, ``BOT_PRIVATE_KEY_FILE``,
``BOT_WEBHOOK_SECRET_FILE``.

Roles (``BOT_ROLE``, or ``--role`` on the command line):

- ``all`` (default): one process takes updates in (polling, or the webhook when
  ``BOT_WEBHOOK_URL`` is set) and handles them; without ``REDIS_URL`` the update log is in
  memory and a crash loses the updates in flight;
- ``poller``: only polls Telegram and appends to the log in Redis (run exactly one);
- ``webhook``: only receives Telegram's webhook calls and appends them (run as many as you like);
- ``worker``: only handles updates from the log (run as many as you like).

``SESSION_STORAGE_PATH`` is kept for compatibility with the seed, whose JSON session file lived
there. Sessions now live in Redis or in memory, so the path is not used for sessions; it is
accepted (and ignored) so that existing ``.env`` files keep working.
"""

from __future__ import annotations

import re
from typing import Literal, get_args
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from phonicflow_common.contract import MAX_AUDIO_SECONDS
from phonicflow_common.settings import ServiceSettings, load_settings

#: The real Telegram Bot API; point these at the emulator or a self-hosted Bot API server.
TELEGRAM_API_BASE_URL = "https://api.telegram.org/bot"
TELEGRAM_FILE_BASE_URL = "https://api.telegram.org/file/bot"


Role = Literal["all", "poller", "worker", "webhook"]
ROLES: tuple[Role, ...] = get_args(Role)


class BotSettings(ServiceSettings):
    """Every setting of the bot, with the documented default."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    telegram_bot_enabled: bool = Field(
        default=True, description="False: start health endpoints only, never poll."
    )
    telegram_bot_token: SecretStr = Field(
        default=SecretStr(""),
        validate_default=True,
        description="Bot token from @BotFather (or *_FILE).",
    )
    telegram_api_base_url: str = TELEGRAM_API_BASE_URL
    telegram_file_base_url: str = TELEGRAM_FILE_BASE_URL

    backend_url: str = "http://localhost:8000"
    backend_timeout: float = Field(default=30.0, gt=0, description="Seconds per backend request.")
    backend_retry_seconds: float = Field(
        default=25.0,
        ge=0,
        description="How long a backend call keeps retrying connection errors, timeouts, 5xx.",
    )
    bot_private_key: SecretStr = Field(
        default=SecretStr(""), description="Sent as X-Bot-Key to the backend."
    )

    converter_address: str = "localhost:50051"
    converter_timeout: float = Field(default=30.0, gt=0, description="gRPC deadline in seconds.")
    converter_max_in_flight: int = Field(
        default=8, gt=0, description="Conversions one bot keeps open at once."
    )

    # 0, not the seed's 1: PTB sleeps this long after every getUpdates, including one that
    # brought updates, so on a busy bot each message waited up to a second before anyone saw
    # it. Long polling already waits on Telegram's side (BOT_POLLING_TIMEOUT); PTB's default
    # is 0 too. The variable is kept for operators who want to poll less often.
    bot_polling_interval: float = Field(
        default=0.0, ge=0, description="Seconds to pause between getUpdates calls."
    )
    bot_polling_timeout: int = Field(
        default=30, ge=0, description="Long-poll timeout in seconds (getUpdates timeout)."
    )
    bot_timeout: float = Field(
        default=30.0, gt=0, description="Seconds for one Telegram Bot API request (read/write)."
    )

    bot_rate_limit: bool = Field(default=True, description="Per-learner rate limit on or off.")
    bot_rate_limit_mpm: int = Field(default=30, gt=0, description="Messages per minute per user.")
    bot_outgoing_rate_per_second: float = Field(
        default=30.0, gt=0, description="Telegram's overall flood limit for one bot."
    )
    bot_reminders: bool = Field(
        default=True, description="Send the reminders and weekly summaries learners asked for."
    )
    bot_reminder_poll_seconds: float = Field(
        default=30.0, gt=0, description="Seconds between two looks for reminders that are due."
    )
    bot_reminder_rate_per_second: int = Field(
        default=10,
        gt=0,
        description="Reminders sent per second by all senders together (the rest of Telegram's "
        "~30/s stays for replies).",
    )
    bot_send_max_retries: int = Field(
        default=3, ge=0, description="Retries of a send after Telegram's retry_after."
    )
    # 32, not PTB's 256: past a few dozen in flight, a small pod only queues work (with httpx,
    # whose pool bookkeeping grows with requests × connections, a burst of 50 voice notes cost
    # 61 ms of bot CPU per note at 256 and 48 ms at 32; docs/benchmarks.md, "Bot").
    bot_max_concurrent_updates: int = Field(
        default=32, gt=0, description="Updates handled at once across all learners."
    )

    session_timeout_hours: float = Field(
        default=24.0, gt=0, description="Sliding session lifetime since the last activity."
    )
    session_storage_path: str = Field(
        default="app/feedback_storage", description="Seed compatibility; not used (see above)."
    )
    redis_url: str | None = Field(
        default=None,
        description="Unset: the update log, sessions and limits in memory (one process).",
    )
    bot_claim_timeout_seconds: float = Field(
        default=15.0,
        gt=0,
        description="Silence after which a worker's updates and chats go to another worker.",
    )
    bot_max_deliveries: int = Field(
        default=5, gt=0, description="Deliveries after which an update is set aside."
    )
    bot_shutdown_grace_seconds: float = Field(
        default=20.0, ge=0, description="On SIGTERM, how long updates in hand may finish."
    )
    bot_startup_retry_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How long start-up keeps trying to reach Telegram and Redis.",
    )

    bot_webhook_url: str | None = Field(
        default=None, description="Public URL Telegram posts updates to; unset: long polling."
    )
    bot_webhook_secret: SecretStr = Field(
        default=SecretStr(""),
        description="Checked against X-Telegram-Bot-Api-Secret-Token (or *_FILE).",
    )
    bot_webhook_host: str = "0.0.0.0"
    bot_webhook_port: int = Field(default=8443, ge=0, le=65535)

    bot_role: Role = Field(default="all", description="all | poller | worker | webhook")

    max_audio_size_mb: float = Field(default=20.0, gt=0)
    max_audio_duration_seconds: float = Field(
        default=MAX_AUDIO_SECONDS,
        gt=0,
        le=MAX_AUDIO_SECONDS,
        description="Longest note accepted: at most what the backend scores (contract).",
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    bot_log_file: str | None = None
    bot_health_port: int = Field(default=8080, ge=0, le=65535)
    bot_health_host: str = "0.0.0.0"

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_when_enabled(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        if info.data.get("telegram_bot_enabled", True) and not value.get_secret_value().strip():
            raise ValueError("required when TELEGRAM_BOT_ENABLED is true (or set *_FILE)")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("bot_webhook_secret")
    @classmethod
    def _telegram_secret(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value().strip()
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ValueError("1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return SecretStr(secret)

    @field_validator("bot_role", mode="before")
    @classmethod
    def _lower_role(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("bot_role")
    @classmethod
    def _role_has_what_it_needs(cls, value: Role, info: ValidationInfo) -> Role:
        webhook_url = info.data.get("bot_webhook_url")
        if value != "all" and not info.data.get("redis_url"):
            raise ValueError(f"{value} needs REDIS_URL: the roles share the update log there")
        if value == "poller" and webhook_url:
            raise ValueError(
                "poller with BOT_WEBHOOK_URL set: a webhook replaces polling (BOT_ROLE=webhook)"
            )
        if value == "webhook" and not webhook_url:
            raise ValueError("webhook needs BOT_WEBHOOK_URL")
        secret = info.data.get("bot_webhook_secret")
        if (
            webhook_url
            and value in ("all", "webhook")
            and not (secret and secret.get_secret_value())
        ):
            raise ValueError("a webhook needs BOT_WEBHOOK_SECRET (or BOT_WEBHOOK_SECRET_FILE)")
        return value

    @field_validator("redis_url", "bot_log_file", "bot_webhook_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("bot_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        # Telegram only posts to https://; http:// is for the local emulator and in-cluster tests.
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an https:// URL (http:// only with the emulator)")
        return value

    @field_validator("backend_url", "telegram_api_base_url", "telegram_file_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @property
    def webhook_path(self) -> str:
        """The path the webhook receiver serves: that of BOT_WEBHOOK_URL (``/`` if none)."""
        return urlsplit(self.bot_webhook_url or "").path or "/"

    @property
    def max_audio_size_bytes(self) -> int:
        return int(self.max_audio_size_mb * 1024 * 1024)


def load() -> BotSettings:
    """Read and validate the settings, or exit with status 2 naming the bad variable."""
    return load_settings(BotSettings)
