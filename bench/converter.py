"""Benchmark the audio converter: gRPC ToWav latency and throughput against a real server
process, compared with the in-process decode lower bound and the seed's naive pydub path.

Usage::

    .venv/bin/python bench/converter.py              # default run, about two minutes on 2 cores
    .venv/bin/python bench/converter.py --reps 3     # three times the repetitions
    .venv/bin/python bench/converter.py --lengths 3 60

Inputs are Telegram-style voice notes (OGG/Opus 48 kHz mono ~32 kbit/s) of espeak-ng speech
looped to 3, 15, 60 and 300 s; output is WAV PCM16 16 kHz mono, as the bot asks for.

Columns (milliseconds, median unless marked):
- ``rpc p50/p95``: one client, ToWav round trip to ``python -m phonicflow_converter`` on loopback;
- ``decode``: lower bound, PyAV decode + resample to s16/16 kHz/mono in this process, nothing else;
- ``seed``: the seed's way, ``AudioSegment.from_ogg`` + ``set_frame_rate/channels/sample_width``
  + ``export(format="wav")`` (spawns ffprobe and ffmpeg);
- ``2 clients``: conversions per second with two concurrent clients, and the server's peak RSS.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import av
import grpc
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydub import AudioSegment

from phonicflow.audio.v1 import converter_pb2, converter_pb2_grpc
from phonicflow_testing import ServiceProcess, free_port
from phonicflow_testing.voice_notes import speech_note

LENGTHS = (3, 15, 60, 300)
# repetitions per length at --reps 1: (rpc/decode, seed, throughput calls per client)
BASE_REPS = {3: (60, 10, 30), 15: (30, 5, 10), 60: (12, 3, 5), 300: (4, 2, 2)}
MESSAGE_LIMIT = 64 * 1024 * 1024
TARGETS = "RPC p50 ≤ 2× decode on 3 s, ≤ 1.3× on 60 s; ≥ 10× faster than seed on 3 s; RSS < 150 MB"


@dataclass
class Row:
    seconds: int
    rpc: list[float]
    decode: list[float]
    seed: list[float]
    throughput: float
    audio_rate: float
    peak_rss_mb: float
    rpc_cpu: float  # server CPU ms per ToWav, mean (psutil counts in 10 ms ticks)
    decode_cpu: float  # this process's CPU ms per decode, mean


def timed(
    fns: list[tuple[Callable[[], object], Callable[[], float]]], reps: list[int]
) -> tuple[list[list[float]], list[list[float]]]:
    """(wall ms, CPU ms) per call of each ``(function, cpu_clock)``.

    Calls are interleaved (a, b, c, a, b, ...) so that load from other processes on the machine
    hits every method alike; CPU time (the server's, for the RPC) is the load-proof comparison.
    """
    for fn, _ in fns:
        fn()  # warm-up: imports, first connection, codec tables
    wall: list[list[float]] = [[] for _ in fns]
    cpu: list[list[float]] = [[] for _ in fns]
    for rep in range(max(reps)):
        for index, (fn, clock) in enumerate(fns):
            if rep < reps[index]:
                cpu_before = clock()
                started = time.perf_counter()
                fn()
                wall[index].append((time.perf_counter() - started) * 1000)
                cpu[index].append((clock() - cpu_before) * 1000)
    return wall, cpu


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def decode_only(data: bytes) -> int:
    container = av.open(io.BytesIO(data))
    stream = container.streams.audio[0]
    resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
    samples = 0
    for frame in container.decode(stream):
        for out in resampler.resample(frame):
            samples += out.samples
    for out in resampler.resample(None):
        samples += out.samples
    container.close()
    return samples


def seed_path(data: bytes) -> bytes:
    segment = AudioSegment.from_ogg(io.BytesIO(data))
    segment = segment.set_frame_rate(16000).set_channels(1).set_sample_width(2)
    out = io.BytesIO()
    segment.export(out, format="wav")
    return out.getvalue()


def serving(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=1
        )
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def throughput(
    stub: converter_pb2_grpc.AudioConverterServiceStub,
    request: converter_pb2.ToWavRequest,
    calls: int,
    server: psutil.Process,
) -> tuple[float, float]:
    """(conversions per second with two clients, peak server RSS in MB while they ran)."""
    peak = server.memory_info().rss
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, server.memory_info().rss)
            time.sleep(0.01)

    def client() -> None:
        for _ in range(calls):
            stub.ToWav(request, timeout=120)

    sampler = threading.Thread(target=sample)
    sampler.start()
    clients = [threading.Thread(target=client) for _ in range(2)]
    started = time.perf_counter()
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    return 2 * calls / elapsed, peak / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=float, default=1.0, help="multiply the repetitions")
    parser.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS))
    args = parser.parse_args()

    print("making voice notes ...", file=sys.stderr)
    notes = {seconds: speech_note(float(seconds), "ogg") for seconds in args.lengths}
    port = free_port()
    address = f"127.0.0.1:{port}"
    process = ServiceProcess(
        "phonicflow_converter",
        env={"CONVERTER_LISTEN_ADDRESS": address, "LOG_LEVEL": "WARNING"},
        port=port,
        ready=lambda: serving(address),
    )
    rows: list[Row] = []
    with process:
        assert process.proc is not None
        server = psutil.Process(process.proc.pid)
        options = [
            ("grpc.max_receive_message_length", MESSAGE_LIMIT),
            ("grpc.max_send_message_length", MESSAGE_LIMIT),
        ]
        with grpc.insecure_channel(address, options=options) as channel:
            stub = converter_pb2_grpc.AudioConverterServiceStub(channel)
            for seconds in args.lengths:
                data = notes[seconds]
                fast, slow, calls = (
                    max(1, round(n * args.reps)) for n in BASE_REPS.get(seconds, (5, 2, 2))
                )
                print(f"{seconds:>4} s note ...", file=sys.stderr)
                request = converter_pb2.ToWavRequest(audio=data)

                def server_cpu() -> float:
                    times = server.cpu_times()
                    return float(times.user + times.system)

                (rpc, decode, seed), (rpc_cpu, decode_cpu, _) = timed(
                    [
                        (lambda r=request: stub.ToWav(r, timeout=120), server_cpu),
                        (lambda d=data: decode_only(d), time.process_time),
                        (lambda d=data: seed_path(d), time.process_time),
                    ],
                    [fast, fast, slow],
                )
                rate, rss = throughput(stub, request, calls, server)
                rows.append(
                    Row(
                        seconds, rpc, decode, seed, rate, rate * seconds, rss,
                        statistics.fmean(rpc_cpu), statistics.fmean(decode_cpu),
                    )
                )  # fmt: skip

    print()
    load = ", ".join(f"{value:.1f}" for value in psutil.getloadavg())
    print(
        f"ToWav, OGG/Opus 48 kHz mono → WAV 16 kHz mono; ms; {psutil.cpu_count()} CPUs; "
        f"load average at the end {load}"
    )
    print(
        "| note | RPC p50 | RPC p95 | decode lower bound | seed pydub path | RPC / decode "
        "| seed / RPC | 2 clients: conv/s (audio s/s) | server peak RSS "
        "| CPU ms: server per RPC / decode |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        rpc50, dec50, seed50 = (statistics.median(v) for v in (row.rpc, row.decode, row.seed))
        print(
            f"| {row.seconds} s | {rpc50:.1f} | {p(row.rpc, 0.95):.1f} | {dec50:.1f} | "
            f"{seed50:.1f} | {rpc50 / dec50:.2f}× | {seed50 / rpc50:.1f}× | "
            f"{row.throughput:.1f} ({row.audio_rate:.0f}) | {row.peak_rss_mb:.0f} MB | "
            f"{row.rpc_cpu:.1f} / {row.decode_cpu:.1f} |"
        )
    print()
    print(f"targets: {TARGETS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
