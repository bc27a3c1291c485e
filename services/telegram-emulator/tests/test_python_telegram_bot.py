"""python-telegram-bot 22, unmodified, talks to the emulator as if it were Telegram."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import Application, ContextTypes, TypeHandler

from phonicflow_emulator.testing import EmulatorHandle

UPDATE_TIMEOUT = 10.0


class RunningBot:
    """A tiny PTB Application, really polling the emulator, that queues every update."""

    def __init__(self, app: Application, updates: asyncio.Queue[Update]) -> None:  # type: ignore[type-arg]
        self.app = app
        self.bot = app.bot
        self.updates = updates

    async def next_update(self) -> Update:
        return await asyncio.wait_for(self.updates.get(), UPDATE_TIMEOUT)


def build_app(emulator: EmulatorHandle, token: str | None = None) -> Application:  # type: ignore[type-arg]
    return (
        Application.builder()
        .token(token or emulator.token)
        .base_url(emulator.api_base_url)
        .base_file_url(emulator.file_base_url)
        .build()
    )


@pytest.fixture(autouse=True)
def timedelta_durations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opt in to PTB's future timedelta durations (the default warns, and warnings fail)."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def bot(emulator: EmulatorHandle) -> AsyncIterator[RunningBot]:
    updates: asyncio.Queue[Update] = asyncio.Queue()

    async def record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await updates.put(update)

    app = build_app(emulator)
    app.add_handler(TypeHandler(Update, record))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=5)
        try:
            yield RunningBot(app, updates)
        finally:
            await app.updater.stop()
            await app.stop()


async def test_a_learner_chats_with_a_real_ptb_bot(
    emulator: EmulatorHandle, bot: RunningBot, voice_note: bytes
) -> None:
    emu = emulator.client
    ana = await asyncio.to_thread(emu.user, 1001, "Ana", None, "ana_br", "pt-br")

    await asyncio.to_thread(ana.send_text, "/start")
    update = await bot.next_update()
    assert update.message is not None and update.message.text == "/start"
    assert (
        update.message.from_user is not None and update.message.from_user.language_code == "pt-br"
    )
    assert update.message.from_user.is_bot is False
    assert update.message.entities[0].type == "bot_command"
    assert update.message.chat.type == "private"

    await asyncio.to_thread(ana.send_text, "hello there")
    update = await bot.next_update()
    assert update.message is not None and update.message.text == "hello there"
    assert not update.message.entities

    sent = await asyncio.to_thread(ana.send_voice, voice_note, 3)
    update = await bot.next_update()
    assert update.message is not None and update.message.voice is not None
    assert update.message.voice.duration == timedelta(seconds=3)
    assert update.message.voice.file_id == sent["voice"]["file_id"]
    tg_file = await bot.bot.get_file(update.message.voice.file_id)
    assert tg_file.file_size == len(voice_note)
    assert bytes(await tg_file.download_as_bytearray()) == voice_note

    await bot.bot.send_chat_action(1001, ChatAction.RECORD_VOICE)
    html = await bot.bot.send_message(1001, "<b>Great</b> &amp; clear", parse_mode=ParseMode.HTML)
    assert html.text == "Great & clear"
    assert html.entities[0].type == "bold" and html.entities[0].length == 5
    md = await bot.bot.send_message(
        1001, r"Score: *92* \(nice\!\)", parse_mode=ParseMode.MARKDOWN_V2
    )
    assert md.text == "Score: 92 (nice!)"
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Try again", callback_data="retry:1")]])
    question = await bot.bot.send_message(1001, "Again?", reply_markup=keyboard)
    assert question.reply_markup == keyboard

    query = await asyncio.to_thread(ana.press_button, question.message_id, "retry:1")
    update = await bot.next_update()
    assert update.callback_query is not None
    assert update.callback_query.data == "retry:1"
    assert update.callback_query.id == query["id"]
    assert update.callback_query.chat_instance
    assert update.callback_query.message is not None
    assert update.callback_query.message.message_id == question.message_id
    assert await update.callback_query.answer("On it") is True

    edited = await bot.bot.edit_message_text(
        "Recording again…", chat_id=1001, message_id=question.message_id
    )
    assert not isinstance(edited, bool) and edited.text == "Recording again…"
    assert (
        edited.reply_markup is None
    )  # editing text without markup drops the keyboard, as Telegram does
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.bot.edit_message_text(
            "Recording again…", chat_id=1001, message_id=question.message_id
        )

    reply_voice = await bot.bot.send_voice(1001, voice_note, duration=3, caption="Listen")
    assert reply_voice.voice is not None
    assert await asyncio.to_thread(emu.download, reply_voice.voice.file_id) == voice_note
    again = await bot.bot.send_voice(1001, reply_voice.voice.file_id)
    assert again.voice is not None and again.voice.file_id == reply_voice.voice.file_id

    seen = await asyncio.to_thread(ana.messages)
    assert [m.get("text") or m.get("caption") for m in seen] == [
        "Great & clear",
        "Score: 92 (nice!)",
        "Recording again…",
        "Listen",
        None,
    ]
    assert await asyncio.to_thread(ana.chat_actions) == ["record_voice"]
    answers = await asyncio.to_thread(ana.callback_answers)
    assert [a["text"] for a in answers] == ["On it"]


async def test_ptb_maps_injected_faults_to_its_exceptions(emulator: EmulatorHandle) -> None:
    emu = emulator.client
    await asyncio.to_thread(emu.user, 1002, "Bia")
    async with build_app(emulator) as app:
        bot = app.bot
        await asyncio.to_thread(emu.inject_fault, "sendMessage", None, 7)
        with pytest.raises(RetryAfter) as retry:
            await bot.send_message(1002, "hi")
        assert retry.value.retry_after == timedelta(seconds=7)

        await asyncio.to_thread(emu.inject_fault, "getUpdates", 409)
        with pytest.raises(Conflict):
            await bot.get_updates()

        await asyncio.to_thread(emu.inject_fault, "sendMessage", 502)
        with pytest.raises(NetworkError):
            await bot.send_message(1002, "hi")

        await asyncio.to_thread(emu.inject_fault, "sendMessage", None, None, 0.0, True)
        with pytest.raises(NetworkError, match="httpx"):
            await bot.send_message(1002, "hi")

        with pytest.raises(BadRequest, match=r"(?i)can.t parse entities"):
            await bot.send_message(1002, "<b>unclosed", parse_mode=ParseMode.HTML)

        # Faults are used up: the next call goes through, and nothing faulted was delivered.
        await bot.send_message(1002, "finally")
    bia_messages = [m["text"] for m in await asyncio.to_thread(emu.user(1002).messages)]
    assert bia_messages == ["finally"]


async def test_ptb_rejects_a_wrong_token(emulator: EmulatorHandle) -> None:
    app = build_app(emulator, token="123456789:not-the-emulator-token")
    with pytest.raises(InvalidToken):
        await app.initialize()


async def test_ptb_gets_forbidden_when_the_learner_blocked_the_bot(
    emulator: EmulatorHandle,
) -> None:
    carla = await asyncio.to_thread(emulator.client.user, 1003, "Carla")
    await asyncio.to_thread(carla.block)
    async with build_app(emulator) as app:
        with pytest.raises(Forbidden, match="blocked by the user"):
            await app.bot.send_message(1003, "are you there?")
        await asyncio.to_thread(carla.unblock)
        await app.bot.send_message(1003, "welcome back")
    assert [m["text"] for m in await asyncio.to_thread(carla.messages)] == ["welcome back"]


async def test_ptb_polling_survives_a_flaky_get_updates(emulator: EmulatorHandle) -> None:
    emu = emulator.client
    # Faults apply in order: a bad gateway, a cut connection, another poller.
    await asyncio.to_thread(emu.inject_fault, "getUpdates", 502)
    await asyncio.to_thread(emu.inject_fault, "getUpdates", None, None, 0.0, True)
    await asyncio.to_thread(emu.inject_fault, "getUpdates", 409)
    updates: asyncio.Queue[Update] = asyncio.Queue()

    async def record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await updates.put(update)

    errors: list[Exception] = []
    app = build_app(emulator)
    app.add_handler(TypeHandler(Update, record))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=5, error_callback=errors.append)
        try:
            ana = await asyncio.to_thread(emu.user, 1004, "Ana")
            await asyncio.to_thread(ana.send_text, "still there?")
            update = await asyncio.wait_for(updates.get(), 20)
        finally:
            await app.updater.stop()
            await app.stop()
    assert update.message is not None and update.message.text == "still there?"
    assert [type(e).__name__ for e in errors] == ["NetworkError", "NetworkError", "Conflict"]
    assert await asyncio.to_thread(emu.faults) == []
