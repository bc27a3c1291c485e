"""A voice note (or audio file, video note, audio document) in → scored feedback out.

The flow, in order: check Telegram's reported size and duration (before any download) →
download → convert to WAV 16 kHz mono (converter, gRPC) → POST /process (backend, with the
practice sentence as ``target_text`` when one is pending) → text reply with buttons → voice
replies. Each stage is a span and a latency histogram. Download, conversion and the turn are one
journal step: an update handled again (its worker died) reuses the turn instead of redoing them.

A drill note the backend says is not the drill sentence (``drill_match="different_sentence"``)
keeps the drill armed, so the learner can simply try again, and offers "feedback on what I
said" (:func:`free_speech`): the same note, scored as free speech.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from datetime import timedelta

from telegram import Message, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest

from phonicflow_bot import metrics
from phonicflow_bot.clients.backend import message_idempotency_key
from phonicflow_bot.clients.converter import AudioRejected
from phonicflow_bot.clients.sessions import STATE_ACTIVE, Session
from phonicflow_bot.config import BotSettings
from phonicflow_bot.context import BotContext
from phonicflow_bot.handlers.common import (
    answered,
    begin,
    button_argument,
    chat_action,
    chat_id,
    deliver_result,
    guarded,
    send_html,
)
from phonicflow_bot.i18n import text
from phonicflow_bot.journal import memo
from phonicflow_bot.telemetry import stage
from phonicflow_common.contract import ProcessResponse

log = logging.getLogger(__name__)

#: Bytes per megabyte in the messages shown to learners (Telegram counts in MiB too).
MB = 1024 * 1024


#: Session extra: the last drill note that was not the sentence (see :func:`free_speech`).
MISSED_DRILL = "missed_drill"


@dataclass(frozen=True)
class IncomingAudio:
    kind: str
    file_id: str
    file_size: int | None
    duration: float


class Refused(Exception):
    """The audio is over a limit: tell the learner with ``key`` and ``values``."""

    def __init__(self, key: str, **values: str) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


def _seconds(value: int | timedelta | None) -> float:
    """Telegram durations are ints, or timedeltas when PTB_TIMEDELTA is set."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value or 0)


def incoming_audio(message: Message) -> IncomingAudio | None:
    """What kind of audio this message carries, with Telegram's size and duration."""
    if message.voice:
        v = message.voice
        return IncomingAudio("voice", v.file_id, v.file_size, _seconds(v.duration))
    if message.audio:
        a = message.audio
        return IncomingAudio("audio", a.file_id, a.file_size, _seconds(a.duration))
    if message.video_note:
        n = message.video_note
        return IncomingAudio("video_note", n.file_id, n.file_size, _seconds(n.duration))
    if message.document and (message.document.mime_type or "").startswith("audio/"):
        d = message.document
        return IncomingAudio("document", d.file_id, d.file_size, 0.0)
    return None


def check_reported(audio: IncomingAudio, settings: BotSettings) -> None:
    """Refuse on Telegram's own numbers, so nothing is downloaded for a file we would refuse."""
    if audio.file_size is not None and audio.file_size > settings.max_audio_size_bytes:
        raise Refused(
            "too_big",
            size=f"{audio.file_size / MB:.1f}",
            limit=f"{settings.max_audio_size_mb:g}",
        )
    check_duration(audio.duration, settings)


def check_duration(seconds: float, settings: BotSettings) -> None:
    """Refuse a note longer than MAX_AUDIO_DURATION_SECONDS (by default what the backend
    scores), saying how long is allowed."""
    if seconds > settings.max_audio_duration_seconds:
        raise Refused(
            "too_long",
            duration=f"{math.ceil(seconds):d}",
            limit=f"{settings.max_audio_duration_seconds:g}",
        )


async def make_turn(
    context: BotContext,
    chat: int,
    audio: IncomingAudio,
    session: Session,
    *,
    target: str | None,
    key: str,
) -> ProcessResponse:
    """The turn of ``audio`` (one per idempotency ``key``), showing "recording" meanwhile; one
    journal step, so an update handled again reuses it."""
    async with chat_action(context, chat, ChatAction.RECORD_VOICE):
        return await memo(
            "process",
            lambda: transcribe(context, audio, session, target=target, key=key),
            ProcessResponse,
        )


def after_turn(
    session: Session, result: ProcessResponse, audio: IncomingAudio, message_id: int
) -> None:
    """The session once a turn is made: a drill note that was not the sentence keeps the drill
    armed for another try and is kept (by Telegram's file id) for "feedback on what I said";
    any other turn ends the drill."""
    session.conversation_turns += 1
    if result.drill_match == "different_sentence":
        session.extra[MISSED_DRILL] = {
            "turn_id": result.turn_id,
            "message_id": message_id,
            **asdict(audio),
        }
    else:
        session.practice_target = None
        session.state = STATE_ACTIVE
        session.extra.pop(MISSED_DRILL, None)


async def transcribe(
    context: BotContext, audio: IncomingAudio, session: Session, *, target: str | None, key: str
) -> ProcessResponse:
    """Download, convert, and have the backend make the turn (one per idempotency ``key``)."""
    svc = context.services
    settings = svc.settings
    with stage("download", kind=audio.kind):
        try:
            telegram_file = await context.bot.get_file(audio.file_id)
        except BadRequest as exc:
            # Telegram gave no size up front but refuses files over 20 MB here.
            if "too big" not in exc.message.lower():
                raise
            raise Refused("too_big", size="> 20", limit=f"{settings.max_audio_size_mb:g}") from None
        data = bytes(await telegram_file.download_as_bytearray())
    if len(data) > settings.max_audio_size_bytes:  # no file_size was given
        raise Refused(
            "too_big", size=f"{len(data) / MB:.1f}", limit=f"{settings.max_audio_size_mb:g}"
        )
    with stage("convert", kind=audio.kind, size_bytes=len(data)):
        wav = await svc.converter.to_wav(data, expected_duration=audio.duration)
    # Telegram's duration may be missing (a document) or wrong: the decoded length decides.
    check_duration(wav.duration, settings)
    with stage("backend", practice=bool(target)):
        return await svc.sessions.call(
            session,
            lambda sid: svc.backend.process(
                sid, wav=wav.data, target_text=target, idempotency_key=key
            ),
        )


@guarded
async def handle_audio(update: Update, context: BotContext) -> None:
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    audio = incoming_audio(message)
    if audio is None:
        return
    chat = message.chat_id
    started = time.perf_counter()
    try:
        check_reported(audio, context.services.settings)
        session = await begin(update, context)
        target = (session.practice_target or {}).get("text")
        # One key per Telegram message: retries and a redelivered update are one turn.
        key = message_idempotency_key(chat, message.message_id)
        result = await make_turn(context, chat, audio, session, target=target, key=key)
    except Refused as refusal:
        metrics.AUDIO_PROCESSED.labels("rejected").inc()
        lang = (await begin(update, context, announce_expiry=False)).language
        await send_html(context, chat, text(lang, refusal.key, **refusal.values))
        return
    except AudioRejected:
        metrics.AUDIO_PROCESSED.labels("rejected").inc()
        raise
    except Exception:
        metrics.AUDIO_PROCESSED.labels("failed").inc()
        raise
    after_turn(session, result, audio, message.message_id)
    await deliver_result(context, chat, session, result)
    metrics.AUDIO_PROCESSED.labels("ok").inc()
    log.info(
        "audio processed",
        extra={
            "kind": audio.kind,
            "user_id": user.id,
            "seconds": round(time.perf_counter() - started, 3),
            "score": result.pronunciation.overall_score if result.pronunciation else None,
        },
    )


@answered
async def free_speech(update: Update, context: BotContext) -> None:
    """ "Feedback on what I said": the drill note that was not the sentence, scored as free
    speech (its own turn, with its own idempotency key), and the drill put away."""
    session = await begin(update, context)
    chat = chat_id(update)
    missed = session.extra.get(MISSED_DRILL)
    if not isinstance(missed, dict) or missed.get("turn_id") != button_argument(update):
        await send_html(context, chat, text(session.language, "free_speech_gone"))
        return
    audio = IncomingAudio(
        missed["kind"], missed["file_id"], missed["file_size"], float(missed["duration"])
    )
    key = f"{message_idempotency_key(chat, int(missed['message_id']))}-free"
    try:
        result = await make_turn(context, chat, audio, session, target=None, key=key)
    except Refused as refusal:
        await send_html(context, chat, text(session.language, refusal.key, **refusal.values))
        return
    except BadRequest as exc:  # Telegram no longer serves the file
        log.info("missed drill note not downloadable", extra={"error": exc.message})
        await send_html(context, chat, text(session.language, "free_speech_gone"))
        return
    after_turn(session, result, audio, int(missed["message_id"]))  # free speech: the drill ends
    await deliver_result(context, chat, session, result)
    metrics.AUDIO_PROCESSED.labels("ok").inc()
