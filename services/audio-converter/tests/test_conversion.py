"""A learner's audio, in whatever format Telegram delivers it, becomes the WAV the backend wants,
and the backend's WAV reply becomes a real voice note."""

from __future__ import annotations

import io
import json
import subprocess
import wave

import pytest

from phonicflow.audio.v1 import converter_pb2
from phonicflow_testing import speech

EXPECTED = {
    "ogg": ("opus", "ogg"),
    "mp3": ("mp3float", "mp3"),
    "m4a": ("aac", "mov,mp4,m4a,3gp,3g2,mj2"),
    "flac": ("flac", "flac"),
    "wav": ("pcm_s16le", "wav"),
    "webm": ("opus", "matroska,webm"),
    "mp4": ("aac", "mov,mp4,m4a,3gp,3g2,mj2"),
}


def _samples(wav: bytes) -> tuple[int, int, int]:
    with wave.open(io.BytesIO(wav)) as reader:
        frames = reader.readframes(reader.getnframes())
        assert len(frames) == reader.getnframes() * reader.getnchannels() * 2, "header lies"
        return reader.getnframes(), reader.getframerate(), reader.getnchannels()


@pytest.mark.parametrize("fmt", list(EXPECTED))
def test_every_telegram_format_becomes_16k_mono_wav_as_long_as_ffmpeg_decodes_it(
    converter, encoded, fmt
):
    audio = encoded[fmt]
    reply = converter.stub.ToWav(converter_pb2.ToWavRequest(audio=audio), timeout=30)

    frames, rate, channels = _samples(reply.wav)
    assert (rate, channels) == (16000, 1)
    assert frames == speech.ffmpeg_sample_count(audio, 16000, 1)
    assert reply.output.sample_rate_hz == 16000
    assert reply.output.channels == 1
    assert reply.output.duration_seconds == pytest.approx(frames / 16000)
    assert reply.output.size_bytes == len(reply.wav)
    assert (reply.input.codec, reply.input.container) == EXPECTED[fmt]
    assert reply.input.size_bytes == len(audio)
    assert 2.0 < reply.input.duration_seconds < 6.0
    assert not reply.partial


@pytest.mark.parametrize(
    ("fmt", "rate", "channels"),
    [("ogg", 44100, 2), ("m4a", 8000, 1), ("webm", 48000, 2), ("mp3", 22050, 2)],
)
def test_a_requested_rate_and_channel_count_are_honoured_sample_for_sample(
    converter, encoded, fmt, rate, channels
):
    audio = encoded[fmt]
    reply = converter.stub.ToWav(
        converter_pb2.ToWavRequest(audio=audio, sample_rate_hz=rate, channels=channels),
        timeout=30,
    )
    frames, got_rate, got_channels = _samples(reply.wav)
    assert (got_rate, got_channels) == (rate, channels)
    assert frames == speech.ffmpeg_sample_count(audio, rate, channels)


def test_a_gapless_mp3_comes_out_exactly_as_long_as_the_recording(converter, encoded, speech_wav):
    # The LAME header declares the encoder's delay and padding; both are trimmed. (Debian's
    # ffmpeg 5.1 CLI trims only the delay and leaves ~15 ms of padding; FFmpeg 8 in PyAV is right.)
    reply = converter.stub.ToWav(
        converter_pb2.ToWavRequest(audio=encoded["mp3_gapless"], sample_rate_hz=22050),
        timeout=30,
    )
    frames, rate, _ = _samples(reply.wav)
    assert rate == 22050
    assert frames == speech.ffmpeg_sample_count(speech_wav, 22050, 1)


def test_a_format_hint_does_not_stop_sniffing_the_real_format(converter, encoded):
    # The bot may guess from a file name; the bytes win.
    reply = converter.stub.ToWav(
        converter_pb2.ToWavRequest(
            audio=encoded["mp3"], format_hint=converter_pb2.AUDIO_FORMAT_OGG
        ),
        timeout=30,
    )
    assert reply.input.codec == "mp3float"


def _ffprobe(data: bytes) -> dict[str, object]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format", "-i", "pipe:0"],
        input=data, capture_output=True, check=True, timeout=30,
    )  # fmt: skip
    return json.loads(result.stdout)


def test_the_backends_wav_reply_becomes_an_ogg_opus_voice_note_ffmpeg_reads_back(
    converter, speech_wav
):
    reply = converter.stub.ToVoice(converter_pb2.ToVoiceRequest(audio=speech_wav), timeout=30)

    probe = _ffprobe(reply.ogg_opus)
    (stream,) = probe["streams"]
    assert probe["format"]["format_name"] == "ogg"
    assert (stream["codec_name"], stream["sample_rate"], stream["channels"]) == ("opus", "48000", 1)
    source_samples = speech.ffmpeg_sample_count(speech_wav, 48000, 1)
    assert speech.ffmpeg_sample_count(reply.ogg_opus, 48000, 1) == source_samples
    assert (reply.output.codec, reply.output.container) == ("opus", "ogg")
    assert (reply.output.sample_rate_hz, reply.output.channels) == (48000, 1)
    assert reply.output.duration_seconds == pytest.approx(source_samples / 48000)
    assert reply.input.codec == "pcm_s16le"


def test_a_voice_note_survives_the_round_trip_through_both_conversions(converter, encoded):
    to_wav = converter.stub.ToWav(converter_pb2.ToWavRequest(audio=encoded["ogg"]), timeout=30)
    voice = converter.stub.ToVoice(
        converter_pb2.ToVoiceRequest(audio=to_wav.wav, bitrate_bps=24000), timeout=30
    )
    back = converter.stub.ToWav(converter_pb2.ToWavRequest(audio=voice.ogg_opus), timeout=30)
    assert back.input.codec == "opus"
    assert _samples(back.wav)[0] == _samples(to_wav.wav)[0]
    # 24 kbit/s over the note's length, with room for Ogg pages and the Opus headers
    assert len(voice.ogg_opus) < 24000 / 8 * voice.output.duration_seconds * 1.5 + 4096


def test_an_upload_over_grpcs_default_4_mb_limit_is_accepted(converter, long_wav):
    assert len(long_wav) > 4 * 1024 * 1024  # five minutes of 22 kHz WAV, ~13 MB
    reply = converter.stub.ToWav(
        converter_pb2.ToWavRequest(audio=long_wav, sample_rate_hz=22050), timeout=30
    )
    assert len(reply.wav) > 4 * 1024 * 1024
    assert reply.output.duration_seconds == pytest.approx(speech.wav_info(long_wav)[3], abs=0.01)
