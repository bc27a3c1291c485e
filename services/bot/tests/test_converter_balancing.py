"""The bot's converter client with more than one converter behind its address.

In the chart CONVERTER_ADDRESS names a headless Service, so DNS lists every ready converter pod;
here a static ``ipv4:`` list stands for that answer (resolving names is gRPC's job, picking among
the addresses is the client's). Real converter processes; a conversion is counted by the
converter's own log line for it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from phonicflow_bot.utils.audio_converter import ConverterClient
from phonicflow_testing import ServiceProcess, free_port
from phonicflow_testing.speech import synth_wav

CONVERSIONS = 12


def conversions(converter: ServiceProcess) -> int:
    return converter.logs().count('"conversion ok"')


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
    address = "ipv4:" + ",".join(f"127.0.0.1:{port}" for _, port in converters)
    client = ConverterClient(address, timeout=10, instrument=False)
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
    address = "ipv4:" + ",".join(f"127.0.0.1:{port}" for _, port in converters)
    client = ConverterClient(address, timeout=10, instrument=False)
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
