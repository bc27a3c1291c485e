"""The coaching voice note speaks the learner's language: a Portuguese learner hears the tip in
the pt-BR voice with their English words in the English voice; an English one (or a session
with no learner) hears English only. The language is the learner's as it is now, so /language
in the middle of a session changes the next note. "Hear it right" says the words a turn
flagged, slowly, in English. The real app over HTTP on stub engines whose
TTS records what it is asked to say, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from phonicflow_testing.postgres import PostgresServer
from phonicflow_testing.stub_backend import StubBackend, StubEngines, tone_wav

DRILL = "I think so"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StubBackend]:
    env = {}
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        env["DATABASE_URL"] = server.create_database()
    engines = StubEngines(transcript=DRILL.lower(), errors={"think": "th_to_t"})
    with StubBackend(tmp_path / "storage", env=env, engines=engines) as stub:
        yield stub


def drill_note(client: httpx.Client, session: str) -> dict[str, Any]:
    """The answer to one drill note of the session."""
    response = client.post(
        "/process",
        headers={"session_id": session},
        files={"file": ("n.wav", tone_wav(1.0), "audio/wav")},
        data={"target_text": DRILL},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def coaching_voice(
    backend: StubBackend, client: httpx.Client, session: str
) -> list[tuple[str, str]]:
    """What the coaching voice note of one drill note says, part by part."""
    backend.engines.spoken.clear()
    body = drill_note(client, session)
    assert body["coaching_audio_path"]
    # the conversational reply is spoken too (beside the coaching), in English
    reply = (body["conversational_response"], "en")
    assert reply in backend.engines.spoken
    return [part for part in backend.engines.spoken if part != reply]


def test_a_portuguese_learner_hears_the_tip_in_portuguese_with_the_word_in_english(
    backend: StubBackend,
) -> None:
    with backend.client() as client:
        body = {"telegram_user_id": 4101, "language": "pt"}
        session = client.post("/bot/session", json=body).json()["session_id"]
        parts = coaching_voice(backend, client, session)
        languages = [language for _, language in parts]
        assert ("think", "en") in parts, parts
        assert languages == ["pt", "en", "pt"], parts
        assert parts[0][0] == "O TH de" and parts[2][0].startswith("saiu como T."), parts
        assert not any("tongue" in text for text, _ in backend.engines.spoken)

        # /language in the middle of the session: the next note is coached in English
        changed = client.patch("/learner/4101", json={"language": "en"})
        assert changed.status_code == 200 and changed.json()["language"] == "en"
        parts = coaching_voice(backend, client, session)
        assert [language for _, language in parts] == ["en"], parts
        assert parts[0][0].startswith('The TH in "think"'), parts


def test_a_session_with_no_learner_language_is_coached_in_english_only(
    backend: StubBackend,
) -> None:
    with backend.client() as client:
        session = client.post("/bot/session", json={}).json()["session_id"]
        parts = coaching_voice(backend, client, session)
        assert [language for _, language in parts] == ["en"], parts
        assert not any(language == "pt" for _, language in backend.engines.spoken)


def test_hear_it_right_says_the_flagged_words_slowly_and_only_those(
    backend: StubBackend,
) -> None:
    with backend.client() as client:
        session = client.post("/bot/session", json={"telegram_user_id": 4102}).json()
        sid = session["session_id"]
        backend.engines.errors = {"think": "th_to_t", "so": "vowel_insertion"}
        first = drill_note(client, sid)
        backend.engines.spoken.clear()
        said = client.get(f"/audio/{sid}/words", params={"turn_id": first["turn_id"]})
        assert said.status_code == 200 and said.headers["content-type"] == "audio/wav"
        assert said.content.startswith(b"RIFF")
        assert backend.engines.spoken == [("think", "en slow"), ("so", "en slow")]

        backend.engines.errors = {}  # a note said well: nothing to hear
        clean = drill_note(client, sid)
        nothing = client.get(f"/audio/{sid}/words", params={"turn_id": clean["turn_id"]})
        assert nothing.status_code == 404 and nothing.json()["code"] == "nothing_to_hear"

        other = client.post("/bot/session", json={"telegram_user_id": 4103}).json()["session_id"]
        for session_id, turn_id in (
            (other, first["turn_id"]),  # another learner's session
            (sid, "not-a-turn"),
            (sid, "0" * 8 + "-0000-0000-0000-" + "0" * 12),
        ):
            missing = client.get(f"/audio/{session_id}/words", params={"turn_id": turn_id})
            assert missing.status_code == 404, (session_id, turn_id, missing.text)
            assert missing.json()["code"] == "unknown_turn"
