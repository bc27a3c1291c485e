"""A learner's week with the real bot: goal, streak, adaptive drills, mastery, reminders,
/progress, /export and /delete.

Two bot workers and a poller (the chart's shape) run against the emulator, the real converter
and the real backend app on stub speech engines, whose clock the test moves (days play out
without sleeping). The reminder senders in both workers poll every 0.3 s: a reminder must
arrive once, at the learner's local hour, not when the goal is met, and never to a learner who
blocked the bot.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from phonicflow_emulator.client import EmulatorUser
from phonicflow_emulator.testing import EmulatorHandle
from phonicflow_testing.clock import LocalClock
from phonicflow_testing.processes import ServiceProcess, eventually
from phonicflow_testing.speech import encode, synth_wav
from phonicflow_testing.stub_backend import StubBackend

BOT_KEY = "bot-private-key-for-tests-0001"  # conftest.BOT_KEY (conftest is not importable)
WAIT = 15.0
#: Long enough for several reminder polls of both workers (BOT_REMINDER_POLL_SECONDS below).
QUIET = 2.0
MONDAY = date(2026, 11, 30)


@pytest.fixture(scope="module")
def clock() -> LocalClock:
    return LocalClock("America/Sao_Paulo", start=MONDAY)


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory, clock: LocalClock) -> Iterator[StubBackend]:
    storage: Path = tmp_path_factory.mktemp("progress-backend")
    with StubBackend(storage, env={"BOT_PRIVATE_KEY": BOT_KEY}, clock=clock) as server:
        yield server


@pytest.fixture(scope="module")
def bots(rig: Any, backend: StubBackend) -> Iterator[list[ServiceProcess]]:
    env = {
        "BACKEND_URL": backend.url,
        "BOT_REMINDER_POLL_SECONDS": "0.3",
        "BOT_RATE_LIMIT_MPM": "1000",
    }
    started = [rig.start("poller", **env), rig.start("worker", **env), rig.start("worker", **env)]
    yield started
    for process in started:
        process.stop()


@pytest.fixture(scope="module")
def voice_note() -> bytes:
    return encode(synth_wav("Thank you for the things you brought"), "ogg")


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in messages]


def ask(user: EmulatorUser, command: str, replies: int = 1) -> list[dict[str, Any]]:
    user.send_text(command)
    return user.wait_for_messages(replies, timeout=WAIT)


def target_of(practice_message: dict[str, Any]) -> str:
    """The drill sentence a /practice message shows."""
    lines = [line for line in practice_message["text"].split("\n") if line.strip()]
    return lines[next(i for i, line in enumerate(lines) if line.startswith("🎯")) + 1]


def say_the_drill(backend: StubBackend, practice_message: dict[str, Any], *, wrong: bool) -> None:
    """The next note is heard as the drill sentence, its TH words said as T when ``wrong``."""
    target = target_of(practice_message)
    backend.engines.transcript = target
    words = (w.strip(".,!?").lower() for w in target.split())
    backend.engines.errors = {w: "th_to_t" for w in words if "th" in w} if wrong else {}


def drill(user: EmulatorUser, voice_note: bytes, backend: StubBackend, *, wrong: bool) -> str:
    """/practice, then a voice note for it (its TH words said as T when ``wrong``); the
    feedback text."""
    sentence, _reference_audio = ask(user, "/practice", replies=2)
    say_the_drill(backend, sentence, wrong=wrong)
    user.send_voice(voice_note, duration=3)
    feedback, *_voices = user.wait_for_messages(3, timeout=WAIT)
    return str(feedback["text"])


def no_message_for(user: EmulatorUser, seconds: float = QUIET) -> None:
    with pytest.raises(TimeoutError):
        user.wait_for_messages(1, timeout=seconds)


def settings_of(backend: StubBackend, user_id: int) -> dict[str, Any]:
    with backend.client(headers={"X-Bot-Key": BOT_KEY}) as client:
        return dict(client.get(f"/learner/{user_id}/settings").json())


def test_a_learner_week_with_two_workers(
    bots: list[ServiceProcess],
    emulator: EmulatorHandle,
    backend: StubBackend,
    clock: LocalClock,
    voice_note: bytes,
) -> None:
    clock.at(0, 8)
    ana = emulator.client.user(5101, first_name="Ana", language_code="pt-br")
    ask(ana, "/start")
    [nothing_yet] = ask(ana, "/progress")
    assert "Ainda não tenho seu progresso" in nothing_yet["text"], "no notes: no picture"
    [goal] = ask(ana, "/goal 2")
    assert "Meta diária: 2 áudios por dia" in goal["text"]
    [bad_goal] = ask(ana, "/goal zero")
    assert "de 1 a 100" in bad_goal["text"]
    [reminder_on] = ask(ana, "/remind 19h")
    assert "19:00 (America/Sao_Paulo)" in reminder_on["text"]
    [bad_time] = ask(ana, "/remind 25:00")
    assert "Não entendi o horário" in bad_time["text"]
    [bad_zone] = ask(ana, "/remind 19:00 Mars/Olympus")
    assert "Não conheço o fuso “Mars/Olympus”" in bad_zone["text"]
    assert settings_of(backend, 5101)["time_zone"] is None, "a refused zone changes nothing"

    # A learner who blocked the bot gets no reminder, and the backend stops offering them.
    bia = emulator.client.user(5102, first_name="Bia", language_code="en")
    ask(bia, "/start")
    [bia_on] = ask(bia, "/remind 7pm -03:00")
    assert "I'll nudge you at 19:00" in bia_on["text"]
    bia.block()

    # Monday morning: the first drill is a sound never tried, and says so; TH goes wrong.
    clock.at(0, 9)
    first, _audio = ask(ana, "/practice", replies=2)
    assert first["text"].startswith("📌 Um som que você ainda não treinou: TH")
    say_the_drill(backend, first, wrong=True)
    ana.send_voice(voice_note, duration=3)
    feedback, *_ = ana.wait_for_messages(3, timeout=WAIT)
    assert "🔥 Hoje 1/2 · sequência: 1 dia" in feedback["text"]
    assert "TH (think, this): 0 de 1 certas" in feedback["text"]
    offered = [
        b["callback_data"] for row in feedback["reply_markup"]["inline_keyboard"] for b in row
    ]
    assert "p:next" in offered, "a drill's feedback offers the next sentence"

    # 18:59 nothing; at 19:00 the nudge arrives once (both workers poll) with the day's count.
    clock.at(0, 18, 59)
    no_message_for(ana)
    clock.at(0, 19, 0)
    [nudge] = ana.wait_for_messages(1, timeout=WAIT)
    assert "Hoje: 1/2 áudios" in nudge["text"] and "Sequência: 1 dia." in nudge["text"]
    no_message_for(ana)
    eventually(lambda: settings_of(backend, 5102)["blocked"], timeout=WAIT)
    assert not any("Time for a little English" in t for t in texts(bia.messages()))

    # Tuesday: the goal is met (said once, when it happens): no nudge in the evening.
    clock.at(1, 10)
    backend.engines.errors, backend.engines.transcript = {}, "hello there"
    tuesday = []
    for _ in range(2):
        ana.send_voice(voice_note, duration=3)
        tuesday.append(ana.wait_for_messages(3, timeout=WAIT)[0]["text"])
    assert ["🎉" in t for t in tuesday] == [False, True]
    assert "🔥 Hoje 2/2 · sequência: 2 dias" in tuesday[1]
    clock.at(1, 19, 0)
    no_message_for(ana)

    # Wednesday: TH drills said right until it is mastered (4 of the last 5), said once;
    # then /practice moves on to another sound.
    clock.at(2, 9)
    outcomes: list[str] = []
    while not any("🏆" in t for t in outcomes):
        assert len(outcomes) < 5, f"TH never mastered: {outcomes[-1]}"
        outcomes.append(drill(ana, voice_note, backend, wrong=False))
    assert "🏆 Você dominou TH (think, this) (4 de" in outcomes[-1]
    moved_on, _audio = ask(ana, "/practice", replies=2)
    assert moved_on["text"].startswith("📌") and "TH (think" not in moved_on["text"]
    wednesday_notes = len(outcomes)

    # /status has the streak and the goal.
    [status] = ask(ana, "/status")
    assert f"🔥 Sequência: 3 dias · Hoje: {wednesday_notes}/2 áudios" in status["text"]

    # /progress: a PNG picture and two lines in the learner's language.
    [picture] = ask(ana, "/progress")
    png = emulator.client.download(picture["photo"][-1]["file_id"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    first_line, second_line = picture["caption"].split("\n")
    assert first_line == f"🔥 Sequência: 3 dias · hoje {wednesday_notes}/2 áudios"
    assert second_line.startswith("💪 Melhor som: TH (think, this)")

    # /export: everything stored, as a JSON document.
    [document] = ask(ana, "/export")
    exported = json.loads(emulator.client.download(document["document"]["file_id"]))
    assert (exported["format"], exported["telegram_user_id"]) == ("phonicflow-export/1", 5101)
    assert exported["progress"]["streak_days"] == 3
    assert document["document"]["file_name"].startswith("phonicflow-export-")

    # The evenings pass: Wednesday's goal is met; Thursday to Saturday get one nudge each.
    clock.at(2, 19, 0)
    no_message_for(ana)
    for day in (3, 4, 5):
        clock.at(day, 19, 0)
        [evening] = ana.wait_for_messages(1, timeout=WAIT)
        assert evening["text"].startswith("⏰ Bora praticar")
    # Sunday evening: the weekly summary, and the daily nudge (nothing done that day).
    clock.at(6, 19, 0)
    sunday = texts(ana.wait_for_messages(2, timeout=WAIT))
    weekly = next(t for t in sunday if t.startswith("📅"))
    assert "(2026-11-30 – 2026-12-06)" in weekly
    assert f"{3 + wednesday_notes} áudios em 3 dias" in weekly
    assert any(t.startswith("⏰") and "comece uma sequência" in t for t in sunday)
    no_message_for(ana)

    # /delete erases progress and reminders too: no nudge on Monday evening.
    clock.at(7, 8)
    [confirm] = ask(ana, "/delete")
    ana.press_button(confirm["message_id"], "d:yes")
    with backend.client(headers={"X-Bot-Key": BOT_KEY}) as client:
        eventually(lambda: client.get("/learner/5101/progress").status_code == 404, timeout=WAIT)
    eventually(lambda: ana.messages()[-1]["text"].startswith("🗑 Pronto"), timeout=WAIT)
    clock.at(7, 19, 0)
    no_message_for(ana)
