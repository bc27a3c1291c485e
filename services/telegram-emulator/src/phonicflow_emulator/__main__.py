"""``python -m phonicflow_emulator``: serve the emulator with settings from ``EMULATOR_*``."""

from __future__ import annotations

import logging

import uvicorn

from phonicflow_common.logging import configure_logging, register_secret
from phonicflow_common.settings import load_settings
from phonicflow_emulator.app import create_app
from phonicflow_emulator.settings import EmulatorSettings

# Long polls are open when the emulator stops; waiting for them to finish would add their
# whole timeout to every shutdown.
GRACEFUL_SHUTDOWN_SECONDS = 1


def main() -> None:
    settings = load_settings(EmulatorSettings)
    configure_logging("telegram-emulator", settings.log_level)
    # The emulator's token is not secret, but a real one pasted in by mistake must not leak.
    register_secret(settings.token)
    logging.getLogger("phonicflow_emulator").info(
        "Telegram Bot API emulator listening",
        extra={"url": f"http://{settings.host}:{settings.port}", "bot": settings.bot_username},
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


if __name__ == "__main__":
    main()
