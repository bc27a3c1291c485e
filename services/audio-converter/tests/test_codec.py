"""The conversion functions on their own, without a server: the corners that are hard to reach
through gRPC (Opus framing, the truncation rule, giving up mid-decode)."""

from __future__ import annotations

import av
import pytest

from phonicflow_converter import codec
from phonicflow_testing import speech
from phonicflow_testing.voice_notes import speech_note


@pytest.mark.parametrize(
    ("packet", "samples"),
    [
        (bytes([0xFC, 0x00]), 960),  # CELT 20 ms, one frame (what libopus sends for speech)
        (bytes([(15 << 3) | 0]), 960),  # hybrid 20 ms
        (bytes([(1 << 3) | 1]), 1920),  # SILK 20 ms, two frames
        (bytes([(3 << 3) | 3, 0x03]), 3 * 2880),  # SILK 60 ms, code 3 with three frames
        (bytes([(16 << 3) | 0]), 120),  # CELT 2.5 ms
        (b"", 0),
    ],
)
def test_opus_packet_lengths_are_read_from_the_toc_byte(packet, samples):
    assert codec._opus_packet_samples(packet) == samples


def test_dropping_leading_samples_keeps_the_rest_of_a_planar_frame_intact():
    frame = av.AudioFrame(format="fltp", layout="stereo", samples=8)
    for index, plane in enumerate(frame.planes):
        plane.update(bytes(range(index * 32, index * 32 + 32)))
    frame.sample_rate = 48000
    cut = codec._drop_leading_samples(frame, 3)
    assert cut is not None
    assert cut.samples == 5
    assert bytes(cut.planes[0])[:20] == bytes(range(12, 32))
    assert bytes(cut.planes[1])[:20] == bytes(range(44, 64))
    assert codec._drop_leading_samples(frame, 8) is None


def test_webm_opus_keeps_the_full_pre_skip_like_the_ffmpeg_command_line():
    # FFmpeg 8's Matroska demuxer hands the decoder only half of the 312-sample pre-skip.
    webm = speech.encode(speech.synth_wav("Three thin thieves"), "webm")
    result = codec.to_wav(webm, rate=48000)
    assert round(result.output.duration_seconds * 48000) == speech.ffmpeg_sample_count(
        webm, 48000, 1
    )


@pytest.mark.parametrize(
    ("expected", "decoded", "truncated"),
    [
        (4, 3.1, False),  # whole-second rounding: within 1 s
        (10, 9.05, False),  # more than 1 s short, but over 90 %
        (10, 8.5, True),
        (60, 53.0, True),
        (2, 0.5, True),
    ],
)
def test_a_decode_is_truncated_only_when_well_short_of_telegrams_duration(
    expected, decoded, truncated
):
    info = codec.AudioInfo(decoded, 48000, 1, "opus", "ogg", 1000)
    fake = codec._Decoded(samples=int(decoded * 16000), input=info, partial=False, seconds=0.0)
    if truncated:
        with pytest.raises(codec.Truncated, match=f"of the {expected} s reported"):
            codec._check_truncation(fake, expected, allow_partial=False)
        assert codec._check_truncation(fake, expected, allow_partial=True)
    else:
        assert not codec._check_truncation(fake, expected, allow_partial=False)


def test_a_conversion_told_to_stop_gives_up_between_packets():
    note = speech_note(20.0)
    calls = 0

    def stop_after_a_few_packets() -> bool:
        nonlocal calls
        calls += 1
        return calls > 5

    with pytest.raises(codec.Stopped, match="deadline"):
        codec.to_wav(note, should_stop=stop_after_a_few_packets)
    assert calls == 6


def test_limits_are_checked_before_any_decoding():
    with pytest.raises(codec.TooLarge, match="over the limit of 100 bytes"):
        codec.to_wav(b"\x00" * 101, limits=codec.Limits(max_bytes=100))
    with pytest.raises(codec.TooLong, match="before decoding"):
        codec.to_wav(speech_note(8.0), limits=codec.Limits(max_duration_seconds=5))
