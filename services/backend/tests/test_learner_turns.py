"""A learner's turns over real HTTP against the real backend process and real speech engines."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from phonicflow_testing.backend import (
    BackendServer,
    new_session,
    rows_mentioning,
    send_audio,
    speech_wav_16k,
    to_wav,
)
from phonicflow_testing.speech import tone_wav, wav_info

CORRECT = "I think three trees are there"
PRAISE_WORDS = ("Excellent", "Great job", "Perfect", "Well done")
PRAISE_WORDS_PT = ("Mandou muito bem", "Muito bom", "Perfeito", "Arrasou")


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, database: str | None
) -> Iterator[BackendServer]:
    with BackendServer(tmp_path_factory.mktemp("storage"), database_url=database) as backend:
        yield backend


@pytest.fixture
def client(server: BackendServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def test_a_learner_who_says_the_drill_well_scores_high_and_is_praised(
    client: httpx.Client, correct_wav: bytes
) -> None:
    session = new_session(client, telegram_user_id=7, language="pt")
    response = send_audio(client, session, correct_wav, target_text=CORRECT)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["degraded"] == []
    words = body["pronunciation"]["words"]
    assert [w["expected"].lower() for w in words] == CORRECT.lower().split()
    assert [w["expected"] for w in words if w["error"]] == []
    assert body["pronunciation"]["overall_score"] >= 70
    assert any(p in body["coaching_feedback"] for p in PRAISE_WORDS), body["coaching_feedback"]
    assert any(p in body["coaching_feedback_portuguese"] for p in PRAISE_WORDS_PT)
    assert "three" in body["user_transcript"]
    assert body["drill_match"] == "matched"
    for stage in ("stt", "scoring", "coaching", "tts", "total"):
        assert stage in body["timings_ms"]


def test_th_errors_are_flagged_and_named_in_english_and_portuguese(
    client: httpx.Client, mispronounced_wav: bytes
) -> None:
    session = new_session(client)
    response = send_audio(client, session, mispronounced_wav, target_text=CORRECT)
    assert response.status_code == 200, response.text
    body = response.json()
    flagged = {w["expected"].lower(): w for w in body["pronunciation"]["words"] if w["error"]}
    assert {"think", "three", "there"} <= set(flagged), body["pronunciation"]
    assert "trees" not in flagged
    assert flagged["think"]["error"].startswith("th_to_")
    # said with errors, the drill is still the drill: it is scored, not turned away
    assert body["drill_match"] == "matched"
    for text in (body["coaching_feedback"], body["coaching_feedback_portuguese"]):
        assert '"think"' in text, text
    assert "TH" in body["coaching_feedback_portuguese"]
    assert body["pronunciation"]["overall_score"] < 85


def test_a_drill_note_of_another_sentence_is_recognised_and_nothing_is_judged(
    client: httpx.Client, mispronounced_wav: bytes
) -> None:
    # the learner: asked for the TH drill, said "I tink tree trees are dere"
    drill = "Thank you for the things you brought"
    session = new_session(client, telegram_user_id=14, language="pt")
    response = send_audio(client, session, mispronounced_wav, target_text=drill)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["drill_match"] == "different_sentence"
    assert body["pronunciation"] is None  # no verdicts for words nobody said, no score
    assert body["target_text"] == drill
    heard = body["user_transcript"]
    assert "three" in heard  # Whisper writes what was said ("i think three three are there")
    assert f'sound like the sentence "{drill}"' in body["coaching_feedback"]
    assert f'Não pareceu a frase "{drill}"' in body["coaching_feedback_portuguese"]
    for text in (body["coaching_feedback"], body["coaching_feedback_portuguese"]):
        assert heard.strip() in text
    assert "exercício" not in body["conversational_response_portuguese"]  # no "bom trabalho"
    # not an attempt at the drill's sound: the learner's TH record does not move
    assert body["progress"]["drill"] is None
    history = client.get(f"/conversation/{session}").json()["history"]
    assert history[-1]["score"] is None


def test_free_speech_is_transcribed_scored_and_answered(
    client: httpx.Client, short_wav: bytes
) -> None:
    session = new_session(client)
    body = send_audio(client, session, short_wav).json()
    assert body["target_text"] is None
    assert body["drill_match"] is None
    assert body["user_transcript"]
    assert body["pronunciation"] is None or body["pronunciation"]["words"]
    assert body["conversational_response"] and body["conversational_response_portuguese"]


def test_both_audios_are_served_as_wav_by_type_and_by_turn(
    client: httpx.Client, short_wav: bytes
) -> None:
    session = new_session(client)
    first = send_audio(client, session, short_wav).json()
    second = send_audio(client, session, short_wav, target_text="Hello, how are you?").json()
    assert second["audio_available"] == {"coaching": True, "conversational": True}
    for kind in ("coaching", "conversational"):
        latest = client.get(f"/audio/{session}", params={"audio_type": kind})
        assert latest.status_code == 200
        assert latest.headers["content-type"] == "audio/wav"
        rate, channels, width, seconds = wav_info(latest.content)
        assert (rate, channels, width) == (16000, 1, 2) and seconds > 0.5
        by_path = client.get(second[f"{kind}_audio_path"])
        assert by_path.content == latest.content
        older = client.get(first[f"{kind}_audio_path"])
        assert older.status_code == 200 and wav_info(older.content)[3] > 0.5
        assert (
            older.content
            == client.get(
                f"/audio/{session}", params={"audio_type": kind, "turn_id": first["turn_id"]}
            ).content
        )
    # the coaching audio speaks English then Portuguese: longer than the English alone
    coaching = client.get(f"/audio/{session}", params={"audio_type": "coaching"}).content
    reply = client.get(f"/audio/{session}", params={"audio_type": "conversational"}).content
    assert wav_info(coaching)[3] > wav_info(reply)[3]


def test_history_grows_oldest_first_with_seed_field_names(
    client: httpx.Client, short_wav: bytes
) -> None:
    session = new_session(client)
    assert client.get(f"/conversation/{session}").json() == {"session_id": session, "history": []}
    turn_ids = []
    turn_ids.append(send_audio(client, session, short_wav).json()["turn_id"])
    typed = client.post(
        "/process", headers={"session_id": session}, data={"text": "What is your name?"}
    )
    assert typed.status_code == 200, typed.text
    assert typed.json()["pronunciation"] is None
    assert "PhonicFlow" in typed.json()["conversational_response"]
    turn_ids.append(typed.json()["turn_id"])
    history = client.get(f"/conversation/{session}").json()["history"]
    assert [t["turn_id"] for t in history] == turn_ids
    assert history[1]["user"] == "What is your name?"
    for item in history:
        for field in ("user", "conversational", "coaching", "timestamp", "coaching_portuguese",
                      "conversational_portuguese", "score", "target_text"):  # fmt: skip
            assert field in item
    assert history[0]["score"] is None or 0 <= history[0]["score"] <= 100


def test_deleting_a_session_removes_its_turns_and_audio(
    client: httpx.Client, server: BackendServer, short_wav: bytes
) -> None:
    session = new_session(client)
    turn_id = send_audio(client, session, short_wav).json()["turn_id"]
    assert rows_mentioning(server.database_url, turn_id), "the turn is stored before the delete"
    response = client.delete(f"/conversation/{session}")
    assert response.json() == {"session_id": session, "deleted": True}
    assert rows_mentioning(server.database_url, session, turn_id) == []
    assert client.get(f"/conversation/{session}").status_code == 404
    assert client.get(f"/audio/{session}").status_code == 404
    assert client.delete(f"/conversation/{session}").status_code == 404
    assert send_audio(client, session, short_wav).json()["code"] == "unknown_session"


async def test_ten_concurrent_turns_of_one_session_are_all_kept(
    server: BackendServer, short_wav: bytes
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
        session = (await client.post("/bot/session")).json()["session_id"]

        async def turn(i: int) -> httpx.Response:
            if i % 2:
                return await client.post("/process", headers={"session_id": session},
                                         data={"text": f"message number {i}"})  # fmt: skip
            return await client.post("/process", headers={"session_id": session},
                                     files={"file": ("n.wav", short_wav, "audio/wav")})  # fmt: skip

        responses = await asyncio.gather(*(turn(i) for i in range(10)))
        assert [r.status_code for r in responses] == [200] * 10
        history = (await client.get(f"/conversation/{session}")).json()["history"]
    assert len(history) == 10
    assert {t["turn_id"] for t in history} == {r.json()["turn_id"] for r in responses}
    assert {t["user"] for t in history} >= {f"message number {i}" for i in range(1, 10, 2)}


def test_any_wav_format_is_resampled_and_understood(client: httpx.Client) -> None:
    session = new_session(client)
    speech = speech_wav_16k("Thank you very much")
    for rate, channels, fmt in ((44100, 2, "u8"), (8000, 1, "s16"), (48000, 2, "flt")):
        response = send_audio(client, session, to_wav(speech, rate, channels, fmt))
        assert response.status_code == 200, (rate, channels, fmt, response.text)
        assert response.json()["user_transcript"], (rate, channels, fmt)


def test_practice_mode_offers_sentences_with_bilingual_hints_and_reference_audio(
    client: httpx.Client,
) -> None:
    item = client.get("/practice/next", params={"focus": "th"}).json()
    assert item["focus"] == "th" and item["text"] and item["hint_en"] and item["hint_pt"]
    other = client.get("/practice/next", params={"focus": "th_to_t", "exclude": item["id"]}).json()
    assert other["id"] != item["id"] and other["focus"] == "th"
    audio = client.get(f"/practice/{item['id']}/audio")
    assert audio.status_code == 200 and wav_info(audio.content)[3] > 0.5
    assert client.get("/practice/next", params={"focus": "klingon"}).status_code == 422
    missing = client.get("/practice/nope-99/audio")
    assert missing.status_code == 404 and missing.json()["code"] == "unknown_practice_item"


def test_bot_status_metrics_and_openapi(client: httpx.Client) -> None:
    session = new_session(client)
    client.post("/process", headers={"session_id": session}, data={"text": "hi"}).raise_for_status()
    status = client.get("/bot/status").json()
    assert status["status"] == "ok" and status["engines"]["stt"] == "whisper"
    accepted = client.post(
        "/bot/metrics", json={"event": "audio_processed", "value": 2, "labels": {"k": "v"}}
    )
    assert accepted.status_code == 202
    metrics = client.get("/metrics").text
    assert 'phonicflow_bot_events_total{event="audio_processed"} 2.0' in metrics
    assert "phonicflow_backend_stage_seconds_bucket" in metrics
    sessions = [
        line for line in metrics.splitlines() if line.startswith("phonicflow_backend_sessions ")
    ]
    assert float(sessions[0].split()[1]) >= 1
    assert 'route="/process"' in metrics
    schema = client.get("/openapi.json").json()
    process = schema["paths"]["/process"]["post"]
    assert {"200", "401", "404", "413", "415", "422", "503"} <= set(process["responses"])
    assert "ProcessResponse" in schema["components"]["schemas"]
    assert client.get("/healthz").json()["status"] == "ok"


def test_the_embedded_default_is_one_sqlite_file_under_storage_dir(
    server: BackendServer, database: str | None
) -> None:
    if database is not None:
        assert not (server.storage_dir / "phonicflow.db").exists(), "PostgreSQL holds it all"
        return
    assert (server.storage_dir / "phonicflow.db").is_file()
    assert {p.name for p in server.storage_dir.iterdir()} <= {
        "phonicflow.db",
        "phonicflow.db-wal",
        "phonicflow.db-shm",
    }


def _stt_runs(client: httpx.Client) -> float:
    """How many times speech to text ran, from the backend's own /metrics."""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith('phonicflow_backend_stage_seconds_count{stage="stt"}'):
            return float(line.split()[-1])
    return 0.0


def test_a_note_longer_than_the_scorer_scores_is_refused_before_speech_to_text(
    client: httpx.Client, correct_wav: bytes
) -> None:
    """Default settings: MAX_AUDIO_SECONDS is the scorer's 60 s, so a 61 s note is neither
    transcribed nor scored, and the message says how long is allowed."""
    session = new_session(client, telegram_user_id=61, language="en")
    before = _stt_runs(client)
    response = send_audio(client, session, tone_wav(61.0), target_text=CORRECT)
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "audio_too_long"
    assert "the limit is 60 s" in response.json()["detail"]
    assert _stt_runs(client) == before
    # a note within the limit is a turn: speech to text runs once
    assert send_audio(client, session, correct_wav).status_code == 200
    assert _stt_runs(client) == before + 1
