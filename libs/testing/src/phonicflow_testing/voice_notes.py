"""Voice notes of any length.

Usage::

    from phonicflow_testing.voice_notes import speech_note

    note = speech_note(60.0)                 # 60 s of espeak-ng speech as a Telegram voice note
    m4a = speech_note(15.0, "m4a")           # any format in speech.FORMATS
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from phonicflow_testing.speech import FORMATS, require, synth_wav

SPEECH_TEXT = (
    "Good morning. I think the weather is nice today, so I would like to walk to the park. "
    "Three friends are coming with me, and we will eat something there. "
    "The river is very beautiful in the summer, and the birds sing all day long."
)
"""A paragraph with the sounds Brazilian learners find hard (th, final consonants, h/r)."""


def speech_note(seconds: float, fmt: str = "ogg", text: str = SPEECH_TEXT) -> bytes:
    """``seconds`` of speech (``text`` spoken over and over) encoded as ``fmt`` (default: voice note)."""
    with tempfile.TemporaryDirectory(prefix="voice-note-") as tmp:
        one = Path(tmp) / "speech.wav"
        one.write_bytes(synth_wav(text))
        target = Path(tmp) / f"note.{fmt}"
        args = FORMATS[fmt]
        subprocess.run(
            [require("ffmpeg"), "-v", "error", "-stream_loop", "-1", "-i", str(one),
             "-t", f"{seconds:.3f}", *args, str(target)],
            check=True, capture_output=True, timeout=600,
        )  # fmt: skip
        return target.read_bytes()
