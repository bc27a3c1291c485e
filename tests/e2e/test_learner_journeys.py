"""Whole-system scenarios: what learners do, with every service a real process.

Redis, the converter, the backend (real speech engines), the emulator and the unmodified bot;
speech is synthesised on the spot with espeak-ng and sent as Telegram-style OGG/Opus notes.
"""

from __future__ import annotations

import concurrent.futures
import json
import subprocess

import pytest
import redis

from phonicflow_testing.backend import rows_mentioning

from .conftest import System, voice_note, wait_for_text, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def ffprobe_codec(data: bytes) -> str:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=codec_name",
         "-of", "default=nw=1:nk=1", "pipe:0"],
        input=data, capture_output=True, check=True, timeout=30,
    )  # fmt: skip
    return out.stdout.decode().strip()


def session_of(system: System, user_id: int) -> dict[str, object] | None:
    raw = redis.Redis.from_url(system.redis_url).get(f"phonicflow:session:{user_id}")
    return json.loads(raw) if raw else None


def test_a_new_learner_gets_scored_feedback_and_two_voice_replies(system, learner):
    learner.send_text("/start")
    (welcome,) = learner.wait_for_messages(count=1, timeout=20)
    assert "PhonicFlow" in welcome["text"]

    learner.send_voice(*voice_note("I like to read books in the park"))
    reply, *voices = learner.wait_for_messages(count=3, timeout=60)

    assert "I heard" in reply["text"]
    assert "books" in reply["text"].lower()
    assert "Score" in reply["text"]
    assert "🇧🇷" in reply["text"], "coaching also in Portuguese"
    assert reply["reply_markup"]["inline_keyboard"], "replay / try again / history buttons"
    assert len(voices) == 2
    for message in voices:
        audio = system.emulator.client.download(message["voice"]["file_id"])
        assert audio[:4] == b"OggS"
        assert ffprobe_codec(audio) == "opus"
    assert {"typing", "record_voice"} & set(learner.chat_actions())


RESPELLED_TH = {
    "think": "tink", "three": "tree", "there": "dere", "the": "de", "this": "dis",
    "thank": "tank", "things": "tings", "third": "tird", "thursday": "tursday",
    "brother": "broder", "thinks": "tinks", "weather": "wedder", "they": "dey",
    "thought": "tought", "that": "dat", "theory": "teory", "together": "togeder",
    "both": "bot", "them": "dem", "thirty": "tirty", "month": "mont",
}  # fmt: skip
#: A note with every TH word respelled is sometimes heard as another sentence after the Opus
#: round trip (a known limit of the drill check, docs/scoring.md "Is it the drill sentence?",
#: issue 14): then the learner is told so and the test tries the next sentence, at most this often.
DRILL_SENTENCES_TRIED = 3


def test_practice_mode_flags_a_planted_th_mistake(system, learner):
    replies = []
    for _ in range(DRILL_SENTENCES_TRIED):
        learner.send_text("/practice th")
        target_message, reference = learner.wait_for_messages(count=2, timeout=30)
        assert "voice" in reference, "the reference pronunciation comes as a voice note"
        # "🎯 Say this sentence ...:" / "" / "<the sentence>" / "" / "💡 hint"
        target = target_message["text"].splitlines()[2].strip()
        planted = " ".join(RESPELLED_TH.get(w.lower(), w) for w in target.split())
        assert planted.lower() != target.lower(), f"no TH word to plant an error in: {target!r}"

        learner.send_voice(*voice_note(planted))
        reply, *_ = learner.wait_for_messages(count=3, timeout=60)
        replies.append(reply["text"])
        if "didn't sound like the practice sentence" not in reply["text"]:
            break
        assert "Score" not in reply["text"], "a note taken for another sentence is not judged"
    assert "⚠️" in replies[-1], replies
    assert "TH sounded like" in replies[-1], replies


def test_progress_arrives_as_a_picture_and_the_data_as_a_file(system, learner):
    learner.send_text("/start")
    learner.wait_for_messages(count=1, timeout=20)
    learner.send_voice(*voice_note("I like to read books in the park"))
    learner.wait_for_messages(count=3, timeout=60)

    learner.send_text("/progress")
    (picture,) = learner.wait_for_messages(count=1, timeout=30)
    png = system.emulator.client.download(picture["photo"][-1]["file_id"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n"), "sent with sendPhoto, a PNG"
    assert picture["photo"][-1]["width"] > 300
    assert picture["caption"].startswith("🔥 Streak: 1 day · today 1/5 notes"), picture["caption"]

    learner.send_text("/export")
    (document,) = learner.wait_for_messages(count=1, timeout=30)
    exported = json.loads(system.emulator.client.download(document["document"]["file_id"]))
    assert exported["progress"]["total_notes"] == 1
    assert "books" in json.dumps(exported["tables"]), "the turn itself is in the export"


def test_history_then_delete_leaves_nothing_anywhere(system, learner):
    learner.send_text("/start")
    learner.wait_for_messages(count=1, timeout=20)
    learner.send_voice(*voice_note("Good morning, how are you today"))
    learner.wait_for_messages(count=3, timeout=60)
    already = len(learner.messages())
    learner.send_text("I love learning English")
    wait_until(lambda: len(learner.messages()) > already, message="a reply to the text turn")

    learner.send_text("/history")
    history = wait_for_text(learner, "History", timeout=30)
    assert "I love learning English" in history["text"]

    session_id = str((session_of(system, learner.chat_id) or {})["session_id"])
    assert system.backend_get(f"/conversation/{session_id}").status_code == 200
    database = system.database_url
    assert rows_mentioning(database, session_id), "the session is stored before /delete"

    learner.send_text("/delete")
    confirm = wait_for_text(learner, "erases", timeout=30)
    yes = next(
        button["callback_data"]
        for row in confirm["reply_markup"]["inline_keyboard"]
        for button in row
        if button["callback_data"].endswith("yes")
    )
    learner.press_button(confirm["message_id"], yes)
    wait_until(lambda: session_of(system, learner.chat_id) is None, message="Redis session erased")

    assert system.backend_get(f"/conversation/{session_id}").status_code == 404
    assert rows_mentioning(database, session_id, "I love learning English") == []
    keys = redis.Redis.from_url(system.redis_url).keys(f"*{learner.chat_id}*")
    assert keys == []


def test_delete_reaches_every_session_even_after_the_bot_forgot_them(system, learner):
    """The issue's trial: after /new, /delete left the earlier session on disk; and a bot that
    lost its memory (Redis wiped) could never find it again."""
    database = system.database_url
    learner.send_text("My first session words")
    wait_until(lambda: len(learner.messages()) >= 2, message="a reply in the first session")
    first = str((session_of(system, learner.chat_id) or {})["session_id"])
    learner.send_text("/new")
    wait_until(
        lambda: str((session_of(system, learner.chat_id) or {}).get("session_id")) != first,
        message="a new session after /new",
    )
    already = len(learner.messages())
    learner.send_text("My second session words")
    wait_until(lambda: len(learner.messages()) > already, message="a reply in the second session")
    assert rows_mentioning(database, "My first session words", "My second session words")
    redis.Redis.from_url(system.redis_url).flushdb()  # the bot forgets every learner

    learner.send_text("/delete")
    confirm = wait_for_text(learner, "erases", timeout=30)
    yes = next(
        button["callback_data"]
        for row in confirm["reply_markup"]["inline_keyboard"]
        for button in row
        if button["callback_data"].endswith("yes")
    )
    learner.press_button(confirm["message_id"], yes)
    wait_for_text(learner, "erased", timeout=30)
    assert rows_mentioning(database, "My first session words", "My second session words",
                           first, learner.chat_id) == []  # fmt: skip
    assert system.backend_get(f"/learner/{learner.chat_id}/session").status_code == 404
    assert redis.Redis.from_url(system.redis_url).keys(f"*{learner.chat_id}*") == []


def test_two_learners_at_once_each_get_their_own_feedback(system):
    client = system.emulator.client
    ana = client.user(910_001, first_name="Ana", language_code="pt-br")
    bruno = client.user(910_002, first_name="Bruno", language_code="en")
    notes = {
        ana: voice_note("I like to read books in the park"),
        bruno: voice_note("We are going to the beach on Sunday"),
    }

    def converse(user):  # type: ignore[no-untyped-def]
        user.send_voice(*notes[user])
        return user.wait_for_messages(count=3, timeout=90)[0]["text"]

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        ana_reply, bruno_reply = pool.map(converse, [ana, bruno])
    assert "Eu ouvi" in ana_reply and "books" in ana_reply.lower()
    assert "I heard" in bruno_reply and "beach" in bruno_reply.lower()


def test_a_corrupted_voice_note_gets_a_clear_message_and_the_next_one_works(system, learner):
    good, duration = voice_note("Hello my friend, nice to meet you")
    learner.send_voice(good[: len(good) // 3] + b"\x00garbage" * 50, duration=duration)
    (message,) = learner.wait_for_messages(count=1, timeout=30)
    assert "couldn't read that audio" in message["text"]

    learner.send_voice(good, duration=duration)
    reply, *_ = learner.wait_for_messages(count=3, timeout=60)
    assert "I heard" in reply["text"]


def test_one_trace_spans_bot_converter_and_backend(system, learner):
    learner.send_voice(*voice_note("I want to speak English well"))
    learner.wait_for_messages(count=3, timeout=60)

    def joined(spans):  # type: ignore[no-untyped-def]
        services_by_trace: dict[str, set[str]] = {}
        for span in spans:
            services_by_trace.setdefault(span.trace_id, set()).add(span.service)
        return any(len(s) == 3 for s in services_by_trace.values())

    spans = system.otlp.wait_for(joined, timeout=20)
    trace_ids = {
        t
        for t in {s.trace_id for s in spans}
        if {s.service for s in spans if s.trace_id == t}
        == {"phonicflow-bot", "phonicflow-audio-converter", "phonicflow-backend"}
    }
    assert trace_ids
