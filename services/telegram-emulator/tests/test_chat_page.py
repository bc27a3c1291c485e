"""The browser chat page, driven by headless Chromium against the real emulator process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from phonicflow_emulator.testing import EmulatorHandle, png

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # A fake microphone (a beeping tone) that needs no permission prompt.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
SCREENSHOT = "/tmp/phonicflow-emulator-chat.png"
UI_TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1100, "height": 760}, permissions=["microphone"]
    )
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    yield page
    context.close()


def bot_call(emulator: EmulatorHandle, method: str, **params: Any) -> Any:
    """Call the Bot API as a bot would (form-encoded, JSON values as strings)."""
    data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    answer = httpx.post(
        f"{emulator.api_base_url}{emulator.token}/{method}", data=data, timeout=30
    ).json()
    assert answer["ok"], answer
    return answer["result"]


def next_update(emulator: EmulatorHandle, offset: int | None) -> dict[str, Any]:
    params: dict[str, Any] = {"timeout": 10}
    if offset is not None:
        params["offset"] = offset
    updates = bot_call(emulator, "getUpdates", **params)
    assert updates, "no update arrived within the long-poll timeout"
    return dict(updates[0])


def test_a_learner_chats_with_the_bot_from_the_browser(
    emulator: EmulatorHandle, page: Page
) -> None:
    emulator.client.user(2001, first_name="Carla", language_code="pt-br")
    page.goto(emulator.url)
    expect(page.locator("[data-testid=user].active")).to_contain_text("Carla")

    page.get_by_test_id("text-input").fill("/start")
    page.get_by_test_id("text-input").press("Enter")
    update = next_update(emulator, None)
    assert update["message"]["text"] == "/start"
    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    expect(page.get_by_test_id("user-message")).to_contain_text("/start")

    bot_call(emulator, "sendChatAction", chat_id=2001, action="typing")
    expect(page.get_by_test_id("chat-status")).to_have_text("typing…")

    keyboard = {"inline_keyboard": [[{"text": "Practice again", "callback_data": "practice"}]]}
    reply = bot_call(
        emulator,
        "sendMessage",
        chat_id=2001,
        text="<b>Olá, Carla!</b> Send me a <i>voice note</i>.",
        parse_mode="HTML",
        reply_markup=keyboard,
    )
    bubble = page.locator(f"[data-message-id='{reply['message_id']}']")
    expect(bubble.locator("b")).to_have_text("Olá, Carla!")
    expect(bubble.locator("i")).to_have_text("voice note")
    expect(page.get_by_test_id("chat-status")).to_have_text("bot")  # a message ends the action

    bubble.get_by_role("button", name="Practice again").click()
    update = next_update(emulator, update["update_id"] + 1)
    query = update["callback_query"]
    assert query["data"] == "practice"
    assert query["message"]["message_id"] == reply["message_id"]
    assert query["from"]["id"] == 2001 and query["chat_instance"]
    bot_call(emulator, "answerCallbackQuery", callback_query_id=query["id"], text="Let's go!")
    expect(page.locator("#toast")).to_have_text("Let's go!")

    page.get_by_test_id("record").click()
    page.wait_for_timeout(1200)
    page.get_by_test_id("record").click()
    update = next_update(emulator, update["update_id"] + 1)
    voice = update["message"]["voice"]
    assert voice["mime_type"] == "audio/ogg" and voice["duration"] >= 1
    recorded = emulator.client.download(voice["file_id"])
    assert recorded.startswith(b"OggS"), "browser recordings reach the bot as OGG/Opus voice notes"

    with open("/dev/urandom", "rb") as noise:
        fake_reply = b"OggS" + noise.read(2048)
    bot_call_voice = httpx.post(
        f"{emulator.api_base_url}{emulator.token}/sendVoice",
        data={"chat_id": "2001", "duration": "2", "caption": "Listen to me"},
        files={"voice": ("reply.ogg", fake_reply, "audio/ogg")},
        timeout=30,
    ).json()
    assert bot_call_voice["ok"], bot_call_voice
    voice_bubble = page.locator(f"[data-message-id='{bot_call_voice['result']['message_id']}']")
    expect(voice_bubble.get_by_test_id("voice")).to_have_attribute(
        "src", f"/_emu/files/{bot_call_voice['result']['voice']['file_id']}"
    )
    expect(voice_bubble).to_contain_text("Listen to me")

    page.screenshot(path=SCREENSHOT, full_page=True)


def test_a_photo_from_the_bot_is_shown_as_a_picture(emulator: EmulatorHandle, page: Page) -> None:
    emulator.client.user(2002, first_name="Bia")
    page.goto(emulator.url)
    page.locator("[data-testid=user]", has_text="Bia").click()
    sent = httpx.post(
        f"{emulator.api_base_url}{emulator.token}/sendPhoto",
        data={"chat_id": "2002", "caption": "Your progress"},
        files={"photo": ("progress.png", png(120, 90), "image/png")},
        timeout=30,
    ).json()["result"]
    bubble = page.locator(f"[data-message-id='{sent['message_id']}']")
    picture = bubble.get_by_test_id("photo")
    expect(picture).to_have_attribute("src", f"/_emu/files/{sent['photo'][0]['file_id']}")
    expect(bubble).to_contain_text("Your progress")
    # decoded by the browser, not just an <img> pointing somewhere
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth === 120 && img.naturalHeight === 90",
        arg=picture.element_handle(),
    )


def test_a_new_learner_can_be_added_from_the_page(emulator: EmulatorHandle, page: Page) -> None:
    page.goto(emulator.url)
    page.get_by_test_id("new-user-name").fill("Diego")
    page.get_by_test_id("new-user-id").fill("3003")
    page.get_by_test_id("new-user-submit").click()
    expect(page.locator("[data-testid=user].active")).to_contain_text("Diego")
    page.get_by_test_id("text-input").fill("hello")
    page.get_by_test_id("send").click()
    update = next_update(emulator, None)
    assert update["message"]["from"]["first_name"] == "Diego"
    assert update["message"]["chat"]["id"] == 3003
    assert "entities" not in update["message"]


def test_the_command_menu_offers_the_bots_commands_in_the_learners_language(
    emulator: EmulatorHandle, page: Page
) -> None:
    english = [
        {"command": "start", "description": "Start"},
        {"command": "practice", "description": "Practice"},
    ]
    portuguese = [
        {"command": "start", "description": "Começar"},
        {"command": "practice", "description": "Praticar"},
    ]
    bot_call(emulator, "setMyCommands", commands=english)
    bot_call(emulator, "setMyCommands", commands=portuguese, language_code="pt")
    emulator.client.user(2002, first_name="Joana", language_code="pt-br")
    page.goto(emulator.url)
    expect(page.locator("[data-testid=user].active")).to_contain_text("Joana")
    page.get_by_test_id("menu").click()
    menu = page.get_by_test_id("command-menu")
    expect(menu).to_contain_text("Praticar")
    menu.get_by_text("/practice").click()
    expect(menu).to_be_hidden()
    update = next_update(emulator, None)
    assert update["message"]["text"] == "/practice"
    assert update["message"]["entities"][0]["type"] == "bot_command"
