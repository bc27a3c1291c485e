"""A voice note the bot sends twice (a retry after its timeout, a redelivered update) is one
turn: ``Idempotency-Key`` on ``POST /process``, against the real backend process.

The module's backend coaches through a stand-in Ollama whose answers can be slowed down, so
that two requests really overlap inside the backend; pipeline runs are counted on the
backend's own ``/metrics`` (``phonicflow_backend_turns_total``) and in its history.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from phonicflow_testing.backend import BackendServer, new_session, rows_mentioning
from phonicflow_testing.processes import eventually
from phonicflow_testing.stub_http import StubHandler, serving

#: How long the stand-in LLM takes per answer in the overlap scenario; a text turn asks it
#: once, so a turn lasts at least this long and three requests sent together overlap.
SLOW_LLM_S = 1.5
#: Retention of the module's backend, small so the retention scenario stays short.
MAX_TURNS = 3


class SlowOllama(StubHandler):
    """Ollama's ``POST /api/generate`` (``stream: false``), answering after ``delay`` seconds."""

    delay: ClassVar[float] = 0.0
    calls: ClassVar[int] = 0

    def do_POST(self) -> None:
        body = json.loads(self.body())
        SlowOllama.calls += 1
        time.sleep(SlowOllama.delay)
        payload = json.dumps({"model": body["model"], "response": "Nice to hear from you!",
                              "done": True, "done_reason": "stop"}).encode()  # fmt: skip
        self.reply(200, payload)


@pytest.fixture(scope="module")
def ollama() -> Iterator[str]:
    with serving(SlowOllama) as url:
        yield url


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, ollama: str, database: str | None
) -> Iterator[BackendServer]:
    env = {"OLLAMA_URL": ollama, "SESSION_MAX_TURNS": str(MAX_TURNS)}
    with BackendServer(
        tmp_path_factory.mktemp("storage"), env=env, database_url=database
    ) as backend:
        yield backend


@pytest.fixture
def client(server: BackendServer) -> Iterator[httpx.Client]:
    SlowOllama.delay = 0.0
    with server.client() as c:
        yield c


def say(
    client: httpx.Client, session: str, text: str, key: str | None, **form: str
) -> httpx.Response:
    headers = {"session_id": session} | ({"Idempotency-Key": key} if key is not None else {})
    return client.post("/process", headers=headers, data={"text": text, **form})


def history(client: httpx.Client, session: str) -> list[dict[str, Any]]:
    response = client.get(f"/conversation/{session}")
    assert response.status_code == 200, response.text
    turns: list[dict[str, Any]] = response.json()["history"]
    return turns


def turns_processed(client: httpx.Client, kind: str) -> float:
    """The backend's count of pipeline runs of that kind (audio or text)."""
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "phonicflow_backend_turns_total" and sample.labels["kind"] == kind:
                return float(sample.value)
    return 0.0


def test_a_voice_note_sent_twice_with_one_key_is_one_turn_with_the_same_answer(
    client: httpx.Client, short_wav: bytes
) -> None:
    session = new_session(client)
    before = turns_processed(client, "audio")
    headers = {"session_id": session, "Idempotency-Key": "tg-42-1001"}
    files = {"file": ("note.wav", short_wav, "audio/wav")}
    first = client.post("/process", headers=headers, files=files)
    again = client.post("/process", headers=headers, files=files)
    assert first.status_code == again.status_code == 200, again.text
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert [t["turn_id"] for t in history(client, session)] == [first.json()["turn_id"]]
    assert turns_processed(client, "audio") == before + 1
    audio = client.get(first.json()["coaching_audio_path"])
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF"


def test_repeats_that_arrive_while_the_first_is_processed_wait_for_it(
    client: httpx.Client, server: BackendServer
) -> None:
    session = new_session(client)
    before = turns_processed(client, "text")
    SlowOllama.delay = SLOW_LLM_S

    async def three_at_once() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            headers = {"session_id": session, "Idempotency-Key": "tg-42-2002"}
            send = [
                http.post("/process", headers=headers, data={"text": "Good morning"})
                for _ in range(3)
            ]
            return await asyncio.gather(*send)

    responses = asyncio.run(three_at_once())
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert len({r.json()["turn_id"] for r in responses}) == 1
    assert sorted(r.headers.get("idempotent-replayed", "") for r in responses) == [
        "", "true", "true",
    ]  # fmt: skip
    assert turns_processed(client, "text") == before + 1, "the pipeline ran once"
    assert len(history(client, session)) == 1


def test_different_keys_are_different_turns(client: httpx.Client) -> None:
    session = new_session(client)
    longest = "k" * 255
    first = say(client, session, "Hello", "tg-42-3003")
    second = say(client, session, "Hello", f'"{longest}"')  # the draft's quoted form
    assert first.status_code == second.status_code == 200, second.text
    assert first.json()["turn_id"] != second.json()["turn_id"]
    assert len(history(client, session)) == 2
    replay = say(client, session, "Hello", longest)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["turn_id"] == second.json()["turn_id"]


def test_the_same_key_with_a_different_body_is_refused_and_stores_nothing(
    client: httpx.Client,
) -> None:
    session = new_session(client)
    first = say(client, session, "I think so", "tg-42-4004")
    assert first.status_code == 200
    changed = say(client, session, "I think so", "tg-42-4004", target_text="I think so")
    assert changed.status_code == 422
    assert changed.json()["code"] == "idempotency_key_reused"
    other_text = say(client, session, "Something else", "tg-42-4004")
    assert other_text.status_code == 422
    assert [t["turn_id"] for t in history(client, session)] == [first.json()["turn_id"]]
    # the same key in another session is another request altogether
    elsewhere = new_session(client)
    assert say(client, elsewhere, "Something else", "tg-42-4004").status_code == 200


def test_a_first_attempt_that_failed_does_not_pin_the_key(
    client: httpx.Client, short_wav: bytes
) -> None:
    session = new_session(client)
    headers = {"session_id": session, "Idempotency-Key": "tg-42-5005"}
    broken = client.post(
        "/process", headers=headers, files={"file": ("note.wav", b"not a wav at all", "audio/wav")}
    )
    assert broken.status_code == 415 and broken.json()["code"] == "not_audio"
    assert history(client, session) == []
    fixed = client.post(
        "/process", headers=headers, files={"file": ("note.wav", short_wav, "audio/wav")}
    )
    assert fixed.status_code == 200 and "idempotent-replayed" not in fixed.headers
    assert len(history(client, session)) == 1


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (b"", "empty"),
        (b'""', "empty once unquoted"),
        (b"k" * 256, "too long"),
        ("tg-42-\u00e9".encode(), "not ASCII"),
        (b"tg\t42", "a tab, a control character HTTP lets through"),
    ],
)
def test_a_malformed_key_is_a_400_and_no_turn(client: httpx.Client, value: bytes, why: str) -> None:
    session = new_session(client)
    response = client.post(
        "/process",
        headers=[(b"session_id", session.encode()), (b"Idempotency-Key", value)],
        data={"text": "Hello"},
    )
    assert response.status_code == 400, why
    assert response.json()["code"] == "invalid_idempotency_key"
    assert history(client, session) == []


def test_deleting_the_session_erases_its_keys(client: httpx.Client, server: BackendServer) -> None:
    session = new_session(client)
    key = "tg-42-6006-delete-me"
    assert say(client, session, "Remember this", key).status_code == 200
    assert rows_mentioning(server.database_url, key), "the key is stored with the turn"
    assert client.delete(f"/conversation/{session}").status_code == 200
    assert rows_mentioning(server.database_url, key, session) == []
    assert say(client, session, "Remember this", key).json()["code"] == "unknown_session"


def test_a_key_lives_as_long_as_its_turn(client: httpx.Client) -> None:
    session = new_session(client)
    first = say(client, session, "The oldest turn", "tg-42-7007").json()
    for n in range(MAX_TURNS):
        assert say(client, session, f"Turn {n}", None).status_code == 200
    assert first["turn_id"] not in [t["turn_id"] for t in history(client, session)]
    again = say(client, session, "The oldest turn", "tg-42-7007")
    assert again.status_code == 200 and "idempotent-replayed" not in again.headers
    assert again.json()["turn_id"] != first["turn_id"]


def test_a_key_survives_a_restart_and_is_answered_while_the_engines_load(
    tmp_path: Path,
) -> None:
    storage = tmp_path / "storage"
    with BackendServer(storage) as before, before.client() as client:
        session = new_session(client)
        first = say(client, session, "Before the restart", "tg-42-8008")
        assert first.status_code == 200
    # Engines that can never load: the backend stays not ready, yet repeats are answered.
    broken = {"STT_ENGINE": "whisper", "WHISPER_MODEL_PATH": str(tmp_path / "no-model")}
    after = BackendServer(storage, env=broken, wait_ready=False)
    with after, after.client() as client:
        eventually(
            lambda: client.get("/readyz").json()["checks"].get("database") == "ok",
            message="the database is migrated (the engines never load)",
        )
        again = say(client, session, "Before the restart", "tg-42-8008")
        assert again.status_code == 200, again.text
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        new = say(client, session, "A new note", "tg-42-8009")
        assert new.status_code == 503 and new.json()["code"] == "not_ready"
        assert len(history(client, session)) == 1
