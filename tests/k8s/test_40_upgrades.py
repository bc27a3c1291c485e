"""Upgrades and rollbacks of a running release while a learner is talking to the bot."""

from __future__ import annotations

import concurrent.futures
import itertools
import json
import os
import time

import pytest

from phonicflow_testing.k8s import Release
from phonicflow_testing.k8s_plugin import IMAGE_TAG, ClusterSystem, deep_merge
from phonicflow_testing.speech import encode, synth_wav, wav_info

pytestmark = [pytest.mark.k8s]

#: A second tag of the same build (scripts/k8s/cluster-images.sh loads it): a new image reference
#: rolls the pods exactly as a new release of the project would.
NEXT_TAG = os.environ.get("PHONICFLOW_NEXT_IMAGE_TAG", f"{IMAGE_TAG}-next")
#: The images the upgrade under traffic changes (the bot's is the poller's and the workers').
ROLLED = ("bot", "converter", "backend")
#: The Deployments that roll with them.
ROLLING = ("bot", "worker", "converter", "backend")

_users = itertools.count(830_001)


def voice_note(text: str) -> tuple[bytes, int]:
    wav = synth_wav(text)
    return encode(wav, "ogg"), max(1, round(wav_info(wav)[3]))


def with_tag(values: dict, tag: str, components: tuple[str, ...]) -> dict:
    return deep_merge(values, {c: {"image": {"tag": tag}} for c in components})


def talk_during(system: ClusterSystem, action) -> tuple[list[str], object]:  # type: ignore[no-untyped-def]
    """Run ``action`` while a learner sends a text turn every few seconds; returns every bot
    message the learner got and what ``action`` returned."""
    learner = system.emulator.client.user(next(_users), first_name="Duda")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        job = pool.submit(action)
        sent = 0
        while not job.done():
            learner.send_text("/help")
            sent += 1
            time.sleep(3)
        result = job.result()
    learner.send_text("/help")
    sent += 1
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(learner.messages()) < sent:
        time.sleep(1)
    return [m.get("text", "") for m in learner.messages()], (sent, result)


def test_an_image_upgrade_under_traffic_gives_no_error_reply(
    k8s_system: ClusterSystem, k8s_release: Release
):
    values = with_tag(k8s_release.values, NEXT_TAG, ROLLED)
    texts, (sent, _) = talk_during(k8s_system, lambda: k8s_release.upgrade(values))
    for component in ROLLING:
        assert k8s_release.image(component).endswith(f":{NEXT_TAG}"), component
    assert len(texts) == sent, f"{sent} messages sent, {len(texts)} answered"
    assert all("/practice" in t for t in texts), [t for t in texts if "/practice" not in t]
    learner = k8s_system.emulator.client.user(next(_users), first_name="Edu")
    learner.send_voice(*voice_note("Good morning, how are you today"))
    assert "I heard" in learner.wait_for_messages(count=3, timeout=120)[0]["text"]


def test_a_rollback_restores_the_previous_images_and_the_bot_still_answers(
    k8s_system: ClusterSystem, k8s_release: Release
):
    history = k8s_release.history()
    previous = next(r["revision"] for r in reversed(history[:-1]))
    k8s_release.rollback(previous)
    for component in ROLLING:
        assert k8s_release.image(component).endswith(f":{IMAGE_TAG}"), component
    # the next test upgrades from these: with the rolled-back-from values it changed the images
    # of the backend, converter and workers (and the webhook test saw them restart)
    assert NEXT_TAG not in json.dumps(k8s_release.values), "the release's values are what runs"
    learner = k8s_system.emulator.client.user(next(_users), first_name="Fabi")
    learner.send_voice(*voice_note("I want to speak English well"))
    assert "I heard" in learner.wait_for_messages(count=3, timeout=120)[0]["text"]
