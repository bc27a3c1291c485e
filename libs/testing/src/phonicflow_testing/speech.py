"""Synthetic speech and encoded audio for tests, made on the spot with espeak-ng and ffmpeg.

Nothing is committed: every test generates the audio it needs, correct or deliberately
mispronounced (``synth_wav("I tink so")``), in any container Telegram delivers.
"""

from __future__ import annotations

import io
import math
import shutil
import struct
import subprocess
import tempfile
import wave
from pathlib import Path

# formats whose muxer cannot write to a pipe: encoded through a temporary file
SEEKABLE_OUTPUT = frozenset({"m4a"})

# ffmpeg arguments per target, matching what Telegram clients actually send
FORMATS: dict[str, list[str]] = {
    # voice note: Opus in Ogg, 48 kHz mono, ~32 kbit/s
    "ogg": ["-c:a", "libopus", "-b:a", "32k", "-ar", "48000", "-ac", "1", "-f", "ogg"],
    "mp3": ["-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3"],
    # the ipod muxer needs a seekable output to put the moov atom up front, as phones do
    "m4a": ["-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart", "-f", "ipod"],
    "flac": ["-c:a", "flac", "-f", "flac"],
    "wav": ["-c:a", "pcm_s16le", "-f", "wav"],
    "webm": ["-c:a", "libopus", "-b:a", "32k", "-f", "webm"],
}


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise RuntimeError(f"{tool} is not installed (make setup installs it)")
    return path


def synth_wav(text: str, voice: str = "en-us", words_per_minute: int = 150) -> bytes:
    """Speak ``text`` with espeak-ng and return the WAV bytes (22.05 kHz mono PCM16)."""
    result = subprocess.run(
        [require("espeak-ng"), "-v", voice, "-s", str(words_per_minute), "--stdout", text],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return fix_wav_header(result.stdout)


def fix_wav_header(data: bytes) -> bytes:
    """Rewrite a streamed WAV (placeholder sizes in the header) as a well-formed file."""
    with wave.open(io.BytesIO(data)) as src:
        params = src.getparams()
        frames = src.readframes(src.getnframes())
    out = io.BytesIO()
    with wave.open(out, "wb") as dst:
        dst.setparams(params)
        dst.writeframes(frames)
    return out.getvalue()


def tone_wav(seconds: float, rate: int = 16000, freq: float = 440.0, channels: int = 1) -> bytes:
    """A sine tone as WAV PCM16 (for tests that need audio of an exact length, not speech)."""
    n = int(seconds * rate)
    out = io.BytesIO()
    with wave.open(out, "wb") as dst:
        dst.setnchannels(channels)
        dst.setsampwidth(2)
        dst.setframerate(rate)
        frames = bytearray()
        for i in range(n):
            sample = int(12000 * math.sin(2 * math.pi * freq * i / rate))
            frames += struct.pack("<h", sample) * channels
        dst.writeframes(bytes(frames))
    return out.getvalue()


def encode(audio: bytes, fmt: str, *, via_file: bool = False) -> bytes:
    """Encode audio (any format ffmpeg reads) as ``fmt``: ogg, mp3, m4a, flac, wav, webm, mp4.

    ``mp4`` makes a Telegram-style video note: a 240x240 square video with the audio as AAC.
    ``via_file`` writes to a temporary file instead of a pipe, as an app saving a recording does
    (an MP3 written to a file carries the LAME header with the encoder delay and padding).
    """
    ffmpeg = require("ffmpeg")
    if fmt == "mp4":
        args = [
            ffmpeg, "-v", "error", "-f", "lavfi", "-i", "color=c=blue:s=240x240:r=10",
            "-i", "pipe:0", "-shortest", "-c:v", "libx264", "-preset", "ultrafast",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
            "-movflags", "frag_keyframe+empty_moov", "-f", "mp4", "pipe:1",
        ]  # fmt: skip
    elif via_file or fmt in SEEKABLE_OUTPUT:
        with tempfile.TemporaryDirectory(prefix="encode-") as tmp:
            target = Path(tmp) / f"out.{fmt}"
            subprocess.run(
                [ffmpeg, "-v", "error", "-i", "pipe:0", *FORMATS[fmt], str(target)],
                input=audio, check=True, capture_output=True, timeout=120,
            )  # fmt: skip
            return target.read_bytes()
    else:
        args = [ffmpeg, "-v", "error", "-i", "pipe:0", *FORMATS[fmt], "pipe:1"]
    result = subprocess.run(args, input=audio, check=True, capture_output=True, timeout=120)
    return result.stdout


def ffmpeg_sample_count(audio: bytes, rate: int = 16000, channels: int = 1) -> int:
    """How many samples per channel ffmpeg itself decodes ``audio`` to at ``rate``/``channels``.

    The reference the converter's output length is checked against.
    """
    result = subprocess.run(
        [require("ffmpeg"), "-v", "error", "-i", "pipe:0", "-ar", str(rate), "-ac", str(channels),
         "-f", "s16le", "pipe:1"],
        input=audio, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return len(result.stdout) // (2 * channels)


def wav_info(data: bytes) -> tuple[int, int, int, float]:
    """(sample rate, channels, sample width in bytes, duration in seconds) of a WAV file."""
    with wave.open(io.BytesIO(data)) as src:
        rate, channels, width = src.getframerate(), src.getnchannels(), src.getsampwidth()
        return rate, channels, width, src.getnframes() / rate
