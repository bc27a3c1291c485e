"""A learner says a verdict was wrong: with their consent the note becomes a labelled example,
which ``python -m phonicflow_backend export-labels`` writes as a dataset; without consent,
nothing of the note is kept. The real app over HTTP on stub engines, on both databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from phonicflow_testing.backend import rows_mentioning, stored_rows
from phonicflow_testing.postgres import PostgresServer
from phonicflow_testing.stub_backend import StubBackend, StubEngines, tone_wav

NOTE = tone_wav(1.0)
DRILL = "I think so"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StubBackend]:
    env = {}
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        env["DATABASE_URL"] = server.create_database()
    # the learner says the drill (with a TH error the scorer hears)
    engines = StubEngines(transcript=DRILL.lower(), errors={"think": "th_to_t"})
    with StubBackend(tmp_path / "storage", env=env, engines=engines) as stub:
        yield stub


def scored_turn(client: httpx.Client, user: int) -> dict[str, object]:
    session = client.post("/bot/session", json={"telegram_user_id": user}).json()["session_id"]
    response = client.post(
        "/process",
        headers={"session_id": session},
        files={"file": ("n.wav", NOTE, "audio/wav")},
        data={"target_text": DRILL},
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def note_rows(backend: StubBackend) -> list[dict[str, object]]:
    return [r for r in stored_rows(backend.database_url)["turn_audio"] if r["kind"] == "note"]


def test_without_consent_no_note_is_kept_and_no_label_made(backend: StubBackend) -> None:
    with backend.client() as client:
        turn = scored_turn(client, 501)
        assert note_rows(backend) == []
        response = client.post(
            "/learner/501/labels",
            json={"turn_id": turn["turn_id"], "word_index": 1, "correction": "said_right"},
        )
        assert response.status_code == 403
        assert response.json()["code"] == "consent_required"
    assert stored_rows(backend.database_url)["labels"] == []


# Long enough that the speaker hash (16 hex digits) cannot contain it by chance; "502" did
# once ("9f5021a1…") and failed CI.
USER = 7350918264


def test_with_consent_a_corrected_verdict_is_exported_with_its_note(
    backend: StubBackend, tmp_path: Path
) -> None:
    with backend.client() as client:
        learner = client.patch(f"/learner/{USER}", json={"label_consent": True}).json()
        assert learner["label_consent"] is True
        turn = scored_turn(client, USER)
        words = turn["pronunciation"]["words"]  # type: ignore[index]
        assert words[1]["expected"] == "think" and words[1]["error"] == "th_to_t"
        label = {"turn_id": turn["turn_id"], "word_index": 1, "correction": "said_right"}
        created = client.post(f"/learner/{USER}/labels", json=label)
        assert created.status_code == 201, created.text
        again = client.post(f"/learner/{USER}/labels", json=label)  # a retried request
        assert again.status_code == 201 and again.json() == created.json()
        for bad, code in (
            ({**label, "word_index": 9}, 404),
            ({**label, "turn_id": "0" * 36}, 404),
            ({**label, "correction": "Said Right!"}, 422),
        ):
            assert client.post(f"/learner/{USER}/labels", json=bad).status_code == code, bad
    out = tmp_path / "dataset"
    env = {"STORAGE_DIR": str(backend.storage_dir), "DATABASE_URL": backend.database_url}
    done = subprocess.run(
        [sys.executable, "-m", "phonicflow_backend", "export-labels", str(out)],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [record] = [json.loads(line) for line in (out / "labels.jsonl").read_text().splitlines()]
    assert (record["word"], record["verdict"], record["correction"]) == (
        "think", "th_to_t", "said_right"
    )  # fmt: skip
    assert record["target_text"] == DRILL
    assert (out / record["note"]).read_bytes() == NOTE
    assert str(USER) not in json.dumps(record), "the export names no Telegram user"


def test_withdrawing_consent_or_erasing_the_learner_removes_notes_and_labels(
    backend: StubBackend,
) -> None:
    with backend.client() as client:
        client.patch("/learner/503", json={"label_consent": True})
        turn = scored_turn(client, 503)
        label = {"turn_id": turn["turn_id"], "word_index": 1, "correction": "said_wrong"}
        assert client.post("/learner/503/labels", json=label).status_code == 201
        assert note_rows(backend) and stored_rows(backend.database_url)["labels"]
        client.patch("/learner/503", json={"label_consent": False})
        assert note_rows(backend) == [] and stored_rows(backend.database_url)["labels"] == []

        client.patch("/learner/503", json={"label_consent": True})
        turn = scored_turn(client, 503)
        label["turn_id"] = turn["turn_id"]
        assert client.post("/learner/503/labels", json=label).status_code == 201
        erased = client.delete("/learner/503").json()
        assert erased["labels"] == 1
    assert rows_mentioning(backend.database_url, str(turn["turn_id"])) == []
    assert stored_rows(backend.database_url)["labels"] == []
