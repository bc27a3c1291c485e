"""The webhook intake: the bot registers its webhook, Telegram (the emulator) posts updates to
the receiver, which stores them and answers 200; the same workers answer them.

Real processes: a webhook receiver (BOT_ROLE=webhook), a worker, the emulator delivering like
Telegram (retrying until 2xx), the converter, the stub backend, Redis.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from phonicflow_emulator.testing import EmulatorHandle
from phonicflow_testing.processes import ServiceProcess, eventually, free_port

WAIT = 20.0
SECRET = "webhook-secret-for-tests_01"


@pytest.fixture
def webhook_env() -> dict[str, str]:
    port = free_port()
    return {
        "BOT_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/update",
        "BOT_WEBHOOK_SECRET": SECRET,
        "BOT_WEBHOOK_PORT": str(port),
        "BOT_WEBHOOK_HOST": "127.0.0.1",
    }


@pytest.fixture
def bots(rig: Any, redis_url: str) -> Iterator[Any]:
    yield rig
    rig.stop_all()
    rig.emulator.client.reset()  # the webhook set here must not outlive the module's tests


def test_updates_arrive_by_webhook_and_are_answered_once(
    bots: Any, emulator: EmulatorHandle, webhook_env: dict[str, str]
) -> None:
    receiver = bots.start("webhook", **webhook_env)
    bots.start("worker")
    eventually(lambda: emulator.client.webhook()["url"] == webhook_env["BOT_WEBHOOK_URL"])
    user = emulator.client.user(5001, first_name="Ana")
    user.send_text("/help")
    (reply,) = user.wait_for_messages(1, timeout=WAIT)
    assert "/practice" in reply["text"]
    deliveries = emulator.client.webhook()["deliveries"]
    assert [d["status"] for d in deliveries] == [200]
    assert not emulator.client.calls("getUpdates"), "nobody polls while a webhook is set"
    assert "webhook registered" in receiver.logs()
    assert SECRET not in receiver.logs()


def test_a_call_without_the_secret_is_refused_and_stores_nothing(
    bots: Any, emulator: EmulatorHandle, webhook_env: dict[str, str]
) -> None:
    bots.start("webhook", **webhook_env)
    bots.start("worker")
    forged = {"update_id": 1, "message": {"message_id": 1, "date": 0, "text": "/start",
              "chat": {"id": 5002, "type": "private"}}}  # fmt: skip
    url = webhook_env["BOT_WEBHOOK_URL"]
    assert httpx.post(url, json=forged, timeout=5).status_code == 401
    wrong = {"X-Telegram-Bot-Api-Secret-Token": "guess"}
    assert httpx.post(url, json=forged, headers=wrong, timeout=5).status_code == 401
    right = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    assert httpx.post(url, content=b"[1, 2]", headers=right, timeout=5).status_code == 400
    time.sleep(1.0)
    assert not [c for c in emulator.client.calls("sendMessage")
                if str(c["params"].get("chat_id")) == "5002"]  # fmt: skip


def test_a_receiver_that_is_down_gets_the_update_when_it_is_back(
    bots: Any, emulator: EmulatorHandle, webhook_env: dict[str, str]
) -> None:
    receiver: ServiceProcess = bots.start("webhook", **webhook_env)
    bots.start("worker")
    receiver.kill()
    user = emulator.client.user(5003, first_name="Bia")
    user.send_text("/help")
    eventually(
        lambda: any(d["status"] is None for d in emulator.client.webhook()["deliveries"]),
        message="a delivery that found nobody listening",
    )
    bots.start("webhook", **webhook_env)
    (reply,) = user.wait_for_messages(1, timeout=WAIT)
    assert "/practice" in reply["text"]
    time.sleep(1.0)
    assert len(user.messages()) == 1
