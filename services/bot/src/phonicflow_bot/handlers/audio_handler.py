"""A voice note (or audio file, video note, audio document) in → scored feedback out.

The flow, in order: check Telegram's reported size and duration (before any download) →
download → convert to WAV 16 kHz mono (converter, gRPC) → POST /process (backend, with the
practice sentence as ``target_text`` when one is pending) → text reply with buttons → voice
replies. Each stage is a span and a latency histogram.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from telegram import Message, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from phonicflow_bot import metrics
from phonicflow_bot.handlers.common import chat_action, guarded, send_html
from phonicflow_bot.handlers.message_handler import begin
from phonicflow_bot.handlers.replies import deliver_result
from phonicflow_bot.i18n import text
from phonicflow_bot.services import services
from phonicflow_bot.telemetry import stage
from phonicflow_bot.utils.api_client import message_idempotency_key
from phonicflow_bot.utils.audio_converter import AudioRejected
from phonicflow_bot.utils.session_manager import STATE_ACTIVE

log = logging.getLogger(__name__)

#: Bytes per megabyte in the messages shown to learners (Telegram counts in MiB too).
MB = 1024 * 1024


@dataclass(frozen=True)
class IncomingAudio:
    kind: str
    file_id: str
    file_size: int | None
    duration: float


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


@guarded
async def handle_audio(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    audio = incoming_audio(message)
    if audio is None:
        return
    svc = services(context)
    settings = svc.settings
    chat_id = message.chat_id

    # Limits come first: nothing is downloaded for a file we would refuse anyway.
    refusal: tuple[str, dict[str, str]] | None = None
    if audio.file_size is not None and audio.file_size > settings.max_audio_size_bytes:
        refusal = (
            "too_big",
            {
                "size": f"{audio.file_size / MB:.1f}",
                "limit": f"{settings.max_audio_size_mb:g}",
            },
        )
    elif audio.duration > settings.max_audio_duration_seconds:
        refusal = (
            "too_long",
            {
                "duration": f"{audio.duration:g}",
                "limit": f"{settings.max_audio_duration_seconds:g}",
            },
        )
    if refusal is not None:
        metrics.AUDIO_PROCESSED.labels("rejected").inc()
        lang = (await begin(update, context, announce_expiry=False)).language
        key, values = refusal
        await send_html(context, chat_id, text(lang, key, **values))
        return

    session = await begin(update, context)
    started = time.perf_counter()
    try:
        async with chat_action(context, chat_id, ChatAction.RECORD_VOICE):
            with stage("download", kind=audio.kind):
                try:
                    telegram_file = await context.bot.get_file(audio.file_id)
                except BadRequest as exc:
                    # Telegram gave no size up front but refuses files over 20 MB here.
                    if "too big" not in str(exc).lower():
                        raise
                    metrics.AUDIO_PROCESSED.labels("rejected").inc()
                    limit = f"{settings.max_audio_size_mb:g}"
                    await send_html(
                        context,
                        chat_id,
                        text(session.language, "too_big", size="> 20", limit=limit),
                    )
                    return
                data = bytes(await telegram_file.download_as_bytearray())
            if len(data) > settings.max_audio_size_bytes:  # no file_size was given
                metrics.AUDIO_PROCESSED.labels("rejected").inc()
                size = f"{len(data) / MB:.1f}"
                limit = f"{settings.max_audio_size_mb:g}"
                await send_html(
                    context, chat_id, text(session.language, "too_big", size=size, limit=limit)
                )
                return
            with stage("convert", kind=audio.kind, size_bytes=len(data)):
                wav = await svc.converter.to_wav(data, expected_duration=audio.duration)
            target = (session.practice_target or {}).get("text")
            # One key per Telegram message: retries and a redelivered update are one turn.
            key = message_idempotency_key(chat_id, message.message_id)
            with stage("backend", practice=bool(target)):
                result = await svc.sessions.call(
                    session,
                    lambda sid: svc.backend.process(
                        sid, wav=wav, target_text=target, idempotency_key=key
                    ),
                )
    except AudioRejected:
        metrics.AUDIO_PROCESSED.labels("rejected").inc()
        raise
    except Exception:
        metrics.AUDIO_PROCESSED.labels("failed").inc()
        raise
    session.conversation_turns += 1
    session.practice_target = None
    session.state = STATE_ACTIVE
    await deliver_result(context, svc, chat_id, session, result)
    metrics.AUDIO_PROCESSED.labels("ok").inc()
    log.info(
        "audio processed",
        extra={
            "kind": audio.kind,
            "user_id": user.id,
            "seconds": round(time.perf_counter() - started, 3),
            "score": (result.get("pronunciation") or {}).get("overall_score"),
        },
    )
