"""Each kind of pod deleted mid-conversation, as a node loss or an eviction would: the learner's
voice note is answered once, completely, however the pod went.

The pod is force-deleted (``--grace-period=0 --force``: the API object goes at once and the
kubelet kills the container) right after the bot showed it started on the note (a chat action),
so the note is in flight: in the stream, in a worker's hands, at the backend, or in Redis.
"""

from __future__ import annotations

import itertools
import time

import pytest

from phonicflow_testing.k8s import Release
from phonicflow_testing.k8s_plugin import ClusterSystem
from phonicflow_testing.speech import encode, synth_wav, wav_info

pytestmark = [pytest.mark.k8s]

_users = itertools.count(835_001)


def voice_note(text: str) -> tuple[bytes, int]:
    wav = synth_wav(text)
    return encode(wav, "ogg"), max(1, round(wav_info(wav)[3]))


@pytest.fixture(scope="module")
def note() -> tuple[bytes, int]:
    return voice_note("I am learning English with my friends")


@pytest.mark.parametrize("component", ["worker", "bot", "backend", "redis"])
def test_a_pod_deleted_mid_conversation_loses_nothing_and_answers_once(
    k8s_system: ClusterSystem, k8s_release: Release, note: tuple[bytes, int], component: str
):
    learner = k8s_system.emulator.client.user(next(_users), first_name="Gabi")
    victims = [p["metadata"]["name"] for p in k8s_release.running_pods(component)]
    learner.send_voice(*note)
    deadline = time.monotonic() + 30
    while not learner.chat_actions() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert learner.chat_actions(), "the bot never started on the note"
    k8s_release.cluster.kubectl(
        "delete", "pod", "-n", k8s_release.namespace, *victims, "--grace-period=0", "--force",
        "--wait=false",
    )  # fmt: skip
    reply, *voices = learner.wait_for_messages(count=3, timeout=240)
    assert "I heard" in reply["text"], reply["text"]
    assert all("voice" in v for v in voices)
    k8s_release.wait_available()
    time.sleep(5)
    texts = [m.get("text", "") for m in learner.messages()]
    assert len(texts) == 3, f"answered more than once: {texts}"
