"""Say less when the transcript cannot be trusted: the real app over HTTP on stub engines whose
transcript and confidence the test sets (the thresholds are measured in docs/scoring.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from phonicflow_testing.backend import new_session
from phonicflow_testing.stub_backend import StubBackend, tone_wav

NOTE = tone_wav(1.0)


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StubBackend]:
    with StubBackend(Path(tmp_path_factory.mktemp("storage"))) as server:
        yield server


def send(backend: StubBackend, target: str | None = None) -> dict[str, object]:
    with backend.client() as client:
        session = new_session(client, telegram_user_id=1414)
        response = client.post(
            "/process",
            headers={"session_id": session},
            files={"file": ("n.wav", NOTE, "audio/wav")},
            data={"target_text": target} if target else None,
        )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_free_speech_whisper_was_unsure_of_gets_what_was_heard_and_no_verdicts(
    backend: StubBackend,
) -> None:
    backend.engines.transcript, backend.engines.avg_logprob = "i think free treatment now", -1.2
    body = send(backend)
    assert body["pronunciation"] is None
    assert 'I heard: "i think free treatment now"' in str(body["coaching_feedback"])
    assert "Eu ouvi" in str(body["coaching_feedback_portuguese"])

    backend.engines.avg_logprob = -0.3  # sure of it: scored word by word as before
    sure = send(backend)
    assert sure["pronunciation"] is not None and sure["drill_match"] is None


def test_without_whispers_probability_of_the_drill_its_transcript_decides(
    backend: StubBackend,
) -> None:
    # the stub engine gives no target probability (as pocketsphinx): coverage alone decides
    backend.engines.transcript, backend.engines.avg_logprob = "hello there", -0.3
    other = send(backend, target="I think three trees are there")
    assert other["drill_match"] == "different_sentence" and other["pronunciation"] is None
    backend.engines.transcript = "i tink tree trees are dere"
    said = send(backend, target="I think three trees are there")
    assert said["drill_match"] == "matched" and said["pronunciation"] is not None
