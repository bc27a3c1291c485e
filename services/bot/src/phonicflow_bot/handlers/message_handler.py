"""Commands and text messages (seed 2.1.2).

/start /help /status /history /new /feedback /delete /language /practice, any other command
(pointed to /help), free text (a conversational turn, POST /process with ``text``; a short
request such as "help with th" gets that sound's drill instead), and anything the bot cannot
listen to (photos, PDFs, stickers...) which gets a clear message.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from telegram import Update
from telegram.constants import ChatAction

from phonicflow_bot import metrics
from phonicflow_bot.clients.backend import BackendRejected, message_idempotency_key
from phonicflow_bot.clients.sessions import STATE_ACTIVE, STATE_PRACTICE, Session
from phonicflow_bot.context import BotContext
from phonicflow_bot.formatting import escape, format_feedback
from phonicflow_bot.handlers.common import (
    begin,
    chat_action,
    chat_id,
    delete_keyboard,
    deliver_result,
    feedback_keyboard,
    guarded,
    language_keyboard,
    language_of,
    propose_sentence,
    send_history_page,
    send_html,
    send_voice,
)
from phonicflow_bot.i18n import count, text
from phonicflow_bot.journal import memo
from phonicflow_bot.telemetry import stage
from phonicflow_common.contract import ProcessResponse

log = logging.getLogger(__name__)
#: A /practice argument longer than this is not a sound name; it is cut before it goes anywhere.
MAX_FOCUS_CHARS = 32


#: Words that make a text a request for a drill ("help with th", "quero treinar o h").
_DRILL_CUES = frozenset(
    {"help", "practice", "practise", "train", "drill", "improve", "exercise",
     "ajuda", "ajude", "ajudar", "treinar", "treino", "praticar", "pratique", "exercitar",
     "exercício", "melhorar"}
)  # fmt: skip
#: How learners name the sounds the backend has drills for (its practice focuses).
_SOUND_PHRASES: dict[str, str] = {
    "vowel insertion": "vowel_insertion",
    "extra vowel": "vowel_insertion",
    "vogal extra": "vowel_insertion",
    "final s": "final_s_ed",
    "s final": "final_s_ed",
    "h and r": "h_r",
    "h e r": "h_r",
}
_SOUND_WORDS: dict[str, str] = {
    "th": "th",
    "h_r": "h_r",
    "h/r": "h_r",
    "h": "h_r",
    "r": "h_r",
    "i_ih": "i_ih",
    "i/ɪ": "i_ih",
    "i/ih": "i_ih",
    "ih": "i_ih",
    "ɪ": "i_ih",
    "final_s_ed": "final_s_ed",
    "-ed": "final_s_ed",
    "ed": "final_s_ed",
    "vowel_insertion": "vowel_insertion",
}
#: A longer text is conversation, even if it mentions "help" and a letter.
MAX_DRILL_REQUEST_CHARS = 80


def asked_focus(said: str) -> str | None:
    """The practice focus a short text asks to drill ("can you help me with the th sound?",
    "me ajuda com o h"), or None when it is not such a request."""
    if len(said) > MAX_DRILL_REQUEST_CHARS:
        return None
    words = re.findall(r"[\w/ɪ-]+", said.lower())
    if not _DRILL_CUES.intersection(words):
        return None
    joined = f" {' '.join(words)} "
    for phrase, focus in _SOUND_PHRASES.items():
        if f" {phrase} " in joined:
            return focus
    return next((_SOUND_WORDS[w] for w in words if w in _SOUND_WORDS), None)


@guarded
async def start(update: Update, context: BotContext) -> None:
    sessions = context.services.sessions
    user = update.effective_user
    assert user is not None
    session, origin = await sessions.ensure(user.id, user.language_code)
    if origin == "existing":
        session = await sessions.restart(session)
    await sessions.save(session)
    name = escape(user.first_name or "")
    await send_html(context, chat_id(update), text(session.language, "start", name=name))


@guarded
async def help_command(update: Update, context: BotContext) -> None:
    session = await begin(update, context)
    await send_html(context, chat_id(update), text(session.language, "help"))


@guarded
async def status(update: Update, context: BotContext) -> None:
    session = await begin(update, context)
    lang = session.language
    created = datetime.fromtimestamp(session.created_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    mode = text(lang, "mode_practice" if session.practice_target else "mode_free")
    hours = f"{context.services.settings.session_timeout_hours:g}"
    lines = [
        text(
            lang,
            "status",
            created=created,
            turns=session.conversation_turns,
            mode=mode,
            hours=hours,
        )
    ]
    with stage("backend", call="progress"):
        progress = await context.services.backend.progress(session.user_id)
    if progress is not None:
        streak = count(lang, "day", progress.streak_days)
        goal = progress.daily_goal
        today = progress.notes_today
        lines.append(text(lang, "status_progress", streak=streak, today=today, goal=goal))
    await send_html(context, chat_id(update), "\n".join(lines))


@guarded
async def history(update: Update, context: BotContext) -> None:
    session = await begin(update, context)
    await send_history_page(update, context, session, 0, edit=False)


@guarded
async def new(update: Update, context: BotContext) -> None:
    session = await begin(update, context, announce_expiry=False)
    session = await context.services.sessions.restart(session)
    await send_html(context, chat_id(update), text(session.language, "new_session"))


@guarded
async def feedback(update: Update, context: BotContext) -> None:
    session = await begin(update, context)
    chat = chat_id(update)
    last = session.last_result()
    if last is None:
        await send_html(context, chat, text(session.language, "feedback_none"))
        return
    await send_html(
        context,
        chat,
        format_feedback(last, session.language),
        feedback_keyboard(session.language, last),
    )
    for file_id in session.voice_file_ids().values():
        await send_voice(context, chat, file_id)


@guarded
async def delete(update: Update, context: BotContext) -> None:
    # No session is created here: a learner asking to be forgotten should not be registered.
    lang = await language_of(update, context)
    await send_html(context, chat_id(update), text(lang, "delete_confirm"), delete_keyboard(lang))


@guarded
async def language(update: Update, context: BotContext) -> None:
    session = await begin(update, context)
    await send_html(
        context, chat_id(update), text(session.language, "language_choose"), language_keyboard()
    )


@guarded
async def practice(update: Update, context: BotContext) -> None:
    """/practice, or /practice th (a sound to drill; kept for "another sentence")."""
    session = await begin(update, context)
    focus = " ".join(context.args or []).strip()[:MAX_FOCUS_CHARS] or None
    await start_drill(update, context, session, focus)


async def start_drill(
    update: Update, context: BotContext, session: Session, focus: str | None
) -> None:
    """Propose a sentence for ``focus`` (None: any), remembered for "another sentence"."""
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
        await context.services.sessions.save(session)
        await send_html(
            context,
            chat_id(update),
            text(session.language, "practice_focus_unknown", focus=escape(focus or "")),
        )


@guarded
async def handle_text(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None or not message.text:
        return
    said = message.text
    session = await begin(update, context)
    focus = asked_focus(said)
    if focus is not None:  # "help with th", "quero treinar o th": the drill, not a chat turn
        await start_drill(update, context, session, focus)
        return
    svc = context.services
    key = message_idempotency_key(message.chat_id, message.message_id)
    async with chat_action(context, message.chat_id, ChatAction.TYPING):
        with stage("backend", call="process_text"):
            result = await memo(
                "process",
                lambda: svc.sessions.call(
                    session, lambda sid: svc.backend.process(sid, text=said, idempotency_key=key)
                ),
                ProcessResponse,
            )
    session.conversation_turns += 1
    session.state = STATE_PRACTICE if session.practice_target else STATE_ACTIVE
    await deliver_result(context, message.chat_id, session, result)


async def unknown_command(update: Update, context: BotContext) -> None:
    """A command the bot does not have: say so and point to /help (no session is created)."""
    message = update.effective_message
    if message is None or not message.text:
        return
    command = message.text.split()[0][:MAX_FOCUS_CHARS]
    addressee = command.partition("@")[2]
    if addressee and addressee.lower() != (context.bot.username or "").lower():
        return  # /foo@another_bot in a group: not ours to answer
    lang = await language_of(update, context)
    await send_html(
        context, message.chat_id, text(lang, "unknown_command", command=escape(command))
    )


async def unsupported(update: Update, context: BotContext) -> None:
    """Photos, stickers, PDFs, video that is not a video note...: say what the bot can hear."""
    chat = update.effective_chat
    if chat is None:
        return
    metrics.AUDIO_PROCESSED.labels("rejected").inc()
    lang = await language_of(update, context)
    await send_html(context, chat.id, text(lang, "unsupported"))
