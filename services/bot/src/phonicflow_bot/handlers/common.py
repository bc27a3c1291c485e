"""What the handlers share: sending (traced), inline keyboards, chat actions, and turning a
failure of the converter or the backend into a clear message in the learner's language.

Callback data (at most 64 bytes, Telegram's limit) is ``<verb>:<argument>``:

- ``r:<turn_id>`` replay the voice replies of a turn;  ``t:<turn_id>`` try again;
- ``h:<page>`` a /history page;  ``d:yes`` / ``d:no`` confirm /delete;
- ``l:en`` / ``l:pt`` interface language;  ``p:next`` another practice sentence.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from phonicflow_bot import metrics
from phonicflow_bot.i18n import Language, detect_language, text
from phonicflow_bot.services import services
from phonicflow_bot.telemetry import stage
from phonicflow_bot.utils.api_client import (
    BackendError,
    BackendRejected,
    BackendTimeout,
    BackendUnavailable,
)
from phonicflow_bot.utils.audio_converter import AudioRejected, ConverterError, VoiceNote

log = logging.getLogger(__name__)

#: Telegram shows a chat action for about 5 s; repeat it a little sooner while working.
CHAT_ACTION_REPEAT_SECONDS = 4.5

Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


async def language_of(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Language:
    """The learner's chosen language, or the one Telegram reports for them."""
    user = update.effective_user
    if user is None:
        return "en"
    try:
        session = await services(context).sessions.peek(user.id)
    except Exception:  # the store being down must not hide the error message itself
        session = None
    return session.language if session else detect_language(user.language_code)


async def send_html(
    context: ContextTypes.DEFAULT_TYPE,
    chat_id: int,
    html: str,
    markup: InlineKeyboardMarkup | None = None,
) -> Message:
    with stage("send", method="sendMessage"):
        return await context.bot.send_message(
            chat_id, html, parse_mode=ParseMode.HTML, reply_markup=markup
        )


async def send_voice(
    context: ContextTypes.DEFAULT_TYPE, chat_id: int, voice: VoiceNote | str
) -> Message | None:
    """Send a voice note (converted audio, or a file_id to re-send); a failure is logged, not
    raised, because the text of the reply has already been delivered."""
    try:
        with stage("send", method="sendVoice"):
            if isinstance(voice, str):
                return await context.bot.send_voice(chat_id, voice)
            return await context.bot.send_voice(
                chat_id, voice.ogg, duration=max(1, round(voice.duration))
            )
    except TelegramError as exc:
        metrics.ERRORS.labels("send_failed").inc()
        log.warning("sendVoice failed", extra={"chat_id": chat_id, "error": repr(exc)})
        return None


@contextlib.asynccontextmanager
async def chat_action(
    context: ContextTypes.DEFAULT_TYPE, chat_id: int, action: str = ChatAction.TYPING
) -> AsyncIterator[None]:
    """Show "recording voice…"/"typing…" while the body runs."""

    async def repeat() -> None:
        while True:
            with contextlib.suppress(TelegramError):
                await context.bot.send_chat_action(chat_id, action)
            await asyncio.sleep(CHAT_ACTION_REPEAT_SECONDS)

    task = asyncio.create_task(repeat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def feedback_keyboard(lang: str, turn_id: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(text(lang, "btn_replay"), callback_data=f"r:{turn_id}"),
                InlineKeyboardButton(text(lang, "btn_try_again"), callback_data=f"t:{turn_id}"),
            ],
            [InlineKeyboardButton(text(lang, "btn_history"), callback_data="h:0")],
        ]
    )


def history_keyboard(lang: str, page: int, pages: int) -> InlineKeyboardMarkup | None:
    row = []
    if page > 0:
        row.append(InlineKeyboardButton(text(lang, "btn_newer"), callback_data=f"h:{page - 1}"))
    if page < pages - 1:
        row.append(InlineKeyboardButton(text(lang, "btn_older"), callback_data=f"h:{page + 1}"))
    return InlineKeyboardMarkup([row]) if row else None


def delete_keyboard(lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(text(lang, "btn_delete_yes"), callback_data="d:yes"),
                InlineKeyboardButton(text(lang, "btn_cancel"), callback_data="d:no"),
            ]
        ]
    )


def language_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("🇬🇧 English", callback_data="l:en"),
                InlineKeyboardButton("🇧🇷 Português", callback_data="l:pt"),
            ]
        ]
    )


def practice_keyboard(lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text(lang, "btn_next_sentence"), callback_data="p:next")]]
    )


def failure_text_key(exc: BaseException) -> tuple[str, str, dict[str, Any]]:
    """(text key, metric error kind, values) for a failure a learner should hear about."""
    if isinstance(exc, AudioRejected):
        return "bad_audio", "bad_audio", {}
    if isinstance(exc, ConverterError):
        return "service_down", "converter_unavailable", {}
    if isinstance(exc, BackendTimeout):
        return "service_slow", "backend_timeout", {}
    if isinstance(exc, BackendUnavailable):
        return "service_down", "backend_unavailable", {}
    if isinstance(exc, BackendRejected) and exc.code == "idempotency_key_reused":
        # A redelivered message whose inputs changed meanwhile (e.g. the practice sentence was
        # cleared): nothing is wrong with the audio, and a new message gets a new key.
        return "service_down", "backend_error", {}
    if isinstance(exc, BackendRejected) and exc.status in (415, 422):
        return "bad_audio", "bad_audio", {}
    return "service_down", "backend_error", {}


def guarded(handler: Handler) -> Handler:
    """Answer converter/backend failures with a clear "try again" in the learner's language.

    Anything else propagates to the application's error handler (logged, learner told).
    """

    @functools.wraps(handler)
    async def wrapper(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            await handler(update, context)
        except (BackendError, ConverterError) as exc:
            key, kind, values = failure_text_key(exc)
            metrics.ERRORS.labels(kind).inc()
            log.warning(
                "request failed",
                extra={"kind": kind, "error": str(exc), "update_id": update.update_id},
            )
            chat = update.effective_chat
            if chat is not None:
                lang = await language_of(update, context)
                with contextlib.suppress(TelegramError):
                    await send_html(context, chat.id, text(lang, key, **values))

    return wrapper
