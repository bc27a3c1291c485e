"""Small audio chores done with the ffmpeg CLI (the emulator is a dev tool; start-up cost is fine).

- :func:`probe_duration` — whole seconds of audio, when the sender did not say (Telegram works it
  out itself for uploads without a ``duration``).
- :func:`webm_to_ogg_opus` — browsers record webm/opus; Telegram voice notes are OGG/Opus, so the
  chat page's recordings are remuxed/re-encoded before they reach the bot.

Both return ``None`` instead of raising when ffmpeg is missing or the bytes are not audio.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile

# Bound on any single ffmpeg run; a dev tool should never hang on a broken upload.
FFMPEG_TIMEOUT_SECONDS = 30.0
# Voice-note encoding Telegram's own clients use: Opus, mono, 48 kHz, about 32 kbit/s.
VOICE_BITRATE = "32k"


async def _run(argv: list[str], data: bytes) -> bytes | None:
    if shutil.which(argv[0]) is None:
        return None
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(data), FFMPEG_TIMEOUT_SECONDS)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return None
    return out if proc.returncode == 0 else None


async def probe_duration(data: bytes) -> int | None:
    """Duration in whole seconds (rounded, at least 1 for non-empty audio), or ``None``."""
    # ffprobe needs a seekable file: from a pipe, an Ogg stream's duration is unknown.
    with tempfile.NamedTemporaryFile(prefix="emulator-probe-") as file:
        file.write(data)
        file.flush()
        argv = ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json"]
        out = await _run([*argv, file.name], b"")
    if not out:
        return None
    try:
        seconds = float(json.loads(out)["format"]["duration"])
    except (ValueError, KeyError, TypeError):
        return None
    return max(1, round(seconds))


async def webm_to_ogg_opus(data: bytes) -> bytes | None:
    """Browser recording (webm, mp4, ...) → OGG/Opus mono 48 kHz, or ``None`` if it fails."""
    out = await _run(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-i", "pipe:0", "-vn",
            "-ac", "1", "-ar", "48000", "-c:a", "libopus", "-b:a", VOICE_BITRATE,
            "-f", "ogg", "pipe:1",
        ],
        data,
    )  # fmt: skip
    return out or None
