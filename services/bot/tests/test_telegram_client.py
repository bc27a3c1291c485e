"""The bot's Telegram networking (aiohttp under python-telegram-bot) against the emulator.

Each scenario drives PTB's real :class:`telegram.Bot` with :class:`AiohttpRequest` over HTTP, the
way the bot process does, and checks what arrived on the other side or what PTB raised.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import NetworkError, RetryAfter, TimedOut

from phonicflow_bot.clients.telegram import AiohttpRequest
from phonicflow_emulator.testing import EmulatorHandle, running_emulator
from phonicflow_testing.speech import encode, synth_wav

LEARNER = 4100


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    with running_emulator() as handle:
        handle.client.user(LEARNER, first_name="Ana")
        yield handle


@pytest.fixture
async def bot(emu: EmulatorHandle) -> AsyncIterator[Bot]:
    emu.client.clear_faults()
    request = AiohttpRequest(connection_pool_size=4, timeout=5.0)
    async with Bot(
        emu.token, base_url=emu.api_base_url, base_file_url=emu.file_base_url, request=request
    ) as bot:
        yield bot


@pytest.fixture(scope="module")
def ogg() -> bytes:
    return encode(synth_wav("Watch the T H sound in think."), "ogg")


async def test_a_voice_note_upload_arrives_byte_for_byte(
    bot: Bot, emu: EmulatorHandle, ogg: bytes
) -> None:
    sent = await bot.send_voice(LEARNER, ogg, duration=2, caption="ouça 🎧")
    assert sent.voice is not None
    assert emu.client.download(sent.voice.file_id) == ogg
    call = emu.client.calls("sendVoice")[-1]
    assert call["params"]["voice"]["size"] == len(ogg)
    assert call["params"]["caption"] == "ouça 🎧"


async def test_text_with_odd_unicode_and_buttons_arrives_intact(
    bot: Bot, emu: EmulatorHandle
) -> None:
    html = "<b>Você disse</b> “think” → 👍🏽 ‫مرحبا‬ e\u0301 &amp; 漢字"
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("🔁 Ouvir", callback_data="r:1")]])
    await bot.send_message(LEARNER, html, parse_mode="HTML", reply_markup=markup)
    last = emu.client.calls("sendMessage")[-1]["params"]
    assert last["text"] == html
    assert "r:1" in str(last["reply_markup"])


async def test_downloading_a_learners_voice_note_gives_the_same_bytes(
    bot: Bot, emu: EmulatorHandle, ogg: bytes
) -> None:
    message = emu.client.user(LEARNER, first_name="Ana").send_voice(ogg, duration=2)
    telegram_file = await bot.get_file(message["voice"]["file_id"])
    assert bytes(await telegram_file.download_as_bytearray()) == ogg


async def test_a_flood_limit_reaches_ptb_as_retry_after(
    bot: Bot, emu: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22 warns about int durations otherwise
    emu.client.inject_fault("sendMessage", retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(LEARNER, "hello")
    assert caught.value.retry_after == timedelta(seconds=7)


async def test_a_slow_answer_times_out(emu: EmulatorHandle) -> None:
    emu.client.inject_fault("getMe", delay=2.0)
    request = AiohttpRequest(connection_pool_size=1, timeout=0.5)
    bot = Bot(emu.token, base_url=emu.api_base_url, request=request)
    await request.initialize()
    try:
        with pytest.raises(TimedOut):
            await bot.get_me()
    finally:
        await request.shutdown()
        emu.client.clear_faults()


async def test_a_dropped_connection_is_a_network_error_without_the_token(
    bot: Bot, emu: EmulatorHandle
) -> None:
    emu.client.inject_fault("sendMessage", drop_connection=True)
    with pytest.raises(NetworkError) as caught:
        await bot.send_message(LEARNER, "hello")
    assert not isinstance(caught.value, TimedOut)
    assert "aiohttp." in str(caught.value)
    assert emu.token.partition(":")[2] not in str(caught.value)


async def test_nobody_listening_is_a_network_error_without_the_token(emu: EmulatorHandle) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    request = AiohttpRequest(connection_pool_size=1, timeout=2.0)
    bot = Bot(emu.token, base_url=f"http://127.0.0.1:{port}/bot", request=request)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as caught:
            await bot.get_me()
    finally:
        await request.shutdown()
    assert emu.token.partition(":")[2] not in str(caught.value)


async def test_many_calls_at_once_share_a_small_pool(bot: Bot, emu: EmulatorHandle) -> None:
    before = len(emu.client.calls("sendChatAction"))
    results = await asyncio.gather(*(bot.send_chat_action(LEARNER, "typing") for _ in range(20)))
    assert all(results)
    assert len(emu.client.calls("sendChatAction")) - before == 20


async def test_requests_need_initialising_and_shut_down_twice_safely() -> None:
    request = AiohttpRequest(connection_pool_size=1, timeout=1.0)
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/x", "GET")
    await request.initialize()
    await request.shutdown()
    await request.shutdown()


async def test_the_environments_proxy_is_used_unless_no_proxy_covers_the_host(
    emu: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:  # a proxy address where nothing listens
        sock.bind(("127.0.0.1", 0))
        dead_proxy = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv("HTTP_PROXY", dead_proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    for no_proxy, reachable in ((None, False), ("127.0.0.1", True)):
        if no_proxy:
            monkeypatch.setenv("NO_PROXY", no_proxy)
        request = AiohttpRequest(connection_pool_size=1, timeout=2.0)
        bot = Bot(emu.token, base_url=emu.api_base_url, request=request)
        await request.initialize()
        try:
            if reachable:
                assert (await bot.get_me()).is_bot
            else:
                with pytest.raises(NetworkError):
                    await bot.get_me()
        finally:
            await request.shutdown()
