"""Delivering a backend result: the text reply first, then the voice replies.

The text goes out first while the voice notes are fetched and converted alongside; a failure of
that audio work is logged and skipped, so a learner always gets their feedback even when fetching,
converting or sending the voice notes fails (seed 7.2).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram.ext import ContextTypes

from phonicflow_bot import metrics
from phonicflow_bot.formatting import format_feedback
from phonicflow_bot.handlers.common import feedback_keyboard, send_html, send_voice
from phonicflow_bot.services import BotServices
from phonicflow_bot.telemetry import stage
from phonicflow_bot.utils.api_client import AudioType, BackendError
from phonicflow_bot.utils.audio_converter import ConverterError, VoiceNote
from phonicflow_bot.utils.session_manager import Session

log = logging.getLogger(__name__)

#: The voice replies in the order they are sent, with the result field saying one exists.
VOICE_REPLIES: tuple[tuple[AudioType, str], ...] = (
    ("coaching", "coaching_audio_path"),
    ("conversational", "conversational_audio_path"),
)


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


async def deliver_result(
    context: ContextTypes.DEFAULT_TYPE,
    svc: BotServices,
    chat_id: int,
    session: Session,
    result: dict[str, Any],
) -> None:
    """Send the feedback text with its buttons, then the coaching and reply voice notes.

    Remembers the result and the voice notes' file ids as the session's last feedback
    (for /feedback and the replay button).
    """
    lang = session.language
    turn_id = str(result.get("turn_id") or "")
    wanted = [kind for kind, field in VOICE_REPLIES if result.get(field)]
    # The voice notes are fetched and converted while the text goes out, and each is sent as
    # soon as it is ready, in order: the learner hears the coaching one sooner.
    pending = [
        asyncio.create_task(fetch_voice(svc, session.session_id, kind, turn_id or None))
        for kind in wanted
    ]
    file_ids: dict[str, str] = {}
    try:
        await send_html(
            context, chat_id, format_feedback(result, lang), feedback_keyboard(lang, turn_id)
        )
        for kind, task in zip(wanted, pending, strict=True):
            voice = await task
            if voice is None:
                continue
            sent = await send_voice(context, chat_id, voice)
            if sent is not None and sent.voice is not None:
                file_ids[kind] = sent.voice.file_id
    finally:
        # The text could not be sent (or we are shutting down): the voices are not wanted.
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    session.last_feedback = {"result": result, "voice_file_ids": file_ids}
    await svc.sessions.save(session)
