"""Whole-system scenarios where things go wrong: services die, Telegram pushes back.

Each scenario leaves the system running again for the next one (same module-scoped system).
"""

from __future__ import annotations

import json

import pytest
import redis

from .conftest import System, voice_note, wait_for_text, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.system]


@pytest.fixture(scope="module")
def note() -> tuple[bytes, int]:
    return voice_note("I am learning English with my friends")


def session_id(system: System, user_id: int) -> str:
    raw = redis.Redis.from_url(system.redis_url).get(f"phonicflow:session:{user_id}")
    assert raw, "the learner has a session in Redis"
    return str(json.loads(raw)["session_id"])


def test_the_backend_killed_mid_conversation_then_restarted(system, learner, note):
    learner.send_voice(*note)
    assert "I heard" in learner.wait_for_messages(count=3, timeout=60)[0]["text"]
    before = session_id(system, learner.chat_id)

    assert system.backend is not None
    system.backend.kill()
    learner.send_voice(*note)
    (told,) = learner.wait_for_messages(count=1, timeout=60)
    assert "try again" in told["text"].lower()

    system.start_backend()
    learner.send_voice(*note)
    assert "I heard" in learner.wait_for_messages(count=3, timeout=60)[0]["text"]
    assert session_id(system, learner.chat_id) == before, "the backend kept the session on disk"
    history = system.backend_get(f"/conversation/{before}").json()["history"]
    assert len(history) == 2, "both successful turns are stored"


def test_the_converter_restarted(system, learner, note):
    assert system.converter is not None
    system.converter.stop()
    learner.send_voice(*note)
    (told,) = learner.wait_for_messages(count=1, timeout=60)
    assert "try again" in told["text"].lower()

    system.start_converter()
    learner.send_voice(*note)
    assert "I heard" in learner.wait_for_messages(count=3, timeout=60)[0]["text"]


def test_telegram_429_and_5xx_are_retried_and_the_reply_delivered(system, learner):
    emu = system.emulator.client
    emu.inject_fault(method="sendMessage", status=429, retry_after=1, times=1)
    emu.inject_fault(method="getUpdates", status=502, times=2)
    learner.send_text("/help")
    (reply,) = learner.wait_for_messages(count=1, timeout=40)
    assert "/practice" in reply["text"]
    refused = [c for c in emu.calls("sendMessage") if c.get("status") == 429 or c.get("fault")]
    assert refused, "the 429 was really served before the delivery"


def test_the_bot_restarted_keeps_the_learners_session(system, learner, note):
    learner.send_voice(*note)
    learner.wait_for_messages(count=3, timeout=60)
    before = session_id(system, learner.chat_id)

    assert system.bot is not None
    assert system.bot.stop() == 0, "SIGTERM stops the bot cleanly"
    system.start_bot()

    learner.send_text("/history")
    history = wait_for_text(learner, "History", timeout=30)
    assert "english" in history["text"].lower()
    assert session_id(system, learner.chat_id) == before


def test_the_rate_limit_tells_the_learner_when_to_come_back(system, learner):
    assert system.bot is not None
    system.bot.stop()
    system.bot_extra_env["BOT_RATE_LIMIT_MPM"] = "3"
    system.start_bot()
    for i in range(5):
        learner.send_text(f"message number {i}")
    wait_until(
        lambda: any("wait" in m.get("text", "") for m in learner.messages()),
        timeout=60,
        message="a slow-down notice",
    )
    texts = [m.get("text", "") for m in learner.messages()]
    notices = [t for t in texts if "very fast" in t]
    assert len(notices) == 1, "one notice per window, not one per message"
