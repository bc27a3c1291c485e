"""The backend's replies are WAV, so plain PCM16 WAV skips libavformat (see ``wavfile``). These
scenarios hold the shortcut to what FFmpeg's own WAV demuxer makes of the same bytes: the same
samples, the same facts about the input, the same errors, and anything unusual left to FFmpeg."""

from __future__ import annotations

import array
import struct
from collections.abc import Callable

import pytest

from phonicflow_converter import codec, wavfile
from phonicflow_testing import speech

EXTENSIBLE = 0xFFFE


def chunk(tag: bytes, body: bytes, size: int | None = None) -> bytes:
    padding = b"\x00" * (len(body) & 1)
    return tag + struct.pack("<I", len(body) if size is None else size) + body + padding


def fmt_body(channels: int, rate: int, bits: int = 16, tag: int = 1, *, mask: int = 0) -> bytes:
    block = channels * bits // 8
    body = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    if tag == EXTENSIBLE:
        body += struct.pack("<HHI", 22, bits, mask) + wavfile.PCM_SUBFORMAT
    return body


def riff(*chunks: bytes) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def stereo(pcm: bytes) -> bytes:
    """Left: the speech; right: the same at a third of the level (so a downmix is visible)."""
    left = array.array("h", pcm)
    both = array.array("h", bytes(4 * len(left)))
    both[0::2] = left
    both[1::2] = array.array("h", (sample // 3 for sample in left))
    return both.tobytes()


@pytest.fixture(scope="module")
def pcm() -> bytes:
    """About two seconds of espeak-ng speech, 22.05 kHz mono PCM16, an odd number of frames."""
    wav = speech.synth_wav("Watch the T H sound in think.")
    samples = wavfile.read_pcm16(wav)
    assert samples is not None
    data = samples.samples.tobytes()
    return data if (len(data) // 2) % 2 else data[:-2]


@pytest.fixture
def general_path(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call it to send every following conversion through libavformat, as before the shortcut."""

    def force() -> None:
        monkeypatch.setattr(codec, "read_pcm16", lambda data: None)

    return force


def variants(pcm: bytes) -> dict[str, bytes]:
    fmt = chunk(b"fmt ", fmt_body(1, 22050))
    two = stereo(pcm)
    return {
        "what espeak-ng and wave write": riff(fmt, chunk(b"data", pcm)),
        "stereo 44.1 kHz": riff(chunk(b"fmt ", fmt_body(2, 44100)), chunk(b"data", two)),
        "a LIST chunk and an odd-sized chunk before the data": riff(
            fmt,
            chunk(b"LIST", b"INFOISFT\x05\x00\x00\x00Lavf\x00"),
            chunk(b"JUNK", b"xyz"),
            chunk(b"data", pcm),
        ),
        "an 18-byte fmt chunk": riff(
            chunk(b"fmt ", fmt_body(1, 22050) + b"\x00\x00"), chunk(b"data", pcm)
        ),
        "WAVE_FORMAT_EXTENSIBLE mono": riff(
            chunk(b"fmt ", fmt_body(1, 22050, tag=EXTENSIBLE, mask=0x4)), chunk(b"data", pcm)
        ),
        "WAVE_FORMAT_EXTENSIBLE stereo": riff(
            chunk(b"fmt ", fmt_body(2, 16000, tag=EXTENSIBLE, mask=0x3)), chunk(b"data", two)
        ),
        "streamed: data size 0": riff(fmt, chunk(b"data", pcm, size=0)),
        "streamed: data size 0xFFFFFFFF": riff(fmt, chunk(b"data", pcm, size=0xFFFFFFFF)),
        "data size larger than the file": riff(fmt, chunk(b"data", pcm, size=len(pcm) * 3)),
        "data size smaller than the file, trailing bytes after it": riff(
            fmt, chunk(b"data", pcm, size=len(pcm) // 2), b"garbage!" * 10
        ),
        "cut off mid-sample (odd length)": riff(fmt, chunk(b"data", pcm))[:-1],
        "stereo cut off mid-frame": riff(chunk(b"fmt ", fmt_body(2, 44100)), chunk(b"data", two))[
            :-3
        ],
    }


VARIANTS = list(variants(b"\x00\x00"))


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize(("rate", "channels"), [(16000, 1), (48000, 2)])
def test_a_plain_wav_comes_out_exactly_as_ffmpegs_own_wav_demuxer_makes_it(
    pcm, general_path, name, rate, channels
):
    data = variants(pcm)[name]
    assert wavfile.read_pcm16(data) is not None, "the shortcut should take this file"
    fast = codec.to_wav(data, rate=rate, channels=channels)
    general_path()
    slow = codec.to_wav(data, rate=rate, channels=channels)
    assert fast.wav == slow.wav
    assert fast.input == slow.input
    assert fast.output == slow.output


def test_a_reply_becomes_the_same_voice_note_either_way_and_as_long_as_ffmpeg_says(
    pcm, general_path
):
    data = variants(pcm)["what espeak-ng and wave write"]
    fast = codec.to_voice(data)
    general_path()
    slow = codec.to_voice(data)
    # Ogg streams get a random serial number: compare what they decode to.
    assert (
        codec.to_wav(fast.ogg_opus, rate=48000).wav == codec.to_wav(slow.ogg_opus, rate=48000).wav
    )
    assert fast.input == slow.input
    expected = speech.ffmpeg_sample_count(data, 48000, 1)
    assert round(fast.output.duration_seconds * 48000) == expected
    assert speech.ffmpeg_sample_count(fast.ogg_opus, 48000, 1) == expected


@pytest.mark.parametrize("name", ["streamed: data size 0", "cut off mid-sample (odd length)"])
def test_broken_headers_keep_the_sample_count_ffmpegs_command_line_reports(pcm, name):
    data = variants(pcm)[name]
    result = codec.to_wav(data, rate=22050)
    assert result.wav[44:] == pcm[: len(result.wav) - 44]
    assert round(result.output.duration_seconds * 22050) == speech.ffmpeg_sample_count(
        data, 22050, 1
    )


def declined(pcm: bytes) -> dict[str, bytes]:
    fmt = chunk(b"fmt ", fmt_body(1, 22050))
    eight_bit = bytes((sample >> 8) + 128 for sample in array.array("h", pcm))
    return {
        "8-bit": riff(chunk(b"fmt ", fmt_body(1, 22050, bits=8)), chunk(b"data", eight_bit)),
        "24-bit": riff(
            chunk(b"fmt ", fmt_body(1, 22050, bits=24)),
            chunk(b"data", b"".join(b"\x00" + pcm[i : i + 2] for i in range(0, len(pcm), 2))),
        ),
        "32-bit float": riff(
            chunk(b"fmt ", fmt_body(1, 22050, bits=32, tag=3)),
            chunk(b"data", array.array("f", (s / 32768 for s in array.array("h", pcm))).tobytes()),
        ),
        "three channels": riff(chunk(b"fmt ", fmt_body(3, 22050)), chunk(b"data", pcm[:-6] * 3)),
        "extensible stereo with a rear-speaker mask": riff(
            chunk(b"fmt ", fmt_body(2, 16000, tag=EXTENSIBLE, mask=0x30)),
            chunk(b"data", stereo(pcm)),
        ),
        "data before fmt": riff(chunk(b"data", pcm), fmt),
        "header only": riff(fmt, chunk(b"data", b"")),
        "one byte of data": riff(fmt, chunk(b"data", b"\x01")),
        "S/PDIF preamble in the samples": riff(
            fmt, chunk(b"data", pcm[:1000] + b"\x72\xf8\x1f\x4e" + pcm[1004:])
        ),
        "big-endian RIFX": b"RIFX" + riff(fmt, chunk(b"data", pcm))[4:],
        "thousands of empty chunks before the data": riff(
            fmt, chunk(b"JUNK", b"") * 5000, chunk(b"data", pcm)
        ),
        "not a WAV at all": b"OggS" + bytes(100),
    }


DECLINED = list(declined(b"\x00\x00"))


@pytest.mark.parametrize("name", DECLINED)
def test_anything_unusual_is_left_to_ffmpeg_with_its_usual_result_or_error(pcm, general_path, name):
    data = declined(pcm)[name]
    assert wavfile.read_pcm16(data) is None

    def outcome() -> object:
        try:
            result = codec.to_wav(data)
        except codec.ConversionError as exc:
            return type(exc), str(exc)
        return result.wav, result.input

    fast = outcome()
    general_path()
    assert fast == outcome()


def test_a_reply_over_the_duration_limit_is_refused_before_any_resampling(pcm, general_path):
    data = variants(pcm)["what espeak-ng and wave write"]
    limits = codec.Limits(max_duration_seconds=0.5)
    with pytest.raises(codec.TooLong) as fast:
        codec.to_voice(data, limits=limits)
    assert "before decoding" in str(fast.value)
    general_path()
    with pytest.raises(codec.TooLong) as slow:
        codec.to_voice(data, limits=limits)
    assert str(fast.value) == str(slow.value)


def test_a_long_reply_still_gives_up_when_its_deadline_passes():
    wav = speech.tone_wav(5.0, 22050)
    assert wavfile.read_pcm16(wav) is not None
    calls = 0

    def stop_on_the_third_check() -> bool:
        nonlocal calls
        calls += 1
        return calls >= 3

    with pytest.raises(codec.Stopped, match="deadline"):
        codec.to_voice(wav, should_stop=stop_on_the_third_check)
    assert calls == 3  # once per second of audio, before the encoder saw any of it


def test_a_wav_whose_speakers_are_all_at_the_back_is_refused_clearly_not_crashed_on(pcm):
    data = declined(pcm)["extensible stereo with a rear-speaker mask"]
    with pytest.raises(codec.UndecodableAudio, match="cannot be converted to mono"):
        codec.to_voice(data)
