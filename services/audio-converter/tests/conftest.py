"""Fixtures: a real converter process per test module, and audio made on the spot.

``start_converter(**env)`` starts ``python -m phonicflow_converter`` on a free loopback port and
waits until its health service answers SERVING; ``converter`` is one such server shared by a
module. Audio comes from espeak-ng and ffmpeg (``phonicflow_testing``), never from files in git.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from phonicflow.audio.v1 import converter_pb2_grpc
from phonicflow_testing import ServiceProcess, free_port, speech
from phonicflow_testing.voice_notes import speech_note

# generous: the biggest message a test sends or receives (a 600 s note at 48 kHz stereo as WAV)
CLIENT_MESSAGE_LIMIT = 256 * 1024 * 1024
CLIENT_OPTIONS = [
    ("grpc.max_receive_message_length", CLIENT_MESSAGE_LIMIT),
    ("grpc.max_send_message_length", CLIENT_MESSAGE_LIMIT),
]
LONG_WAV_SECONDS = 300.0
FORMATS = ("ogg", "mp3", "m4a", "flac", "wav", "webm", "mp4")


@dataclass
class Converter:
    process: ServiceProcess
    address: str
    channel: grpc.Channel

    @property
    def stub(self) -> converter_pb2_grpc.AudioConverterServiceStub:
        return converter_pb2_grpc.AudioConverterServiceStub(self.channel)

    @property
    def health(self) -> health_pb2_grpc.HealthStub:
        return health_pb2_grpc.HealthStub(self.channel)

    def health_status(self, service: str = "") -> int:
        reply = self.health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        return int(reply.status)

    def close(self) -> int | None:
        self.channel.close()
        return self.process.stop()


def _serving(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=1
        )
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def launch_converter(**env: str) -> Converter:
    port = free_port()
    address = f"127.0.0.1:{port}"
    process = ServiceProcess(
        "phonicflow_converter",
        env={"CONVERTER_LISTEN_ADDRESS": address, "OTEL_TRACES_EXPORTER": "none", **env},
        port=port,
        ready=lambda: _serving(address),
    )
    process.start()
    return Converter(process, address, grpc.insecure_channel(address, options=CLIENT_OPTIONS))


@pytest.fixture(scope="module")
def start_converter() -> Iterator[Callable[..., Converter]]:
    started: list[Converter] = []

    def start(**env: str) -> Converter:
        converter = launch_converter(**env)
        started.append(converter)
        return converter

    yield start
    for converter in started:
        converter.close()


@pytest.fixture(scope="module")
def converter(start_converter: Callable[..., Converter]) -> Converter:
    return start_converter()


@pytest.fixture(scope="session")
def speech_wav() -> bytes:
    """About three seconds of a learner-like sentence, 22.05 kHz mono WAV."""
    return speech.synth_wav("I think the weather is nice today, so I will walk to the park.")


@pytest.fixture(scope="session")
def encoded(speech_wav: bytes) -> dict[str, bytes]:
    """The same sentence in every format Telegram delivers (mp4 = a video note).

    ``mp3`` is a streamed MP3 (no LAME header); ``mp3_gapless`` was written to a file, so it
    carries the LAME/Info header declaring the encoder delay and padding.
    """
    audio = {fmt: speech.encode(speech_wav, fmt, via_file=True) for fmt in FORMATS}
    audio["mp3_gapless"] = audio["mp3"]
    audio["mp3"] = speech.encode(speech_wav, "mp3")
    return audio


@pytest.fixture(scope="session")
def long_wav() -> bytes:
    """Five minutes of speech as 22.05 kHz WAV (13 MB): its Opus encode takes about a second,
    long enough to be in flight while a test sends a signal or a second call."""
    return speech_note(LONG_WAV_SECONDS, "wav")
