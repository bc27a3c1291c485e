"""bot.intake.mode=webhook: receivers behind a Service (and an Ingress) replace the one poller.

Telegram posts each update to ``webhook.publicUrl`` with the secret token; the receivers
(``BOT_ROLE=webhook``) append it to the Redis stream the workers read. These tests read the
rendered manifests of the ``webhook`` scenario (tests/chart/conftest.py) and a few variations,
and feed the rendered environment to the bot's own settings loader, so the chart and the bot
agree on what a receiver needs.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest

from phonicflow_bot.config import BotSettings
from phonicflow_testing.helm import env_of, of_kind, secret_checksum

from .conftest import SCENARIOS, TOKEN, WEBHOOK_SECRET, WEBHOOK_URL

Obj = dict[str, Any]
WEBHOOK = SCENARIOS["webhook"]
#: Telegram's rule for secret_token (setWebhook), which the bot checks too.
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


def named(objects: list[Obj], kind: str, component: str) -> Obj:
    matches = [o for o in of_kind(objects, kind) if o["metadata"]["name"].endswith(f"-{component}")]
    assert len(matches) == 1, f"expected one {kind} named *-{component}, found {len(matches)}"
    return matches[0]


def components(objects: list[Obj]) -> set[str]:
    return {o["metadata"].get("labels", {}).get("app.kubernetes.io/component", "") for o in objects}


def chart_secret(objects: list[Obj]) -> dict[str, str]:
    """Every value of the chart-made Secrets (the credentials and the token) by key."""
    return {
        k: base64.b64decode(v).decode()
        for secret in of_kind(objects, "Secret")
        for k, v in secret["data"].items()
    }


def receiver(objects: list[Obj]) -> Obj:
    return named(objects, "Deployment", "webhook")


def webhook_values(**webhook: Any) -> Obj:
    return {
        "telegram": {"token": TOKEN},
        "bot": {"intake": {"mode": "webhook"}},
        "webhook": {"publicUrl": WEBHOOK_URL, **webhook},
    }


@pytest.mark.chart
def test_webhook_mode_runs_receivers_instead_of_the_poller(rendered):
    objects = rendered["webhook"]
    assert "bot" not in components(of_kind(objects, "Deployment") + of_kind(objects, "Service"))
    assert not [o for o in objects if o["metadata"]["name"].endswith("-bot")
                and o["kind"] in ("Deployment", "Service", "PodDisruptionBudget",
                                  "ServiceAccount", "NetworkPolicy")]  # fmt: skip
    deployment = receiver(objects)
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = env_of(container)
    assert env["BOT_ROLE"]["value"] == "webhook"
    assert env["BOT_WEBHOOK_URL"]["value"] == WEBHOOK_URL
    assert env["BOT_WEBHOOK_PORT"]["value"] == "8443"
    assert "BOT_WEBHOOK_SECRET" not in env
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8080, "webhook": 8443}
    # probes on the health port: /readyz fails while Redis is out of reach, so no traffic then
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    # the workers are the same as with polling
    worker_env = env_of(named(objects, "Deployment", "worker")["spec"]["template"]["spec"]
                        ["containers"][0])  # fmt: skip
    assert worker_env["BOT_ROLE"]["value"] == "worker"
    assert "BOT_WEBHOOK_URL" not in worker_env
    # a second receiver may be drained while the first one takes Telegram's calls
    budget = named(objects, "PodDisruptionBudget", "webhook")
    assert budget["spec"]["maxUnavailable"] == 1
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()


@pytest.mark.chart
def test_the_secret_token_is_a_file_from_the_chart_secret(rendered, planted):
    objects = rendered["webhook"]
    pod = receiver(objects)["spec"]["template"]["spec"]
    container = pod["containers"][0]
    path = env_of(container)["BOT_WEBHOOK_SECRET_FILE"]["value"]
    (mount,) = [m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert mount["readOnly"] is True
    assert (
        volume["secret"]["secretName"]
        == named(objects, "Secret", "phonicflow-bot")["metadata"]["name"]
    )
    (item,) = volume["secret"]["items"]
    assert item == {"key": "webhook-secret", "path": path.rsplit("/", 1)[1]}
    assert chart_secret(objects)["webhook-secret"] == planted["webhook_secret"]
    for configmap in of_kind(objects, "ConfigMap"):
        assert WEBHOOK_SECRET not in str(configmap.get("data", {}))


@pytest.mark.chart
def test_a_generated_secret_token_follows_telegrams_rule_and_rolls_only_the_receivers(render):
    objects = render(webhook_values())
    stored = chart_secret(objects)
    secret = stored["webhook-secret"]
    assert SECRET_TOKEN.fullmatch(secret) and len(secret) >= 32, secret
    read = {"telegram-token", "bot-private-key", "redis-password", "webhook-secret"}
    annotations = receiver(objects)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["checksum/secret"] == secret_checksum({k: stored[k] for k in read})
    worker = named(objects, "Deployment", "worker")["spec"]["template"]["metadata"]["annotations"]
    assert worker["checksum/secret"] == secret_checksum(
        {k: stored[k] for k in read - {"webhook-secret"}}
    )


@pytest.mark.chart
def test_an_existing_secret_holds_the_token_and_the_chart_makes_none(render):
    objects = render(
        webhook_values(secretToken={"existingSecret": "hook", "existingSecretKey": "token"})
    )
    assert "webhook-secret" not in chart_secret(objects)
    volumes = receiver(objects)["spec"]["template"]["spec"]["volumes"]
    (volume,) = [v for v in volumes if v["name"] == "webhook-secret"]
    assert volume["secret"]["secretName"] == "hook"
    assert volume["secret"]["items"][0]["key"] == "token"


@pytest.mark.chart
def test_polling_mode_renders_no_webhook_objects(rendered):
    objects = rendered["defaults"]
    assert "webhook" not in components(objects)
    assert not of_kind(objects, "Ingress")
    assert "webhook-secret" not in chart_secret(objects)


@pytest.mark.chart
def test_the_service_and_ingress_route_the_public_url_to_the_receivers(rendered):
    objects = rendered["webhook"]
    service = named(objects, "Service", "webhook")
    ports = {p["name"]: p for p in service["spec"]["ports"]}
    assert ports["webhook"]["port"] == 8443 and ports["webhook"]["targetPort"] == "webhook"
    assert ports["http"]["targetPort"] == "http"
    pod_labels = receiver(objects)["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    ingress = named(objects, "Ingress", "webhook")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}
    assert ingress["spec"]["tls"] == [
        {"hosts": ["bot.example.org"], "secretName": "bot-example-tls"}
    ]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "bot.example.org"
    (path,) = rule["http"]["paths"]
    # the receiver serves exactly the path of BOT_WEBHOOK_URL
    assert path["path"] == "/telegram/updates" and path["pathType"] == "Exact"
    assert path["backend"]["service"] == {
        "name": service["metadata"]["name"],
        "port": {"name": "webhook"},
    }


@pytest.mark.chart
def test_the_ingress_is_optional_and_its_host_drops_the_port(render):
    assert not of_kind(render(webhook_values()), "Ingress")
    objects = render(
        {
            **webhook_values(ingress={"enabled": True}),
            "webhook": {
                "publicUrl": "https://hooks.example.org:8443/",
                "ingress": {"enabled": True},
            },
        }
    )
    ingress = named(objects, "Ingress", "webhook")
    assert "ingressClassName" not in ingress["spec"] and "tls" not in ingress["spec"]
    assert ingress["spec"]["rules"][0]["host"] == "hooks.example.org"
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/"


def _peers(rule: Obj) -> list[Obj]:
    return list(rule.get("from", rule.get("to", [])))


def _component_of(peer: Obj) -> str | None:
    if "namespaceSelector" in peer:
        return None
    return peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/component")


@pytest.mark.chart
def test_network_policies_let_telegram_in_and_the_receivers_out_only_to_redis_and_telegram(
    rendered,
):
    objects = rendered["webhook"]
    policy = named(objects, "NetworkPolicy", "webhook")["spec"]
    labels = receiver(objects)["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    by_port = {rule["ports"][0]["port"]: rule for rule in policy["ingress"]}
    assert set(by_port) == {8080, 8443}
    assert by_port[8443]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    ]
    assert {_component_of(p) for p in by_port[8080]["from"]} == {None, "test"}
    reachable = {_component_of(p) for rule in policy["egress"] for p in _peers(rule)}
    assert {"redis"} == reachable - {None}, "no converter, no backend: the workers call those"
    telegram = [rule for rule in policy["egress"] if any("ipBlock" in p for p in _peers(rule))]
    assert [p["port"] for rule in telegram for p in rule["ports"]] == [443]
    redis_from = {_component_of(p) for rule in named(objects, "NetworkPolicy", "redis")["spec"]
                  ["ingress"] for p in rule["from"]}  # fmt: skip
    assert redis_from == {"webhook", "worker"}
    test_to = {_component_of(p) for rule in named(objects, "NetworkPolicy", "test")["spec"]
               ["egress"] for p in _peers(rule)}  # fmt: skip
    assert "webhook" in test_to and "bot" not in test_to


@pytest.mark.chart
def test_an_empty_ingress_source_list_admits_any_source(render):
    objects = render({**webhook_values(), "networkPolicy": {"webhookIngressFrom": []}})
    rules = named(objects, "NetworkPolicy", "webhook")["spec"]["ingress"]
    (hook,) = [rule for rule in rules if rule["ports"][0]["port"] == 8443]
    assert "from" not in hook


@pytest.mark.chart
def test_with_the_emulator_it_posts_to_the_receivers_through_the_policies(render):
    url = "http://pf-phonicflow-bot-webhook:8443/hook"
    objects = render(
        {
            "emulator": {"enabled": True},
            "bot": {"intake": {"mode": "webhook"}},
            "webhook": {"publicUrl": url},
        }
    )
    emulator = named(objects, "NetworkPolicy", "emulator")["spec"]
    egress = [rule for rule in emulator["egress"] if {p["port"] for p in rule["ports"]} != {53}]
    assert [(_component_of(p), rule["ports"][0]["port"]) for rule in egress
            for p in rule["to"]] == [("webhook", 8443)]  # fmt: skip
    ingress = named(objects, "NetworkPolicy", "webhook")["spec"]["ingress"]
    (hook,) = [rule for rule in ingress if rule["ports"][0]["port"] == 8443]
    assert "emulator" in {_component_of(p) for p in hook["from"]}
    assert named(objects, "Service", "webhook")["metadata"]["name"] in url


@pytest.mark.chart
def test_the_helm_test_pod_checks_the_receivers(rendered):
    (pod,) = [p for p in of_kind(rendered["webhook"], "Pod")
              if p["metadata"]["name"].endswith("bot-http-health")]  # fmt: skip
    args = pod["spec"]["containers"][0]["args"]
    assert args == [
        "http://pf-phonicflow-bot-webhook:8080/readyz",
        "http://pf-phonicflow-bot-worker:8080/readyz",
    ]


@pytest.mark.chart
def test_the_bot_accepts_the_rendered_receiver_environment(rendered, tmp_path, monkeypatch):
    """The env, ConfigMap and secret files the chart gives a receiver, loaded by the bot's own
    settings: a missing URL, secret or Redis would fail here as it would in the pod."""
    objects = rendered["webhook"]
    pod = receiver(objects)["spec"]["template"]["spec"]
    container = pod["containers"][0]
    secret = chart_secret(objects)
    configmap = named(objects, "ConfigMap", "bot")
    assert container["envFrom"] == [{"configMapRef": {"name": configmap["metadata"]["name"]}}]
    env: dict[str, str] = dict(configmap["data"])
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    files: dict[str, Path] = {}
    for volume in pod["volumes"]:
        if "secret" in volume:
            for item in volume["secret"]["items"]:
                target = tmp_path / volume["name"] / item["path"]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(secret[item["key"]])
                files[f"{mounts[volume['name']]}/{item['path']}"] = target
    for name, entry in env_of(container).items():
        if "value" in entry:
            value = entry["value"]
            env[name] = str(files.get(value, value))
        else:
            env[name] = secret[entry["valueFrom"]["secretKeyRef"]["key"]]
    for name, value in env.items():
        monkeypatch.setenv(name, value.replace("$(REDIS_PASSWORD)", env.get("REDIS_PASSWORD", "")))
    settings = BotSettings()
    assert settings.bot_role == "webhook"
    assert settings.bot_webhook_url == WEBHOOK_URL
    assert settings.webhook_path == "/telegram/updates"
    assert settings.bot_webhook_port == 8443
    assert settings.bot_webhook_secret.get_secret_value() == WEBHOOK_SECRET
    assert settings.telegram_bot_token.get_secret_value() == TOKEN
    assert settings.redis_url and settings.redis_url.startswith("redis://:")


def test_switching_the_intake_does_not_restart_the_emulator(render):
    """The emulator keeps its chats and the webhook the receivers registered: its pods carry
    the checksum of the token they read, not of the whole Secret (which gains webhook-secret)."""
    emulator = {"emulator": {"enabled": True}}

    def annotations(values: Obj) -> Obj:
        deployment = named(render(values), "Deployment", "emulator")
        return dict(deployment["spec"]["template"]["metadata"]["annotations"])

    polling = annotations(emulator)
    webhook = annotations({**emulator, **webhook_values()})
    assert polling == webhook
    assert annotations({"emulator": {"enabled": True, "token": "4242:other"}}) != polling
