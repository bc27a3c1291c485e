"""Coaching through an Ollama server (a faithful stand-in: we cannot run a real model here), and
sessions that survive a restart of the backend."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from phonicflow_testing.backend import BackendServer, new_session, send_audio
from phonicflow_testing.speech import wav_info
from phonicflow_testing.stub_http import StubHandler, serving

LLM_COACHING = 'Good effort! Put your tongue between your teeth for "think".'
LLM_REPLY = "I am fine, thank you! What did you do today?"


class FakeOllama(StubHandler):
    """Ollama's ``POST /api/generate`` with ``stream: false``: the shape of its real answer."""

    prompts: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.body())
        FakeOllama.prompts.append(body)
        if self.path != "/api/generate" or body.get("stream") is not False:
            self.send_error(400)
            return
        text = LLM_COACHING if "pronunciation coach" in body["prompt"] else LLM_REPLY
        payload = json.dumps({"model": body["model"], "created_at": "2026-11-24T12:00:00Z",
                              "response": text, "done": True, "done_reason": "stop"}).encode()  # fmt: skip
        self.reply(200, payload)


@pytest.fixture(scope="module")
def ollama() -> Iterator[str]:
    with serving(FakeOllama) as url:
        yield url


def test_llm_coaching_is_translated_to_portuguese_keeping_the_example_word(
    tmp_path: Path, ollama: str, short_wav: bytes
) -> None:
    env = {"OLLAMA_URL": ollama, "OLLAMA_MODEL": "llama3.2"}
    with BackendServer(tmp_path / "storage", env=env) as server, server.client() as client:
        session = new_session(client)
        body = send_audio(client, session, short_wav, target_text="Hello, how are you?").json()
    assert body["degraded"] == []
    assert body["coaching_feedback"] == LLM_COACHING
    assert body["conversational_response"] == LLM_REPLY
    pt = body["coaching_feedback_portuguese"]
    assert '"think"' in pt and "pensar" not in pt.lower() and pt != LLM_COACHING
    assert "translation" in body["timings_ms"]
    assert FakeOllama.prompts and FakeOllama.prompts[0]["model"] == "llama3.2"


def test_sessions_turns_and_audio_survive_a_restart(tmp_path: Path, short_wav: bytes) -> None:
    storage = tmp_path / "storage"
    with BackendServer(storage) as first, first.client() as client:
        session = new_session(client)
        turn = send_audio(client, session, short_wav).json()
        audio_before = client.get(turn["coaching_audio_path"]).content
    assert first.process.proc is not None and first.process.proc.returncode == 0, "graceful stop"
    with BackendServer(storage) as second, second.client() as client:
        history = client.get(f"/conversation/{session}").json()["history"]
        assert [t["turn_id"] for t in history] == [turn["turn_id"]]
        audio_after = client.get(f"/audio/{session}", params={"audio_type": "coaching"})
        assert audio_after.content == audio_before and wav_info(audio_after.content)[3] > 0
        assert client.post("/process", headers={"session_id": session},
                           data={"text": "back again"}).status_code == 200  # fmt: skip
        assert len(client.get(f"/conversation/{session}").json()["history"]) == 2


def test_a_bad_setting_stops_the_service_naming_the_variable(tmp_path: Path) -> None:
    server = BackendServer(tmp_path, env={"STT_ENGINE": "klingon", "BACKEND_PORT": "x"})
    with pytest.raises(RuntimeError) as excinfo:
        server.start()
    message = str(excinfo.value)
    assert "exited with 2" in message
    assert "STT_ENGINE" in message


def test_a_missing_model_leaves_the_service_alive_but_not_ready_saying_why(tmp_path: Path) -> None:
    env = {"STT_ENGINE": "whisper", "WHISPER_MODEL_PATH": str(tmp_path / "no-model")}
    server = BackendServer(tmp_path / "storage", env=env, wait_ready=False)
    with server, server.client() as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        for _ in range(300):  # loading fails within a few seconds; migrations may take longer
            if "no-model" in ready.text and ready.json()["checks"].get("database") == "ok":
                break
            time.sleep(0.1)
            ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "WHISPER_MODEL_PATH" in ready.json()["checks"]["engines"]
        session = new_session(client)
        refused = client.post("/process", headers={"session_id": session}, data={"text": "hi"})
        assert refused.status_code == 503 and refused.json()["code"] == "not_ready"
        assert client.get("/bot/status").json()["status"] == "error"
