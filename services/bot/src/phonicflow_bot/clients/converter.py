"""The audio-converter gRPC service (proto/phonicflow/audio/v1) as one small async client.

Usage::

    converter = ConverterClient("localhost:50051", timeout=30)
    wav = await converter.to_wav(ogg_bytes, expected_duration=3.0)   # Wav(data, duration): 16 kHz mono PCM16
    voice = await converter.to_voice(wav_bytes)      # VoiceNote(ogg, duration) for sendVoice
    await converter.close()

Errors::

    ConverterError
    ├── AudioRejected          INVALID_ARGUMENT: the audio itself is bad (empty, damaged,
    │                          truncated, over a size or length limit)
    └── ConverterUnavailable   anything else (UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED
                               after the retries): the learner should try again later

Calls are spread over every address the name resolves to (gRPC's ``round_robin``): in the chart
CONVERTER_ADDRESS names a headless Service, so DNS lists each ready converter pod and every pod
gets work. (A ClusterIP Service would pin the bot's one HTTP/2 connection to a single pod.) The
converter ends old connections now and then (CONVERTER_MAX_CONNECTION_AGE_SECONDS), and
reconnecting resolves the name again, which is how pods added by the autoscaler are found.

The status code alone says what happened; no message is parsed. UNAVAILABLE (a converter
draining, restarting, or busy with its wait queue full), RESOURCE_EXHAUSTED (gRPC's own
concurrent-call cap on the converter) and a server's CANCELLED are retried by gRPC itself (the
service config's retryPolicy) within the call deadline, and each connection watches its
converter's health, so a converter pod draining or restarting does not fail the learner's
message. With no converter reachable at all, a call waits for one (``wait_for_ready``) until
its deadline (CONVERTER_TIMEOUT) rather than failing at once: after a rollout replaced every
converter pod, DNS may name the old pods for a while. The client keeps at most
``max_in_flight`` calls open, so one bot does not flood a converter. OpenTelemetry's aio client
interceptors put the trace context into the call metadata.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from phonicflow.audio.v1 import converter_pb2, converter_pb2_grpc

log = logging.getLogger(__name__)

#: Telegram's 20 MB download ceiling plus protobuf framing.
MAX_MESSAGE_BYTES = 25 * 1024 * 1024
#: Speech recognisers want 16 kHz mono.
WAV_SAMPLE_RATE = 16000
WAV_CHANNELS = 1
#: Conversions one bot keeps open at once; more wait in the bot instead of being refused.
DEFAULT_MAX_IN_FLIGHT = 8
#: Reconnect backoff towards a converter that went away: first try, and ceiling.
RECONNECT_BACKOFF_MS = 100
MAX_RECONNECT_BACKOFF_MS = 1000
#: Shortest pause between two DNS lookups of CONVERTER_ADDRESS. gRPC looks again when a connection
#: ends; its default of 30 s could leave a bot on a stale list of converter pods that long.
DNS_MIN_RESOLUTION_INTERVAL_MS = 2000
#: Seconds a readiness probe waits for the converter's health service.
HEALTH_CHECK_TIMEOUT = 2.0

CONVERTER_SERVICE = converter_pb2.DESCRIPTOR.services_by_name["AudioConverterService"].full_name

_SERVICE_CONFIG = json.dumps(
    {
        # One connection per converter the name resolves to, calls taken in turn.
        "loadBalancingConfig": [{"round_robin": {}}],
        # Each connection watches its converter's grpc.health.v1 status: one that starts
        # draining (NOT_SERVING) gets no new calls. A server without the health service
        # (UNIMPLEMENTED) counts as healthy.
        "healthCheckConfig": {"serviceName": CONVERTER_SERVICE},
        "methodConfig": [
            {
                "name": [{"service": CONVERTER_SERVICE}],
                # Conversions have no side effects, so a call may run twice. UNAVAILABLE: the
                # converter is down, draining or busy. RESOURCE_EXHAUSTED: gRPC's cap on calls
                # in the converter (the bot never sends a message over its size limit, the other
                # cause of that code). CANCELLED from the server: it stopped with the call just
                # arrived (seen about once in six converter restarts under load). Five attempts
                # is gRPC's ceiling; the backoffs add up to about 1.5 s on average.
                "retryPolicy": {
                    "maxAttempts": 5,
                    "initialBackoff": "0.2s",
                    "maxBackoff": "2s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE", "RESOURCE_EXHAUSTED", "CANCELLED"],
                },
            }
        ],
    }
)


@dataclass(frozen=True)
class Wav:
    """WAV PCM16 audio and its length as decoded (not as Telegram reported it)."""

    data: bytes
    duration: float


@dataclass(frozen=True)
class VoiceNote:
    """An OGG/Opus voice note and its length (sendVoice shows the duration)."""

    ogg: bytes
    duration: float


class ConverterError(Exception):
    """Anything that went wrong converting audio."""

    def __init__(self, message: str, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.code = code


class AudioRejected(ConverterError):
    """The converter could not use this audio (damaged, empty, truncated, over a limit)."""


class ConverterUnavailable(ConverterError):
    """The converter is down, overloaded or too slow: try again later."""


def _classify(exc: grpc.aio.AioRpcError) -> ConverterError:
    code = exc.code()
    message = f"converter answered {code.name}: {exc.details() or ''}"
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return AudioRejected(message, code)
    return ConverterUnavailable(message, code)


class ConverterClient:
    """A grpc.aio channel to CONVERTER_ADDRESS with deadlines, retries and tracing."""

    def __init__(
        self,
        address: str,
        *,
        timeout: float,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        instrument: bool = True,
    ) -> None:
        self.address = address
        self.timeout = timeout
        self._slots = asyncio.Semaphore(max_in_flight)
        options = [
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.enable_retries", 1),
            # gRPC's default reconnect backoff grows to 120 s: a converter that restarted
            # would stay unreachable long after it is back.
            ("grpc.initial_reconnect_backoff_ms", RECONNECT_BACKOFF_MS),
            ("grpc.min_reconnect_backoff_ms", RECONNECT_BACKOFF_MS),
            ("grpc.max_reconnect_backoff_ms", MAX_RECONNECT_BACKOFF_MS),
            ("grpc.dns_min_time_between_resolutions_ms", DNS_MIN_RESOLUTION_INTERVAL_MS),
            ("grpc.service_config", _SERVICE_CONFIG),
        ]
        interceptors = None
        if instrument:
            from opentelemetry.instrumentation.grpc import aio_client_interceptors

            interceptors = aio_client_interceptors()  # type: ignore[no-untyped-call]
        self._channel = grpc.aio.insecure_channel(
            address, options=options, interceptors=interceptors
        )
        self._stub = converter_pb2_grpc.AudioConverterServiceStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)

    async def to_wav(self, audio: bytes, *, expected_duration: float = 0.0) -> Wav:
        """Decode any Telegram audio to WAV PCM16 16 kHz mono."""
        request = converter_pb2.ToWavRequest(
            audio=audio,
            sample_rate_hz=WAV_SAMPLE_RATE,
            channels=WAV_CHANNELS,
            expected_duration_seconds=expected_duration,
        )
        response = await self._call(self._stub.ToWav, request)
        return Wav(bytes(response.wav), response.output.duration_seconds)

    async def to_voice(self, audio: bytes) -> VoiceNote:
        """Encode audio (WAV from the backend) as an OGG/Opus voice note."""
        request = converter_pb2.ToVoiceRequest(audio=audio)
        response = await self._call(self._stub.ToVoice, request)
        return VoiceNote(bytes(response.ogg_opus), response.output.duration_seconds)

    async def _call(self, method: Any, request: Any) -> Any:
        """One RPC (gRPC's retries included) within ``timeout``."""
        async with self._slots:
            try:
                # wait_for_ready: with no converter reachable yet (all of them restarting, or
                # DNS still naming the pods a rollout just replaced: CoreDNS caches answers for
                # up to 30 s) the call waits for one within its deadline instead of failing at
                # once; a converter that answers "busy" is still retried by the retryPolicy.
                return await method(request, timeout=self.timeout, wait_for_ready=True)
            except grpc.aio.AioRpcError as exc:
                raise _classify(exc) from None

    async def health_check(self) -> bool:
        """True when the converter's grpc.health.v1 service says SERVING."""
        try:
            response = await self._health.Check(
                health_pb2.HealthCheckRequest(), timeout=HEALTH_CHECK_TIMEOUT
            )
        except grpc.aio.AioRpcError:
            return False
        return bool(response.status == health_pb2.HealthCheckResponse.SERVING)

    async def close(self) -> None:
        await self._channel.close()
