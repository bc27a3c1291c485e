"""What the handlers share, in one module (handlers never import one another).

- the learner's session for an update (:func:`begin`) and their language (:func:`language_of`);
- sending, traced: :func:`send_html`, :func:`send_voice`, :func:`edit_html`, chat actions;
- a backend result delivered (:func:`deliver_result`: text first, voice replies as they are ready);
- pages of /history, practice sentences with their reference audio;
- the inline keyboards and their callback data;
- :func:`guarded`: a converter or backend failure becomes a clear message in the learner's
  language; an infrastructure fault (:func:`is_retry_later`) is left for the worker to retry;
- :func:`answered`: a button press is answered at once, and a burst of presses of one button
  does its work once (:class:`~phonicflow_bot.rate_limit.PressDebounce`).

Callback data (at most 64 bytes, Telegram's limit) is ``<verb>:<argument>``, one verb per
button kind (each has its own ``CallbackQueryHandler``, see :mod:`phonicflow_bot.application`):

- ``r:<turn_id>`` replay the voice replies of a turn;  ``t:<turn_id>`` try again;
- ``h:<page>`` a /history page;  ``d:yes`` / ``d:no`` confirm /delete;
- ``l:en`` / ``l:pt`` interface language;  ``p:next`` another practice sentence;
- ``f:<turn_id>`` a drill note that was not the sentence, scored as free speech instead;
- ``w:<turn_id>`` "hear it right": the words the turn flagged, said slowly;
- ``v:<turn_id>`` "wrong verdict?": pick the word; ``x:<turn_id>:<word index>`` that word's
  verdict was wrong (a labelled example); ``c:yes`` / ``c:no`` keep corrected notes or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from redis.exceptions import RedisError
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest, NetworkError, TelegramError

from phonicflow_bot import metrics
from phonicflow_bot.clients.backend import (
    BackendError,
    BackendRejected,
    BackendTimeout,
    BackendUnavailable,
)
from phonicflow_bot.clients.converter import AudioRejected, ConverterError, VoiceNote
from phonicflow_bot.clients.sessions import STATE_PRACTICE, Session
from phonicflow_bot.context import BotContext, BotServices
from phonicflow_bot.formatting import escape, format_feedback, format_history
from phonicflow_bot.i18n import Language, detect_language, text
from phonicflow_bot.journal import memo
from phonicflow_bot.telemetry import stage
from phonicflow_common.catalogue import family_label
from phonicflow_common.contract import AUDIO_TYPES, AudioType, PracticeItem, ProcessResponse

log = logging.getLogger(__name__)

#: Telegram shows a chat action for about 5 s; repeat it a little sooner while working.
CHAT_ACTION_REPEAT_SECONDS = 4.5

#: Button verbs (the part of callback data before the colon).
REPLAY, TRY_AGAIN, HISTORY, DELETE, LANGUAGE, PRACTICE = "r", "t", "h", "d", "l", "p"
FREE_SPEECH = "f"
#: "hear it right": the turn's flagged words said slowly
HEAR = "w"
#: "wrong verdict?" (pick the word), the word picked, consent to keep corrected notes
WRONG, LABEL, CONSENT = "v", "x", "c"
#: The callback data of "yes, delete everything".
ERASE = f"{DELETE}:yes"


Handler = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


# -- the learner ------------------------------------------------------------------------------


async def language_of(update: Update, context: BotContext) -> Language:
    """The learner's chosen language, or the one Telegram reports for them."""
    user = update.effective_user
    if user is None:
        return "en"
    try:
        session = await context.services.sessions.peek(user.id)
    except Exception:  # the store being down must not hide the error message itself
        session = None
    return session.language if session else detect_language(user.language_code)


async def begin(update: Update, context: BotContext, *, announce_expiry: bool = True) -> Session:
    """The learner's session for this update, created or renewed (and saved); a learner whose
    session expired is told they got a new one."""
    user = update.effective_user
    assert user is not None  # every handler here is registered for user updates only
    sessions = context.services.sessions
    session, origin = await sessions.ensure(user.id, user.language_code)
    await sessions.save(session)
    if origin == "expired" and announce_expiry:
        await send_html(context, chat_id(update), text(session.language, "session_expired"))
    return session


def chat_id(update: Update) -> int:
    chat = update.effective_chat
    assert chat is not None  # every handler here is registered for chats with a learner
    return chat.id


# -- sending ----------------------------------------------------------------------------------


async def send_html(
    context: BotContext, chat: int, html: str, markup: InlineKeyboardMarkup | None = None
) -> Message:
    """sendMessage (HTML is the Application's default parse mode)."""
    with stage("send", method="sendMessage"):
        return await context.bot.send_message(chat, html, reply_markup=markup)


async def edit_html(update: Update, html: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Replace the text of the message whose button was pressed. Pressing the same button twice
    asks for the text it already shows, which Telegram refuses as "message is not modified":
    that is success, not an error."""
    query = update.callback_query
    assert query is not None
    try:
        with stage("send", method="editMessageText"):
            await query.edit_message_text(html, reply_markup=markup)
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            raise


async def send_voice(context: BotContext, chat: int, voice: VoiceNote | str) -> Message | None:
    """Send a voice note (converted audio, or a file_id to re-send); a refusal is logged, not
    raised, because the text of the reply has already been delivered. A network fault is
    raised: the update is handled again and the voice note sent then."""
    try:
        with stage("send", method="sendVoice"):
            if isinstance(voice, str):
                return await context.bot.send_voice(chat, voice)
            return await context.bot.send_voice(
                chat, voice.ogg, duration=max(1, round(voice.duration))
            )
    except TelegramError as exc:
        if is_retry_later(exc):
            raise
        metrics.ERRORS.labels("send_failed").inc()
        log.warning("sendVoice failed", extra={"chat_id": chat, "error": repr(exc)})
        return None


@contextlib.asynccontextmanager
async def chat_action(
    context: BotContext, chat: int, action: str = ChatAction.TYPING
) -> AsyncIterator[None]:
    """Show "recording voice…"/"typing…" while the body runs."""

    async def repeat() -> None:
        while True:
            with contextlib.suppress(TelegramError):
                await context.bot.send_chat_action(chat, action)
            await asyncio.sleep(CHAT_ACTION_REPEAT_SECONDS)

    task = asyncio.create_task(repeat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# -- a backend result -------------------------------------------------------------------------


async def fetch_voice(
    svc: BotServices, session_id: str, audio_type: AudioType, turn_id: str | None
) -> VoiceNote | None:
    """GET the backend's WAV and make it an OGG/Opus voice note; None when that fails."""
    try:
        with stage("reply_audio", audio_type=audio_type):
            wav = await svc.backend.get_feedback_audio(session_id, audio_type, turn_id)
            return await svc.converter.to_voice(wav)
    except (BackendError, ConverterError) as exc:
        metrics.ERRORS.labels("reply_audio_failed").inc()
        log.warning("voice reply unavailable", extra={"audio_type": audio_type, "error": str(exc)})
        return None


def voice_replies(result: ProcessResponse) -> list[AudioType]:
    """The voice replies a turn has, in the order they are sent."""
    paths = {
        "coaching": result.coaching_audio_path,
        "conversational": result.conversational_audio_path,
    }
    return [kind for kind in AUDIO_TYPES if paths[kind]]


async def deliver_result(
    context: BotContext, chat: int, session: Session, result: ProcessResponse
) -> None:
    """Send the feedback text with its buttons, then the coaching and reply voice notes.

    The voice notes are fetched and converted while the text goes out, and each is sent as soon
    as it is ready, in order: the learner hears the coaching one sooner. A failure of that audio
    work is logged and skipped: the learner always gets their feedback (seed 7.2). The result
    and the voice notes' file ids become the session's last feedback (/feedback, replay).
    """
    svc = context.services
    lang = session.language
    wanted = voice_replies(result)
    pending = [
        asyncio.create_task(fetch_voice(svc, session.session_id, kind, result.turn_id or None))
        for kind in wanted
    ]
    file_ids: dict[str, str] = {}
    try:
        keyboard = (
            missed_drill_keyboard(lang, result.turn_id)
            if result.drill_match == "different_sentence"
            else feedback_keyboard(lang, result)
        )
        await send_html(context, chat, format_feedback(result, lang), keyboard)
        for kind, task in zip(wanted, pending, strict=True):
            voice = await task
            if voice is None:
                continue
            sent = await send_voice(context, chat, voice)
            if sent is not None and sent.voice is not None:
                file_ids[kind] = sent.voice.file_id
    finally:
        # The text could not be sent (or we are shutting down): the voices are not wanted.
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    session.remember_feedback(result, file_ids)
    drill = result.progress.drill if result.progress is not None else None
    if drill is not None and drill.newly_mastered:
        # "and moves on": the next sentence is for the learner's weakest sound, not this one
        session.extra.pop("practice_focus", None)
    await svc.sessions.save(session)


# -- history and practice ---------------------------------------------------------------------


async def send_history_page(
    update: Update, context: BotContext, session: Session, page: int, *, edit: bool
) -> None:
    """Show /history page ``page`` (0 = most recent), as a new message or by editing the
    message whose button was pressed."""
    svc = context.services
    with stage("backend", call="history"):
        turns = await svc.sessions.call(session, svc.backend.get_conversation_history)
    lang = session.language
    if not turns:
        body, markup = text(lang, "history_empty"), None
    else:
        body, pages = format_history(turns, page, lang)
        markup = history_keyboard(lang, min(max(page, 0), pages - 1), pages)
    if edit and update.callback_query is not None and update.callback_query.message is not None:
        await edit_html(update, body, markup)
        return
    await send_html(context, chat_id(update), body, markup)


async def propose_sentence(update: Update, context: BotContext, session: Session) -> None:
    """GET /practice/next, show it, then send its reference pronunciation as a voice note."""
    svc = context.services
    chat = chat_id(update)
    previous = (session.practice_target or {}).get("id") or session.extra.get("last_practice_id")
    focus = session.extra.get("practice_focus")
    with stage("backend", call="practice_next"):
        # Memoised: handled again, the update shows the sentence it chose the first time.
        sentence = await memo(
            "practice",
            lambda: svc.backend.practice_next(
                exclude=previous, focus=focus, telegram_user_id=session.user_id
            ),
            PracticeItem,
        )
    session.practice_target = {
        "id": sentence.id,
        "text": sentence.text,
        "hint_en": sentence.hint_en,
        "hint_pt": sentence.hint_pt,
    }
    session.extra["last_practice_id"] = sentence.id
    session.state = STATE_PRACTICE
    await svc.sessions.save(session)
    lang = session.language
    hint = sentence.hint_pt if lang == "pt" else sentence.hint_en
    body = text(lang, "practice_target", target=escape(sentence.text), hint=escape(hint))
    if sentence.reason is not None and sentence.reason != "requested":
        sound = escape(family_label(sentence.focus, lang))
        body = f"{text(lang, f'practice_reason_{sentence.reason}', sound=sound)}\n\n{body}"
    await send_html(context, chat, body, practice_keyboard(lang))
    await send_reference_audio(context, chat, sentence.id)


async def send_reference_audio(context: BotContext, chat: int, sentence_id: str) -> None:
    svc = context.services
    try:
        async with chat_action(context, chat, ChatAction.RECORD_VOICE):
            with stage("reply_audio", audio_type="reference"):
                wav = await svc.backend.practice_audio(sentence_id)
                voice = await svc.converter.to_voice(wav)
    except (BackendError, ConverterError) as exc:
        metrics.ERRORS.labels("reply_audio_failed").inc()
        log.warning("reference audio unavailable", extra={"error": str(exc)})
        return
    await send_voice(context, chat, voice)


# -- keyboards --------------------------------------------------------------------------------


def feedback_keyboard(lang: str, result: ProcessResponse) -> InlineKeyboardMarkup:
    """Replay, try again; "hear it right" when a word needs work and "wrong verdict?" when
    words were judged; after a drill the next sentence (same sound, or the next one once this
    one is mastered); history."""
    turn_id = result.turn_id

    def button(key: str, data: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(text(lang, key), callback_data=data)

    rows = [[button("btn_replay", f"{REPLAY}:{turn_id}"),
             button("btn_try_again", f"{TRY_AGAIN}:{turn_id}")]]  # fmt: skip
    judged = result.pronunciation is not None and any(w.scored for w in result.pronunciation.words)
    verdicts = []
    if result.pronunciation is not None and result.pronunciation.words_to_hear():
        verdicts.append(button("btn_hear_right", f"{HEAR}:{turn_id}"))
    if judged:
        verdicts.append(button("btn_wrong_verdict", f"{WRONG}:{turn_id}"))
    if verdicts:
        rows.append(verdicts)
    last_row = [button("btn_history", f"{HISTORY}:0")]
    if result.target_text:
        last_row.insert(0, button("btn_next_sentence", f"{PRACTICE}:next"))
    rows.append(last_row)
    return InlineKeyboardMarkup(rows)


#: Words offered as buttons after "wrong verdict?" (Telegram allows 100 buttons).
MAX_WORD_BUTTONS = 30


def words_keyboard(result: ProcessResponse) -> InlineKeyboardMarkup:
    """One button per judged word of the turn, marked as the feedback marked it, three a row:
    the learner taps the one the coach got wrong."""
    assert result.pronunciation is not None
    words = [(i, w) for i, w in enumerate(result.pronunciation.words) if w.scored]
    buttons = [
        InlineKeyboardButton(
            f"{'⚠️' if w.needs_work else '✅'} {w.expected[:40]}",
            callback_data=f"{LABEL}:{result.turn_id}:{i}",
        )
        for i, w in words[:MAX_WORD_BUTTONS]
    ]
    return InlineKeyboardMarkup([buttons[i : i + 3] for i in range(0, len(buttons), 3)])


def consent_keyboard(lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(text(lang, "btn_consent_yes"), callback_data=f"{CONSENT}:yes"),
                InlineKeyboardButton(text(lang, "btn_consent_no"), callback_data=f"{CONSENT}:no"),
            ]
        ]
    )


def missed_drill_keyboard(lang: str, turn_id: str) -> InlineKeyboardMarkup:
    """A drill note that was not the sentence: feedback on what was said, or another sentence
    (trying this one again needs no button: the drill stays armed)."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    text(lang, "btn_free_speech"), callback_data=f"{FREE_SPEECH}:{turn_id}"
                ),
                InlineKeyboardButton(
                    text(lang, "btn_next_sentence"), callback_data=f"{PRACTICE}:next"
                ),
            ]
        ]
    )


def history_keyboard(lang: str, page: int, pages: int) -> InlineKeyboardMarkup | None:
    row = []
    if page > 0:
        row.append(
            InlineKeyboardButton(text(lang, "btn_newer"), callback_data=f"{HISTORY}:{page - 1}")
        )
    if page < pages - 1:
        row.append(
            InlineKeyboardButton(text(lang, "btn_older"), callback_data=f"{HISTORY}:{page + 1}")
        )
    return InlineKeyboardMarkup([row]) if row else None


def delete_keyboard(lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(text(lang, "btn_delete_yes"), callback_data=f"{DELETE}:yes"),
                InlineKeyboardButton(text(lang, "btn_cancel"), callback_data=f"{DELETE}:no"),
            ]
        ]
    )


def language_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("🇬🇧 English", callback_data=f"{LANGUAGE}:en"),
                InlineKeyboardButton("🇧🇷 Português", callback_data=f"{LANGUAGE}:pt"),
            ]
        ]
    )


def practice_keyboard(lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text(lang, "btn_next_sentence"), callback_data=f"{PRACTICE}:next")]]
    )


def button_argument(update: Update) -> str:
    """What follows the verb in the pressed button's callback data."""
    query = update.callback_query
    return (query.data or "").partition(":")[2] if query is not None else ""


# -- failures ---------------------------------------------------------------------------------


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
    if isinstance(exc, BackendRejected) and exc.status == 413:
        # the backend's limit (MAX_AUDIO_SECONDS) is lower than the bot's: it decides
        return "too_long_to_score", "audio_too_long", {}
    if isinstance(exc, BackendRejected) and exc.status in (415, 422):
        return "bad_audio", "bad_audio", {}
    return "service_down", "backend_error", {}


def guarded(handler: Handler) -> Handler:
    """Answer converter/backend failures with a clear "try again" in the learner's language.

    Anything else propagates to the application's error handler (logged, learner told, or for
    :func:`is_retry_later` faults, the update handled again later).
    """

    @functools.wraps(handler)
    async def wrapper(update: Update, context: BotContext) -> None:
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


def is_retry_later(error: BaseException | None) -> bool:
    """True for faults of what the bot stands on (Redis, the network to Telegram) rather than
    of the learner's request: the update is not answered with an error but handled again later
    (the worker does not acknowledge it; replies already sent are not repeated). A send that
    timed out is among them: Telegram may or may not have delivered it, and a rare repeat is
    better than a learner left without an answer. BadRequest is PTB's subclass of NetworkError
    for Telegram refusing the request itself: not retried."""
    if isinstance(error, RedisError):
        return True
    return isinstance(error, NetworkError) and not isinstance(error, BadRequest)


def answered(handler: Handler) -> Handler:
    """Answer the callback query, then run the button's handler (guarded)."""
    inner = guarded(handler)

    @functools.wraps(handler)
    async def wrapper(update: Update, context: BotContext) -> None:
        query = update.callback_query
        if query is None or update.effective_user is None:
            return
        debounce = context.services.debounce
        press = (
            chat_id(update),
            query.message.message_id if query.message else 0,
            query.data or "",
        )
        # Memoised: handled again (its worker died), a press is still the first one.
        first = await memo("press", lambda: debounce.first(*press), bool)
        try:
            with stage("send", method="answerCallbackQuery"):
                await query.answer()
        except BadRequest as exc:
            # "query is too old": the press is answered late (e.g. handled again after a
            # worker died); the button's work is still done.
            log.info("callback query not answered", extra={"error": exc.message})
        if not first:
            log.info("repeated button press dropped", extra={"data": press[2][:64]})
            return
        await inner(update, context)
        if press[2] == ERASE:
            await debounce.release(*press)  # /delete leaves no key naming the learner
        else:
            await debounce.hold(*press)

    return wrapper
