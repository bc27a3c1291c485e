"""Pure, in-process audio conversion: no network, no subprocess, one call per conversion.

Usage::

    from phonicflow_converter.codec import to_wav, to_voice, Limits

    result = to_wav(data, rate=16000, channels=1, limits=Limits(max_bytes=20 * 2**20,
                    max_duration_seconds=600), expected_duration_seconds=3)
    result.wav            # bytes of a RIFF/WAVE PCM16 file with correct header sizes
    result.output, result.input   # AudioInfo (duration, rate, channels, codec, container, size)

    voice = to_voice(result.wav, limits=...)   # OGG/Opus 48 kHz mono, for sendVoice

Decoding uses PyAV (libavformat/libavcodec in-process) and its resampler. ToWav streams the PCM
into the WAV file as it decodes (one copy of the audio in memory); ToVoice wraps it in a pydub
``AudioSegment`` and encodes that with libopus through PyAV (CELT at voice-note bitrates; see
``VOICE_ENCODER_OPTIONS``). Plain PCM16 WAV, which is what the backend's replies are, skips
libavformat: :mod:`phonicflow_converter.wavfile` finds the samples and they go straight to the
same resampler, with the same result (opening a WAV with libavformat costs more than resampling
it). Nothing here spawns ffmpeg: starting a process costs more than decoding a short voice note
(see docs/benchmarks.md).

The output length matches the ffmpeg command line sample for sample: the resampler is flushed,
and Opus pre-skip is enforced from the ``OpusHead`` even where the demuxer (Matroska/WebM in
FFmpeg 8) hands the decoder a smaller skip than the stream declares.

Errors (all subclasses of :class:`ConversionError`, each message meant for a developer)::

    ConversionError
    ├── EmptyAudio            no bytes, or a container with no samples in it
    ├── UndecodableAudio      not audio, no audio stream, or garbage the decoder rejects
    ├── UnsupportedParameters output rate/channels/bitrate outside what the contract allows
    ├── TooLarge              more bytes than Limits.max_bytes
    ├── TooLong               longer than Limits.max_duration_seconds (checked before decoding
    │                         when the container declares a duration, and again while decoding)
    ├── Truncated             decoded audio well short of the duration Telegram reported
    │                         (for a video note: of its audio track's own declared length,
    │                         when that is shorter than the video Telegram measured)
    └── Stopped               the caller's ``should_stop`` said to give up (deadline, cancel)
"""

from __future__ import annotations

import io
import math
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import av
import av.error

with warnings.catch_warnings():
    # pydub imports the stdlib audioop, deprecated since 3.11 (gone in 3.13, where pydub needs
    # the audioop-lts backport); nothing the service can act on.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    # pydub looks for an ffmpeg binary at import; this service never runs one (PyAV decodes), so
    # the image needs no ffmpeg and the warning would only mislead.
    warnings.filterwarnings("ignore", "Couldn't find ffmpeg", RuntimeWarning)
    from pydub import AudioSegment

from phonicflow_converter.wavfile import (
    SAMPLE_WIDTH,
    WAV_HEADER_BYTES,
    PcmWav,
    read_pcm16,
    wav_header,
)

__all__ = [
    "DEFAULT_CHANNELS",
    "DEFAULT_RATE",
    "DEFAULT_VOICE_BITRATE",
    "AudioInfo",
    "ConversionError",
    "EmptyAudio",
    "Limits",
    "Stopped",
    "TooLarge",
    "TooLong",
    "Truncated",
    "UndecodableAudio",
    "UnsupportedParameters",
    "VoiceResult",
    "WavResult",
    "to_voice",
    "to_wav",
]

DEFAULT_RATE = 16000
"""What speech recognisers want; used when a request says 0."""
DEFAULT_CHANNELS = 1
MIN_RATE, MAX_RATE = 8000, 48000
ALLOWED_CHANNELS = (1, 2)

VOICE_RATE = 48000  # Opus always runs at 48 kHz; Telegram voice notes are 48 kHz mono
VOICE_CHANNELS = 1
DEFAULT_VOICE_BITRATE = 32000  # what Telegram clients send
MIN_VOICE_BITRATE, MAX_VOICE_BITRATE = 6000, 510000  # libopus' own bounds
#: libopus settings for voice replies, chosen by measurement (docs/benchmarks.md, "Converter").
#: "audio" lets libopus code speech with CELT at the default 32 kbit/s, a third of the CPU of the
#: SILK/hybrid coding "voip" forces (2 s espeak reply: 17.5 → 5.5 ms); below ~23 kbit/s it still
#: switches to SILK by itself. Whisper transcribes the result no worse than the "voip" encoding.
#: Constrained VBR keeps CELT at the requested bitrate (unconstrained, it spends ~55 kbit/s on
#: synthetic speech). Complexity 5 of 10: 7+ enables signal analysis, which sends speech back
#: to SILK and triples the CPU again.
VOICE_ENCODER_OPTIONS = {"application": "audio", "vbr": "constrained", "compression_level": "5"}

TRUNCATION_TOLERANCE_SECONDS = 1.0
"""Telegram reports whole seconds, so a decode this much short is still a complete upload."""
TRUNCATION_MIN_RATIO = 0.9
"""...and a decode must also fall below this fraction of the reported length to be truncated."""

DURATION_SLACK_SECONDS = 1.0
"""Container durations are estimates (MP3 without a Xing header); don't refuse on rounding."""

# libavformat/libavcodec name for each AudioFormat hint (proto enum value → demuxer name).
HINT_DEMUXERS: dict[int, str] = {1: "ogg", 2: "mp3", 3: "mp4", 4: "wav", 5: "flac", 6: "webm"}

ACCEPTED_DEMUXERS = "ogg,mp3,mov,wav,w64,flac,matroska,aac,aiff,caf,amr"
"""libavformat demuxers allowed to read input (``format_whitelist``). Everything Telegram delivers
is here; playlists and other demuxers that open further files or URLs (hls, concat) are not."""
ACCEPTED_DESCRIPTION = "Ogg, MP3, MP4/M4A, WAV, FLAC, Matroska/WebM, AAC, AIFF, CAF, AMR"

RESAMPLE_BATCH_SECONDS = 1.0
"""Decoded audio gathered per resampler call (see _decode); ~200 KB of float samples at 48 kHz."""
STOP_CHECK_PACKETS = 16
"""How often (in packets, 20-60 ms of audio each) a conversion asks whether to give up."""


class ConversionError(Exception):
    """Base of every error :func:`to_wav` and :func:`to_voice` raise on bad input."""


class EmptyAudio(ConversionError):
    """No bytes, or a container holding no samples."""


class UndecodableAudio(ConversionError):
    """Not audio, no audio stream, or data the decoder rejects."""


class UnsupportedParameters(ConversionError):
    """An output rate, channel count or bitrate outside the contract."""


class TooLarge(ConversionError):
    """More bytes than Limits.max_bytes."""


class TooLong(ConversionError):
    """Longer than Limits.max_duration_seconds."""


class Truncated(ConversionError):
    """Decoded audio well short of the duration Telegram reported."""


class Stopped(ConversionError):
    """``should_stop`` asked the conversion to give up (deadline passed, call cancelled)."""


@dataclass(frozen=True)
class Limits:
    """What the server accepts. ``max_bytes`` is checked first, duration before and during decoding."""

    max_bytes: int = 20 * 1024 * 1024
    max_duration_seconds: float = 600.0


@dataclass(frozen=True)
class AudioInfo:
    """Facts about one side of a conversion (mirrors the proto's AudioInfo)."""

    duration_seconds: float
    sample_rate_hz: int
    channels: int
    codec: str
    container: str
    size_bytes: int


@dataclass(frozen=True)
class WavResult:
    wav: bytes
    output: AudioInfo
    input: AudioInfo
    partial: bool
    decode_seconds: float


@dataclass(frozen=True)
class VoiceResult:
    ogg_opus: bytes
    output: AudioInfo
    input: AudioInfo
    decode_seconds: float
    encode_seconds: float


@dataclass
class _Decoded:
    samples: int  # per channel, at the output rate
    input: AudioInfo
    partial: bool
    seconds: float
    #: The audio track's own declared length, for a container that also holds video (a video
    #: note): Telegram reports the video's duration, and the audio track may be shorter.
    track_seconds: float | None = None


def _never() -> bool:
    return False


def _opus_packet_samples(packet: bytes) -> int:
    """Samples (at 48 kHz) one Opus packet decodes to, from its TOC byte (RFC 6716 §3.1)."""
    if not packet:
        return 0
    toc = packet[0]
    config = toc >> 3
    if config < 12:  # SILK-only: 10, 20, 40, 60 ms
        frame = (480, 960, 1920, 2880)[config % 4]
    elif config < 16:  # hybrid: 10, 20 ms
        frame = (480, 960)[config % 2]
    else:  # CELT-only: 2.5, 5, 10, 20 ms
        frame = (120, 240, 480, 960)[config % 4]
    code = toc & 0x03
    if code == 0:
        count = 1
    elif code in (1, 2):
        count = 2
    else:
        count = packet[1] & 0x3F if len(packet) > 1 else 0
    return frame * count


def _drop_leading_samples(frame: av.AudioFrame, count: int) -> av.AudioFrame | None:
    """A copy of ``frame`` without its first ``count`` samples (None if nothing is left)."""
    keep = frame.samples - count
    if keep <= 0:
        return None
    fmt = frame.format
    layout = frame.layout
    channels = len(layout.channels)
    bytes_per_sample = fmt.bytes
    out = av.AudioFrame(format=fmt.name, layout=layout.name, samples=keep)
    out.sample_rate = frame.sample_rate
    if fmt.is_planar:
        skip, length = count * bytes_per_sample, keep * bytes_per_sample
        for src, dst in zip(frame.planes, out.planes, strict=True):
            dst.update(bytes(src)[skip : skip + length])
    else:
        stride = bytes_per_sample * channels
        out.planes[0].update(bytes(frame.planes[0])[count * stride : (count + keep) * stride])
    return out


def _open(data: bytes, format_hint: int) -> Any:
    """Open the container, sniffing first and trying the hinted demuxer only if sniffing fails."""
    options = {"format_whitelist": ACCEPTED_DEMUXERS}
    try:
        return av.open(io.BytesIO(data), mode="r", options=options)
    except (av.error.FFmpegError, ValueError, UnicodeDecodeError) as exc:
        demuxer = HINT_DEMUXERS.get(format_hint)
        if demuxer is not None:
            try:
                return av.open(io.BytesIO(data), mode="r", format=demuxer, options=options)
            except (av.error.FFmpegError, ValueError, UnicodeDecodeError):
                pass
        if isinstance(exc, av.error.ArgumentError):  # recognised, but not a whitelisted demuxer
            raise UndecodableAudio(
                f"input is not in an accepted audio container ({len(data)} bytes; "
                f"accepted: {ACCEPTED_DESCRIPTION})"
            ) from None
        if isinstance(exc, EOFError):
            raise UndecodableAudio(
                f"input ends before any audio could be read ({len(data)} bytes): "
                "a header without data, a file cut short, or not audio at all"
            ) from None
        raise UndecodableAudio(
            f"input is not a recognisable audio file ({len(data)} bytes; "
            f"the demuxer said: {_describe(exc)})"
        ) from None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, av.error.FFmpegError):
        return exc.strerror or type(exc).__name__
    return str(exc) or type(exc).__name__


def _declared_duration(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / av.time_base
    return None


def _decode_frames(
    container: Any, stream: Any, should_stop: Callable[[], bool], errors: list[str]
) -> Iterator[av.AudioFrame]:
    """Decoded frames of ``stream``, skipping packets the decoder rejects (as ffmpeg does)."""
    codec = stream.codec_context
    extradata = codec.extradata or b""
    pending_preskip = 0
    if codec.name == "opus" and extradata.startswith(b"OpusHead") and len(extradata) >= 12:
        pending_preskip = int.from_bytes(extradata[10:12], "little")
    skipped = 0  # samples the decoder itself dropped before its first output
    started = False
    try:
        for count, packet in enumerate(container.demux(stream)):
            if count % STOP_CHECK_PACKETS == 0 and should_stop():
                raise Stopped("conversion abandoned: the caller's deadline passed")
            frames = _safe_decode(packet, errors)
            if pending_preskip and not started:
                produced = sum(frame.samples for frame in frames)
                if produced == 0:
                    skipped += _opus_packet_samples(bytes(packet))
                    continue
                skipped += _opus_packet_samples(bytes(packet)) - produced
                started = True
                extra = pending_preskip - skipped
                trimmed: list[av.AudioFrame] = []
                for frame in frames:
                    if extra > 0:
                        dropped = min(extra, frame.samples)
                        cut = _drop_leading_samples(frame, dropped)
                        extra -= dropped
                        if cut is not None:
                            trimmed.append(cut)
                    else:
                        trimmed.append(frame)
                frames = trimmed
            yield from frames
    except av.error.FFmpegError as exc:
        # A damaged container (cut mid-page, garbage after the header): keep what decoded so far;
        # the caller compares the length with what Telegram reported.
        errors.append(f"demuxing stopped: {_describe(exc)}")


def _safe_decode(packet: Any, errors: list[str]) -> list[av.AudioFrame]:
    try:
        return list(packet.decode())
    except av.error.FFmpegError as exc:
        errors.append(_describe(exc))
        return []


def _decode(
    data: bytes,
    *,
    rate: int,
    channels: int,
    limits: Limits,
    format_hint: int,
    should_stop: Callable[[], bool],
    write: Callable[[memoryview], object],
) -> _Decoded:
    """Decode ``data`` and ``write`` it as interleaved PCM16 at ``rate``/``channels``."""
    started = time.perf_counter()
    if not data:
        raise EmptyAudio("input is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise TooLarge(
            f"input is {len(data)} bytes, over the limit of {limits.max_bytes} bytes "
            f"({limits.max_bytes / 2**20:g} MB)"
        )
    wav = read_pcm16(data)
    if wav is not None:
        return _resample_wav(
            wav,
            size=len(data),
            rate=rate,
            channels=channels,
            limits=limits,
            should_stop=should_stop,
            write=write,
            started=started,
        )
    container = _open(data, format_hint)
    try:
        if not container.streams.audio:
            kinds = ", ".join(sorted({s.type for s in container.streams})) or "none"
            raise UndecodableAudio(
                f"input has no audio stream (detected container {container.format.name!r}, "
                f"streams: {kinds})"
            )
        stream = container.streams.audio[0]
        codec = stream.codec_context
        in_rate = int(codec.sample_rate or 0)
        in_channels = int(codec.channels or 0)
        declared = _declared_duration(container, stream)
        track_seconds = None
        if container.streams.video and stream.duration is not None and stream.time_base:
            track_seconds = float(stream.duration * stream.time_base)
        max_seconds = limits.max_duration_seconds
        too_long = None if declared is None else _too_long_before_decoding(declared, limits)
        if too_long is not None:
            raise too_long
        layout = "mono" if channels == 1 else "stereo"
        resampler = av.AudioResampler(format="s16", layout=layout, rate=rate)
        errors: list[str] = []
        out_samples = 0
        in_samples = 0
        max_out = math.ceil((max_seconds + DURATION_SLACK_SECONDS) * rate)
        frame_bytes = SAMPLE_WIDTH * channels

        # Decoders hand out 20-60 ms frames; pushing each through the resampler's filter graph
        # costs more than the resampling itself, so frames are gathered into ~1 s batches.
        fifo: Any = None
        fifo_key: tuple[str, str, int] | None = None
        batch = 0

        def take(frame: av.AudioFrame | None) -> None:
            nonlocal out_samples
            try:
                converted = resampler.resample(frame)
            except av.error.FFmpegError as exc:
                # e.g. a WAV whose speaker mask has no front channel: nothing to mix down from
                source = f"{fifo_key[1]}, {fifo_key[2]} Hz" if fifo_key else "as decoded"
                raise UndecodableAudio(
                    f"the {codec.name!r} audio ({source}) cannot be converted to {layout} "
                    f"at {rate} Hz: {_describe(exc)}"
                ) from None
            for out in converted:
                # A plane may be padded beyond the samples it holds: cut to the exact length.
                write(memoryview(out.planes[0])[: out.samples * frame_bytes])
                out_samples += out.samples

        def drain() -> None:
            if fifo is not None and fifo.samples:
                take(fifo.read())

        for frame in _decode_frames(container, stream, should_stop, errors):
            if in_samples == 0:  # the decoder's word beats the container's header
                in_rate = frame.sample_rate or in_rate
                in_channels = len(frame.layout.channels) or in_channels
            in_samples += frame.samples
            key = (frame.format.name, frame.layout.name, frame.sample_rate)
            if key != fifo_key:  # a stream may change rate or layout midway (MP3 can)
                drain()
                fifo, fifo_key = av.AudioFifo(), key
                batch = max(1, int(frame.sample_rate * RESAMPLE_BATCH_SECONDS))
            frame.pts = None  # the FIFO would insist on gapless timestamps; order is enough
            fifo.write(frame)
            if fifo.samples >= batch:
                take(fifo.read())
            if out_samples > max_out:
                raise TooLong(
                    f"audio is longer than the limit of {max_seconds:g} s "
                    "(found while decoding; the container did not declare its length)"
                )
        if in_samples == 0:
            if errors:
                raise UndecodableAudio(
                    f"no audio could be decoded from the {container.format.name!r} "
                    f"{codec.name!r} stream: {errors[0]}"
                )
            raise EmptyAudio(
                f"the {container.format.name!r} file holds an audio stream with no samples"
            )
        drain()
        take(None)
        input_info = AudioInfo(
            duration_seconds=in_samples / in_rate if in_rate else out_samples / rate,
            sample_rate_hz=in_rate,
            channels=in_channels,
            codec=codec.name,
            container=container.format.name,
            size_bytes=len(data),
        )
        return _Decoded(
            samples=out_samples,
            input=input_info,
            partial=bool(errors),
            seconds=time.perf_counter() - started,
            track_seconds=track_seconds,
        )
    finally:
        container.close()


def _too_long_before_decoding(seconds: float, limits: Limits) -> TooLong | None:
    max_seconds = limits.max_duration_seconds
    if seconds > max_seconds + DURATION_SLACK_SECONDS:
        return TooLong(
            f"audio is {seconds:.1f} s long, over the limit of {max_seconds:g} s "
            "(from the container's declared duration, before decoding)"
        )
    return None


def _resample_wav(
    wav: PcmWav,
    *,
    size: int,
    rate: int,
    channels: int,
    limits: Limits,
    should_stop: Callable[[], bool],
    write: Callable[[memoryview], object],
    started: float,
) -> _Decoded:
    """:func:`_decode` for a plain PCM16 WAV: its samples go straight to the resampler.

    libavformat would cost more to open the file (it reads and decodes all of it to probe) than
    the resampling does; the batches, checks and errors are those of the general path.
    """
    too_long = _too_long_before_decoding(wav.frames / wav.sample_rate, limits)
    if too_long is not None:
        raise too_long
    resampler = av.AudioResampler(
        format="s16", layout="mono" if channels == 1 else "stereo", rate=rate
    )
    in_bytes = SAMPLE_WIDTH * wav.channels
    out_bytes = SAMPLE_WIDTH * channels
    batch = max(1, int(wav.sample_rate * RESAMPLE_BATCH_SECONDS))
    out_samples = 0

    def take(frames: list[av.AudioFrame]) -> None:
        nonlocal out_samples
        for out in frames:
            write(memoryview(out.planes[0])[: out.samples * out_bytes])
            out_samples += out.samples

    for first in range(0, wav.frames, batch):
        if should_stop():
            raise Stopped("conversion abandoned: the caller's deadline passed")
        count = min(batch, wav.frames - first)
        frame = av.AudioFrame(format="s16", layout=wav.layout, samples=count)
        frame.sample_rate = wav.sample_rate
        samples = wav.samples[first * in_bytes : (first + count) * in_bytes]
        frame.planes[0].update(samples)  # type: ignore[arg-type]  # any buffer works; the stub says bytes
        take(resampler.resample(frame))
    take(resampler.resample(None))
    return _Decoded(
        samples=out_samples,
        input=AudioInfo(
            duration_seconds=wav.frames / wav.sample_rate,
            sample_rate_hz=wav.sample_rate,
            channels=wav.channels,
            codec="pcm_s16le",
            container="wav",
            size_bytes=size,
        ),
        partial=False,
        seconds=time.perf_counter() - started,
    )


def _check_truncation(
    decoded: _Decoded, expected_duration_seconds: float, allow_partial: bool
) -> bool:
    """True if the decode fell short of the reported duration (and the caller accepts that)."""
    if expected_duration_seconds <= 0:
        return False
    expected = expected_duration_seconds
    if decoded.track_seconds is not None:
        # A video note whose audio track is shorter than its video: all of the track is there.
        # (A file cut in transit still falls short of its own track's declared length.)
        expected = min(expected, decoded.track_seconds)
    got = decoded.input.duration_seconds
    short = got < expected - TRUNCATION_TOLERANCE_SECONDS and got < expected * TRUNCATION_MIN_RATIO
    if not short:
        return False
    if not allow_partial:
        raise Truncated(
            f"decoded only {got:.2f} s of the {expected_duration_seconds:g} s reported: "
            "the upload looks truncated (set allow_partial to accept the partial audio)"
        )
    return True


def to_wav(
    data: bytes,
    *,
    rate: int = 0,
    channels: int = 0,
    limits: Limits | None = None,
    format_hint: int = 0,
    expected_duration_seconds: float = 0.0,
    allow_partial: bool = False,
    should_stop: Callable[[], bool] = _never,
) -> WavResult:
    """Decode any supported audio to a WAV PCM16 file at ``rate``/``channels`` (0 = default)."""
    rate = rate or DEFAULT_RATE
    channels = channels or DEFAULT_CHANNELS
    if not MIN_RATE <= rate <= MAX_RATE:
        raise UnsupportedParameters(
            f"sample_rate_hz={rate} is outside the allowed {MIN_RATE}-{MAX_RATE} Hz"
        )
    if channels not in ALLOWED_CHANNELS:
        raise UnsupportedParameters(f"channels={channels} is not allowed (use 1 or 2)")
    if expected_duration_seconds < 0 or not math.isfinite(expected_duration_seconds):
        raise UnsupportedParameters(
            f"expected_duration_seconds={expected_duration_seconds} must be 0 (unknown) or positive"
        )
    out = io.BytesIO()
    # PCM streams straight into the WAV file: one copy of the audio instead of the three that
    # collecting it, wrapping it in a pydub AudioSegment and exporting that would hold at once
    # (300 s at 48 kHz stereo is 58 MB a copy). The header is written once the size is known.
    out.write(bytes(WAV_HEADER_BYTES))
    decoded = _decode(
        data,
        rate=rate,
        channels=channels,
        limits=limits or Limits(),
        format_hint=format_hint,
        should_stop=should_stop,
        write=out.write,
    )
    partial = _check_truncation(decoded, expected_duration_seconds, allow_partial)
    out.seek(0)
    out.write(wav_header(decoded.samples, rate, channels))
    wav = out.getvalue()  # shares BytesIO's buffer rather than copying it
    return WavResult(
        wav=wav,
        output=AudioInfo(
            duration_seconds=decoded.samples / rate,
            sample_rate_hz=rate,
            channels=channels,
            codec="pcm_s16le",
            container="wav",
            size_bytes=len(wav),
        ),
        input=decoded.input,
        partial=partial,
        decode_seconds=decoded.seconds,
    )


def to_voice(
    data: bytes,
    *,
    bitrate: int = 0,
    limits: Limits | None = None,
    format_hint: int = 0,
    should_stop: Callable[[], bool] = _never,
) -> VoiceResult:
    """Encode any supported audio as an OGG/Opus voice note, 48 kHz mono, ``bitrate`` bit/s."""
    bitrate = bitrate or DEFAULT_VOICE_BITRATE
    if not MIN_VOICE_BITRATE <= bitrate <= MAX_VOICE_BITRATE:
        raise UnsupportedParameters(
            f"bitrate_bps={bitrate} is outside the allowed {MIN_VOICE_BITRATE}-{MAX_VOICE_BITRATE}"
        )
    pcm = io.BytesIO()
    decoded = _decode(
        data,
        rate=VOICE_RATE,
        channels=VOICE_CHANNELS,
        limits=limits or Limits(),
        format_hint=format_hint,
        should_stop=should_stop,
        write=pcm.write,
    )
    started = time.perf_counter()
    segment = AudioSegment(
        data=pcm.getvalue(),
        sample_width=SAMPLE_WIDTH,
        frame_rate=VOICE_RATE,
        channels=VOICE_CHANNELS,
    )
    out = io.BytesIO()
    with av.open(out, mode="w", format="ogg") as container:
        stream = container.add_stream(
            "libopus", rate=VOICE_RATE, layout="mono", options=VOICE_ENCODER_OPTIONS
        )
        stream.bit_rate = bitrate
        frame_size = stream.codec_context.frame_size or 960
        step = frame_size * 50  # one second per frame keeps the per-frame overhead negligible
        raw = segment.raw_data
        bytes_per_sample = SAMPLE_WIDTH * VOICE_CHANNELS
        total = len(raw) // bytes_per_sample
        pts = 0
        for start in range(0, total, step):
            if should_stop():
                raise Stopped("conversion abandoned: the caller's deadline passed")
            count = min(step, total - start)
            frame = av.AudioFrame(format="s16", layout="mono", samples=count)
            frame.sample_rate = VOICE_RATE
            frame.pts = pts
            frame.planes[0].update(
                raw[start * bytes_per_sample : (start + count) * bytes_per_sample]
            )
            pts += count
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    ogg = out.getvalue()
    return VoiceResult(
        ogg_opus=ogg,
        output=AudioInfo(
            duration_seconds=total / VOICE_RATE,
            sample_rate_hz=VOICE_RATE,
            channels=VOICE_CHANNELS,
            codec="opus",
            container="ogg",
            size_bytes=len(ogg),
        ),
        input=decoded.input,
        decode_seconds=decoded.seconds,
        encode_seconds=time.perf_counter() - started,
    )
