"""WAV in, WAV out: decode any WAV upload to 16 kHz mono PCM16, and write WAV files.

Usage::

    pcm = decode_wav(upload_bytes, max_seconds=120)   # -> Pcm(samples=b"...", rate=16000)
    wav_bytes = pcm_to_wav(pcm.samples, 16000)

The bot sends 16 kHz mono PCM16 already, so that path is a plain parse. Anything else a WAV
can hold (other rates, stereo, 8-bit, 24/32-bit, float) is resampled in-process with PyAV:
spawning ffmpeg costs ~65 ms a request (docs/notes/performance.md).
"""

from __future__ import annotations

import array
import io
import math
import sys
import wave
from dataclasses import dataclass

import av

#: What the speech engines want.
TARGET_RATE = 16000
SAMPLE_WIDTH = 2


class AudioError(ValueError):
    """The upload is not WAV audio we can read; the message says why."""


class AudioTooLongError(AudioError):
    """The audio is longer than the configured limit."""


@dataclass(frozen=True)
class Pcm:
    """Raw little-endian PCM16 mono samples at ``rate``."""

    samples: bytes
    rate: int = TARGET_RATE

    @property
    def seconds(self) -> float:
        return len(self.samples) / (SAMPLE_WIDTH * self.rate)


def looks_like_wav(data: bytes) -> bool:
    return len(data) >= 12 and data[:4] in (b"RIFF", b"RF64") and data[8:12] == b"WAVE"


def _fast_path(data: bytes) -> Pcm | None:
    """Parse PCM16 mono 16 kHz directly; None when the file is anything else."""
    try:
        with wave.open(io.BytesIO(data)) as src:
            if (src.getframerate(), src.getnchannels(), src.getsampwidth()) != (
                TARGET_RATE,
                1,
                SAMPLE_WIDTH,
            ):
                return None
            frames = src.readframes(src.getnframes())
    except Exception:  # wave raises Error, EOFError, RuntimeError... on a broken header
        return None
    if len(frames) % SAMPLE_WIDTH:
        frames = frames[: -(len(frames) % SAMPLE_WIDTH)]
    return Pcm(frames)


def decode_wav(data: bytes, *, max_seconds: float) -> Pcm:
    """Decode a WAV upload to 16 kHz mono PCM16, or raise AudioError with a reason."""
    if not data:
        raise AudioError("the audio file is empty")
    if not looks_like_wav(data):
        raise AudioError("the file is not WAV audio (expected a RIFF/WAVE header)")
    pcm = _fast_path(data)
    if pcm is None:
        pcm = _resample(data, max_seconds)
    if not pcm.samples:
        raise AudioError("the WAV file holds no audio samples")
    if pcm.seconds > max_seconds:
        raise AudioTooLongError(
            f"the audio is {pcm.seconds:.1f} s long; the limit is {max_seconds:g} s"
        )
    return pcm


def _resample(data: bytes, max_seconds: float) -> Pcm:
    out = bytearray()
    # stop decoding early on a huge file: the limit check needs only a bit more than the limit
    limit_bytes = (
        int((max_seconds + 1) * TARGET_RATE * SAMPLE_WIDTH) if math.isfinite(max_seconds) else None
    )
    try:
        with av.open(io.BytesIO(data), mode="r", format="wav") as container:
            if not container.streams.audio:
                raise AudioError("the WAV file has no audio stream")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=TARGET_RATE)
            for frame in container.decode(audio=0):
                for chunk in resampler.resample(frame):
                    out += bytes(chunk.planes[0])[: chunk.samples * SAMPLE_WIDTH]
                if limit_bytes is not None and len(out) > limit_bytes:
                    break
            for chunk in resampler.resample(None):
                out += bytes(chunk.planes[0])[: chunk.samples * SAMPLE_WIDTH]
    except AudioError:
        raise
    except Exception as exc:  # FFmpegError, ValueError, IndexError... on a broken file
        raise AudioError(f"the WAV file cannot be decoded: {exc}") from exc
    return Pcm(bytes(out))


def pcm_to_wav(samples: bytes, rate: int, channels: int = 1) -> bytes:
    """Wrap PCM16 samples in a WAV header."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as dst:
        dst.setnchannels(channels)
        dst.setsampwidth(SAMPLE_WIDTH)
        dst.setframerate(rate)
        dst.writeframes(samples)
    return buf.getvalue()


def wav_to_pcm(data: bytes) -> Pcm:
    """Any WAV (e.g. a TTS engine's output) as 16 kHz mono PCM16."""
    return decode_wav(data, max_seconds=float("inf"))


def speech_span(
    pcm16: bytes, *, floor_db: float, margin_s: float, rate: int = TARGET_RATE
) -> tuple[int, int]:
    """Byte offsets (start, end) of 16-bit mono audio without its leading and trailing
    silence, keeping ``margin_s`` each side: silence is a 10 ms frame more than ``floor_db``
    below the loudest one. (0, 0) for audio with no sound at all."""
    samples = array.array("h", pcm16[: len(pcm16) // SAMPLE_WIDTH * SAMPLE_WIDTH])
    if sys.byteorder == "big":
        samples.byteswap()
    step = rate // 100
    energy = [sum(s * s for s in samples[i : i + step]) for i in range(0, len(samples), step)]
    if not energy or max(energy) == 0:
        return 0, 0
    floor = max(energy) * 10 ** (-floor_db / 10)
    loud = [i for i, e in enumerate(energy) if e > floor]
    margin = round(margin_s * 100)
    first = max(0, loud[0] - margin)
    last = min(len(energy), loud[-1] + 1 + margin)
    return first * step * SAMPLE_WIDTH, min(len(pcm16), last * step * SAMPLE_WIDTH)


#: What :func:`concat_wavs` keeps around each part's speech (TTS engines pad ~0.4 s).
JOIN_FLOOR_DB = 45.0
JOIN_MARGIN_S = 0.05


def concat_wavs(parts: list[bytes], *, gap_seconds: float = 0.4) -> bytes:
    """Join WAV files into one 16 kHz mono WAV, each without its own leading and trailing
    silence, with ``gap_seconds`` of silence between them."""
    gap = b"\x00\x00" * int(TARGET_RATE * gap_seconds)
    spoken = []
    for part in parts:
        pcm = wav_to_pcm(part).samples
        start, end = speech_span(pcm, floor_db=JOIN_FLOOR_DB, margin_s=JOIN_MARGIN_S)
        spoken.append(pcm[start:end])
    return pcm_to_wav(gap.join(spoken), TARGET_RATE)
