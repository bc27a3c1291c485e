"""Taking updates in from Telegram and into the update log, before anything else happens.

- :mod:`phonicflow_bot.intake.poller` — long polling (the default; exactly one poller per token);
- :mod:`phonicflow_bot.intake.webhook` — Telegram posts updates to us (any number of receivers).

Both end in :func:`append`: the update goes into the log (deduplicated by update_id) and only
then is Telegram told it was received — the next getUpdates offset, or the webhook's 200.
"""

from __future__ import annotations

import asyncio
import logging
import time

from redis.exceptions import RedisError
from telegram import Update

from phonicflow_bot import metrics
from phonicflow_bot.update_log import NO_CHAT, UpdateLog

log = logging.getLogger(__name__)

#: Pause between attempts while the log is unreachable: first, and ceiling (seconds).
PAUSE_INITIAL = 0.2
PAUSE_MAX = 5.0


def chat_key(update: Update) -> str:
    """Whose updates must stay in order: the chat's (a learner's private chat), else the user's."""
    if update.effective_chat is not None:
        return str(update.effective_chat.id)
    if update.effective_user is not None:
        return str(update.effective_user.id)
    return NO_CHAT


async def append(update_log: UpdateLog, update: Update, payload: str, source: str) -> bool:
    """Put ``update`` in the log (``payload``: its JSON); True if new, False if seen before."""
    added = await update_log.append(update.update_id, chat_key(update), payload)
    metrics.INTAKE.labels(source, "appended" if added else "duplicate").inc()
    return added


async def append_patiently(update_log: UpdateLog, update: Update, source: str) -> None:
    """:func:`append`, retried for as long as it takes: the poller must not move past an update
    that is not in the log, and while it waits here Telegram keeps the update for it."""
    payload = update.to_json()
    pause = PAUSE_INITIAL
    down_since: float | None = None
    while True:
        try:
            await append(update_log, update, payload, source)
        except RedisError as exc:
            if down_since is None:
                down_since = time.monotonic()
                log.warning(
                    "update log unreachable; polling waits until the update is stored",
                    extra={"update_id": update.update_id, "error": repr(exc)},
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, PAUSE_MAX)
            continue
        if down_since is not None:
            log.info(
                "update log reachable again",
                extra={"seconds": round(time.monotonic() - down_since, 1)},
            )
        return
