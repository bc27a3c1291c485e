"""The bot's converter client with more than one converter behind its address.

In the chart CONVERTER_ADDRESS names a headless Service, so DNS lists every ready converter pod;
here a static ``ipv4:`` list stands for that answer (resolving names is gRPC's job, picking among
the addresses is the client's). Real converter processes; a conversion is counted by the
converter's own log line for it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from phonicflow_bot.clients.converter import CONVERTER_SERVICE, ConverterClient
from phonicflow_testing import ServiceProcess, free_port
from phonicflow_testing.speech import synth_wav

CONVERSIONS = 12


def conversions(converter: ServiceProcess) -> int:
    return converter.logs().count('"conversion ok"')


def client_of(*ports: int) -> ConverterClient:
    """The bot's client, given every converter as DNS would list the chart's headless Service."""
    address = "ipv4:" + ",".join(f"127.0.0.1:{port}" for port in ports)
    return ConverterClient(address, timeout=10, instrument=False)


@pytest.fixture
def converters() -> Iterator[list[tuple[ServiceProcess, int]]]:
    started = []
    try:
        for _ in range(2):
            port = free_port()
            process = ServiceProcess(
                "phonicflow_converter",
                env={"CONVERTER_LISTEN_ADDRESS": f"127.0.0.1:{port}", "LOG_LEVEL": "INFO"},
                port=port,
            )
            started.append((process.start(), port))
        yield started
    finally:
        for process, _ in started:
            process.stop()


@pytest.fixture(scope="module")
def reply_wav() -> bytes:
    return synth_wav("Well done. Put your tongue between your teeth.")


async def test_conversions_are_spread_over_every_converter(
    converters: list[tuple[ServiceProcess, int]], reply_wav: bytes
) -> None:
    client = client_of(*(port for _, port in converters))
    try:
        for _ in range(CONVERSIONS):
            assert (await client.to_voice(reply_wav)).ogg[:4] == b"OggS"
    finally:
        await client.close()
    counts = [conversions(process) for process, _ in converters]
    assert sum(counts) == CONVERSIONS
    # Taken in turn once both are connected: far from all on one, as pick_first would do.
    assert min(counts) >= CONVERSIONS // 3, counts


async def test_when_one_converter_goes_away_the_other_takes_every_call(
    converters: list[tuple[ServiceProcess, int]], reply_wav: bytes
) -> None:
    client = client_of(*(port for _, port in converters))
    (gone, _), (staying, _) = converters
    try:
        for _ in range(4):
            await client.to_voice(reply_wav)
        gone.stop()
        before = conversions(staying)
        for _ in range(CONVERSIONS):
            # No learner sees the pod that left: the call goes to the one still there.
            assert (await client.to_voice(reply_wav)).ogg[:4] == b"OggS"
        assert await client.health_check()
    finally:
        await client.close()
    assert conversions(staying) - before == CONVERSIONS


async def test_a_converter_draining_on_sigterm_fails_no_call_in_a_steady_stream(
    converters: list[tuple[ServiceProcess, int]], reply_wav: bytes
) -> None:
    # A rolling update: a pod gets SIGTERM while learners' notes keep coming.
    client = client_of(*(port for _, port in converters))
    (leaving, _), (staying, _) = converters
    done = 0

    async def stream(seconds: float) -> None:
        nonlocal done
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            assert (await client.to_voice(reply_wav)).ogg[:4] == b"OggS"  # a failure raises
            done += 1

    try:
        callers = [asyncio.create_task(stream(2.0)) for _ in range(3)]
        await asyncio.sleep(0.3)
        assert await asyncio.to_thread(leaving.stop) == 0  # drained, then exited cleanly
        await asyncio.gather(*callers)
    finally:
        await client.close()
    assert conversions(leaving) > 0 and conversions(staying) > 0
    assert conversions(leaving) + conversions(staying) == done


async def test_a_converter_whose_health_says_not_serving_gets_no_calls(
    converters: list[tuple[ServiceProcess, int]], reply_wav: bytes
) -> None:
    # A gRPC server whose grpc.health.v1 says NOT_SERVING for the converter service, as a
    # converter does from the moment it starts draining. It has no converter service at all:
    # a call that reached it would fail UNIMPLEMENTED, which nobody retries.
    server = grpc.aio.server()
    status = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(status, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    await status.set(CONVERTER_SERVICE, health_pb2.HealthCheckResponse.NOT_SERVING)
    (converter, converter_port), _ = converters
    client = client_of(port, converter_port)
    try:
        for _ in range(CONVERSIONS):
            assert (await client.to_voice(reply_wav)).ogg[:4] == b"OggS"
    finally:
        await client.close()
        await server.stop(None)
    assert conversions(converter) == CONVERSIONS


async def test_a_dns_target_like_the_charts_reaches_the_converter(
    converters: list[tuple[ServiceProcess, int]], reply_wav: bytes
) -> None:
    # The chart's form, dns:///<headless service>:port; localhost may also resolve to ::1, where
    # nothing listens: round_robin leaves that address out instead of failing calls on it.
    (converter, port), _ = converters
    client = ConverterClient(f"dns:///localhost:{port}", timeout=10, instrument=False)
    try:
        for _ in range(3):
            assert (await client.to_voice(reply_wav)).ogg[:4] == b"OggS"
        assert await client.health_check()
    finally:
        await client.close()
    assert conversions(converter) == 3


async def test_a_busy_converter_is_waited_out_by_the_channels_retry_policy(
    reply_wav: bytes,
) -> None:
    # One slot and no queue: notes arriving together find it busy (UNAVAILABLE) and gRPC
    # retries them; the learner's note is never refused for it.
    port = free_port()
    busy = ServiceProcess(
        "phonicflow_converter",
        env={
            "CONVERTER_LISTEN_ADDRESS": f"127.0.0.1:{port}",
            "CONVERTER_MAX_CONCURRENCY": "1",
            "CONVERTER_MAX_QUEUE": "0",
            "LOG_LEVEL": "INFO",
        },
        port=port,
    )
    with busy:
        client = ConverterClient(f"127.0.0.1:{port}", timeout=10, max_in_flight=6, instrument=False)
        try:
            voices = await asyncio.gather(*(client.to_voice(reply_wav) for _ in range(6)))
        finally:
            await client.close()
        assert all(voice.ogg[:4] == b"OggS" for voice in voices)
        assert conversions(busy) == 6
        assert "conversion rejected: overloaded" in busy.logs(), "no call ever found it busy"
