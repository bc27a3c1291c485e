"""A learner talks to the real bot process: commands, every kind of input, buttons.

One emulator, converter, stub backend (the real backend on stub speech engines) and bot (with
Redis) serve the whole module; each scenario uses its own learner id. The engines hear every
voice note as conftest's ``HEARD``, "i tink tree trees are dere", with TH→T flagged, unless a
scenario sets them otherwise (they are set back before each test).
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any, TypeVar

import pytest
import redis

from phonicflow_backend.conversation import TemplateConversation
from phonicflow_backend.practice import CATALOGUE, PracticeItem
from phonicflow_emulator.client import EmulatorUser
from phonicflow_emulator.testing import EmulatorHandle
from phonicflow_testing.processes import ServiceProcess, eventually
from phonicflow_testing.speech import encode, synth_wav, tone_wav

T = TypeVar("T")
WAIT = 15.0


@pytest.fixture(scope="module")
def speech() -> bytes:
    return synth_wav("I think three trees are there")


@pytest.fixture(scope="module")
def voice_ogg(speech: bytes) -> bytes:
    return encode(speech, "ogg")


def reply_to(text: str) -> str:
    """The backend's conversational reply to a text turn (its templates: no LLM here)."""
    return TemplateConversation().reply(text).en


def drill_shown(message: dict[str, Any]) -> PracticeItem:
    """The catalogue sentence a /practice message asks for."""
    [item] = [i for i in CATALOGUE.values() if i.text in message["text"]]
    return item


def message_by_id(user: EmulatorUser, message_id: int) -> dict[str, Any]:
    return next(m for m in user.messages() if m["message_id"] == message_id)


def buttons(message: dict[str, Any]) -> dict[str, str]:
    """callback_data → label of a message's inline keyboard."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return {b["callback_data"]: b["text"] for row in rows for b in row}


def learner(
    emulator: EmulatorHandle, user_id: int, lang: str = "en", name: str = "Ana"
) -> EmulatorUser:
    user = emulator.client.user(user_id, first_name=name, language_code=lang)
    user.send_text("/start")
    user.wait_for_messages(1, timeout=WAIT)
    return user


def is_ogg_opus(data: bytes) -> bool:
    return data.startswith(b"OggS") and b"OpusHead" in data[:200]


def test_start_greets_a_portuguese_speaker_in_portuguese_and_escapes_their_name(
    bot: ServiceProcess, emulator: EmulatorHandle
) -> None:
    user = emulator.client.user(1001, first_name="Zé <b>&", language_code="pt-br")
    user.send_text("/start")
    [greeting] = user.wait_for_messages(1, timeout=WAIT)
    assert "Oi, Zé <b>&!" in greeting["text"]  # rendered text: the tag was escaped, not parsed
    assert "treinador de pronúncia" in greeting["text"]

    english = emulator.client.user(1002, first_name="Bob", language_code="en-US")
    english.send_text("/start")
    [hello] = english.wait_for_messages(1, timeout=WAIT)
    assert "pronunciation coach" in hello["text"]


def test_command_menu_is_registered_in_both_languages(
    bot: ServiceProcess, emulator: EmulatorHandle
) -> None:
    calls = emulator.client.calls("setMyCommands")
    languages = {call["params"].get("language_code") for call in calls}
    assert {None, "pt"} <= languages
    names = {c["command"] for c in _commands(calls[0]["params"]["commands"])}
    assert {"start", "help", "status", "history", "new", "feedback", "delete", "language",
            "practice"} <= names  # fmt: skip


def _commands(raw: Any) -> list[dict[str, Any]]:
    return list(json.loads(raw) if isinstance(raw, str) else raw)


def test_voice_note_round_trip_gives_feedback_text_and_two_real_voice_notes(
    bot: ServiceProcess, emulator: EmulatorHandle, stub_backend: Any, voice_ogg: bytes
) -> None:
    user = learner(emulator, 1010)
    user.send_voice(voice_ogg, duration=2)
    text_reply, coaching, reply = user.wait_for_messages(3, timeout=WAIT)

    body = text_reply["text"]
    assert "I heard: i tink tree trees are dere" in body
    # the stub scorer flags "tink" (the transcript's word: free speech) and hears it as "x"
    assert "⚠️ “tink” → heard “x” (TH sounded like T)" in body
    assert "✅ trees" in body and "❌ “are” — not heard (word missing)" in body
    assert "Score: 70/100" in body  # (4 × 90 + 2 × 30) / 6
    assert 'The TH in "tink" came out like a T.' in body  # the backend's coaching, verbatim
    assert 'O TH de "tink" saiu como T.' in body
    assert set(buttons(text_reply)) == {
        f"r:{_turn_id(text_reply)}",
        f"t:{_turn_id(text_reply)}",
        f"w:{_turn_id(text_reply)}",  # hear it right: words were flagged
        f"v:{_turn_id(text_reply)}",  # wrong verdict? words were judged
        "h:0",
    }
    for voice in (coaching, reply):
        assert "voice" in voice
        assert voice["voice"]["duration"] >= 1
        assert is_ogg_opus(emulator.client.download(voice["voice"]["file_id"]))
    assert "record_voice" in user.chat_actions()

    [process] = [r for r in stub_backend.requests("/process") if r["form"] == {}][-1:]
    assert process["wav"] == {"rate": 16000, "channels": 1, "width": 2,
                              "frames": process["wav"]["frames"]}  # fmt: skip
    assert process["x_bot_key"] == "bot-private-key-for-tests-0001"
    assert process["traceparent"], "trace context propagates to the backend"


def test_what_the_backend_heard_is_shown_verbatim_not_parsed_as_html(
    bot: ServiceProcess, emulator: EmulatorHandle, stub_backend: Any, voice_ogg: bytes
) -> None:
    stub_backend.engines(transcript="i <b>tink</b> & so")
    user = learner(emulator, 1015)
    user.send_voice(voice_ogg, duration=2)
    text_reply, *_ = user.wait_for_messages(3, timeout=WAIT)
    assert "I heard: i <b>tink</b> & so" in text_reply["text"]  # escaped: rendered as typed


def _turn_id(message: dict[str, Any]) -> str:
    return next(k for k in buttons(message) if k.startswith("r:"))[2:]


@pytest.mark.parametrize(
    ("kind", "fmt"),
    [("audio_mp3", "mp3"), ("audio_m4a", "m4a"), ("video_note", "mp4"), ("document", "ogg")],
)
def test_every_kind_of_audio_is_heard(
    bot: ServiceProcess, emulator: EmulatorHandle, speech: bytes, kind: str, fmt: str
) -> None:
    user = learner(emulator, 1100 + len(kind) * 10 + len(fmt))
    data = encode(speech, "m4a") if fmt == "m4a" else encode(speech, fmt)
    if kind.startswith("audio"):
        mime = "audio/mpeg" if fmt == "mp3" else "audio/mp4"
        user.send_audio(data, duration=2, mime_type=mime, file_name=f"speech.{fmt}")
    elif kind == "video_note":
        user.send_video_note(data, duration=2)
    else:
        user.send_document(data, file_name="speech.ogg", mime_type="audio/ogg")
    text_reply, *voices = user.wait_for_messages(3, timeout=WAIT)
    assert "I heard: i tink tree trees are dere" in text_reply["text"]
    assert all("voice" in v for v in voices)


def test_a_video_note_whose_audio_track_is_shorter_than_its_video_is_heard(
    bot: ServiceProcess, emulator: EmulatorHandle, speech: bytes, tmp_path: Any
) -> None:
    """The phone's microphone stopped before the camera: Telegram says 5 s (the video), the
    audio track holds about 2 s. That is a whole note, not a damaged one."""
    target = tmp_path / "note.mp4"
    (tmp_path / "speech.wav").write_bytes(speech)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(tmp_path / "speech.wav"),
         "-f", "lavfi", "-i", "color=c=blue:s=240x240:r=10:d=5", "-map", "1:v", "-map", "0:a",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
         "-t", "5", str(target)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    user = learner(emulator, 1130)
    user.send_video_note(target.read_bytes(), duration=5)
    text_reply, *_ = user.wait_for_messages(3, timeout=WAIT)
    assert "I heard: i tink tree trees are dere" in text_reply["text"]


def test_a_pdf_is_refused_with_a_clear_message(
    bot: ServiceProcess, emulator: EmulatorHandle
) -> None:
    user = learner(emulator, 1200)
    user.send_document(b"%PDF-1.4 not audio", file_name="homework.pdf", mime_type="application/pdf")
    [reply] = user.wait_for_messages(1, timeout=WAIT)
    assert "I can only listen to voice notes" in reply["text"]


def test_too_big_and_too_long_are_refused_before_any_download(
    rig: Any, bot: ServiceProcess, emulator: EmulatorHandle
) -> None:
    user = learner(emulator, 1210, lang="pt")
    downloads_before = len(emulator.client.calls("getFile"))
    big = b"\x00" * (21 * 1024 * 1024)  # over MAX_AUDIO_SIZE_MB=20
    user.send_audio(big, duration=10, mime_type="audio/mpeg", file_name="huge.mp3")
    [too_big] = user.wait_for_messages(1, timeout=WAIT)
    assert "grande demais (21.0 MB). O limite é 20 MB" in too_big["text"]

    user.send_voice(b"OggS" + b"\x00" * 1000, duration=300)
    [too_long] = user.wait_for_messages(1, timeout=WAIT)
    assert "longa demais (300 s): eu avalio até 60 s" in too_long["text"]
    # 61 s: over what the backend scores (60 s, the default of both), refused at once too.
    user.send_voice(b"OggS" + b"\x00" * 1000, duration=61)
    [just_over] = user.wait_for_messages(1, timeout=WAIT)
    assert "longa demais (61 s): eu avalio até 60 s" in just_over["text"]
    assert len(emulator.client.calls("getFile")) == downloads_before


def test_audio_longer_than_the_backend_scores_is_refused_after_conversion(
    bot: ServiceProcess, emulator: EmulatorHandle, stub_backend: Any
) -> None:
    """A document has no duration from Telegram (and a client may report a wrong one): the
    decoded length decides, and the backend never gets the note."""
    user = learner(emulator, 1215)
    processed_before = len(stub_backend.requests("/process"))
    long_note = encode(tone_wav(65.0), "ogg")
    user.send_document(long_note, file_name="lecture.ogg", mime_type="audio/ogg")
    [refused] = user.wait_for_messages(1, timeout=WAIT)
    assert "too long (65 s): I can score up to 60 s" in refused["text"]
    user.send_voice(long_note, duration=50)  # a wrong duration from the client
    [again] = user.wait_for_messages(1, timeout=WAIT)
    assert "too long (65 s)" in again["text"]
    assert len(stub_backend.requests("/process")) == processed_before


def test_a_corrupted_voice_note_is_reported_as_unreadable(
    bot: ServiceProcess, emulator: EmulatorHandle, voice_ogg: bytes
) -> None:
    user = learner(emulator, 1220)
    user.send_voice(b"OggS" + bytes(range(256)) * 20, duration=3)
    [reply] = user.wait_for_messages(1, timeout=WAIT)
    assert "couldn't read that audio" in reply["text"]
    # A truncated upload: Telegram says 20 s, the bytes hold about 2 s.
    user.send_voice(voice_ogg, duration=20)
    [truncated] = user.wait_for_messages(1, timeout=WAIT)
    assert "couldn't read that audio" in truncated["text"]


def test_text_gets_a_conversational_reply(
    bot: ServiceProcess, emulator: EmulatorHandle, stub_backend: Any
) -> None:
    user = learner(emulator, 1300)
    user.send_text("I like <trees> & 🌳 ça")
    reply, *_ = user.wait_for_messages(1, timeout=WAIT)
    assert reply_to("I like <trees> & 🌳 ça") in reply["text"]
    sent = [r for r in stub_backend.requests("/process") if r["form"].get("text")]
    assert sent[-1]["form"]["text"] == "I like <trees> & 🌳 ça"


def test_help_status_new_and_feedback(
    bot: ServiceProcess, emulator: EmulatorHandle, voice_ogg: bytes
) -> None:
    user = learner(emulator, 1400)
    user.send_text("/feedback")
    assert "No feedback yet" in user.wait_for_messages(1, timeout=WAIT)[0]["text"]
    user.send_text("/help")
    assert "/practice" in user.wait_for_messages(1, timeout=WAIT)[0]["text"]
    user.send_voice(voice_ogg, duration=2)
    first, *voices = user.wait_for_messages(3, timeout=WAIT)
    user.send_text("/status")
    status = user.wait_for_messages(1, timeout=WAIT)[0]["text"]
    assert "Turns: 1" in status and "free conversation" in status

    user.send_text("/feedback")
    again, *replayed = user.wait_for_messages(3, timeout=WAIT)
    assert again["text"] == first["text"]
    assert [v["voice"]["file_id"] for v in replayed] == [v["voice"]["file_id"] for v in voices]

    user.send_text("/new")
    assert "New conversation" in user.wait_for_messages(1, timeout=WAIT)[0]["text"]
    user.send_text("/status")
    assert "Turns: 0" in user.wait_for_messages(1, timeout=WAIT)[0]["text"]


def test_an_unknown_command_is_answered_with_a_pointer_to_help(
    bot: ServiceProcess, emulator: EmulatorHandle, stub_backend: Any
) -> None:
    user = learner(emulator, 1410)
    turns_before = len(stub_backend.requests("/process"))
    user.send_text("/foo")
    [foo] = user.wait_for_messages(1, timeout=WAIT)
    assert "I don't know the command /foo" in foo["text"] and "/help" in foo["text"]
    user.send_text("/practise th")
    [typo] = user.wait_for_messages(1, timeout=WAIT)
    assert "command /practise" in typo["text"] and "/help" in typo["text"]
    assert len(stub_backend.requests("/process")) == turns_before, "not a conversational turn"

    portuguese = learner(emulator, 1411, lang="pt")
    portuguese.send_text("/ajuda")
    [ajuda] = portuguese.wait_for_messages(1, timeout=WAIT)
    assert "Não conheço o comando /ajuda" in ajuda["text"] and "/help" in ajuda["text"]


def test_replay_and_try_again_buttons(
    bot: ServiceProcess, emulator: EmulatorHandle, voice_ogg: bytes
) -> None:
    user = learner(emulator, 1500)
    user.send_voice(voice_ogg, duration=2)
    reply, *voices = user.wait_for_messages(3, timeout=WAIT)
    turn = _turn_id(reply)
    user.press_button(reply["message_id"], f"r:{turn}")
    replayed = user.wait_for_messages(2, timeout=WAIT)
    assert [v["voice"]["file_id"] for v in replayed] == [v["voice"]["file_id"] for v in voices]
    user.press_button(reply["message_id"], f"t:{turn}")
    assert "send me another voice note" in user.wait_for_messages(1, timeout=WAIT)[0]["text"]
    assert user.callback_answers(), "every press is answered"


def test_hear_it_right_sends_the_flagged_words_said_slowly_and_only_when_some_were(
    bot: ServiceProcess, emulator: EmulatorHandle, stub_backend: Any, voice_ogg: bytes
) -> None:
    user = learner(emulator, 1505)
    user.send_voice(voice_ogg, duration=2)
    reply, *_ = user.wait_for_messages(3, timeout=WAIT)
    turn = _turn_id(reply)
    assert f"w:{turn}" in buttons(reply)
    user.press_button(reply["message_id"], f"w:{turn}")
    [words] = user.wait_for_messages(1, timeout=WAIT)
    assert is_ogg_opus(emulator.client.download(words["voice"]["file_id"]))
    [asked] = [r for r in stub_backend.requests("/audio/") if r["path"].endswith("/words")][-1:]
    assert asked["query"] == {"turn_id": turn}

    stub_backend.engines(errors={})  # a note said well: no button, nothing to hear
    user.send_voice(voice_ogg, duration=2)
    clean, *_ = user.wait_for_messages(3, timeout=WAIT)
    assert not any(data.startswith("w:") for data in buttons(clean)), buttons(clean)


def test_a_learner_who_agreed_corrects_a_verdict_and_the_backend_keeps_the_label(
    bot: ServiceProcess, emulator: EmulatorHandle, stub_backend: Any, voice_ogg: bytes
) -> None:
    user = learner(emulator, 1506)
    user.send_voice(voice_ogg, duration=2)
    before, *_ = user.wait_for_messages(3, timeout=WAIT)
    user.press_button(before["message_id"], f"v:{_turn_id(before)}")
    [ask] = user.wait_for_messages(1, timeout=WAIT)
    assert "May I keep the notes you correct" in ask["text"]
    user.press_button(ask["message_id"], "c:yes")
    eventually(
        lambda: "From your next voice note on" in message_by_id(user, ask["message_id"])["text"]
    )
    [agreed] = [r for r in stub_backend.requests("/learner/1506") if r["method"] == "PATCH"][-1:]
    assert agreed["json"] == {"label_consent": True} and agreed["status"] == 200

    user.send_voice(voice_ogg, duration=2)  # kept: the learner agreed before sending it
    feedback, *_ = user.wait_for_messages(3, timeout=WAIT)
    turn = _turn_id(feedback)
    user.press_button(feedback["message_id"], f"v:{turn}")
    [which] = user.wait_for_messages(1, timeout=WAIT)
    assert "Which word did I judge wrong?" in which["text"]
    words = buttons(which)
    assert words[f"x:{turn}:1"] == "⚠️ tink" and words[f"x:{turn}:3"] == "✅ trees", words
    user.press_button(which["message_id"], f"x:{turn}:1")
    eventually(lambda: "you said “tink” right" in message_by_id(user, which["message_id"])["text"])
    [label] = stub_backend.requests("/learner/1506/labels")
    assert label["json"] == {"turn_id": turn, "word_index": 1, "correction": "said_right"}
    assert label["status"] == 201


def test_eight_quick_presses_on_replay_send_the_voice_notes_once(
    bot: ServiceProcess, emulator: EmulatorHandle, voice_ogg: bytes
) -> None:
    user = learner(emulator, 1510)
    user.send_voice(voice_ogg, duration=2)
    reply, *voices = user.wait_for_messages(3, timeout=WAIT)
    before = len(user.messages())
    for _ in range(8):
        user.press_button(reply["message_id"], f"r:{_turn_id(reply)}")
    # Every press is answered (the client's spinner stops); presses are handled in order, so
    # once the eighth is answered the first one's replay is out too.
    eventually(lambda: len(user.callback_answers()) == 8, timeout=WAIT)
    replayed = user.messages()[before:]
    assert [m["voice"]["file_id"] for m in replayed] == [v["voice"]["file_id"] for v in voices]
    time.sleep(3.5)  # past the debounce window: a new press replays again
    user.press_button(reply["message_id"], f"r:{_turn_id(reply)}")
    assert len(user.wait_for_messages(2, timeout=WAIT)) == 2


def test_history_pages_most_recent_first(bot: ServiceProcess, emulator: EmulatorHandle) -> None:
    user = learner(emulator, 1600)
    for n in range(7):
        user.send_text(f"sentence number {n}")
        user.wait_for_messages(3, timeout=WAIT)  # reply text + two voice notes
    user.send_text("/history")
    [page1] = user.wait_for_messages(1, timeout=WAIT)
    assert "page 1 of 2" in page1["text"]
    assert page1["text"].index("sentence number 6") < page1["text"].index("sentence number 2")
    assert "sentence number 1" not in page1["text"]
    assert set(buttons(page1)) == {"h:1"}

    user.press_button(page1["message_id"], "h:1")

    def edited() -> dict[str, Any] | None:
        message = message_by_id(user, page1["message_id"])
        return message if "page 2 of 2" in message["text"] else None

    page2 = eventually(edited)
    assert "sentence number 0" in page2["text"] and "sentence number 6" not in page2["text"]
    assert set(buttons(page2)) == {"h:0"}


def test_language_switch_changes_every_later_message_and_the_backends_record(
    bot: ServiceProcess, emulator: EmulatorHandle, stub_backend: Any
) -> None:
    user = learner(emulator, 1700, lang="en")
    user.send_text("/language")
    [choose] = user.wait_for_messages(1, timeout=WAIT)
    assert set(buttons(choose)) == {"l:en", "l:pt"}
    assert stub_backend.get("/learner/1700/settings").json()["language"] == "en"
    user.press_button(choose["message_id"], "l:pt")
    eventually(lambda: "português" in message_by_id(user, choose["message_id"])["text"])
    # the backend coaches by voice and sends reminders in this language
    assert stub_backend.get("/learner/1700/settings").json()["language"] == "pt"
    user.send_text("/help")
    assert "O que eu sei fazer" in user.wait_for_messages(1, timeout=WAIT)[-1]["text"]


def test_practice_mode_sends_a_sentence_with_audio_and_scores_against_it(
    bot: ServiceProcess, emulator: EmulatorHandle, stub_backend: Any, voice_ogg: bytes
) -> None:
    user = learner(emulator, 1800)
    user.send_text("/practice")
    target, reference = user.wait_for_messages(2, timeout=WAIT)
    drill = drill_shown(target)  # the backend picks it (adaptive, random among equals)
    assert drill.hint_en in target["text"]
    assert set(buttons(target)) == {"p:next"}
    assert is_ogg_opus(emulator.client.download(reference["voice"]["file_id"]))

    stub_backend.engines(transcript=drill.text.lower())  # the learner says the sentence
    user.send_voice(voice_ogg, duration=2)
    scored, *_ = user.wait_for_messages(3, timeout=WAIT)
    assert f"Target: {drill.text}" in scored["text"]
    assert "Score:" in scored["text"]
    attempts = [r for r in stub_backend.requests("/process") if r["form"].get("target_text")]
    assert attempts[-1]["form"]["target_text"] == drill.text

    user.press_button(scored["message_id"], f"t:{_turn_id(scored)}")
    assert "Try again! Say:" in user.wait_for_messages(1, timeout=WAIT)[0]["text"]
    user.send_voice(voice_ogg, duration=2)
    user.wait_for_messages(3, timeout=WAIT)
    attempts = [r for r in stub_backend.requests("/process") if r["form"].get("target_text")]
    assert len(attempts) >= 2

    user.press_button(target["message_id"], "p:next")
    following, _ = user.wait_for_messages(2, timeout=WAIT)
    assert drill_shown(following).id != drill.id, "the next sentence is another one"


def test_a_practice_note_that_is_not_the_sentence_gets_no_verdicts_and_the_sentence_again(
    bot: ServiceProcess, emulator: EmulatorHandle, stub_backend: Any, voice_ogg: bytes
) -> None:
    user = learner(emulator, 1805, lang="pt")
    user.send_text("/practice vowel_insertion")
    target, _ = user.wait_for_messages(2, timeout=WAIT)
    user.press_button(target["message_id"], "p:next")
    following, _ = user.wait_for_messages(2, timeout=WAIT)
    drill = drill_shown(following)
    assert drill.focus == "vowel_insertion" and drill.id != drill_shown(target).id

    # the stub backend hears "i tink tree trees are dere": none of these drills' sentences
    user.send_voice(voice_ogg, duration=2)
    answer, *_ = user.wait_for_messages(3, timeout=WAIT)
    text = answer["text"]
    assert "Não pareceu a frase do exercício" in text, text
    assert "Eu ouvi: i tink tree trees are dere" in text
    assert f"Frase: {drill.text}" in text
    assert "Nota:" not in text and "Palavra por palavra" not in text
    assert "⚠️" not in text and "❌" not in text and "✅" not in text
    sent = [r for r in stub_backend.requests("/process") if r["form"].get("target_text")]
    assert sent[-1]["form"]["target_text"] == drill.text
    missed = _missed_turn(answer)
    assert set(buttons(answer)) == {f"f:{missed}", "p:next"}

    # the drill stays armed: the next note is scored against the same sentence
    user.send_voice(voice_ogg, duration=2)
    again, *_ = user.wait_for_messages(3, timeout=WAIT)
    assert "Não pareceu a frase do exercício" in again["text"]
    sent = [r for r in stub_backend.requests("/process") if r["form"].get("target_text")]
    assert sent[-1]["form"]["target_text"] == drill.text

    # "feedback on what I said": the same note as free speech, its own turn, verdicts this time
    processed = len(stub_backend.requests("/process"))
    user.press_button(again["message_id"], f"f:{_missed_turn(again)}")
    free, *_ = user.wait_for_messages(3, timeout=WAIT)
    assert "Palavra por palavra" in free["text"] and "Nota:" in free["text"], free["text"]
    assert "Frase:" not in free["text"]
    [rescored] = stub_backend.requests("/process")[processed:]
    assert "target_text" not in rescored["form"]
    assert rescored["idempotency_key"].endswith("-free")
    # ... after which the learner is in free speech again, and the older note's button is stale
    user.press_button(answer["message_id"], f"f:{missed}")
    [gone] = user.wait_for_messages(1, timeout=WAIT)
    assert "Não dá mais para avaliar esse áudio" in gone["text"]
    user.send_voice(voice_ogg, duration=2)
    user.wait_for_messages(3, timeout=WAIT)
    assert "target_text" not in stub_backend.requests("/process")[-1]["form"]


def _missed_turn(message: dict[str, Any]) -> str:
    return next(k for k in buttons(message) if k.startswith("f:"))[2:]


def test_practice_with_a_sound_asks_for_it_and_an_unknown_sound_gets_the_choices(
    bot: ServiceProcess, emulator: EmulatorHandle, stub_backend: Any
) -> None:
    user = learner(emulator, 1810)
    user.send_text("/practice th")
    target, _reference = user.wait_for_messages(2, timeout=WAIT)
    assert "Say this sentence" in target["text"]
    user.press_button(target["message_id"], "p:next")
    user.wait_for_messages(2, timeout=WAIT)
    asked = [r["query"].get("focus") for r in stub_backend.requests("/practice/next")]
    assert asked[-2:] == ["th", "th"], "the sound is kept for the next sentence"

    user.send_text("/practice <b>dragons</b>")
    (told,) = user.wait_for_messages(1, timeout=WAIT)
    assert "no sentences for “<b>dragons</b>”" in told["text"]
    assert "/practice th" in told["text"]


@pytest.mark.parametrize(
    ("said", "lang", "heading"),
    [("can you help me with the th sound?", "en", "Say this sentence"),
     ("quero treinar o th", "pt", "Diga esta frase")],
)  # fmt: skip
def test_a_text_asking_for_help_with_a_sound_gets_its_drill(
    bot: ServiceProcess, emulator: EmulatorHandle, stub_backend: Any, said: str, lang: str,
    heading: str,
) -> None:  # fmt: skip
    user = learner(emulator, 1820 if lang == "en" else 1821, lang=lang)
    user.send_text(said)
    target, reference = user.wait_for_messages(2, timeout=WAIT)
    assert heading in target["text"] and drill_shown(target).focus == "th"
    assert "voice" in reference
    assert stub_backend.requests("/practice/next")[-1]["query"].get("focus") == "th"
    texts = [r["form"].get("text") for r in stub_backend.requests("/process")]
    assert said not in texts, "a drill request is not a conversational turn"


def test_delete_erases_the_learner_here_and_in_the_backend_after_confirming(
    bot: ServiceProcess, emulator: EmulatorHandle, stub_backend: Any, rig: Any
) -> None:
    user = learner(emulator, 1900)
    user.send_text("hello")
    user.wait_for_messages(3, timeout=WAIT)
    store = redis.Redis.from_url(rig.redis, decode_responses=True)
    assert store.exists("phonicflow:session:1900")
    session_id = json.loads(store.get("phonicflow:session:1900"))["session_id"]

    user.send_text("/delete")
    [confirm] = user.wait_for_messages(1, timeout=WAIT)
    assert set(buttons(confirm)) == {"d:yes", "d:no"}
    user.press_button(confirm["message_id"], "d:no")
    eventually(lambda: "Nothing was deleted" in message_by_id(user, confirm["message_id"])["text"])
    assert store.exists("phonicflow:session:1900")

    user.send_text("/delete")
    [confirm] = user.wait_for_messages(1, timeout=WAIT)
    user.press_button(confirm["message_id"], "d:yes")
    eventually(
        lambda: (
            "everything about you has been erased"
            in message_by_id(user, confirm["message_id"])["text"]
        )
    )
    deletes = [r for r in stub_backend.requests("/learner/") if r["method"] == "DELETE"]
    assert deletes[-1]["path"] == "/learner/1900", "every session of the learner, by user id"
    assert stub_backend.get("/learner/1900/session").status_code == 404
    assert stub_backend.get(f"/conversation/{session_id}").status_code == 404
    assert not store.exists("phonicflow:session:1900")
    assert store.zscore("phonicflow:active", "1900") is None


def test_a_bot_that_lost_its_memory_continues_the_learners_backend_session(
    bot: ServiceProcess, emulator: EmulatorHandle, stub_backend: Any, redis_server: str
) -> None:
    """Redis wiped (or the in-memory store restarted): the learner's history must not split."""
    user = learner(emulator, 2050)

    def answered(text: str) -> bool:
        return any(reply_to(text) in m.get("text", "") for m in user.messages())

    user.send_text("before the wipe")
    eventually(lambda: answered("before the wipe"), timeout=WAIT)
    store = redis.Redis.from_url(redis_server, decode_responses=True)
    before = json.loads(store.get("phonicflow:session:2050"))["session_id"]
    store.delete("phonicflow:session:2050")
    user.send_text("after the wipe")
    eventually(lambda: answered("after the wipe"), timeout=WAIT)
    after = json.loads(store.get("phonicflow:session:2050"))["session_id"]
    assert after == before
    turns = [r["session_id"] for r in stub_backend.requests("/process") if r["form"].get("text")]
    assert turns[-2:] == [before, before]


def test_a_wiped_backend_session_is_recreated_transparently(
    bot: ServiceProcess, emulator: EmulatorHandle, stub_backend: Any, voice_ogg: bytes
) -> None:
    user = learner(emulator, 2000)
    stub_backend.wipe()
    user.send_voice(voice_ogg, duration=2)
    reply, *_ = user.wait_for_messages(3, timeout=WAIT)
    assert "I heard" in reply["text"]


def test_one_learners_messages_are_answered_in_order(
    bot: ServiceProcess, emulator: EmulatorHandle
) -> None:
    user = learner(emulator, 2100)
    # texts the backend answers differently, so each reply tells which text it answers
    sent = ["hello", "thanks a lot", "bye for now", "how are you?"]
    answer = {reply_to(text): text for text in sent}
    assert len(answer) == len(sent)
    for text in sent:
        user.send_text(text)
    replies = [m["text"] for m in user.wait_for_messages(12, timeout=WAIT) if "text" in m]
    assert [next(t for a, t in answer.items() if a in r) for r in replies] == sent


def test_a_slow_answer_for_one_learner_does_not_hold_up_another(
    bot: ServiceProcess, emulator: EmulatorHandle, stub_backend: Any
) -> None:
    slow, quick = learner(emulator, 2200), learner(emulator, 2201)
    stub_backend.fault("/process", delay=3.0, times=1)
    slow.send_text("I am first")
    time.sleep(0.3)
    quick.send_text("I am second")
    quick.wait_for_messages(1, timeout=2.5)  # answered while the first learner still waits
    assert not slow.messages()[1:], "the slow learner has only the /start greeting so far"
    assert reply_to("I am first") in slow.wait_for_messages(1, timeout=WAIT)[0]["text"]
