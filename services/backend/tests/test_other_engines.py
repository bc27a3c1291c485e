"""The optional offline engines: Whisper (tiny.en shipped in a package) and piper's voice."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from phonicflow_backend.stt import WhisperSTT
from phonicflow_testing.backend import BackendServer, new_session, send_audio
from phonicflow_testing.speech import wav_info


def to_pcm16(wav: bytes) -> bytes:
    """16 kHz mono PCM16, as the backend hands audio to speech-to-text."""
    argv = ["ffmpeg", "-v", "error", "-i", "-", "-ar", "16000", "-ac", "1", "-f", "s16le", "-"]
    return subprocess.run(argv, input=wav, capture_output=True, check=True).stdout


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


@pytest.mark.slow
def test_a_drill_note_runs_whispers_encoder_once_and_its_sentence_probability_holds(
    correct_wav: bytes,
) -> None:
    """The drill check's align() reuses the transcription's encoder output (a second encoder
    pass cost ~1 s per drill note) and gets the probability a pass of its own would."""
    stt = WhisperSTT()
    pcm = to_pcm16(correct_wav)
    encodes = 0
    encode = stt._model.encode

    def counted(features: Any) -> Any:
        nonlocal encodes
        encodes += 1
        return encode(features)

    stt._model.encode = counted
    target = "I think three trees are there"
    heard = stt.listen(pcm, 16000, target)
    assert encodes == 1, "one encoder pass for the transcript and the drill sentence"
    assert heard.target_logprob is not None
    separately = stt.target_logprob(pcm, 16000, target)
    assert encodes == 2
    assert abs(heard.target_logprob - separately) < 0.05, (heard.target_logprob, separately)
    other = stt.listen(pcm, 16000, "Thank you for the thoughtful gift").target_logprob
    assert other is not None and other < heard.target_logprob - 1, "still tells sentences apart"
    assert stt.listen(pcm, 16000).target_logprob is None
