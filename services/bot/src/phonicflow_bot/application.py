"""The python-telegram-bot Application that handles updates (roles ``worker`` and ``all``).

Usage::

    bot = make_bot(settings, telegram_requests(settings))   # HTML by default, rate limited
    application = build_application(bot)
    await application.initialize()
    application.bot_data[SERVICES_KEY] = services
    await application.process_update(update)     # what a worker does with each update

No Updater: updates come from the update log (:mod:`phonicflow_bot.worker`), not from polling.
PTB's own seams carry the rest: ``Defaults(parse_mode=HTML)`` (every text is HTML, see
:mod:`phonicflow_bot.i18n`), :data:`~phonicflow_bot.context.CONTEXT_TYPES` (handlers get a typed
``context.services``), one ``CallbackQueryHandler`` per button verb, ``AIORateLimiter`` for
Telegram's flood limits (retrying after ``retry_after``), and the aiohttp transport of
:mod:`phonicflow_bot.clients.telegram`.
"""

from __future__ import annotations

import logging

from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)

from phonicflow_bot.clients.telegram import AiohttpRequest
from phonicflow_bot.config import BotSettings
from phonicflow_bot.context import CONTEXT_TYPES, BotApplication
from phonicflow_bot.handlers import (
    audio_handler,
    callback_handler,
    message_handler,
    progress_handler,
)
from phonicflow_bot.handlers.common import FREE_SPEECH
from phonicflow_bot.handlers.gate import on_error, rate_limit_gate
from phonicflow_bot.i18n import COMMANDS, LANGUAGES
from phonicflow_bot.journal import JournaledBot

log = logging.getLogger(__name__)

#: Extra seconds on top of the long-poll timeout before getUpdates counts as hung.
GET_UPDATES_GRACE_SECONDS = 10.0

#: What counts as an audio message (4.1 of the seed registered only audio: voice never arrived).
AUDIO_FILTER = filters.VOICE | filters.AUDIO | filters.VIDEO_NOTE | filters.Document.AUDIO
#: Anything else a learner can send that is not text or a command.
UNSUPPORTED_FILTER = (filters.ATTACHMENT | filters.PHOTO | filters.Sticker.ALL | filters.VIDEO |
                      filters.LOCATION | filters.CONTACT | filters.POLL) & ~AUDIO_FILTER  # fmt: skip

COMMAND_HANDLERS = {
    "start": message_handler.start,
    "help": message_handler.help_command,
    "status": message_handler.status,
    "history": message_handler.history,
    "new": message_handler.new,
    "feedback": message_handler.feedback,
    "delete": message_handler.delete,
    "language": message_handler.language,
    "practice": message_handler.practice,
    "progress": progress_handler.progress,
    "goal": progress_handler.goal,
    "remind": progress_handler.remind,
    "export": progress_handler.export,
}


def telegram_requests(settings: BotSettings) -> tuple[AiohttpRequest, AiohttpRequest]:
    """(every call, getUpdates): the bot's two connection pools to Telegram. The caller shuts
    them down; PTB only does so for a bot whose initialize() succeeded."""
    return (
        AiohttpRequest(
            connection_pool_size=settings.bot_max_concurrent_updates,
            timeout=settings.bot_timeout,
        ),
        AiohttpRequest(
            connection_pool_size=1,
            timeout=settings.bot_timeout,
            read_timeout=settings.bot_polling_timeout + GET_UPDATES_GRACE_SECONDS,
        ),
    )


def make_bot(
    settings: BotSettings, requests: tuple[AiohttpRequest, AiohttpRequest]
) -> JournaledBot:
    """The bot every role talks to Telegram through (the poller uses it for getUpdates)."""
    calls, get_updates = requests
    return JournaledBot(
        token=settings.telegram_bot_token.get_secret_value(),
        base_url=settings.telegram_api_base_url,
        base_file_url=settings.telegram_file_base_url,
        request=calls,
        get_updates_request=get_updates,
        rate_limiter=AIORateLimiter(
            overall_max_rate=settings.bot_outgoing_rate_per_second,
            max_retries=settings.bot_send_max_retries,
        ),
        defaults=Defaults(parse_mode=ParseMode.HTML),
    )


def register_handlers(application: BotApplication) -> None:
    application.add_handler(TypeHandler(Update, rate_limit_gate), group=-1)
    # New messages only: an edited message is not a new turn to score or answer again.
    new = filters.UpdateType.MESSAGE
    for name, callback in COMMAND_HANDLERS.items():
        application.add_handler(CommandHandler(name, callback, filters=new))
    # After the commands above: any other /command (a typo, /Practice, another bot's) gets /help.
    application.add_handler(MessageHandler(new & filters.COMMAND, message_handler.unknown_command))
    application.add_handler(MessageHandler(new & AUDIO_FILTER, audio_handler.handle_audio))
    application.add_handler(
        MessageHandler(new & filters.TEXT & ~filters.COMMAND, message_handler.handle_text)
    )
    application.add_handler(MessageHandler(new & UNSUPPORTED_FILTER, message_handler.unsupported))
    for verb, callback in callback_handler.BUTTONS.items():
        application.add_handler(CallbackQueryHandler(callback, pattern=f"^{verb}:"))
    application.add_handler(
        CallbackQueryHandler(audio_handler.free_speech, pattern=f"^{FREE_SPEECH}:")
    )
    application.add_handler(CallbackQueryHandler(callback_handler.unknown))
    application.add_error_handler(on_error)


def build_application(bot: JournaledBot) -> BotApplication:
    application: BotApplication = (
        Application.builder().bot(bot).context_types(CONTEXT_TYPES).updater(None).build()
    )
    register_handlers(application)
    return application


async def set_commands(application: BotApplication) -> None:
    """The command menu in English (default) and Portuguese (language_code "pt"); a menu is
    nice to have, not a reason not to start."""
    try:
        for lang in LANGUAGES:
            commands = [BotCommand(name, texts[lang]) for name, texts in COMMANDS.items()]
            await application.bot.set_my_commands(
                commands, language_code=None if lang == "en" else lang
            )
    except TelegramError as exc:
        log.warning("setMyCommands failed", extra={"error": repr(exc)})
