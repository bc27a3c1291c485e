"""The stub backend process the bot's tests talk to: the real app on stub engines, recording
what it was sent and failing on demand."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from phonicflow_testing.processes import ServiceProcess, free_port
from phonicflow_testing.stub_backend import tone_wav

KEY = "k-for-the-fault-layer"


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "phonicflow_testing.stub_backend", "--port", str(port),
            "--storage", str(tmp_path_factory.mktemp("s")), "--bot-key", KEY]  # fmt: skip
    ready = lambda: httpx.get(f"{url}/readyz", timeout=2).status_code == 200  # noqa: E731
    with ServiceProcess(argv, port=port, ready=ready, name="stub-backend", startup_timeout=60):
        yield url


@pytest.fixture
def client(backend: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=backend, headers={"X-Bot-Key": KEY}, timeout=30) as c:
        yield c
    httpx.delete(f"{backend}/_test/faults")


def requests_to(client: httpx.Client, path: str) -> list[dict[str, object]]:
    return [r for r in client.get("/_test/requests").json() if str(r["path"]).startswith(path)]


def test_requests_are_recorded_with_what_the_caller_sent(client: httpx.Client) -> None:
    session = client.post("/bot/session", json={"telegram_user_id": 7}).json()["session_id"]
    client.post(
        "/process",
        headers={"session_id": session, "Idempotency-Key": "tg-7-1"},
        files={"file": ("n.wav", tone_wav(0.5), "audio/wav")},
        data={"target_text": "I think so"},
    ).raise_for_status()
    [created] = requests_to(client, "/bot/session")[-1:]
    assert created["json"] == {"telegram_user_id": 7}
    [turn] = requests_to(client, "/process")[-1:]
    assert turn["form"] == {"target_text": "I think so"}
    assert turn["wav"] == {"rate": 16000, "channels": 1, "width": 2, "frames": 8000}
    assert (turn["idempotency_key"], turn["session_id"], turn["status"]) == ("tg-7-1", session, 200)


def test_a_status_fault_answers_instead_of_the_backend_then_it_behaves(
    client: httpx.Client,
) -> None:
    session = client.post("/bot/session").json()["session_id"]
    httpx.post(f"{client.base_url}/_test/faults", json={"path": "/process", "status": 503,
                                                        "times": 2}).raise_for_status()  # fmt: skip
    answers = [
        client.post("/process", headers={"session_id": session}, data={"text": "hi"}).status_code
        for _ in range(3)
    ]
    assert answers == [503, 503, 200]
    history = client.get(f"/conversation/{session}").json()["history"]
    assert len(history) == 1, "the faulted attempts never reached the backend"


def test_a_slow_process_is_made_then_held_back_so_a_retry_replays_it(
    client: httpx.Client,
) -> None:
    session = client.post("/bot/session").json()["session_id"]
    httpx.post(f"{client.base_url}/_test/faults",
               json={"path": "/process", "delay": 2.0, "times": 1}).raise_for_status()  # fmt: skip
    headers = {"session_id": session, "Idempotency-Key": "tg-9-1"}
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        client.post("/process", headers=headers, data={"text": "slow"}, timeout=0.8)
    retry = client.post("/process", headers=headers, data={"text": "slow"})
    assert retry.status_code == 200 and retry.headers["idempotent-replayed"] == "true"
    assert time.monotonic() - started < 2.0, "the retry did not wait for the held answer"
    assert requests_to(client, "/process")[-1]["replayed"] is True


def test_wipe_and_engines(client: httpx.Client, backend: str) -> None:
    httpx.post(f"{backend}/_test/engines", json={"transcript": "i tink so"}).raise_for_status()
    session = client.post("/bot/session").json()["session_id"]
    heard = client.post(
        "/process", headers={"session_id": session},
        files={"file": ("n.wav", tone_wav(0.5), "audio/wav")},
    ).json()["user_transcript"]  # fmt: skip
    assert heard == "i tink so"
    httpx.post(f"{backend}/_test/wipe").raise_for_status()
    gone = client.post("/process", headers={"session_id": session}, data={"text": "hi"})
    assert gone.json()["code"] == "unknown_session"
    assert httpx.get(f"{backend}/_test/nothing").status_code == 404


def test_the_backends_own_checks_still_apply_behind_the_layer(backend: str) -> None:
    assert httpx.post(f"{backend}/bot/session").status_code == 401
