"""Inline buttons: replay, try again, history pages, delete confirmation, language, practice.

One handler per button verb (:data:`BUTTONS`; the verbs and callback data formats are in
:mod:`phonicflow_bot.handlers.common`), each registered as its own ``CallbackQueryHandler``
with a pattern, plus :func:`unknown` for stale or foreign data. Every press is answered first
and a burst of presses does the work once (:func:`~phonicflow_bot.handlers.common.answered`).
The one button that scores audio again ("feedback on what I said") is the audio handler's.
"""

from __future__ import annotations

import logging

from telegram import Update

from phonicflow_bot.clients.backend import BackendRejected, NotFound
from phonicflow_bot.clients.sessions import STATE_PRACTICE
from phonicflow_bot.context import BotContext
from phonicflow_bot.formatting import escape
from phonicflow_bot.handlers.common import (
    CONSENT,
    DELETE,
    HEAR,
    HISTORY,
    LABEL,
    LANGUAGE,
    PRACTICE,
    REPLAY,
    TRY_AGAIN,
    WRONG,
    Handler,
    answered,
    begin,
    button_argument,
    chat_id,
    consent_keyboard,
    edit_html,
    fetch_voice,
    language_of,
    propose_sentence,
    send_history_page,
    send_html,
    send_voice,
    words_keyboard,
)
from phonicflow_bot.i18n import as_language, text
from phonicflow_bot.telemetry import stage
from phonicflow_common.contract import (
    AUDIO_TYPES,
    LabelRequest,
    LearnerSettingsUpdate,
    LearnerUpdate,
)

log = logging.getLogger(__name__)


@answered
async def delete(update: Update, context: BotContext) -> None:
    user = update.effective_user
    assert user is not None
    lang = await language_of(update, context)
    if button_argument(update) != "yes":
        await edit_html(update, text(lang, "delete_cancelled"))
        return
    svc = context.services
    with stage("backend", call="delete"):
        await svc.sessions.erase(user.id)
    if svc.limiter is not None:
        await svc.limiter.reset(user.id)
    log.info("learner erased", extra={"user_id": user.id})
    await edit_html(update, text(lang, "delete_done"))


@answered
async def language(update: Update, context: BotContext) -> None:
    session = await begin(update, context)
    session.language = as_language(button_argument(update))
    # the backend speaks the coaching and sends reminders in the learner's language
    with stage("backend", call="update_settings"):
        await context.services.backend.update_settings(
            session.user_id, LearnerSettingsUpdate(language=session.language)
        )
    await context.services.sessions.save(session)
    await edit_html(update, text(session.language, "language_set"))


@answered
async def history_page(update: Update, context: BotContext) -> None:
    session = await begin(update, context)
    argument = button_argument(update)
    page = int(argument) if argument.isdigit() else 0
    await send_history_page(update, context, session, page, edit=argument != "0")


@answered
async def replay(update: Update, context: BotContext) -> None:
    """Re-send a turn's voice notes: by file_id for the last turn, else fetched again."""
    session = await begin(update, context)
    svc = context.services
    chat = chat_id(update)
    turn_id = button_argument(update)
    last = session.last_result()
    file_ids = session.voice_file_ids()
    if last is not None and last.turn_id == turn_id and file_ids:
        for file_id in file_ids.values():
            await send_voice(context, chat, file_id)
        return
    sent_any = False
    for kind in AUDIO_TYPES:
        voice = await fetch_voice(svc, session.session_id, kind, turn_id or None)
        if voice is not None:
            sent_any = await send_voice(context, chat, voice) is not None or sent_any
    if not sent_any:
        await send_html(context, chat, text(session.language, "nothing_to_replay"))


@answered
async def hear_it_right(update: Update, context: BotContext) -> None:
    """The words the turn flagged, said slowly and correctly, as a voice note."""
    session = await begin(update, context)
    svc = context.services
    with stage("reply_audio", audio_type="words"):
        wav = await svc.backend.words_said_right(session.session_id, button_argument(update))
        voice = await svc.converter.to_voice(wav) if wav is not None else None
    if voice is None:
        await send_html(context, chat_id(update), text(session.language, "nothing_to_hear"))
        return
    await send_voice(context, chat_id(update), voice)


@answered
async def wrong_verdict(update: Update, context: BotContext) -> None:
    """ "Wrong verdict?": the words of the latest note to pick from, once the learner agreed
    that corrected notes may be kept (asked here the first time)."""
    session = await begin(update, context)
    chat, lang = chat_id(update), session.language
    last = session.last_result()
    if last is None or last.turn_id != button_argument(update) or last.pronunciation is None:
        await send_html(context, chat, text(lang, "label_not_latest"))
        return
    with stage("backend", call="learner"):
        learner = await context.services.backend.update_learner(session.user_id, LearnerUpdate())
    if not learner.label_consent:
        await send_html(context, chat, text(lang, "label_consent_ask"), consent_keyboard(lang))
        return
    await send_html(context, chat, text(lang, "label_which_word"), words_keyboard(last))


@answered
async def word_was_wrong(update: Update, context: BotContext) -> None:
    """The learner tapped the word whose verdict was wrong: a flagged word was said right, a
    passed one was not. The backend keeps the note, verdict and correction as a label."""
    session = await begin(update, context)
    lang = session.language
    turn_id, _, index = button_argument(update).partition(":")
    last = session.last_result()
    if last is None or last.turn_id != turn_id or last.pronunciation is None:
        await edit_html(update, text(lang, "label_not_latest"))
        return
    words = last.pronunciation.words
    if not index.isdigit() or int(index) >= len(words):
        return  # not a button this bot made
    word = words[int(index)]
    correction = "said_right" if word.needs_work else "said_wrong"
    request = LabelRequest(turn_id=turn_id, word_index=int(index), correction=correction)
    try:
        with stage("backend", call="add_label"):
            await context.services.backend.add_label(session.user_id, request)
    except NotFound:
        await edit_html(update, text(lang, "label_note_gone"))
        return
    except BackendRejected as exc:
        if exc.code != "consent_required":
            raise
        await edit_html(update, text(lang, "label_consent_ask"), consent_keyboard(lang))
        return
    log.info("verdict corrected", extra={"correction": correction, "verdict": word.error})
    await edit_html(update, text(lang, f"label_saved_{correction}", word=escape(word.expected)))


@answered
async def label_consent(update: Update, context: BotContext) -> None:
    """Yes: notes sent from now on are kept (48 h) so they can be corrected. No: none are, and
    any kept under an earlier yes are deleted."""
    session = await begin(update, context)
    agreed = button_argument(update) == "yes"
    with stage("backend", call="learner"):
        await context.services.backend.update_learner(
            session.user_id, LearnerUpdate(label_consent=agreed)
        )
    key = "label_consent_given" if agreed else "label_consent_declined"
    await edit_html(update, text(session.language, key))


@answered
async def try_again(update: Update, context: BotContext) -> None:
    """Re-arm the same target sentence (drills), or invite another free attempt."""
    session = await begin(update, context)
    chat = chat_id(update)
    last = session.last_result()
    matches = last is not None and last.turn_id == button_argument(update)
    target = last.target_text if last is not None and matches else None
    if not target:
        await send_html(context, chat, text(session.language, "try_again_free"))
        return
    session.practice_target = {**(session.practice_target or {}), "text": target}
    session.practice_target.setdefault("id", "")
    session.state = STATE_PRACTICE
    await context.services.sessions.save(session)
    await send_html(
        context, chat, text(session.language, "try_again_prompt", target=escape(target))
    )


@answered
async def next_sentence(update: Update, context: BotContext) -> None:
    session = await begin(update, context)
    await propose_sentence(update, context, session)


@answered
async def unknown(update: Update, context: BotContext) -> None:
    query = update.callback_query
    log.info("unknown callback data", extra={"data": ((query and query.data) or "")[:64]})


#: Button verb → its handler (registered with the pattern ``^<verb>:``).
BUTTONS: dict[str, Handler] = {
    REPLAY: replay,
    HEAR: hear_it_right,
    WRONG: wrong_verdict,
    LABEL: word_was_wrong,
    CONSENT: label_consent,
    TRY_AGAIN: try_again,
    HISTORY: history_page,
    DELETE: delete,
    LANGUAGE: language,
    PRACTICE: next_sentence,
}
