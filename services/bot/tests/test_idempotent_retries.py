"""A slow backend and the bot's retries: the learner's note is still one turn, one feedback.

The bot gives up on a ``POST /process`` after ``BACKEND_TIMEOUT`` (1 s here) and retries it.
The backend (the real app on stub speech engines) finishes the first attempt anyway, after the
bot hung up: the fault layer makes the turn and holds its answer back. Without an
``Idempotency-Key`` the retry would store the recording a second time. Every part is real (bot,
emulator, converter, Redis, the backend's HTTP, idempotency and storage) except the speech
engines.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from phonicflow_backend.conversation import TemplateConversation
from phonicflow_emulator.client import EmulatorUser
from phonicflow_emulator.testing import EmulatorHandle
from phonicflow_testing.processes import ServiceProcess
from phonicflow_testing.speech import encode, synth_wav

WAIT = 15.0
#: The bot's BACKEND_TIMEOUT in this module, and how long the backend takes on the first
#: attempt: past the timeout, but done before the retry (after its backoff) gives up too.
BACKEND_TIMEOUT_S = 1.0
SLOW_FIRST_ATTEMPT_S = 1.6
#: How long to keep listening for a second, duplicate feedback that must not come.
QUIET_S = 1.5
#: conftest.BOT_KEY, which the backend requires (conftest is not importable by name).
BOT_KEY_HEADER = {"X-Bot-Key": "bot-private-key-for-tests-0001"}


@pytest.fixture(scope="module")
def voice_ogg() -> bytes:
    return encode(synth_wav("I think three trees are there"), "ogg")


@pytest.fixture(scope="module")
def bot(rig: Any) -> Iterator[ServiceProcess]:
    process = rig.start(BACKEND_TIMEOUT=str(BACKEND_TIMEOUT_S))
    yield process
    rig.stop_all()


def learner(emulator: EmulatorHandle, user_id: int) -> EmulatorUser:
    user = emulator.client.user(user_id, first_name="Ana", language_code="en")
    user.send_text("/start")
    user.wait_for_messages(1, timeout=WAIT)
    return user


def stored_turns(stub_backend: Any, request: dict[str, Any]) -> list[dict[str, Any]]:
    """The turns the backend holds for the session of that /process request."""
    response = httpx.get(
        f"{stub_backend.url}/conversation/{request['session_id']}",
        headers=BOT_KEY_HEADER,
        timeout=5,
    )
    response.raise_for_status()
    turns: list[dict[str, Any]] = response.json()["history"]
    return turns


def assert_no_more_messages(user: EmulatorUser) -> None:
    with pytest.raises(TimeoutError):
        user.wait_for_messages(1, timeout=QUIET_S)


def test_a_voice_note_retried_after_a_timeout_is_one_turn_and_one_feedback(
    bot: ServiceProcess, emulator: EmulatorHandle, stub_backend: Any, voice_ogg: bytes
) -> None:
    user = learner(emulator, 4001)
    before = len(stub_backend.requests("/process"))
    stub_backend.fault("/process", delay=SLOW_FIRST_ATTEMPT_S, times=1)
    sent = user.send_voice(voice_ogg, duration=2)
    reply, *voices = user.wait_for_messages(3, timeout=WAIT)
    assert "I heard" in reply["text"] and all("voice" in v for v in voices)
    assert_no_more_messages(user)

    first, retry = stub_backend.requests("/process")[before:]
    expected_key = f"tg-{user.chat_id}-{sent['message_id']}"
    assert first["idempotency_key"] == retry["idempotency_key"] == expected_key
    assert retry.get("replayed") is True, "the retry got the first attempt's turn back"
    assert len(stored_turns(stub_backend, retry)) == 1


def test_a_text_retried_after_a_timeout_is_one_turn_and_distinct_texts_are_two(
    bot: ServiceProcess, emulator: EmulatorHandle, stub_backend: Any
) -> None:
    user = learner(emulator, 4002)
    before = len(stub_backend.requests("/process"))
    stub_backend.fault("/process", delay=SLOW_FIRST_ATTEMPT_S, times=1)
    answer = TemplateConversation().reply("hello there").en  # the backend's (no LLM here)
    user.send_text("hello there")
    assert answer in user.wait_for_messages(1, timeout=WAIT)[0]["text"]
    user.wait_for_messages(2, timeout=WAIT)  # the two voice replies
    # The same words again are a new message, so a new turn.
    user.send_text("hello there")
    assert answer in user.wait_for_messages(1, timeout=WAIT)[0]["text"]
    user.wait_for_messages(2, timeout=WAIT)
    assert_no_more_messages(user)

    requests = stub_backend.requests("/process")[before:]
    keys = [r["idempotency_key"] for r in requests]
    assert len(requests) == 3 and keys[0] == keys[1] != keys[2], keys
    assert all(key.startswith(f"tg-{user.chat_id}-") for key in keys)
    assert len(stored_turns(stub_backend, requests[-1])) == 2


def test_the_key_rules_hold_through_the_fault_layer(stub_backend: Any) -> None:
    """The rules the backend's tests prove (services/backend/tests/test_idempotency.py) still
    hold with the fault layer in front, so that the bot's tests above lean on them."""
    with httpx.Client(base_url=stub_backend.url, headers=BOT_KEY_HEADER, timeout=10) as http:
        session = http.post("/bot/session", json={}).json()["session_id"]

        def say(text: str, key: bytes) -> httpx.Response:
            headers = [(b"session_id", session.encode()), (b"Idempotency-Key", key)]
            return http.post("/process", headers=headers, data={"text": text})

        first, again = say("hi", b"tg-1-1"), say("hi", b'"tg-1-1"')
        assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
        changed = say("bye", b"tg-1-1")
        assert changed.status_code == 422 and changed.json()["code"] == "idempotency_key_reused"
        for bad in (b"", b"k" * 256, "tg-\u00e9".encode(), b"tg\t1"):
            refused = say("hi", bad)
            assert refused.status_code == 400, bad
            assert refused.json()["code"] == "invalid_idempotency_key"
        assert len(http.get(f"/conversation/{session}").json()["history"]) == 1
        http.delete(f"/conversation/{session}").raise_for_status()
        assert say("hi", b"tg-1-1").json()["code"] == "unknown_session"
