"""The emulator's configuration: ``EMULATOR_*`` environment variables.

=========================== ============================================= ===================
variable                    meaning                                       default
=========================== ============================================= ===================
``EMULATOR_HOST``           address to listen on                          ``127.0.0.1``
``EMULATOR_PORT``           port to listen on                             ``8081``
``EMULATOR_TOKEN``          the only bot token accepted (others → 401)    a fixed test token
``EMULATOR_BOT_USERNAME``   the bot's @username                           ``phonicflow_bot``
``EMULATOR_BOT_NAME``       the bot's first_name                          ``PhonicFlow``
``EMULATOR_FLOOD_CONTROL``  answer 429 like Telegram when a chat gets     ``false``
                            more than ~1 message/s (bursts allowed)
``EMULATOR_CONVERT_WEBM``   turn browser recordings (webm/opus) into      ``true``
                            OGG/Opus voice notes with the ffmpeg CLI
``EMULATOR_WEBHOOK_RETRY_   longest pause before a failed webhook         ``5``
SECONDS``                   delivery is tried again (it doubles from 0.2)
``LOG_LEVEL``               logging level                                 ``INFO``
=========================== ============================================= ===================
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from phonicflow_common.settings import ServiceSettings

# A test token by design: the emulator is public and the value is in the docs.
DEFAULT_TOKEN = "1000000:local-emulator-token"  # noqa: S105
DEFAULT_PORT = 8081


class EmulatorSettings(ServiceSettings):
    """Typed settings; see the module docstring for the variables."""

    model_config = SettingsConfigDict(env_prefix="EMULATOR_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    token: str = Field(default=DEFAULT_TOKEN, pattern=r"^\d+:[A-Za-z0-9_-]+$")
    bot_username: str = "phonicflow_bot"
    bot_name: str = "PhonicFlow"
    flood_control: bool = False
    convert_webm: bool = True
    webhook_retry_seconds: float = Field(default=5.0, gt=0, le=3600)
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
