"""Broken, hostile or oversized uploads get a clear status and message, and the very next good
request still works: one bad voice note never takes the converter down."""

from __future__ import annotations

import io
import random
import subprocess
import tempfile
import wave
from pathlib import Path

import grpc
import pytest

from phonicflow.audio.v1 import converter_pb2
from phonicflow_testing import speech
from phonicflow_testing.voice_notes import speech_note

LIMITED_MB = 0.5
LIMITED_SECONDS = 20


@pytest.fixture(scope="module")
def limited(start_converter):
    """A converter with small limits, so oversized inputs are cheap to make."""
    return start_converter(
        CONVERTER_MAX_INPUT_MB=str(LIMITED_MB), CONVERTER_MAX_DURATION_SECONDS=str(LIMITED_SECONDS)
    )


def _png() -> bytes:
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=red:s=64x64", "-frames:v", "1",
         "-c:v", "png", "-f", "image2pipe", "pipe:1"],
        check=True, capture_output=True, timeout=30,
    ).stdout  # fmt: skip


def _silent_video() -> bytes:
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=blue:s=64x64:r=5", "-t", "1",
         "-c:v", "libx264", "-preset", "ultrafast", "-f", "matroska", "pipe:1"],
        check=True, capture_output=True, timeout=30,
    ).stdout  # fmt: skip


def _empty_wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(16000)
        writer.writeframes(b"")
    return out.getvalue()


def _garbled(data: bytes, intact: float = 0.5) -> bytes:
    rng = random.Random(2026)
    head = int(len(data) * intact)
    return data[:head] + rng.randbytes(len(data) - head)


def _expect_error(stub, request, code, *words, method="ToWav"):
    with pytest.raises(grpc.RpcError) as info:
        getattr(stub, method)(request, timeout=30)
    assert info.value.code() == code, info.value.details()
    details = info.value.details().lower()
    for word in words:
        assert word.lower() in details, details
    return details


def _still_works(stub, audio):
    reply = stub.ToWav(converter_pb2.ToWavRequest(audio=audio), timeout=30)
    assert reply.output.duration_seconds > 1.0


BAD_INPUTS = {
    "empty": (lambda enc: b"", ["empty"]),
    "random bytes": (lambda enc: random.Random(1).randbytes(40_000), ["not a recognisable audio"]),
    "a few random bytes": (lambda enc: b"\x00\x01garbage", ["not a recognisable audio"]),
    "ogg header only": (lambda enc: enc["ogg"][:200], ["ends before any audio"]),
    "ogg damaged right after its header": (
        lambda enc: _garbled(enc["ogg"], 0.1),
        ["ends before any audio"],
    ),
    "wav header only": (lambda enc: enc["wav"][:44], ["not a recognisable audio"]),
    "a PNG named .ogg": (lambda enc: _png(), ["not in an accepted audio container"]),
    "an HLS playlist pointing elsewhere": (
        lambda enc: b"#EXTM3U\n#EXTINF:10,\nhttp://169.254.169.254/latest\n#EXT-X-ENDLIST\n",
        ["not a recognisable audio"],
    ),
    "a video with no sound": (lambda enc: _silent_video(), ["no audio stream", "video"]),
    "a zero-length WAV": (lambda enc: _empty_wav(), ["no samples"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_a_learner_sends_something_that_is_not_audio_and_is_told_so(converter, encoded, case):
    make, words = BAD_INPUTS[case]
    _expect_error(
        converter.stub,
        converter_pb2.ToWavRequest(audio=make(encoded), format_hint=converter_pb2.AUDIO_FORMAT_OGG),
        grpc.StatusCode.INVALID_ARGUMENT,
        *words,
    )
    _still_works(converter.stub, encoded["ogg"])


def test_garbage_sent_for_a_voice_reply_is_refused_too(converter, encoded):
    _expect_error(
        converter.stub,
        converter_pb2.ToVoiceRequest(audio=b"not audio at all" * 100),
        grpc.StatusCode.INVALID_ARGUMENT,
        "not a recognisable audio",
        method="ToVoice",
    )
    _still_works(converter.stub, encoded["ogg"])


@pytest.mark.parametrize(
    ("damage", "expected_seconds"),
    [("truncated", 4), ("garbled", 4)],
)
def test_a_voice_note_cut_short_in_transit_is_detected_from_telegrams_duration(
    converter, encoded, damage, expected_seconds
):
    note = encoded["ogg"]
    broken = note[: len(note) // 3] if damage == "truncated" else _garbled(note)
    details = _expect_error(
        converter.stub,
        converter_pb2.ToWavRequest(audio=broken, expected_duration_seconds=expected_seconds),
        grpc.StatusCode.INVALID_ARGUMENT,
        "truncated",
        f"{expected_seconds} s reported",
    )
    assert "allow_partial" in details
    _still_works(converter.stub, note)


def test_with_allow_partial_the_audio_that_survived_is_returned_and_flagged(converter, encoded):
    note = encoded["ogg"]
    reply = converter.stub.ToWav(
        converter_pb2.ToWavRequest(
            audio=note[: len(note) // 3], expected_duration_seconds=4, allow_partial=True
        ),
        timeout=30,
    )
    assert reply.partial
    assert 0.3 < reply.output.duration_seconds < 2.5
    assert speech.wav_info(reply.wav)[3] == pytest.approx(reply.output.duration_seconds)


def _video_note(video_seconds: int, audio_seconds: int, *, fragmented: bool) -> bytes:
    """A Telegram-style video note (240x240 H.264 + AAC in MP4) whose audio track is
    ``audio_seconds`` long inside ``video_seconds`` of video, as a phone records one when the
    microphone starts late or stops early."""
    movflags = ["-movflags", "frag_keyframe+empty_moov"] if fragmented else []
    with tempfile.TemporaryDirectory(prefix="video-note-") as tmp:
        target = Path(tmp) / "note.mp4"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"sine=frequency=300:duration={audio_seconds}",
             "-f", "lavfi", "-i", f"color=c=blue:s=240x240:r=10:d={video_seconds}",
             "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
             "-c:a", "aac", "-b:a", "64k", "-t", str(video_seconds), *movflags, str(target)],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        return target.read_bytes()


@pytest.mark.parametrize("fragmented", [False, True], ids=["mp4", "fragmented-mp4"])
def test_a_video_note_whose_audio_track_is_shorter_than_its_video_is_accepted(
    converter, fragmented
):
    note = _video_note(5, 3, fragmented=fragmented)
    # Telegram reports the video's 5 s; the 3 s audio track is complete, not damaged.
    reply = converter.stub.ToWav(
        converter_pb2.ToWavRequest(audio=note, expected_duration_seconds=5), timeout=30
    )
    assert not reply.partial
    assert reply.output.duration_seconds == pytest.approx(3.0, abs=0.1)
    if fragmented:  # cut in transit, it still falls short of its own track: truncated
        _expect_error(
            converter.stub,
            converter_pb2.ToWavRequest(audio=note[: len(note) // 2], expected_duration_seconds=5),
            grpc.StatusCode.INVALID_ARGUMENT,
            "truncated",
        )


def test_telegram_rounding_the_duration_up_is_not_mistaken_for_truncation(converter, encoded):
    full = converter.stub.ToWav(converter_pb2.ToWavRequest(audio=encoded["ogg"]), timeout=30)
    reported = int(full.input.duration_seconds) + 1  # whole seconds, rounded up
    reply = converter.stub.ToWav(
        converter_pb2.ToWavRequest(audio=encoded["ogg"], expected_duration_seconds=reported),
        timeout=30,
    )
    assert not reply.partial


@pytest.mark.parametrize(
    ("field", "request_kwargs", "method"),
    [
        ("sample_rate_hz", {"sample_rate_hz": 96000}, "ToWav"),
        ("sample_rate_hz", {"sample_rate_hz": 4000}, "ToWav"),
        ("channels", {"channels": 6}, "ToWav"),
        ("bitrate_bps", {"bitrate_bps": 1000}, "ToVoice"),
    ],
)
def test_unsupported_parameters_are_refused_by_name(
    converter, encoded, field, request_kwargs, method
):
    message = converter_pb2.ToWavRequest if method == "ToWav" else converter_pb2.ToVoiceRequest
    _expect_error(
        converter.stub,
        message(audio=encoded["ogg"], **request_kwargs),
        grpc.StatusCode.INVALID_ARGUMENT,
        field,
        method=method,
    )


def test_a_file_over_the_size_limit_is_refused_with_the_limit_named(limited, encoded):
    too_big = encoded["wav"] * 3  # ~0.6 MB of bytes; only the size matters
    assert len(too_big) > LIMITED_MB * 2**20
    _expect_error(
        limited.stub,
        converter_pb2.ToWavRequest(audio=too_big),
        grpc.StatusCode.INVALID_ARGUMENT,
        "over the limit",
        str(int(LIMITED_MB * 2**20)),
    )
    _still_works(limited.stub, encoded["ogg"])


def test_a_message_beyond_even_the_grpc_limit_is_refused_by_grpc_and_the_server_lives_on(
    limited, encoded
):
    # the server's receive limit is the input limit plus 1 MB of room for the other fields
    huge = bytes(int((LIMITED_MB + 1.5) * 2**20))
    with pytest.raises(grpc.RpcError) as info:
        limited.stub.ToWav(converter_pb2.ToWavRequest(audio=huge), timeout=30)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    _still_works(limited.stub, encoded["ogg"])


def test_a_note_over_the_duration_limit_is_refused_before_decoding(limited, encoded):
    long_note = speech_note(LIMITED_SECONDS + 10, "ogg")
    _expect_error(
        limited.stub,
        converter_pb2.ToWavRequest(audio=long_note),
        grpc.StatusCode.INVALID_ARGUMENT,
        f"limit of {LIMITED_SECONDS} s",
        "before decoding",
    )
    _still_works(limited.stub, encoded["ogg"])


def test_a_stream_that_hides_its_length_is_stopped_once_it_passes_the_limit(limited, encoded):
    # FLAC written to a pipe has no total in its STREAMINFO: the length is only found by decoding.
    wav = speech_note(LIMITED_SECONDS + 10, "wav")
    flac = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", "pipe:0", "-ar", "8000", "-c:a", "flac", "-f", "flac", "pipe:1"],
        input=wav, check=True, capture_output=True, timeout=60,
    ).stdout  # fmt: skip
    assert len(flac) < LIMITED_MB * 2**20
    _expect_error(
        limited.stub,
        converter_pb2.ToWavRequest(audio=flac),
        grpc.StatusCode.INVALID_ARGUMENT,
        f"limit of {LIMITED_SECONDS} s",
        "while decoding",
    )
    _still_works(limited.stub, encoded["ogg"])
