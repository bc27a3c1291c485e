"""What every handler receives: python-telegram-bot's context, typed, with the bot's services.

Usage inside a handler::

    async def start(update: Update, context: BotContext) -> None:
        session, origin = await context.services.sessions.ensure(user.id, user.language_code)

:class:`BotServices` is built once per process when the Application starts and kept in
``bot_data``; :data:`CONTEXT_TYPES` makes PTB build a :class:`BotContext` for every update, so
handlers read ``context.services`` (typed) instead of fishing a dict entry out of ``bot_data``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from phonicflow_bot.clients.backend import BackendClient
from phonicflow_bot.clients.converter import ConverterClient
from phonicflow_bot.clients.sessions import SessionManager
from phonicflow_bot.config import BotSettings
from phonicflow_bot.rate_limit import PressDebounce, RateLimiter

SERVICES_KEY = "phonicflow"


@dataclass
class BotServices:
    settings: BotSettings
    backend: BackendClient
    converter: ConverterClient
    sessions: SessionManager
    limiter: RateLimiter | None
    debounce: PressDebounce

    async def close(self) -> None:
        await self.backend.aclose()
        await self.converter.close()
        await self.sessions.store.close()


class BotContext(CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """PTB's CallbackContext plus the bot's services."""

    @property
    def services(self) -> BotServices:
        return cast(BotServices, self.bot_data[SERVICES_KEY])


CONTEXT_TYPES = ContextTypes(context=BotContext)

#: The Application every role that handles updates builds.
BotApplication = Application[Any, BotContext, dict[Any, Any], dict[Any, Any], dict[Any, Any], Any]
