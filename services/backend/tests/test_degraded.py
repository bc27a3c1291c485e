"""Broken stages degrade the answer instead of failing it (seed 7.2)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from phonicflow_testing.backend import BackendServer, new_session, send_audio
from phonicflow_testing.processes import free_port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendServer]:
    env = {
        # TTS pointing at a binary that does not exist, and an LLM nobody listens for
        "ESPEAK_BINARY": "/nonexistent/espeak-ng",
        "OLLAMA_URL": f"http://127.0.0.1:{free_port()}",
        "OLLAMA_TIMEOUT_S": "2",
    }
    with BackendServer(tmp_path_factory.mktemp("storage"), env=env) as backend:
        yield backend


def test_without_tts_the_learner_still_gets_a_text_answer(
    server: BackendServer, short_wav: bytes
) -> None:
    with server.client() as client:
        session = new_session(client)
        response = send_audio(client, session, short_wav)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "tts" in body["degraded"]
        assert body["coaching_audio_path"] is None and body["conversational_audio_path"] is None
        assert body["audio_available"] == {"coaching": False, "conversational": False}
        assert body["coaching_feedback"] and body["coaching_feedback_portuguese"]
        assert client.get(f"/audio/{session}").status_code == 404
        assert len(client.get(f"/conversation/{session}").json()["history"]) == 1


def test_an_unreachable_llm_falls_back_to_the_templates(server: BackendServer) -> None:
    with server.client() as client:
        session = new_session(client)
        response = client.post(
            "/process", headers={"session_id": session}, data={"text": "How are you?"}
        )
        body = response.json()
        assert response.status_code == 200
        assert "llm" in body["degraded"]
        assert body["conversational_response"] == "I'm doing great, thanks for asking! And you?"
        assert client.get("/bot/status").json()["engines"]["coaching"] == "ollama"


def test_practice_audio_without_tts_is_a_503(server: BackendServer) -> None:
    with server.client() as client:
        response = client.get("/practice/th-01/audio")
        assert response.status_code == 503 and response.json()["code"] == "tts_unavailable"
        metrics = client.get("/metrics").text
        assert 'phonicflow_backend_stage_failures_total{stage="tts"}' in metrics
