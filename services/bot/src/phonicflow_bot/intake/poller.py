"""Long polling into the update log: append first, then let the offset advance.

Usage::

    poller = Poller(bot, update_log, settings)
    await poller.start()          # bootstrap (deleteWebhook) retried until Telegram answers
    ...
    await poller.stop()           # confirms the last offset

python-telegram-bot's :class:`~telegram.ext.Updater` does the polling: getUpdates with long
polling, Telegram's errors, retries, 409 Conflict. It puts each update into its
``update_queue`` and confirms the update to Telegram — the ``offset`` of its *next* getUpdates,
at once with BOT_POLLING_INTERVAL=0 — only after that put returned. :class:`LogQueue` is that
queue: its ``put`` returns once the update is in the log. So a poller killed at any moment has
confirmed only updates that are stored; what it fetched and had not stored yet, Telegram sends
again to the next poller, and the log's update_id check keeps that one entry. While the log is
unreachable ``put`` keeps trying, polling pauses, and Telegram holds the updates meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time

from telegram import Update
from telegram.error import Conflict, TelegramError
from telegram.ext import ExtBot, Updater

from phonicflow_bot.config import BotSettings
from phonicflow_bot.intake import append_patiently
from phonicflow_bot.update_log import UpdateLog

log = logging.getLogger(__name__)

#: Seconds between two log lines about the same kind of getUpdates failure.
ERROR_LOG_INTERVAL = 60.0


class LogQueue(asyncio.Queue[object]):
    """The Updater's update_queue, backed by the update log (see the module docstring)."""

    def __init__(self, update_log: UpdateLog) -> None:
        super().__init__()
        self._log = update_log

    async def put(self, item: object) -> None:
        if isinstance(item, Update):
            await append_patiently(self._log, item, "polling")


class Poller:
    def __init__(self, bot: ExtBot[object], update_log: UpdateLog, settings: BotSettings) -> None:
        self._updater = Updater(bot, LogQueue(update_log))
        self._settings = settings
        self._last_logged: dict[str, float] = {}

    @property
    def running(self) -> bool:
        return self._updater.running

    async def start(self) -> None:
        await self._updater.initialize()
        await self._updater.start_polling(
            poll_interval=self._settings.bot_polling_interval,
            timeout=self._settings.bot_polling_timeout,
            # Telegram or the emulator not answering yet is not a reason to exit.
            bootstrap_retries=-1,
            allowed_updates=Update.ALL_TYPES,
            error_callback=self._on_error,
        )
        log.info("polling Telegram", extra={"timeout": self._settings.bot_polling_timeout})

    async def stop(self) -> None:
        """Stop polling (confirming the last offset). The bot stays open: in role ``all`` the
        worker still replies through it while it finishes."""
        if self._updater.running:
            await self._updater.stop()

    def _on_error(self, error: TelegramError) -> None:
        """One line per kind of failure and minute, not a traceback per attempt (the Updater
        retries with a growing pause by itself)."""
        kind = type(error).__name__
        now = time.monotonic()
        if now - self._last_logged.get(kind, 0.0) < ERROR_LOG_INTERVAL:
            return
        self._last_logged[kind] = now
        if isinstance(error, Conflict):
            log.warning(
                "another process polls this bot token (409 Conflict); run one poller",
                extra={"error": error.message},
            )
        else:
            log.warning("getUpdates failed; retrying", extra={"error": repr(error)})
