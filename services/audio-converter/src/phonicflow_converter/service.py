"""The AudioConverterService servicer: limits, deadlines and status codes around :mod:`codec`.

Each conversion runs in a worker thread (decoding is CPU work; the event loop must stay free to
accept, reject and answer health checks). The servicer:

- runs at most ``max_concurrency`` conversions; up to ``max_queue`` more wait for a slot in
  arrival order (a burst of voice notes is served, not bounced into client back-off: 50 notes
  at once, p99 1.96 → 1.38 s in docs/benchmarks.md), and beyond that a request is refused at
  once with UNAVAILABLE ("busy"), so overload never becomes an unbounded queue of timeouts. A
  waiting request whose deadline passes leaves the queue (DEADLINE_EXCEEDED);
- says "busy" and "bad input" with different codes, so a client tells them apart without
  reading the message: busy or draining is UNAVAILABLE, which clients' retry policies retry;
  audio over a limit is INVALID_ARGUMENT like any other input that can never succeed
  (gRPC's own guards — its concurrent-RPC cap and its message-size limit — answer
  RESOURCE_EXHAUSTED; see :mod:`phonicflow_converter.server`);
- honours the caller's deadline: the worker checks it between packets and gives up, and the RPC
  ends with DEADLINE_EXCEEDED; a cancelled call stops its worker the same way;
- maps :mod:`codec` errors to the codes the proto documents, with the codec's message;
- answers UNAVAILABLE once the server is draining (clients retry elsewhere);
- logs one line per conversion with its timings, and records one span with the input's facts.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import grpc
from opentelemetry import trace

from phonicflow.audio.v1 import converter_pb2, converter_pb2_grpc
from phonicflow_converter import codec

log = logging.getLogger("phonicflow_converter.service")
#: A cancellation this close to the deadline is the deadline passing, seen from the caller.
DEADLINE_SLACK = 0.25
tracer = trace.get_tracer("phonicflow_converter")

ResultT = TypeVar("ResultT", codec.WavResult, codec.VoiceResult)

_STATUS: dict[type[codec.ConversionError], grpc.StatusCode] = {
    codec.EmptyAudio: grpc.StatusCode.INVALID_ARGUMENT,
    codec.UndecodableAudio: grpc.StatusCode.INVALID_ARGUMENT,
    codec.UnsupportedParameters: grpc.StatusCode.INVALID_ARGUMENT,
    codec.Truncated: grpc.StatusCode.INVALID_ARGUMENT,
    # Over a limit is a property of the input, not of the server's state: retrying cannot help.
    codec.TooLarge: grpc.StatusCode.INVALID_ARGUMENT,
    codec.TooLong: grpc.StatusCode.INVALID_ARGUMENT,
    codec.Stopped: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def _info(info: codec.AudioInfo) -> converter_pb2.AudioInfo:
    return converter_pb2.AudioInfo(
        duration_seconds=info.duration_seconds,
        sample_rate_hz=info.sample_rate_hz,
        channels=info.channels,
        codec=info.codec,
        container=info.container,
        size_bytes=info.size_bytes,
    )


class AudioConverterServicer(converter_pb2_grpc.AudioConverterServiceServicer):
    """Serves ToWav and ToVoice; ``executor`` must have at least ``max_concurrency`` workers."""

    def __init__(
        self,
        *,
        limits: codec.Limits,
        max_concurrency: int,
        executor: ThreadPoolExecutor,
        max_queue: int = 0,
    ) -> None:
        self.limits = limits
        self.max_concurrency = max_concurrency
        self.max_queue = max_queue
        self.executor = executor
        self.active = 0
        # Requests waiting for a slot, oldest first; a finished conversion hands its slot on.
        self._waiting: deque[asyncio.Future[None]] = deque()
        self.draining = False
        self._idle = asyncio.Event()
        self._idle.set()

    def start_draining(self) -> None:
        self.draining = True

    async def wait_idle(self) -> None:
        """Return once no conversion is running (a worker still finishing counts as running)."""
        await self._idle.wait()

    async def ToWav(
        self, request: converter_pb2.ToWavRequest, context: grpc.aio.ServicerContext
    ) -> converter_pb2.ToWavResponse:
        audio = request.audio  # each access to a bytes field copies it out of the message

        def work(should_stop: Callable[[], bool]) -> codec.WavResult:
            return codec.to_wav(
                audio,
                rate=request.sample_rate_hz,
                channels=request.channels,
                limits=self.limits,
                format_hint=request.format_hint,
                expected_duration_seconds=request.expected_duration_seconds,
                allow_partial=request.allow_partial,
                should_stop=should_stop,
            )

        result = await self._convert("to_wav", audio, work, context)
        return converter_pb2.ToWavResponse(
            wav=result.wav,
            output=_info(result.output),
            input=_info(result.input),
            partial=result.partial,
        )

    async def ToVoice(
        self, request: converter_pb2.ToVoiceRequest, context: grpc.aio.ServicerContext
    ) -> converter_pb2.ToVoiceResponse:
        audio = request.audio

        def work(should_stop: Callable[[], bool]) -> codec.VoiceResult:
            return codec.to_voice(
                audio,
                bitrate=request.bitrate_bps,
                limits=self.limits,
                format_hint=request.format_hint,
                should_stop=should_stop,
            )

        result = await self._convert("to_voice", audio, work, context)
        return converter_pb2.ToVoiceResponse(
            ogg_opus=result.ogg_opus, output=_info(result.output), input=_info(result.input)
        )

    async def _convert(
        self,
        operation: str,
        audio: bytes,
        work: Callable[[Callable[[], bool]], ResultT],
        context: grpc.aio.ServicerContext,
    ) -> ResultT:
        if self.draining:
            await context.abort(
                grpc.StatusCode.UNAVAILABLE, "the converter is shutting down; retry elsewhere"
            )
        if self.active >= self.max_concurrency and len(self._waiting) >= self.max_queue:
            log.warning(
                "conversion rejected: overloaded",
                extra={"operation": operation, "active": self.active, "waiting": self.max_queue},
            )
            await context.abort(
                grpc.StatusCode.UNAVAILABLE,
                f"busy: the converter is already running {self.max_concurrency} conversions with "
                f"{self.max_queue} waiting (CONVERTER_MAX_CONCURRENCY, CONVERTER_MAX_QUEUE); "
                "retry later",
            )
        await self._take_slot()
        remaining = context.time_remaining()
        deadline = None if remaining is None else time.monotonic() + remaining
        stop = threading.Event()

        def should_stop() -> bool:
            return stop.is_set() or (deadline is not None and time.monotonic() >= deadline)

        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        with tracer.start_as_current_span(f"convert.{operation}") as span:
            span.set_attribute("audio.input.size_bytes", len(audio))
            future = loop.run_in_executor(self.executor, work, should_stop)
            # The slot is freed when the worker really ends, not when the RPC gives up on it, so
            # abandoned work still counts against the bound until it notices and stops.
            future.add_done_callback(self._release)
            try:
                result = await asyncio.wait_for(asyncio.shield(future), timeout=remaining)
            except TimeoutError:
                stop.set()
                self._log(operation, audio, started, status="DEADLINE_EXCEEDED")
                await context.abort(
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    f"deadline passed after {time.perf_counter() - started:.3f} s; "
                    "conversion abandoned",
                )
            except asyncio.CancelledError:
                # gRPC cancels the handler itself when the deadline passes, often before our own
                # timeout fires: name it after the cause.
                stop.set()
                # The caller's deadline passes before ours (ours counts from when the request
                # arrived), so its cancellation can come a little early: under load, tens of ms.
                expired = deadline is not None and time.monotonic() >= deadline - DEADLINE_SLACK
                status = "DEADLINE_EXCEEDED" if expired else "CANCELLED"
                self._log(operation, audio, started, status=status)
                raise
            except codec.ConversionError as exc:
                code = _STATUS.get(type(exc), grpc.StatusCode.INVALID_ARGUMENT)
                span.set_attribute("audio.error", type(exc).__name__)
                self._log(operation, audio, started, status=code.name, error=str(exc))
                await context.abort(code, str(exc))
            except Exception:
                log.exception("conversion failed with a bug", extra={"operation": operation})
                await context.abort(
                    grpc.StatusCode.INTERNAL, "internal error in the converter (see its logs)"
                )
            span.set_attribute("audio.input.codec", result.input.codec)
            span.set_attribute("audio.input.container", result.input.container)
            span.set_attribute("audio.input.duration_seconds", result.input.duration_seconds)
            span.set_attribute("audio.input.sample_rate_hz", result.input.sample_rate_hz)
            span.set_attribute("audio.output.sample_rate_hz", result.output.sample_rate_hz)
            span.set_attribute("audio.output.size_bytes", result.output.size_bytes)
            self._log(
                operation,
                audio,
                started,
                status="OK",
                codec=result.input.codec,
                container=result.input.container,
                input_seconds=round(result.input.duration_seconds, 3),
                output_rate=result.output.sample_rate_hz,
                decode_ms=round(result.decode_seconds * 1000, 2),
            )
            return result

    async def _take_slot(self) -> None:
        """Return holding a conversion slot: at once if one is free, else after those waiting
        before us. Cancelled (the caller's deadline or cancellation), it leaves the queue, or
        passes on a slot it was handed in the same instant."""
        if self.active < self.max_concurrency and not self._waiting:
            self.active += 1
            self._idle.clear()
            return
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._release(turn)
            else:
                self._waiting.remove(turn)
            raise

    def _release(self, _future: object) -> None:
        """A conversion ended: its slot goes to the oldest waiter, or becomes free."""
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)  # the slot changes hands; ``active`` stays the same
                return
        self.active -= 1
        if self.active == 0:
            self._idle.set()

    def _log(
        self, operation: str, audio: bytes, started: float, *, status: str, **fields: object
    ) -> None:
        log.info(
            "conversion %s",
            status.lower(),
            extra={
                "operation": operation,
                "status": status,
                "input_bytes": len(audio),
                "total_ms": round((time.perf_counter() - started) * 1000, 2),
                **fields,
            },
        )
