"""Voice notes of any length and formats whose muxer cannot write to a pipe.

Usage::

    from phonicflow_testing.voice_notes import speech_note, encode_file

    note = speech_note(60.0)                 # 60 s of espeak-ng speech as a Telegram voice note
    m4a = encode_file(wav_bytes, "m4a")      # a real M4A (moov atom up front), as phones send

``speech.encode(audio, "m4a")`` pipes into the ``ipod`` muxer, which needs a seekable output and
fails; :func:`encode_file` goes through a temporary file instead (any format in
``speech.FORMATS``, plus ``mp4`` video notes).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from phonicflow_testing.speech import FORMATS, encode, require, synth_wav

SPEECH_TEXT = (
    "Good morning. I think the weather is nice today, so I would like to walk to the park. "
    "Three friends are coming with me, and we will eat something there. "
    "The river is very beautiful in the summer, and the birds sing all day long."
)
"""A paragraph with the sounds Brazilian learners find hard (th, final consonants, h/r)."""

# the ipod/mp4 muxers write the moov atom after the data unless told to move it (faststart)
_FILE_FORMAT_ARGS: dict[str, list[str]] = {
    "m4a": ["-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart", "-f", "ipod"],
}


def encode_file(audio: bytes, fmt: str) -> bytes:
    """Like :func:`phonicflow_testing.speech.encode`, through a temporary file (seekable output)."""
    args = _FILE_FORMAT_ARGS.get(fmt) or FORMATS.get(fmt)
    if args is None:
        return encode(audio, fmt)
    with tempfile.TemporaryDirectory(prefix="voice-note-") as tmp:
        source, target = Path(tmp) / "in", Path(tmp) / f"out.{fmt}"
        source.write_bytes(audio)
        subprocess.run(
            [require("ffmpeg"), "-v", "error", "-i", str(source), *args, str(target)],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        return target.read_bytes()


def speech_note(seconds: float, fmt: str = "ogg", text: str = SPEECH_TEXT) -> bytes:
    """``seconds`` of speech (``text`` spoken over and over) encoded as ``fmt`` (default: voice note)."""
    with tempfile.TemporaryDirectory(prefix="voice-note-") as tmp:
        one = Path(tmp) / "speech.wav"
        one.write_bytes(synth_wav(text))
        target = Path(tmp) / f"note.{fmt}"
        args = _FILE_FORMAT_ARGS.get(fmt) or FORMATS[fmt]
        subprocess.run(
            [require("ffmpeg"), "-v", "error", "-stream_loop", "-1", "-i", str(one),
             "-t", f"{seconds:.3f}", *args, str(target)],
            check=True, capture_output=True, timeout=600,
        )  # fmt: skip
        return target.read_bytes()
