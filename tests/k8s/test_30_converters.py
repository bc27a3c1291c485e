"""The converter Deployment as the bot uses it in a cluster: two replicas behind a headless
Service, the bot's gRPC channel spreading calls over every ready pod."""

from __future__ import annotations

import itertools

import pytest

from phonicflow_testing.k8s import Release
from phonicflow_testing.k8s_plugin import ClusterSystem
from phonicflow_testing.speech import encode, synth_wav, wav_info

pytestmark = [pytest.mark.k8s]

_users = itertools.count(820_001)


def voice_note(text: str) -> tuple[bytes, int]:
    wav = synth_wav(text)
    return encode(wav, "ogg"), max(1, round(wav_info(wav)[3]))


def conversions_per_pod(release: Release) -> dict[str, int]:
    counts = {}
    for pod in release.running_pods("converter"):
        name = pod["metadata"]["name"]
        logs = release.cluster.kubectl("logs", "-n", release.namespace, name).stdout
        counts[name] = logs.count("conversion ok")
    return counts


def test_two_converter_replicas_both_get_work(k8s_system: ClusterSystem, k8s_release: Release):
    assert len(k8s_release.running_pods("converter")) == 2
    before = conversions_per_pod(k8s_release)
    learner = k8s_system.emulator.client.user(next(_users), first_name="Caio")
    note = voice_note("I like to read books in the park")
    for _ in range(4):
        learner.send_voice(*note)
        reply, *_ = learner.wait_for_messages(count=3, timeout=90)
        assert "I heard" in reply["text"]
    after = conversions_per_pod(k8s_release)
    gained = {pod: after[pod] - before.get(pod, 0) for pod in after}
    assert all(n > 0 for n in gained.values()), f"conversions per converter pod: {gained}"


def test_a_converter_pod_deleted_mid_conversation_costs_the_learner_nothing(
    k8s_system: ClusterSystem, k8s_release: Release
):
    learner = k8s_system.emulator.client.user(next(_users), first_name="Bia")
    note = voice_note("We are going to the beach on Sunday")
    victim = k8s_release.running_pods("converter")[0]["metadata"]["name"]
    learner.send_voice(*note)
    k8s_release.cluster.kubectl(
        "delete", "pod", "-n", k8s_release.namespace, victim, "--wait=false"
    )
    reply, *voices = learner.wait_for_messages(count=3, timeout=120)
    assert "I heard" in reply["text"], reply["text"]
    assert all("voice" in v for v in voices)
    learner.send_voice(*note)
    assert "I heard" in learner.wait_for_messages(count=3, timeout=120)[0]["text"]
