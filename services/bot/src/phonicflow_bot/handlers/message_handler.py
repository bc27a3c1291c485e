"""Commands and text messages (seed 2.1.2).

/start /help /status /history /new /feedback /delete /language /practice, free text (a
conversational turn, POST /process with ``text``), and anything the bot cannot listen to
(photos, PDFs, stickers...) which gets a clear message.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime

from telegram import Update
from telegram.constants import ChatAction
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from phonicflow_bot import metrics
from phonicflow_bot.formatting import escape, format_feedback, format_history
from phonicflow_bot.handlers.common import (
    chat_action,
    delete_keyboard,
    feedback_keyboard,
    guarded,
    history_keyboard,
    language_keyboard,
    language_of,
    practice_keyboard,
    send_html,
    send_voice,
)
from phonicflow_bot.handlers.replies import deliver_result
from phonicflow_bot.i18n import text
from phonicflow_bot.services import BotServices, services
from phonicflow_bot.telemetry import stage
from phonicflow_bot.utils.api_client import (
    BackendError,
    BackendRejected,
    message_idempotency_key,
)
from phonicflow_bot.utils.audio_converter import ConverterError
from phonicflow_bot.utils.session_manager import STATE_ACTIVE, STATE_PRACTICE, Session

log = logging.getLogger(__name__)
#: A /practice argument longer than this is not a sound name; it is cut before it goes anywhere.
MAX_FOCUS_CHARS = 32


async def begin(
    update: Update, context: ContextTypes.DEFAULT_TYPE, *, announce_expiry: bool = True
) -> Session:
    """The learner's session for this update, created or renewed (and saved); a learner whose
    session expired is told they got a new one."""
    user = update.effective_user
    assert user is not None  # every handler here is registered for user messages only
    svc = services(context)
    session, origin = await svc.sessions.ensure(user.id, user.language_code)
    await svc.sessions.save(session)
    chat = update.effective_chat
    if origin == "expired" and announce_expiry and chat is not None:
        await send_html(context, chat.id, text(session.language, "session_expired"))
    return session


def _chat_id(update: Update) -> int:
    chat = update.effective_chat
    assert chat is not None
    return chat.id


@guarded
async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    user = update.effective_user
    assert user is not None
    session, origin = await svc.sessions.ensure(user.id, user.language_code)
    if origin == "existing":
        session = await svc.sessions.restart(session)
    await svc.sessions.save(session)
    name = escape(user.first_name or "")
    await send_html(context, _chat_id(update), text(session.language, "start", name=name))


@guarded
async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    session = await begin(update, context)
    await send_html(context, _chat_id(update), text(session.language, "help"))


@guarded
async def status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    session = await begin(update, context)
    svc = services(context)
    lang = session.language
    created = datetime.fromtimestamp(session.created_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    mode = text(lang, "mode_practice" if session.practice_target else "mode_free")
    await send_html(
        context,
        _chat_id(update),
        text(
            lang,
            "status",
            created=created,
            turns=session.conversation_turns,
            mode=mode,
            hours=f"{svc.settings.session_timeout_hours:g}",
        ),
    )


async def send_history_page(
    update: Update, context: ContextTypes.DEFAULT_TYPE, session: Session, page: int, *, edit: bool
) -> None:
    """Show /history page ``page`` (0 = most recent), as a new message or by editing the
    message whose button was pressed."""
    svc = services(context)
    with stage("backend", call="history"):
        turns = await svc.sessions.call(session, svc.backend.get_conversation_history)
    lang = session.language
    if not turns:
        body, markup = text(lang, "history_empty"), None
    else:
        body, pages = format_history(turns, page, lang)
        markup = history_keyboard(lang, min(max(page, 0), pages - 1), pages)
    query = update.callback_query
    if edit and query is not None and query.message is not None:
        with stage("send", method="editMessageText"):
            await query.edit_message_text(body, parse_mode="HTML", reply_markup=markup)
        return
    await send_html(context, _chat_id(update), body, markup)


@guarded
async def history(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    session = await begin(update, context)
    await send_history_page(update, context, session, 0, edit=False)


@guarded
async def new(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    session = await begin(update, context, announce_expiry=False)
    session = await services(context).sessions.restart(session)
    await send_html(context, _chat_id(update), text(session.language, "new_session"))


@guarded
async def feedback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    session = await begin(update, context)
    chat_id = _chat_id(update)
    last = session.last_feedback
    if not last:
        await send_html(context, chat_id, text(session.language, "feedback_none"))
        return
    result = last["result"]
    await send_html(
        context,
        chat_id,
        format_feedback(result, session.language),
        feedback_keyboard(session.language, str(result.get("turn_id") or "")),
    )
    for file_id in last.get("voice_file_ids", {}).values():
        await send_voice(context, chat_id, file_id)


@guarded
async def delete(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    # No session is created here: a learner asking to be forgotten should not be registered.
    lang = await language_of(update, context)
    await send_html(context, _chat_id(update), text(lang, "delete_confirm"), delete_keyboard(lang))


@guarded
async def language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    session = await begin(update, context)
    await send_html(
        context, _chat_id(update), text(session.language, "language_choose"), language_keyboard()
    )


async def propose_sentence(
    update: Update, context: ContextTypes.DEFAULT_TYPE, session: Session
) -> None:
    """GET /practice/next, show it, then send its reference pronunciation as a voice note."""
    svc = services(context)
    chat_id = _chat_id(update)
    previous = (session.practice_target or {}).get("id") or session.extra.get("last_practice_id")
    focus = session.extra.get("practice_focus")
    with stage("backend", call="practice_next"):
        sentence = await svc.backend.practice_next(exclude=previous, focus=focus)
    session.practice_target = {
        "id": str(sentence["id"]),
        "text": str(sentence["text"]),
        "hint_en": str(sentence.get("hint_en") or ""),
        "hint_pt": str(sentence.get("hint_pt") or ""),
    }
    session.extra["last_practice_id"] = session.practice_target["id"]
    session.state = STATE_PRACTICE
    await svc.sessions.save(session)
    lang = session.language
    hint = session.practice_target["hint_pt" if lang == "pt" else "hint_en"]
    await send_html(
        context,
        chat_id,
        text(lang, "practice_target", target=escape(sentence["text"]), hint=escape(hint)),
        practice_keyboard(lang),
    )
    await send_reference_audio(context, svc, chat_id, session.practice_target["id"])


async def send_reference_audio(
    context: ContextTypes.DEFAULT_TYPE, svc: BotServices, chat_id: int, sentence_id: str
) -> None:
    try:
        async with chat_action(context, chat_id, ChatAction.RECORD_VOICE):
            with stage("reply_audio", audio_type="reference"):
                wav = await svc.backend.practice_audio(sentence_id)
                voice = await svc.converter.to_voice(wav)
    except (BackendError, ConverterError) as exc:
        metrics.ERRORS.labels("reply_audio_failed").inc()
        log.warning("reference audio unavailable", extra={"error": str(exc)})
        return
    await send_voice(context, chat_id, voice)


@guarded
async def practice(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/practice, or /practice th (a sound to drill; kept for "another sentence")."""
    session = await begin(update, context)
    focus = " ".join(context.args or []).strip()[:MAX_FOCUS_CHARS] or None
    if focus is None:
        session.extra.pop("practice_focus", None)
    else:
        session.extra["practice_focus"] = focus
    try:
        await propose_sentence(update, context, session)
    except BackendRejected as exc:
        if exc.code != "unknown_focus":
            raise
        session.extra.pop("practice_focus", None)
        await services(context).sessions.save(session)
        await send_html(
            context,
            _chat_id(update),
            text(session.language, "practice_focus_unknown", focus=escape(focus or "")),
        )


@guarded
async def handle_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or not message.text:
        return
    session = await begin(update, context)
    svc = services(context)
    async with chat_action(context, message.chat_id, ChatAction.TYPING):
        with stage("backend", call="process_text"):
            key = message_idempotency_key(message.chat_id, message.message_id)
            result = await svc.sessions.call(
                session,
                lambda sid: svc.backend.process(sid, text=message.text, idempotency_key=key),
            )
    session.conversation_turns += 1
    session.state = STATE_PRACTICE if session.practice_target else STATE_ACTIVE
    await deliver_result(context, svc, message.chat_id, session, result)


async def unsupported(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Photos, stickers, PDFs, video that is not a video note...: say what the bot can hear."""
    chat = update.effective_chat
    if chat is None:
        return
    metrics.AUDIO_PROCESSED.labels("rejected").inc()
    lang = await language_of(update, context)
    with contextlib.suppress(TelegramError):
        await send_html(context, chat.id, text(lang, "unsupported"))
