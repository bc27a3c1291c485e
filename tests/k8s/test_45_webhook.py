"""The intake switched from polling to webhook and back on a running release, as an operator who
puts the bot behind an Ingress would: no message lost or left unanswered on either side.

In webhook mode the chart runs the receivers (``BOT_ROLE=webhook``) behind a Service instead of
the poller; they register ``webhook.publicUrl`` with setWebhook, and the in-cluster emulator
posts each update there, as Telegram would (through the NetworkPolicy that lets only the
emulator reach them). Back in polling mode, the poller's bootstrap deletes the webhook
(python-telegram-bot's ``start_polling`` calls deleteWebhook), or getUpdates would answer 409.
"""

from __future__ import annotations

import itertools
import time

import pytest

from phonicflow_testing.k8s import Release
from phonicflow_testing.k8s_plugin import ClusterSystem, deep_merge

pytestmark = [pytest.mark.k8s]

_users = itertools.count(845_001)


def answered_help(system: ClusterSystem, name: str) -> list[str]:
    """A new learner asks /help twice; the bot's answers."""
    learner = system.emulator.client.user(next(_users), first_name=name)
    learner.send_text("/help")
    learner.send_text("/help")
    return [m.get("text", "") for m in learner.wait_for_messages(count=2, timeout=120)]


def webhook_url(system: ClusterSystem, timeout: float = 60.0) -> str:
    """The webhook the emulator delivers to once the intake has settled ("" for none)."""
    deadline = time.monotonic() + timeout
    url = str(system.emulator.client.webhook()["url"])
    while time.monotonic() < deadline and not url:
        time.sleep(1)
        url = str(system.emulator.client.webhook()["url"])
    return url


#: what an intake switch must not restart: it changes neither their settings nor the keys they read
UNTOUCHED = ("worker", "backend", "redis", "postgresql", "converter", "emulator")


def pod_uids(release: Release) -> dict[str, set[str]]:
    return {c: {p["metadata"]["uid"] for p in release.running_pods(c)} for c in UNTOUCHED}


def test_switching_the_intake_to_webhook_and_back_keeps_every_message_answered(
    k8s_system: ClusterSystem, k8s_release: Release
):
    polling = k8s_release.values
    before = pod_uids(k8s_release)
    receivers = k8s_release.component("webhook")
    url = f"http://{receivers}.{k8s_release.namespace}.svc:8443/telegram"
    k8s_release.upgrade(
        deep_merge(polling, {"bot": {"intake": {"mode": "webhook"}}, "webhook": {"publicUrl": url}})
    )
    try:
        assert k8s_release.running_pods("webhook"), "the receivers run"
        assert webhook_url(k8s_system) == url, "the receivers registered the Service's URL"
        texts = answered_help(k8s_system, "Hana")
        assert all("/practice" in t for t in texts), texts
        delivered = k8s_system.emulator.client.webhook()["deliveries"]
        assert delivered and delivered[-1]["status"] == 200, delivered[-3:]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and k8s_release.running_pods("bot"):
            time.sleep(2)
        assert not k8s_release.running_pods("bot"), "no poller beside the webhook (409 Conflict)"
    finally:
        k8s_release.upgrade(polling)
    assert not k8s_release.running_pods("webhook")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and k8s_system.emulator.client.webhook()["url"]:
        time.sleep(1)
    assert k8s_system.emulator.client.webhook()["url"] == "", "the poller deleted the webhook"
    texts = answered_help(k8s_system, "Ivo")
    assert all("/practice" in t for t in texts), texts
    # the Secret gained and lost webhook-secret: only the pods that read it were replaced
    after = pod_uids(k8s_release)
    replaced = {c: before[c] - after[c] for c in UNTOUCHED if before[c] - after[c]}
    assert not replaced, f"restarted by the intake switch: {sorted(replaced)}"
