"""The grpc.aio server: converter, health, reflection, OpenTelemetry, and a graceful drain.

Usage::

    settings = load_settings(ConverterSettings)
    asyncio.run(serve(settings))   # returns after SIGTERM/SIGINT once drained

Lifecycle: health reports SERVING for ``""`` and for the converter service once the port is
bound. On SIGTERM (or SIGINT) health flips to NOT_SERVING, new conversions get UNAVAILABLE,
conversions in flight may finish for up to ``CONVERTER_GRACE_SECONDS``, then the server stops
and :func:`serve` returns (exit status 0). Health stays answerable during the drain so a
Kubernetes readiness probe sees NOT_SERVING while the endpoint is withdrawn.

Message limits are sized from the settings: requests may carry the largest accepted input plus
protobuf overhead; responses the WAV of the longest accepted audio at 48 kHz stereo.

The number of requests held in memory is bounded before a handler runs: gRPC itself turns away
calls past :func:`max_concurrent_rpcs` (RESOURCE_EXHAUSTED), a little above what the servicer
admits (running + waiting), so the servicer's own "busy" (UNAVAILABLE) answers first and health
checks and the clients' health watches still fit. Before the cap every caller was let in and
read: 100 concurrent 5 MB calls peaked at 1 068 MB, above the chart's 768 Mi limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from concurrent.futures import ThreadPoolExecutor

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.instrumentation.grpc import aio_server_interceptor, filters

from phonicflow.audio.v1 import converter_pb2, converter_pb2_grpc
from phonicflow_common.runtime import freeze_startup_heap
from phonicflow_converter import codec, wavfile
from phonicflow_converter.config import ConverterSettings
from phonicflow_converter.service import AudioConverterServicer

log = logging.getLogger("phonicflow_converter.server")

SERVICE_NAME = converter_pb2.DESCRIPTOR.services_by_name["AudioConverterService"].full_name
MESSAGE_OVERHEAD_BYTES = 1024 * 1024
"""Room above the audio itself for the other fields and protobuf framing."""
STOP_GRACE_AFTER_DRAIN_SECONDS = 1.0
"""After the in-flight conversions end, how long the last responses get to leave."""
RPC_HEADROOM = 16
"""Calls gRPC lets in beyond those the servicer admits: health checks, each client's long-lived
health watch, and callers the servicer turns away as busy (each read, then refused at once)."""
CONNECTION_AGE_GRACE_SECONDS = 30.0
"""After a connection reaches its maximum age, how long its calls may still take: the bot's
deadline for one conversion (its CONVERTER_TIMEOUT, 30 s by default)."""


def connection_options(settings: ConverterSettings) -> list[tuple[str, int]]:
    """gRPC server options: message limits, and the connection age that lets clients rebalance.

    A client balancing across converter pods (the bot: round_robin over a headless Service)
    knows the pods DNS listed when it connected. When a connection reaches its age the server
    sends GOAWAY; calls in flight finish (up to :data:`CONNECTION_AGE_GRACE_SECONDS`), new ones
    go to the client's other connections while it reconnects and resolves the name again.
    """
    receive, send = message_limits(settings)
    options = [
        ("grpc.max_receive_message_length", receive),
        ("grpc.max_send_message_length", send),
    ]
    if settings.max_connection_age_seconds > 0:
        options += [
            ("grpc.max_connection_age_ms", int(settings.max_connection_age_seconds * 1000)),
            ("grpc.max_connection_age_grace_ms", int(CONNECTION_AGE_GRACE_SECONDS * 1000)),
        ]
    return options


def max_concurrent_rpcs(settings: ConverterSettings) -> int:
    """The most calls gRPC lets into the server at once (see the module docstring)."""
    return settings.max_concurrency + settings.queue_size + RPC_HEADROOM


def message_limits(settings: ConverterSettings) -> tuple[int, int]:
    """(max receive, max send) message lengths in bytes for these settings."""
    receive = settings.max_input_bytes + MESSAGE_OVERHEAD_BYTES
    longest_wav = (
        int(settings.max_duration_seconds + codec.DURATION_SLACK_SECONDS + 1)
        * codec.MAX_RATE
        * max(codec.ALLOWED_CHANNELS)
        * wavfile.SAMPLE_WIDTH
        + wavfile.WAV_HEADER_BYTES
    )
    send = max(receive, longest_wav + MESSAGE_OVERHEAD_BYTES)
    return receive, send


def _tracing_interceptor() -> grpc.aio.ServerInterceptor:
    # Health probes arrive every few seconds from Kubernetes; a span each would drown the traces.
    only_real_calls = filters.negate(filters.health_check())
    interceptor: grpc.aio.ServerInterceptor = aio_server_interceptor(  # type: ignore[no-untyped-call]
        filter_=only_real_calls
    )
    return interceptor


class ListenError(OSError):
    """The listen address cannot be bound."""


class ConverterServer:
    """Owns the grpc.aio server, its worker threads and its health state."""

    def __init__(self, settings: ConverterSettings) -> None:
        self.settings = settings
        self.executor = ThreadPoolExecutor(
            max_workers=settings.max_concurrency, thread_name_prefix="convert"
        )
        self.servicer = AudioConverterServicer(
            limits=codec.Limits(
                max_bytes=settings.max_input_bytes,
                max_duration_seconds=settings.max_duration_seconds,
            ),
            max_concurrency=settings.max_concurrency,
            max_queue=settings.queue_size,
            executor=self.executor,
        )
        self.health = health.aio.HealthServicer()
        self.server = grpc.aio.server(
            interceptors=[_tracing_interceptor()],
            options=connection_options(settings),
            maximum_concurrent_rpcs=max_concurrent_rpcs(settings),
        )
        converter_pb2_grpc.add_AudioConverterServiceServicer_to_server(self.servicer, self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server
        )
        try:
            self.port = self.server.add_insecure_port(settings.listen_address)
        except RuntimeError as exc:  # grpc's way of saying the bind failed
            raise ListenError(
                f"cannot listen on CONVERTER_LISTEN_ADDRESS={settings.listen_address} "
                "(address in use, or not an address of this host)"
            ) from exc
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        await self.server.start()
        for name in ("", SERVICE_NAME):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        receive, send = message_limits(self.settings)
        log.info(
            "converter listening",
            extra={
                "address": self.settings.listen_address,
                "port": self.port,
                "max_concurrency": self.settings.max_concurrency,
                "max_input_bytes": self.settings.max_input_bytes,
                "max_duration_seconds": self.settings.max_duration_seconds,
                "max_receive_message_length": receive,
                "max_send_message_length": send,
                "max_concurrent_rpcs": max_concurrent_rpcs(self.settings),
                "max_connection_age_seconds": self.settings.max_connection_age_seconds,
            },
        )

    def request_stop(self) -> None:
        self._stopping.set()

    async def wait_and_drain(self) -> None:
        """Block until :meth:`request_stop`, then drain and stop."""
        await self._stopping.wait()
        grace = self.settings.grace_seconds
        log.info("draining", extra={"grace_seconds": grace, "active": self.servicer.active})
        self.servicer.start_draining()
        await self.health.enter_graceful_shutdown()  # every service → NOT_SERVING
        try:
            await asyncio.wait_for(self.servicer.wait_idle(), timeout=grace)
        except TimeoutError:
            log.warning(
                "grace period over; abandoning conversions",
                extra={"active": self.servicer.active},
            )
        await self.server.stop(STOP_GRACE_AFTER_DRAIN_SECONDS)
        self.executor.shutdown(wait=False, cancel_futures=True)
        log.info("converter stopped")


async def serve(settings: ConverterSettings) -> None:
    """Run the server until SIGTERM or SIGINT, then drain (see the module docstring)."""
    server = ConverterServer(settings)
    await server.start()
    freeze_startup_heap()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # not on Windows' event loop
            loop.add_signal_handler(sig, server.request_stop)
    await server.wait_and_drain()
