"""The bot's life: start-up settings, session expiry, secrets in logs, shutdown on SIGTERM.

Each scenario starts its own bot process (its settings differ) against this module's
emulator, converter, stub backend and Redis; only one bot polls the emulator at a time.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from phonicflow_emulator.client import EmulatorUser
from phonicflow_emulator.testing import EmulatorHandle, running_emulator
from phonicflow_testing.otlp import OtlpReceiver
from phonicflow_testing.processes import ServiceProcess, eventually, free_port
from phonicflow_testing.speech import encode, synth_wav

#: Bot processes killed and restarted, for minutes in all: `make system-test`.
pytestmark = pytest.mark.system
WAIT = 15.0
SERVICE_DOWN = "can't reach my pronunciation service"


@pytest.fixture(scope="module")
def voice_ogg() -> bytes:
    return encode(synth_wav("I think three trees are there"), "ogg")


@pytest.fixture
def bots(rig: Any) -> Iterator[Any]:
    yield rig
    rig.stop_all()


def learner(emulator: EmulatorHandle, user_id: int, lang: str = "en") -> EmulatorUser:
    return emulator.client.user(user_id, first_name="Ana", language_code=lang)


def health(bot: ServiceProcess, path: str) -> httpx.Response:
    return httpx.get(f"{bot.health_url}{path}", timeout=10)  # type: ignore[attr-defined]


def test_an_expired_session_is_replaced_and_the_learner_told(
    bots: Any, emulator: EmulatorHandle, stub_backend: Any
) -> None:
    bots.start(SESSION_TIMEOUT_HOURS="0.0003")  # about one second
    user = learner(emulator, 3008)
    user.send_text("/start")
    user.wait_for_messages(1, timeout=WAIT)
    sessions_before = len(stub_backend.requests("/bot/session"))
    time.sleep(1.5)
    user.send_text("/status")
    expired, status = user.wait_for_messages(2, timeout=WAIT)
    assert "previous session expired" in expired["text"]
    assert "Turns: 0" in status["text"]
    assert len(stub_backend.requests("/bot/session")) == sessions_before + 1


def test_the_token_never_reaches_the_logs_even_at_debug(
    bots: Any, emulator: EmulatorHandle, voice_ogg: bytes, tmp_path: Path
) -> None:
    log_file = tmp_path / "bot.log"
    bot = bots.start(LOG_LEVEL="DEBUG", BOT_LOG_FILE=str(log_file))
    emulator.client.inject_fault("getUpdates", status=502, times=2)
    emulator.client.inject_fault("sendMessage", drop_connection=True, times=1)
    user = learner(emulator, 3010)
    user.send_voice(voice_ogg, duration=2)
    user.send_text("/help")
    eventually(lambda: any("/practice" in m.get("text", "") for m in user.messages()))
    bot.stop()
    captured = bot.logs() + log_file.read_text(encoding="utf-8")
    assert "getUpdates" in captured, "DEBUG logging really was on"
    token = emulator.token
    assert token not in captured
    assert token.split(":", 1)[1] not in captured
    assert "bot-private-key-for-tests-0001" not in captured


def test_sigterm_finishes_the_voice_note_in_hand_then_exits_zero(
    bots: Any, emulator: EmulatorHandle, stub_backend: Any, voice_ogg: bytes
) -> None:
    bot = bots.start()
    user = learner(emulator, 3011)
    user.send_text("/start")
    user.wait_for_messages(1, timeout=WAIT)
    before = len(stub_backend.requests("/process"))
    stub_backend.fault("/process", delay=2.0, times=1)
    user.send_voice(voice_ogg, duration=2)
    eventually(lambda: len(stub_backend.requests("/process")) > before)
    assert bot.stop(signal.SIGTERM, timeout=30) == 0
    reply, *voices = user.wait_for_messages(3, timeout=1)
    assert "I heard" in reply["text"] and all("voice" in v for v in voices)


def test_a_bad_setting_stops_start_up_naming_the_variable(emulator: EmulatorHandle) -> None:
    env = {"TELEGRAM_BOT_TOKEN": emulator.token, "BACKEND_TIMEOUT": "soon", "PATH": "/usr/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "phonicflow_bot"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "BACKEND_TIMEOUT" in result.stderr
    assert emulator.token not in result.stderr + result.stdout


def test_a_role_without_what_it_needs_is_refused_at_start(emulator: EmulatorHandle) -> None:
    env = {"TELEGRAM_BOT_TOKEN": emulator.token, "PATH": "/usr/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "phonicflow_bot", "--role", "worker"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "BOT_ROLE" in result.stderr and "REDIS_URL" in result.stderr


def test_a_bot_started_before_telegram_answers_waits_for_it_instead_of_crashing(
    rig: Any,
) -> None:
    port = free_port()
    with running_emulator(port=port) as early:
        token = early.token
    # Nothing listens on the port now: the bot keeps trying while the emulator "starts".
    bot = rig.start(
        TELEGRAM_BOT_TOKEN=token,
        TELEGRAM_API_BASE_URL=f"http://127.0.0.1:{port}/bot",
        TELEGRAM_FILE_BASE_URL=f"http://127.0.0.1:{port}/file/bot",
        BOT_STARTUP_RETRY_SECONDS="60",
    )
    time.sleep(3.0)
    assert bot.running
    assert health(bot, "/readyz").status_code == 503 or "bot started" not in bot.logs()
    with running_emulator(port=port) as late:
        eventually(lambda: "bot started" in bot.logs(), timeout=30)
        user = late.client.user(3020, first_name="Lia")
        user.send_text("/help")
        assert "/practice" in user.wait_for_messages(1, timeout=WAIT)[0]["text"]
        assert bot.stop() == 0
    assert bot.logs().count("not reachable yet") == 1, "one line while waiting, not one a try"


def test_with_no_telegram_at_all_start_up_ends_in_one_clear_error_line(rig: Any) -> None:
    port = free_port()  # nothing will ever listen here
    env = rig.env(
        TELEGRAM_API_BASE_URL=f"http://127.0.0.1:{port}/bot",
        TELEGRAM_FILE_BASE_URL=f"http://127.0.0.1:{port}/file/bot",
        BOT_STARTUP_RETRY_SECONDS="3",
        BOT_HEALTH_PORT=str(free_port()),
    )
    result = subprocess.run(
        [sys.executable, "-m", "phonicflow_bot"], env={**env, "PATH": "/usr/bin"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    output = result.stdout + result.stderr
    errors = [line for line in output.splitlines() if '"level": "error"' in line]
    assert len(errors) == 1, output
    assert "cannot reach Telegram" in errors[0] and "TELEGRAM_API_BASE_URL" in errors[0]
    assert "Traceback" not in output
    assert len(output.splitlines()) <= 6, output
    assert rig.emulator.token not in output


def test_telegram_disabled_serves_health_only(bots: Any, emulator: EmulatorHandle) -> None:
    calls_before = len(emulator.client.calls("getUpdates"))
    bot = bots.start(TELEGRAM_BOT_ENABLED="false", TELEGRAM_BOT_TOKEN="")
    assert json.loads(health(bot, "/healthz").text)["status"] == "ok"
    time.sleep(0.3)
    assert len(emulator.client.calls("getUpdates")) == calls_before
    assert bot.stop() == 0


def test_one_trace_per_update_spans_download_convert_backend_and_sends(
    bots: Any, emulator: EmulatorHandle, stub_backend: Any, voice_ogg: bytes
) -> None:
    with OtlpReceiver() as receiver:
        bots.start(**receiver.exporter_env())
        user = learner(emulator, 3012)
        user.send_voice(voice_ogg, duration=2)
        user.wait_for_messages(3, timeout=WAIT)
        spans = receiver.wait_for(
            lambda found: any(s.name == "telegram.update" and
                              s.attributes.get("telegram.user_id") == 3012 for s in found)
        )  # fmt: skip
        root = next(s for s in spans if s.name == "telegram.update"
                    and s.attributes.get("telegram.user_id") == 3012 and
                    s.attributes.get("telegram.update.kind") == "voice")  # fmt: skip
        in_trace = [s for s in spans if s.trace_id == root.trace_id]
        names = {s.name for s in in_trace}
        assert {
            "bot.download",
            "bot.convert",
            "bot.backend",
            "bot.send",
            "bot.reply_audio",
        } <= names
        assert any("AudioConverterService/ToWav" in s.name for s in in_trace), names
        assert all(s.service == "phonicflow-bot" for s in in_trace)
        process = [r for r in stub_backend.requests("/process") if r["traceparent"]][-1]
        assert process["traceparent"].split("-")[1] == root.trace_id
        assert not any(emulator.token in str(s.attributes) for s in spans)


def test_redis_going_away_delays_answers_but_shows_no_error_and_loses_nothing(
    bots: Any, emulator: EmulatorHandle, voice_ogg: bytes
) -> None:
    # This Redis keeps nothing on disk (the chart's does): it comes back empty, and the bot
    # still answers everything it was sent meanwhile, once, without an error message.
    port = free_port()
    argv = [shutil.which("redis-server") or "redis-server", "--port", str(port),
            "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]  # fmt: skip
    redis_process = ServiceProcess(argv, name="redis-for-outage", port=port)
    with redis_process:
        bots.start(REDIS_URL=f"redis://127.0.0.1:{port}/0")
        user = learner(emulator, 3014)
        user.send_text("/start")
        user.wait_for_messages(1, timeout=WAIT)
        redis_process.kill()
        user.send_text("/status")
        user.send_voice(voice_ogg, duration=2)
        time.sleep(3.0)
        assert user.messages()[1:] == [], "nothing is answered while the log is away"
        redis_process.start()
        status, heard, *voices = user.wait_for_messages(4, timeout=WAIT * 2)
        assert "Your session" in status["text"]
        assert "I heard" in heard["text"] and len(voices) == 2
        time.sleep(1.0)
        texts = [m.get("text", "") for m in user.messages()]
        assert not any("went wrong" in t or "try again" in t.lower() for t in texts), texts
        assert len(user.messages()) == 5, "each update answered once"


def test_two_replicas_sharing_redis_share_one_rate_limit(
    bots: Any, emulator: EmulatorHandle, redis_url: str
) -> None:
    """Two bot processes, each polling its own Telegram (one poller per token), one Redis:
    the same learner writing to both gets BOT_RATE_LIMIT_MPM answers in total and one notice."""
    with running_emulator() as second:
        bots.start(BOT_RATE_LIMIT_MPM="4", REDIS_URL=redis_url)
        bots.start(
            BOT_RATE_LIMIT_MPM="4",
            REDIS_URL=redis_url,
            TELEGRAM_BOT_TOKEN=second.token,
            TELEGRAM_API_BASE_URL=second.api_base_url,
            TELEGRAM_FILE_BASE_URL=second.file_base_url,
        )
        here = emulator.client.user(3015, first_name="Ana")
        there = second.client.user(3015, first_name="Ana")
        for n in range(4):
            here.send_text(f"/help {n}")
            there.send_text(f"/help {n}")
        time.sleep(2.0)
        answers = here.messages() + there.messages()
        helps = [m for m in answers if "/practice" in m.get("text", "")]
        notices = [m for m in answers if "very fast" in m.get("text", "")]
        assert len(helps) == 4
        assert len(notices) == 1
