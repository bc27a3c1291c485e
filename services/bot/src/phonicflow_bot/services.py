"""What every handler needs, built once at start-up and kept in ``application.bot_data``.

Usage inside a handler::

    svc = services(context)
    session, origin = await svc.sessions.ensure(user.id, user.language_code)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram.ext import ContextTypes

from phonicflow_bot.config import BotSettings
from phonicflow_bot.rate_limit import RateLimiter
from phonicflow_bot.utils.api_client import BackendClient
from phonicflow_bot.utils.audio_converter import ConverterClient
from phonicflow_bot.utils.session_manager import SessionManager

BOT_DATA_KEY = "phonicflow"


@dataclass
class BotServices:
    settings: BotSettings
    backend: BackendClient
    converter: ConverterClient
    sessions: SessionManager
    limiter: RateLimiter | None

    async def close(self) -> None:
        await self.backend.aclose()
        await self.converter.close()
        await self.sessions.store.close()


def services(context: ContextTypes.DEFAULT_TYPE | Any) -> BotServices:
    found: BotServices = context.application.bot_data[BOT_DATA_KEY]
    return found
