"""The bot as poller + workers over one Redis: nothing a learner sent is lost or answered twice.

Real processes (poller, workers, emulator, converter, stub backend, Redis); processes are
SIGKILLed, as an OOM kill or a node loss would. A short claim timeout (2 s) so a dead worker's
updates move on quickly. The long, randomised version of these scenarios is tests/faults.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import pytest

from phonicflow_backend.conversation import TemplateConversation
from phonicflow_emulator.client import EmulatorUser
from phonicflow_emulator.testing import EmulatorHandle
from phonicflow_testing.processes import ServiceProcess, eventually, free_port
from phonicflow_testing.speech import encode, synth_wav

#: Bot processes killed and restarted, for minutes in all: `make system-test`.
pytestmark = pytest.mark.system
WAIT = 20.0
FAST_RECLAIM = {"BOT_CLAIM_TIMEOUT_SECONDS": "2"}


@pytest.fixture(scope="module")
def voice_ogg() -> bytes:
    return encode(synth_wav("I think three trees are there"), "ogg")


@pytest.fixture
def bots(rig: Any, redis_url: str) -> Iterator[Any]:
    yield rig
    rig.stop_all()


def learner(emulator: EmulatorHandle, user_id: int) -> EmulatorUser:
    return emulator.client.user(user_id, first_name="Ana", language_code="en")


def sent_to(emulator: EmulatorHandle, method: str, chat: int) -> int:
    return sum(
        1
        for c in emulator.client.calls(method)
        if str(c["params"].get("chat_id")) == str(chat) and c.get("status") == 200
    )


def test_a_worker_killed_mid_reply_is_resumed_by_another_without_repeating_anything(
    bots: Any, emulator: EmulatorHandle, stub_backend: Any, voice_ogg: bytes
) -> None:
    bots.start("poller")
    doomed = bots.start("worker", **FAST_RECLAIM)
    user = learner(emulator, 4001)
    user.send_text("/start")
    user.wait_for_messages(1, timeout=WAIT)
    turns_before = len(stub_backend.requests("/process"))
    # The voice replies are slow to fetch: the feedback text is out, the voice notes are not.
    stub_backend.fault("/audio/", delay=30.0, times=2)
    user.send_voice(voice_ogg, duration=2)
    (text,) = user.wait_for_messages(1, timeout=WAIT)
    assert "I heard" in text["text"]
    eventually(lambda: len(stub_backend.requests("/audio/")) >= 1, message="voices being fetched")
    doomed.kill()
    stub_backend.clear_faults()
    bots.start("worker", **FAST_RECLAIM)
    voices = user.wait_for_messages(2, timeout=WAIT)
    assert all("voice" in v for v in voices)
    time.sleep(1.0)
    assert len(user.messages()) == 4, "greeting, feedback, two voices: the text not sent again"
    assert sent_to(emulator, "sendMessage", 4001) == 2  # /start's greeting and the feedback
    # the turn was made once: the second worker replayed it from the update's journal
    assert len(stub_backend.requests("/process")) - turns_before == 1


def test_one_learners_messages_stay_in_order_across_workers_and_others_are_not_held_up(
    bots: Any, emulator: EmulatorHandle, stub_backend: Any
) -> None:
    bots.start("poller")
    for _ in range(3):
        bots.start("worker")
    slow, quick = learner(emulator, 4002), learner(emulator, 4003)
    for user in (slow, quick):
        user.send_text("/start")
        user.wait_for_messages(1, timeout=WAIT)
    stub_backend.fault("/process", delay=2.0, times=1)  # the first text is slow to answer
    # texts the backend answers differently, so each reply tells which text it answers
    sent = ["hello", "thanks a lot", "bye for now", "how are you?"]
    answer = {TemplateConversation().reply(text).en: text for text in sent}
    assert len(answer) == len(sent)
    for text in sent:
        slow.send_text(text)
    time.sleep(0.3)
    quick.send_text("what is your name?")
    quick_reply, *_ = quick.wait_for_messages(3, timeout=WAIT)  # the text and two voices
    assert TemplateConversation().reply("what is your name?").en in quick_reply["text"]
    assert slow.messages()[1:] == [], "the slow learner's first message is still being answered"
    replies = slow.wait_for_messages(4 * 3, timeout=WAIT)
    said = [next(t for a, t in answer.items() if a in r["text"]) for r in replies if "text" in r]
    assert said == sent
    # each message's voice notes came before the next message's text: one at a time
    assert ["text" in r for r in replies] == [True, False, False] * 4


def test_a_poller_killed_before_it_could_store_an_update_loses_nothing(
    bots: Any, emulator: EmulatorHandle
) -> None:
    # Its own Redis, stopped: the poller fetches the update but cannot store it, so it does not
    # confirm it; killed then, it leaves the update with Telegram for the next poller.
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="redis-intake-")
    argv = [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
            "127.0.0.1", "--dir", workdir, "--appendonly", "yes", "--save", ""]  # fmt: skip
    redis_process = ServiceProcess(argv, name="redis-intake", port=port)
    url = f"redis://127.0.0.1:{port}/0"
    with redis_process:
        poller = bots.start("poller", REDIS_URL=url)
        bots.start("worker", REDIS_URL=url)
        user = learner(emulator, 4004)
        user.send_text("/start")
        user.wait_for_messages(1, timeout=WAIT)
        redis_process.stop()
        sent = time.time()
        user.send_text("/help")
        time.sleep(2.0)  # the long poll returns it at once; storing it is being retried
        # no getUpdates since: the offset that would confirm /help was never sent
        assert not [c for c in emulator.client.calls("getUpdates") if c["time"] > sent]
        poller.kill()
        redis_process.start()
        bots.start("poller", REDIS_URL=url)
        (reply,) = user.wait_for_messages(1, timeout=WAIT)
        assert "/practice" in reply["text"]
        time.sleep(1.0)
        assert len(user.messages()) == 2
