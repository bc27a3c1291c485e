"""What runs around every handler: the per-learner rate limit before, the error handler after.

- :func:`rate_limit_gate` (handler group -1) counts every message *and* button press against
  BOT_RATE_LIMIT_MPM; over the limit a message gets one "slow down" per window and a press gets
  the notice as its answerCallbackQuery toast (never a new message), then nothing else runs;
- :func:`on_error` is the Application's error handler: a fault of Redis or of the network to
  Telegram marks the update to be handled again (no reply); a learner who blocked the bot is
  nobody's fault; anything else is logged (redacted) and the learner told.
"""

from __future__ import annotations

import contextlib
import logging

from redis.exceptions import RedisError
from telegram import Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ApplicationHandlerStop

from phonicflow_bot import journal, metrics
from phonicflow_bot.context import BotContext
from phonicflow_bot.handlers.common import is_retry_later, language_of, send_html
from phonicflow_bot.i18n import text
from phonicflow_bot.journal import memo
from phonicflow_bot.rate_limit import Decision

log = logging.getLogger(__name__)


async def rate_limit_gate(update: Update, context: BotContext) -> None:
    """Refuse updates over BOT_RATE_LIMIT_MPM; see the module docstring."""
    limiter = context.services.limiter
    user = update.effective_user
    if limiter is None or user is None:
        return
    if update.message is None and update.callback_query is None:
        return
    try:
        # Memoised: handled again, an update is not counted twice (nor refused the second time).
        decision = await memo("rate", lambda: limiter.hit(user.id), Decision)
    except RedisError:
        # The limiter is down: serving the learner beats refusing everyone.
        log.warning("rate limiter unavailable; update allowed", exc_info=True)
        return
    if decision.allowed:
        return
    metrics.RATE_LIMITED.inc()
    lang = await language_of(update, context)
    notice = text(lang, "rate_limited", seconds=decision.retry_after)
    query = update.callback_query
    if query is not None:
        with contextlib.suppress(BadRequest):
            await query.answer(notice)
    elif decision.notify and update.message is not None:
        with contextlib.suppress(BadRequest):
            await send_html(context, update.message.chat_id, notice)
    raise ApplicationHandlerStop


async def on_error(update: object, context: BotContext) -> None:
    """The Application's error handler; see the module docstring."""
    error = context.error
    update_id = getattr(update, "update_id", None)
    current = journal.current()
    if is_retry_later(error) and current is not None:
        current.retry_later = True
        log.warning(
            "Redis or Telegram unreachable; the update will be handled again",
            extra={"update_id": update_id, "error": repr(error)},
        )
        return
    if isinstance(error, Forbidden):
        # The learner blocked the bot: nothing is wrong here and nobody can be told.
        metrics.ERRORS.labels("blocked_by_user").inc()
        log.info("learner blocked the bot", extra={"update_id": update_id})
        return
    metrics.ERRORS.labels("unhandled").inc()
    log.error("unhandled error", exc_info=error, extra={"update_id": update_id})
    if isinstance(update, Update) and update.effective_chat is not None:
        with contextlib.suppress(TelegramError, RedisError):
            lang = await language_of(update, context)
            await context.bot.send_message(update.effective_chat.id, text(lang, "unexpected"))
