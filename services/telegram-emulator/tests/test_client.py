"""The control client, sync and async, as the bot's test suites use it."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from phonicflow_emulator.client import AsyncEmulatorClient, EmulatorError, EmulatorUser
from phonicflow_emulator.testing import EmulatorHandle


def send(emulator: EmulatorHandle, chat_id: int, text: str) -> dict[str, object]:
    answer = httpx.post(
        f"{emulator.api_base_url}{emulator.token}/sendMessage",
        data={"chat_id": str(chat_id), "text": text},
    ).json()
    assert answer["ok"], answer
    return dict(answer["result"])


def test_wait_for_messages_reads_each_reply_once_in_order(emulator: EmulatorHandle) -> None:
    ana = emulator.client.user(1001, first_name="Ana")
    bia = emulator.client.user(1002, first_name="Bia")
    send(emulator, 1001, "first")
    send(emulator, 1002, "for Bia")
    send(emulator, 1001, "second")
    send(emulator, 1001, "third")
    assert [m["text"] for m in ana.wait_for_messages(count=2)] == ["first", "second"]
    assert [m["text"] for m in ana.wait_for_messages()] == ["third"]
    assert [m["text"] for m in bia.wait_for_messages()] == ["for Bia"]
    assert [m["text"] for m in ana.messages()] == ["first", "second", "third"]


def test_wait_for_messages_times_out_naming_what_arrived(emulator: EmulatorHandle) -> None:
    ana = emulator.client.user(1001, first_name="Ana")
    send(emulator, 1001, "only one")
    started = time.monotonic()
    with pytest.raises(
        TimeoutError, match=r"expected 2 bot message\(s\) within 0.5s, got 1: \['only one'\]"
    ):
        ana.wait_for_messages(count=2, timeout=0.5)
    assert time.monotonic() - started < 3
    # A timeout does not consume anything: the message is still there to read.
    assert [m["text"] for m in ana.wait_for_messages()] == ["only one"]


def test_a_wait_wakes_when_the_bot_replies(emulator: EmulatorHandle) -> None:
    ana = emulator.client.user(1001, first_name="Ana")

    async def scenario() -> list[str]:
        async with AsyncEmulatorClient(emulator.url) as emu:
            same_ana = await emu.user(1001, first_name="Ana")
            waiting = asyncio.create_task(same_ana.wait_for_messages(count=1, timeout=10))
            await asyncio.sleep(0.3)
            await asyncio.to_thread(send, emulator, 1001, "here I am")
            return [m["text"] for m in await waiting]

    started = time.monotonic()
    assert asyncio.run(scenario()) == ["here I am"]
    assert time.monotonic() - started < 5
    assert ana.chat_id == 1001


async def test_the_async_client_acts_as_a_learner(
    emulator: EmulatorHandle, voice_note: bytes
) -> None:
    async with AsyncEmulatorClient(emulator.url) as emu:
        ana = await emu.user(1001, first_name="Ana", language_code="pt-br")
        message = await ana.send_text("/start")
        assert message["entities"][0]["type"] == "bot_command"
        voice = await ana.send_voice(voice_note, duration=2)
        assert await emu.download(voice["voice"]["file_id"]) == voice_note
        await ana.send_audio(b"ID3", duration=1)
        await ana.send_video_note(b"mp4", duration=1)
        await ana.send_document(b"doc", file_name="a.txt", mime_type="text/plain")
        assert [m.get("text") for m in await ana.sent_messages()] == [
            "/start",
            None,
            None,
            None,
            None,
        ]
        await emu.inject_fault("sendMessage", status=500)
        assert [f["status"] for f in await emu.faults()] == [500]
        await emu.clear_faults()
        assert await emu.faults() == []
        assert (await emu.bot())["is_bot"] is True
        assert [u["first_name"] for u in await emu.users()] == ["Ana"]
        assert (await emu.events(chat_id=1001))["events"][0]["kind"] == "user"
        await emu.reset()
        assert await emu.users() == []


def test_control_errors_are_clear(emulator: EmulatorHandle) -> None:
    with pytest.raises(EmulatorError, match="unknown user 4242"):
        EmulatorUser(emulator.client, {"id": 4242}).send_text("hi")  # never created
    with pytest.raises(EmulatorError, match="needs a status, a delay or drop_connection"):
        emulator.client.inject_fault("sendMessage")
    with pytest.raises(EmulatorError, match="unknown file_id"):
        emulator.client.download("nope")
    with pytest.raises(EmulatorError, match="positive"):
        emulator.client.user(-5)


def test_reset_forgets_everything_but_keeps_update_ids_growing(emulator: EmulatorHandle) -> None:
    ana = emulator.client.user(1001, first_name="Ana")
    ana.send_text("before")
    url = f"{emulator.api_base_url}{emulator.token}/getUpdates"
    before = httpx.post(url).json()["result"][0]["update_id"]
    emulator.client.inject_fault("getMe", status=500)
    emulator.client.reset()
    assert (
        emulator.client.users() == []
        and emulator.client.faults() == []
        and emulator.client.calls() == []
    )
    emulator.client.user(1001, first_name="Ana").send_text("after")
    # A bot that kept polling still holds offset before+1: the next update must not fall under it.
    after = httpx.post(url, data={"offset": str(before + 1)}).json()["result"]
    assert [u["message"]["text"] for u in after] == ["after"]
