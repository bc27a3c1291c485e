"""The optional offline engines: Whisper (tiny.en shipped in a package) and piper's voice."""

from __future__ import annotations

from pathlib import Path

import pytest

from phonicflow_testing.backend import BackendServer, new_session, send_audio
from phonicflow_testing.speech import wav_info


@pytest.mark.slow
def test_whisper_and_piper_work_offline(tmp_path: Path, correct_wav: bytes) -> None:
    env = {"STT_ENGINE": "whisper", "TTS_ENGINE": "piper", "HF_HUB_OFFLINE": "1"}
    with BackendServer(tmp_path, env=env) as server, server.client() as client:
        assert client.get("/bot/status").json()["engines"]["stt"] == "whisper"
        assert client.get("/bot/status").json()["engines"]["tts"] == "piper"
        session = new_session(client)
        body = send_audio(client, session, correct_wav).json()
        assert body["degraded"] == []
        assert "three trees" in body["user_transcript"]
        coaching = client.get(body["coaching_audio_path"]).content
        assert wav_info(coaching)[:3] == (16000, 1, 2) and wav_info(coaching)[3] > 1
