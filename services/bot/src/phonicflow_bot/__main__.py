"""``python -m phonicflow_bot``: read settings, set up logging and tracing, poll Telegram."""

from __future__ import annotations

import logging

from phonicflow_bot.bot import run
from phonicflow_bot.config import load
from phonicflow_common.logging import configure_logging, register_secret
from phonicflow_common.telemetry import setup_tracing, shutdown_tracing


def main() -> None:
    settings = load()
    # Registered before anything can log: httpx and PTB put the token in URLs and errors.
    token = settings.telegram_bot_token.get_secret_value()
    register_secret(token)
    # URLs carry the token percent-encoded (file downloads: "123%3Aabc..."), so the part after
    # the colon is a secret on its own.
    register_secret(token.partition(":")[2])
    register_secret(settings.bot_private_key.get_secret_value())
    configure_logging("bot", level=settings.log_level, log_file=settings.bot_log_file)
    setup_tracing("phonicflow-bot")
    try:
        run(settings)
    finally:
        shutdown_tracing()
        logging.shutdown()


if __name__ == "__main__":
    main()
