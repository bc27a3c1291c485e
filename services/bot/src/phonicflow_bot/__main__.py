"""``python -m phonicflow_bot [--role all|poller|worker|webhook]``: settings, logging, tracing,
then the role (:mod:`phonicflow_bot.bot`). ``--role`` overrides BOT_ROLE."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from phonicflow_bot.bot import run
from phonicflow_bot.config import ROLES, load
from phonicflow_common.logging import configure_logging, register_secret
from phonicflow_common.telemetry import setup_tracing, shutdown_tracing


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m phonicflow_bot", description=__doc__)
    parser.add_argument("--role", choices=ROLES, help="overrides BOT_ROLE (default: all)")
    args = parser.parse_args(argv)
    if args.role:
        os.environ["BOT_ROLE"] = args.role
    settings = load()
    # Registered before anything can log: PTB and aiohttp put the token in URLs and errors.
    token = settings.telegram_bot_token.get_secret_value()
    register_secret(token)
    # URLs carry the token percent-encoded (file downloads: "123%3Aabc..."), so the part after
    # the colon is a secret on its own.
    register_secret(token.partition(":")[2])
    register_secret(settings.bot_private_key.get_secret_value())
    register_secret(settings.bot_webhook_secret.get_secret_value())
    configure_logging("bot", level=settings.log_level, log_file=settings.bot_log_file)
    setup_tracing("phonicflow-bot")
    try:
        status = run(settings)
    finally:
        shutdown_tracing()
        logging.shutdown()
    sys.exit(status)


if __name__ == "__main__":
    main()
