"""The bot's backend client over real HTTP, against the real backend on stub engines (a process).

Scenarios: what reaches the backend (key, session, form, upload, trace context), what the bot
makes of each kind of failure, and that only timeouts, dropped connections and 5xx are retried —
until the retry deadline, so a backend that restarts within it is no error at all.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

from phonicflow_bot.clients.backend import (
    BackendClient,
    BackendRejected,
    BackendTimeout,
    BackendUnavailable,
    NotFound,
    UnknownSession,
)
from phonicflow_testing.speech import synth_wav

FAST = 0.5  # seconds per attempt where a test waits for a timeout
RETRY = 3.0  # the retry deadline here (25 s by default)
BOT_KEY = "bot-private-key-for-tests-0001"  # conftest.BOT_KEY (conftest is not importable)
StubBackend = Any  # conftest.StubBackendProcess: the stub backend process, its control API


@pytest.fixture
async def client(stub_backend: StubBackend) -> AsyncIterator[BackendClient]:
    async with BackendClient(
        stub_backend.url, timeout=5.0, bot_key=BOT_KEY, retry_seconds=RETRY
    ) as backend:
        yield backend


@pytest.fixture(scope="module")
def wav() -> bytes:
    return synth_wav("I think three trees are there")


async def test_a_voice_turn_reaches_the_backend_whole(
    client: BackendClient, stub_backend: StubBackend, wav: bytes
) -> None:
    session = await client.create_session(telegram_user_id=7001, language="pt")
    result = await client.process(
        session.session_id, wav=wav, target_text="Três árvores 🌳", idempotency_key="tg-7001-1"
    )
    assert result.turn_id
    sent = stub_backend.requests("/process")[-1]
    assert sent["session_id"] == session.session_id
    assert sent["x_bot_key"] == BOT_KEY
    assert sent["idempotency_key"] == "tg-7001-1"
    assert sent["form"]["target_text"] == "Três árvores 🌳"
    audio = await client.get_feedback_audio(session.session_id, "coaching", result.turn_id)
    assert audio[:4] == b"RIFF"


async def test_the_learners_trace_travels_to_the_backend(
    client: BackendClient, stub_backend: StubBackend
) -> None:
    tracer = TracerProvider().get_tracer("test")  # a recording tracer, whatever the global one
    with tracer.start_as_current_span("telegram.update") as parent:
        trace_id = format(parent.get_span_context().trace_id, "032x")
        await client.create_session(telegram_user_id=7002)
    sent = stub_backend.requests("/bot/session")[-1]
    assert sent["traceparent"] is not None
    assert sent["traceparent"].split("-")[1] == trace_id


async def test_a_text_turn_is_a_plain_form(
    client: BackendClient, stub_backend: StubBackend
) -> None:
    session = await client.create_session(telegram_user_id=7003)
    result = await client.process(session.session_id, text="Olá, tudo bem? ção")
    assert result.user_transcript == "Olá, tudo bem? ção"
    assert stub_backend.requests("/process")[-1]["form"]["text"] == "Olá, tudo bem? ção"


async def test_a_forgotten_session_and_missing_audio_are_told_apart(
    client: BackendClient, stub_backend: StubBackend
) -> None:
    with pytest.raises(UnknownSession):
        await client.process("no-such-session", text="hi")
    session = await client.create_session(telegram_user_id=7004)
    with pytest.raises(NotFound):
        await client.get_feedback_audio(session.session_id, "coaching", "no-such-turn")
    assert await client.clear_session("no-such-session") is False


async def test_a_5xx_is_retried_with_the_same_key_and_then_succeeds(
    client: BackendClient, stub_backend: StubBackend, wav: bytes
) -> None:
    session = await client.create_session(telegram_user_id=7005)
    before = len(stub_backend.requests("/process"))
    stub_backend.fault("/process", status=503, times=2)
    result = await client.process(session.session_id, wav=wav, idempotency_key="tg-7005-9")
    attempts = stub_backend.requests("/process")[before:]
    assert result.turn_id
    assert [a["idempotency_key"] for a in attempts] == ["tg-7005-9"] * 3


async def test_a_4xx_is_never_retried(client: BackendClient, stub_backend: StubBackend) -> None:
    session = await client.create_session(telegram_user_id=7006)
    before = len(stub_backend.requests("/process"))
    stub_backend.fault("/process", status=422, times=-1)
    with pytest.raises(BackendRejected) as caught:
        await client.process(session.session_id, text="hello")
    assert caught.value.status == 422
    assert len(stub_backend.requests("/process")) - before == 1


async def test_a_backend_that_keeps_failing_is_unavailable_once_the_deadline_passed(
    client: BackendClient, stub_backend: StubBackend
) -> None:
    stub_backend.fault("/bot/session", status=502, times=-1)
    before = len(stub_backend.requests("/bot/session"))
    started = time.monotonic()
    with pytest.raises(BackendUnavailable) as caught:
        await client.create_session(telegram_user_id=7007)
    assert caught.value.status == 502
    # No attempt starts after the deadline (tenacity's stop_before_delay): it ends before it.
    assert time.monotonic() - started < RETRY + 1
    assert len(stub_backend.requests("/bot/session")) - before >= 3


async def test_a_backend_back_within_the_deadline_is_no_error_and_one_turn(
    stub_backend: StubBackend, wav: bytes
) -> None:
    async with BackendClient(
        stub_backend.url, timeout=5.0, bot_key=BOT_KEY, retry_seconds=20
    ) as patient:
        session = await patient.create_session(telegram_user_id=7010)
        stub_backend.fault("/process", status=503, times=-1)  # restarting: not ready yet

        async def comes_back() -> None:
            await asyncio.sleep(2.0)
            await asyncio.to_thread(stub_backend.clear_faults)

        back = asyncio.create_task(comes_back())
        started = time.monotonic()
        result = await patient.process(session.session_id, wav=wav, idempotency_key="tg-7010-1")
        await back
    assert time.monotonic() - started >= 2.0
    assert result.turn_id
    turns = [r for r in stub_backend.requests("/process") if r["session_id"] == session.session_id]
    assert len(turns) >= 2 and {t["idempotency_key"] for t in turns} == {"tg-7010-1"}


async def test_a_slow_backend_times_out(stub_backend: StubBackend) -> None:
    stub_backend.fault("/bot/session", delay=FAST * 3, times=-1)
    async with BackendClient(
        stub_backend.url, timeout=FAST, bot_key=BOT_KEY, retry_seconds=FAST
    ) as c:
        with pytest.raises(BackendTimeout):
            await c.create_session(telegram_user_id=7008)


async def test_nobody_listening_is_unavailable_and_not_ready() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with BackendClient(url, timeout=FAST, retry_seconds=FAST) as backend:
        with pytest.raises(BackendUnavailable) as caught:
            await backend.create_session(telegram_user_id=7009)
        assert not isinstance(caught.value, BackendTimeout)
        assert await backend.health_check() is False


async def test_readiness_follows_the_backend(
    client: BackendClient, stub_backend: StubBackend
) -> None:
    assert await client.health_check() is True
    stub_backend.fault("/readyz", status=503, times=1)
    assert await client.health_check() is False
