"""Reading and writing the plain WAV files the converter handles most: PCM16, mono or stereo.

Usage::

    from phonicflow_converter.wavfile import read_pcm16, wav_header

    pcm = read_pcm16(data)      # PcmWav, or None: "not a plain PCM16 WAV, let FFmpeg decide"
    if pcm is not None:
        pcm.frames, pcm.sample_rate, pcm.channels, pcm.layout
        pcm.samples             # memoryview of the interleaved samples, no copy
    header = wav_header(frames, rate=16000, channels=1)   # the canonical 44-byte header

Why it exists: the backend's replies are WAV, and opening one with libavformat probes it by
reading and decoding the whole file (~6 ms for a 2 s reply, more than resampling it), so
:mod:`phonicflow_converter.codec` reads plain PCM16 WAV itself.

:func:`read_pcm16` is deliberately narrow: it answers only for files it reads exactly as FFmpeg's
WAV demuxer does, and returns ``None`` for everything else (RF64, big-endian RIFX, 8/24/32-bit or
float samples, more than two channels, unusual channel masks, a ``data`` chunk before ``fmt``,
S/PDIF-wrapped AC-3/DTS, no complete sample frame, anything malformed) so that the caller takes
the general FFmpeg path with its own errors and messages. Where FFmpeg tolerates a broken header
this does the same: a ``data`` size of 0 or 0xFFFFFFFF (streamed WAV) or one larger than the
file means "to the end of the file", and a trailing partial sample frame is dropped.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["SAMPLE_WIDTH", "WAV_HEADER_BYTES", "PcmWav", "read_pcm16", "wav_header"]

SAMPLE_WIDTH = 2  # PCM16
WAV_HEADER_BYTES = 44
WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
#: KSDATAFORMAT_SUBTYPE_PCM: the sub-format GUID of an extensible header holding integer PCM.
PCM_SUBFORMAT = bytes.fromhex("0100000000001000800000aa00389b71")
#: Speaker masks FFmpeg maps to the same layouts as a plain header: front centre for mono,
#: front left + right for stereo. Any other mask changes how stereo is mixed down.
DEFAULT_CHANNEL_MASKS = {1: 0x4, 2: 0x3}
FMT_SIZES = {WAVE_FORMAT_PCM: (16, 18), WAVE_FORMAT_EXTENSIBLE: (40,)}
STREAMED_DATA_SIZES = (0, 0xFFFFFFFF)
"""``data`` sizes a writer leaves when it cannot seek back (ffmpeg and espeak-ng to a pipe)."""
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1000, 384000
"""Rates outside this range go to FFmpeg, whose resampler decides what it accepts."""
SPDIF_SYNC = b"\x72\xf8\x1f\x4e"
"""IEC 61937 preamble: FFmpeg's WAV demuxer looks for it and then decodes AC-3/DTS instead."""
LAYOUTS = {1: "mono", 2: "stereo"}
MAX_CHUNKS_BEFORE_DATA = 64
"""Real files carry a handful (fmt, LIST, fact, bext, JUNK); a file of thousands of empty chunks
is left to FFmpeg's C loop rather than walked here in Python."""


@dataclass(frozen=True)
class PcmWav:
    """Where the samples of a PCM16 WAV file are, and what they are."""

    sample_rate: int
    channels: int
    samples: memoryview
    """Interleaved little-endian int16, whole frames only; a view into the caller's bytes."""

    @property
    def frames(self) -> int:
        return len(self.samples) // (SAMPLE_WIDTH * self.channels)

    @property
    def layout(self) -> str:
        return LAYOUTS[self.channels]


def read_pcm16(data: bytes) -> PcmWav | None:
    """The samples of ``data`` if it is a plain PCM16 mono/stereo WAV with samples, else None."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    offset = 12
    fmt: tuple[int, int] | None = None  # (channels, rate)
    for _ in range(MAX_CHUNKS_BEFORE_DATA):
        if offset + 8 > len(data):
            return None
        chunk_id = data[offset : offset + 4]
        (size,) = struct.unpack_from("<I", data, offset + 4)
        body = offset + 8
        if chunk_id == b"fmt ":
            if fmt is not None:
                return None
            fmt = _read_fmt(data, body, size)
            if fmt is None:
                return None
        elif chunk_id == b"data":
            if fmt is None:
                return None
            end = len(data)
            if size not in STREAMED_DATA_SIZES:
                end = min(end, body + size)
            return _samples(data, body, end, *fmt)
        offset = body + size + (size & 1)  # chunks are padded to an even length
    return None


def _read_fmt(data: bytes, body: int, size: int) -> tuple[int, int] | None:
    if body + size > len(data) or size < 16:
        return None
    tag, channels, rate, byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", data, body)
    if size not in FMT_SIZES.get(tag, ()):
        return None
    if channels not in LAYOUTS or bits != 8 * SAMPLE_WIDTH:
        return None
    if block_align != channels * SAMPLE_WIDTH or byte_rate != rate * block_align:
        return None
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        return None
    if size == 18 and struct.unpack_from("<H", data, body + 16)[0] != 0:
        return None  # a PCM header announcing extra bytes it does not have room for
    if tag == WAVE_FORMAT_EXTENSIBLE:
        extra, valid_bits, mask = struct.unpack_from("<HHI", data, body + 16)
        guid = data[body + 24 : body + 40]
        if extra != 22 or valid_bits != bits or guid != PCM_SUBFORMAT:
            return None
        if mask != DEFAULT_CHANNEL_MASKS[channels]:
            return None
    return channels, rate


def _samples(data: bytes, start: int, end: int, channels: int, rate: int) -> PcmWav | None:
    block = SAMPLE_WIDTH * channels
    frames = (end - start) // block
    if frames <= 0:
        return None
    if data.find(SPDIF_SYNC, start, end) >= 0:
        return None
    return PcmWav(
        sample_rate=rate,
        channels=channels,
        samples=memoryview(data)[start : start + frames * block],
    )


def wav_header(frames: int, rate: int, channels: int) -> bytes:
    """The canonical 44-byte RIFF/WAVE header for ``frames`` frames of PCM16 (what wave writes)."""
    block_align = channels * SAMPLE_WIDTH
    data_bytes = frames * block_align
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", WAV_HEADER_BYTES - 8 + data_bytes, b"WAVE",
        b"fmt ", 16, WAVE_FORMAT_PCM, channels, rate, rate * block_align, block_align,
        8 * SAMPLE_WIDTH,
        b"data", data_bytes,
    )  # fmt: skip
