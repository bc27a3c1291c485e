"""Inline buttons: replay, try again, history pages, delete confirmation, language, practice.

Callback data formats are listed in :mod:`phonicflow_bot.handlers.common`. Every press is
answered (answerCallbackQuery) so the learner's client stops its spinner, even when the data
is stale or unknown.
"""

from __future__ import annotations

import contextlib
import logging

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from phonicflow_bot.formatting import escape
from phonicflow_bot.handlers.common import guarded, language_of, send_html, send_voice
from phonicflow_bot.handlers.message_handler import begin, propose_sentence, send_history_page
from phonicflow_bot.handlers.replies import VOICE_REPLIES, fetch_voice
from phonicflow_bot.i18n import as_language, text
from phonicflow_bot.services import services
from phonicflow_bot.telemetry import stage
from phonicflow_bot.utils.session_manager import STATE_PRACTICE

log = logging.getLogger(__name__)


@guarded
async def handle_callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is None or update.effective_user is None:
        return
    with contextlib.suppress(TelegramError), stage("send", method="answerCallbackQuery"):
        await query.answer()
    verb, _, argument = (query.data or "").partition(":")
    if verb == "d":
        await _delete(update, context, confirmed=argument == "yes")
    elif verb == "l":
        await _language(update, context, argument)
    elif verb == "h":
        session = await begin(update, context)
        page = int(argument) if argument.isdigit() else 0
        await send_history_page(update, context, session, page, edit=argument != "0")
    elif verb == "r":
        await _replay(update, context, argument)
    elif verb == "t":
        await _try_again(update, context, argument)
    elif verb == "p":
        session = await begin(update, context)
        await propose_sentence(update, context, session)
    else:
        log.info("unknown callback data", extra={"data": (query.data or "")[:64]})


async def _delete(update: Update, context: ContextTypes.DEFAULT_TYPE, *, confirmed: bool) -> None:
    query = update.callback_query
    user = update.effective_user
    assert query is not None and user is not None
    lang = await language_of(update, context)
    if not confirmed:
        with contextlib.suppress(TelegramError):
            await query.edit_message_text(text(lang, "delete_cancelled"), parse_mode="HTML")
        return
    svc = services(context)
    with stage("backend", call="delete"):
        await svc.sessions.erase(user.id)
    if svc.limiter is not None:
        await svc.limiter.reset(user.id)
    log.info("learner erased", extra={"user_id": user.id})
    with contextlib.suppress(TelegramError):
        await query.edit_message_text(text(lang, "delete_done"), parse_mode="HTML")


async def _language(update: Update, context: ContextTypes.DEFAULT_TYPE, choice: str) -> None:
    query = update.callback_query
    assert query is not None
    session = await begin(update, context)
    session.language = as_language(choice)
    await services(context).sessions.save(session)
    with contextlib.suppress(TelegramError):
        await query.edit_message_text(text(session.language, "language_set"), parse_mode="HTML")


async def _replay(update: Update, context: ContextTypes.DEFAULT_TYPE, turn_id: str) -> None:
    """Re-send a turn's voice notes: by file_id for the last turn, else fetched again."""
    session = await begin(update, context)
    svc = services(context)
    chat_id = update.effective_chat.id if update.effective_chat else session.user_id
    last = session.last_feedback or {}
    if str((last.get("result") or {}).get("turn_id") or "") == turn_id and last.get(
        "voice_file_ids"
    ):
        for file_id in last["voice_file_ids"].values():
            await send_voice(context, chat_id, file_id)
        return
    sent_any = False
    for kind, _ in VOICE_REPLIES:
        voice = await fetch_voice(svc, session.session_id, kind, turn_id or None)
        if voice is not None:
            sent_any = await send_voice(context, chat_id, voice) is not None or sent_any
    if not sent_any:
        await send_html(context, chat_id, text(session.language, "nothing_to_replay"))


async def _try_again(update: Update, context: ContextTypes.DEFAULT_TYPE, turn_id: str) -> None:
    """Re-arm the same target sentence (drills), or invite another free attempt."""
    session = await begin(update, context)
    chat_id = update.effective_chat.id if update.effective_chat else session.user_id
    result = (session.last_feedback or {}).get("result") or {}
    target = result.get("target_text") if str(result.get("turn_id") or "") == turn_id else None
    if not target:
        await send_html(context, chat_id, text(session.language, "try_again_free"))
        return
    session.practice_target = {**(session.practice_target or {}), "text": str(target)}
    session.practice_target.setdefault("id", "")
    session.state = STATE_PRACTICE
    await services(context).sessions.save(session)
    await send_html(
        context, chat_id, text(session.language, "try_again_prompt", target=escape(target))
    )
