"""Webhook delivery as Telegram does it: POSTed with the secret header, retried until the bot
answers 2xx, one chat in order, and back to getUpdates after deleteWebhook."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from phonicflow_emulator.testing import EmulatorHandle
from phonicflow_testing.processes import eventually
from phonicflow_testing.stub_http import StubHandler, StubServer

SECRET = "s3cret-Token_1"


@dataclass
class Receiver:
    """What the bot's webhook endpoint saw, and how it answers (a status per call, then 200)."""

    url: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    slow_chats: dict[int, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def texts(self) -> list[str]:
        with self.lock:
            return [c["body"]["message"]["text"] for c in self.calls if c["status"] == 200]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    seen = Receiver()

    class Handler(StubHandler):
        def do_POST(self) -> None:
            body = json.loads(self.body())
            chat = body.get("message", {}).get("chat", {}).get("id")
            time.sleep(seen.slow_chats.pop(chat, 0.0))
            with seen.lock:
                status = seen.statuses.pop(0) if seen.statuses else 200
                seen.calls.append(
                    {"path": self.path, "secret": self.headers.get("X-Telegram-Bot-Api-Secret-Token"),
                     "body": body, "status": status, "time": time.monotonic()}
                )  # fmt: skip
            self.reply(status, b"{}")

    server = StubServer(Handler)
    server.start()
    seen.url = f"{server.url}/telegram/hook"
    try:
        yield seen
    finally:
        server.stop()


def bot_api(emulator: EmulatorHandle, method: str, **params: Any) -> httpx.Response:
    data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    return httpx.post(f"{emulator.api_base_url}{emulator.token}/{method}", data=data, timeout=10)


def test_updates_are_posted_with_the_secret_and_dropped_once_answered(
    emulator: EmulatorHandle, receiver: Receiver
) -> None:
    assert bot_api(emulator, "setWebhook", url=receiver.url, secret_token=SECRET).json()["ok"]
    emulator.client.user(2001, first_name="Ana").send_text("oi")
    eventually(lambda: receiver.texts() == ["oi"], timeout=10)
    call = receiver.calls[0]
    assert call["path"] == "/telegram/hook" and call["secret"] == SECRET
    assert call["body"]["message"]["chat"]["id"] == 2001 and call["body"]["update_id"] > 0
    info = bot_api(emulator, "getWebhookInfo").json()["result"]
    assert info["url"] == receiver.url and info["pending_update_count"] == 0
    answer = bot_api(emulator, "getUpdates").json()
    assert answer["error_code"] == 409 and "webhook is active" in answer["description"]


def test_a_failing_webhook_is_retried_until_it_answers_2xx(
    emulator: EmulatorHandle, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503, 404]
    bot_api(emulator, "setWebhook", url=receiver.url)
    emulator.client.user(2002, first_name="Bia").send_text("hello")
    eventually(lambda: receiver.texts() == ["hello"], timeout=15)
    statuses = [d["status"] for d in emulator.client.webhook()["deliveries"]]
    assert statuses == [500, 503, 404, 200]
    info = bot_api(emulator, "getWebhookInfo").json()["result"]
    assert info["pending_update_count"] == 0
    assert "404" in info["last_error_message"] and info["last_error_date"] > 0


def test_one_chats_updates_go_in_order_while_another_chat_goes_ahead(
    emulator: EmulatorHandle, receiver: Receiver
) -> None:
    bot_api(emulator, "setWebhook", url=receiver.url)
    receiver.slow_chats[2003] = 1.0  # the first delivery for this chat takes a second
    ana, bia = emulator.client.user(2003), emulator.client.user(2004)
    ana.send_text("a1")
    ana.send_text("a2")
    bia.send_text("b1")
    eventually(lambda: len(receiver.texts()) == 3, timeout=10)
    assert receiver.texts().index("b1") < receiver.texts().index("a1")  # not held up by Ana
    assert receiver.texts().index("a1") < receiver.texts().index("a2")


def test_a_webhook_nobody_listens_on_keeps_its_updates_for_get_updates(
    emulator: EmulatorHandle,
) -> None:
    assert bot_api(emulator, "setWebhook", url="http://127.0.0.1:9/none").json()["ok"]
    emulator.client.user(2005).send_text("kept")
    eventually(lambda: emulator.client.webhook()["deliveries"], timeout=10)
    assert emulator.client.webhook()["deliveries"][0]["status"] is None  # no answer at all
    assert bot_api(emulator, "deleteWebhook").json()["ok"]
    updates = bot_api(emulator, "getUpdates").json()["result"]
    assert [u["message"]["text"] for u in updates] == ["kept"]


def test_bad_webhook_settings_are_refused_as_telegram_does(emulator: EmulatorHandle) -> None:
    answer = bot_api(emulator, "setWebhook", url="ftp://example.org/hook").json()
    assert answer["error_code"] == 400 and "HTTPS URL" in answer["description"]
    answer = bot_api(emulator, "setWebhook", url="https://example.org", secret_token="no spaces")
    assert answer.json()["error_code"] == 400
