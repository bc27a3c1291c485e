"""When things go wrong: services down, slow or refusing, Telegram's flood limits, too many
messages — the learner is told clearly, the bot keeps running, and recovers.

One bot (BACKEND_TIMEOUT=1 s, a backend retry deadline of 2.5 s instead of 25, so "down"
means down within a test's patience; BOT_RATE_LIMIT_MPM=4) serves the module; each scenario uses its
own learner and sends at most four messages, except the rate-limit scenario.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from phonicflow_backend.conversation import TemplateConversation
from phonicflow_emulator.client import EmulatorUser
from phonicflow_emulator.testing import EmulatorHandle
from phonicflow_testing.processes import ServiceProcess, eventually
from phonicflow_testing.speech import encode, synth_wav

WAIT = 15.0
RETRY_SECONDS = 2.5
SERVICE_DOWN = "can't reach my pronunciation service"


def reply_to(text: str) -> str:
    """The backend's conversational reply to a text turn (its templates: no LLM here)."""
    return TemplateConversation().reply(text).en


@pytest.fixture(scope="module")
def voice_ogg() -> bytes:
    return encode(synth_wav("I think three trees are there"), "ogg")


@pytest.fixture(scope="module")
def bot(rig: Any) -> Iterator[ServiceProcess]:
    process = rig.start(
        BACKEND_TIMEOUT="1", BACKEND_RETRY_SECONDS=str(RETRY_SECONDS), BOT_RATE_LIMIT_MPM="4"
    )
    yield process
    rig.stop_all()


def metric(bot: ServiceProcess, name: str, **labels: str) -> float:
    """One sample of the bot's /metrics (0 when absent)."""
    for family in text_string_to_metric_families(health(bot, "/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def learner(emulator: EmulatorHandle, user_id: int, lang: str = "en") -> EmulatorUser:
    return emulator.client.user(user_id, first_name="Ana", language_code=lang)


def health(bot: ServiceProcess, path: str) -> httpx.Response:
    return httpx.get(f"{bot.health_url}{path}", timeout=10)  # type: ignore[attr-defined]


def test_converter_down_then_back_up(
    bot: ServiceProcess, emulator: EmulatorHandle, converter: Any, voice_ogg: bytes
) -> None:
    user = learner(emulator, 3001, lang="pt")
    converter.stop()
    try:
        user.send_voice(voice_ogg, duration=2)
        [reply] = user.wait_for_messages(1, timeout=WAIT)
        assert "Não consigo acessar meu serviço de pronúncia" in reply["text"]
        ready = health(bot, "/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["converter"] is False
    finally:
        converter.start()
    user.send_voice(voice_ogg, duration=2)
    reply, *voices = user.wait_for_messages(3, timeout=WAIT)
    assert "Eu ouvi" in reply["text"] and all("voice" in v for v in voices)
    assert health(bot, "/readyz").status_code == 200
    assert bot.running


def test_backend_down_then_back_up_with_its_sessions_lost(
    bot: ServiceProcess, emulator: EmulatorHandle, stub_backend: Any, voice_ogg: bytes
) -> None:
    user = learner(emulator, 3002)
    user.send_text("/start")
    user.wait_for_messages(1, timeout=WAIT)
    stub_backend.stop()
    try:
        user.send_voice(voice_ogg, duration=2)
        [reply] = user.wait_for_messages(1, timeout=WAIT)
        assert SERVICE_DOWN in reply["text"]
    finally:
        stub_backend.start()
        stub_backend.wipe()  # it came back with its storage lost
    # The restarted backend forgot every session: the bot makes a new one and retries.
    user.send_voice(voice_ogg, duration=2)
    reply, *_ = user.wait_for_messages(3, timeout=WAIT)
    assert "I heard" in reply["text"]
    assert any(
        r["json"].get("telegram_user_id") == 3002 for r in stub_backend.requests("/bot/session")
    )


def test_a_slow_backend_gets_a_timeout_message_after_retries(
    bot: ServiceProcess, emulator: EmulatorHandle, stub_backend: Any
) -> None:
    user = learner(emulator, 3003)
    user.send_text("/start")
    user.wait_for_messages(1, timeout=WAIT)
    before = len(stub_backend.requests("/process"))
    stub_backend.fault("/process", delay=2.0, times=-1)
    user.send_text("hello there")
    [reply] = user.wait_for_messages(1, timeout=WAIT)
    assert "taking too long" in reply["text"]
    # 1 s per attempt, a pause, another: no attempt starts after the 2.5 s deadline
    assert 2 <= len(stub_backend.requests("/process")) - before <= 3
    stub_backend.clear_faults()
    user.send_text("hello again")
    assert reply_to("hello again") in user.wait_for_messages(1, timeout=WAIT)[0]["text"]


def test_a_5xx_is_retried_but_a_4xx_is_not(
    bot: ServiceProcess, emulator: EmulatorHandle, stub_backend: Any
) -> None:
    user = learner(emulator, 3004)
    user.send_text("/start")
    user.wait_for_messages(1, timeout=WAIT)
    before = len(stub_backend.requests("/process"))
    stub_backend.fault("/process", status=503, times=2)
    user.send_text("first")
    assert reply_to("first") in user.wait_for_messages(1, timeout=WAIT)[0]["text"]
    user.wait_for_messages(2, timeout=WAIT)
    assert len(stub_backend.requests("/process")) - before == 3

    before = len(stub_backend.requests("/process"))
    stub_backend.fault("/process", status=400, times=1)
    user.send_text("second")
    assert SERVICE_DOWN in user.wait_for_messages(1, timeout=WAIT)[0]["text"]
    assert len(stub_backend.requests("/process")) - before == 1


def test_when_telegram_refuses_a_voice_note_the_text_still_arrives(
    bot: ServiceProcess, emulator: EmulatorHandle, voice_ogg: bytes
) -> None:
    user = learner(emulator, 3005)
    emulator.client.inject_fault("sendVoice", status=400, times=2)
    user.send_voice(voice_ogg, duration=2)
    [reply] = user.wait_for_messages(1, timeout=WAIT)
    assert "I heard" in reply["text"]
    eventually(lambda: len(emulator.client.calls("sendVoice")) >= 2)
    time.sleep(0.3)
    assert not [m for m in user.messages() if "voice" in m]
    user.send_voice(voice_ogg, duration=2)
    _, *voices = user.wait_for_messages(3, timeout=WAIT)
    assert all("voice" in v for v in voices)


def test_a_telegram_hiccup_mid_reply_is_retried_and_nothing_is_sent_twice(
    bot: ServiceProcess, emulator: EmulatorHandle, voice_ogg: bytes
) -> None:
    # A 500 is a network fault to PTB: the update is handled again; the feedback text already
    # sent is replayed from the update's journal, not sent again.
    user = learner(emulator, 3009)
    emulator.client.inject_fault("sendVoice", status=500, times=1)
    user.send_voice(voice_ogg, duration=2)
    reply, *voices = user.wait_for_messages(3, timeout=WAIT)
    assert "I heard" in reply["text"] and all("voice" in v for v in voices)
    time.sleep(1.0)
    assert len(user.messages()) == 3
    assert len([c for c in emulator.client.calls("sendMessage")
                if str(c["params"].get("chat_id")) == "3009"]) == 1  # fmt: skip


def test_telegram_flood_limit_is_respected_and_the_message_delivered_after_retry_after(
    bot: ServiceProcess, emulator: EmulatorHandle
) -> None:
    user = learner(emulator, 3006)
    emulator.client.inject_fault("sendMessage", retry_after=2, times=1)
    sent = time.monotonic()
    user.send_text("/help")
    [reply] = user.wait_for_messages(1, timeout=WAIT)
    assert "/practice" in reply["text"]
    assert time.monotonic() - sent >= 2.0
    statuses = [c["status"] for c in emulator.client.calls("sendMessage")]
    assert 429 in statuses and statuses[-1] == 200


def test_rate_limit_answers_once_per_window_and_never_silently(
    bot: ServiceProcess, emulator: EmulatorHandle, stub_backend: Any
) -> None:
    user = learner(emulator, 3007, lang="pt")
    for n in range(7):
        user.send_text(f"message {n}")
    messages = user.wait_for_messages(13, timeout=WAIT)  # 4 × (text + 2 voices) + 1 notice
    notices = [m for m in messages if "muito rápido" in m.get("text", "")]
    assert len(notices) == 1
    seconds = int(notices[0]["text"].split("Espere ")[1].split(" s")[0])
    assert 1 <= seconds <= 60
    time.sleep(0.5)
    assert len(user.messages()) == 13, "at most one notice per window"
    sent = {r.get("form", {}).get("text") for r in stub_backend.requests("/process")}
    assert {"message 0", "message 1", "message 2", "message 3"} <= sent
    assert not {"message 4", "message 5", "message 6"} & sent


def test_health_readiness_and_metrics(
    bot: ServiceProcess, emulator: EmulatorHandle, voice_ogg: bytes
) -> None:
    assert health(bot, "/healthz").json() == {"status": "ok"}
    ready = health(bot, "/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"converter": True, "backend": True, "redis": True}
    voices = metric(bot, "phonicflow_bot_updates_total", type="voice")
    processed = metric(bot, "phonicflow_bot_audio_processed_total", outcome="ok")
    converted = metric(bot, "phonicflow_bot_stage_seconds_count", stage="convert")
    user = learner(emulator, 3009)
    user.send_voice(voice_ogg, duration=2)
    user.wait_for_messages(3, timeout=WAIT)
    assert metric(bot, "phonicflow_bot_updates_total", type="voice") == voices + 1
    # counted when the handler returns, which is just after the learner has the last reply
    eventually(
        lambda: metric(bot, "phonicflow_bot_audio_processed_total", outcome="ok") > processed,
        timeout=5,
    )
    assert metric(bot, "phonicflow_bot_audio_processed_total", outcome="ok") == processed + 1
    assert metric(bot, "phonicflow_bot_stage_seconds_count", stage="convert") == converted + 1
    assert metric(bot, "phonicflow_bot_stage_seconds_count", stage="total") > 0
    assert metric(bot, "phonicflow_bot_active_sessions") >= 1
    assert metric(bot, "phonicflow_bot_backend_up") == 1.0
    assert health(bot, "/nope").status_code == 404


def test_a_backend_answer_that_breaks_the_contract_is_a_clear_try_again(
    bot: ServiceProcess, emulator: EmulatorHandle, stub_backend: Any
) -> None:
    user = learner(emulator, 3013)
    user.send_text("/start")
    user.wait_for_messages(1, timeout=WAIT)
    stub_backend.fault("/process", status=200, times=1)  # 200 with an error body
    user.send_text("hello")
    assert SERVICE_DOWN in user.wait_for_messages(1, timeout=WAIT)[0]["text"]
    assert bot.running


def test_a_learner_who_blocked_the_bot_does_not_break_it(
    bot: ServiceProcess, emulator: EmulatorHandle
) -> None:
    blocker = learner(emulator, 3016)
    blocker.block()
    before = metric(bot, "phonicflow_bot_errors_total", kind="blocked_by_user")
    blocker.send_text("/help")
    eventually(lambda: metric(bot, "phonicflow_bot_errors_total", kind="blocked_by_user") > before)
    assert "learner blocked the bot" in bot.logs()
    blocker.unblock()
    blocker.send_text("/help")
    assert "/practice" in blocker.wait_for_messages(1, timeout=WAIT)[0]["text"]
