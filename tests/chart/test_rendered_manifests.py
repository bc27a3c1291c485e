"""The chart, rendered over a matrix of values, is valid Kubernetes and secure in every object.

Scenarios (tests/chart/conftest.py): defaults, explicit secrets, external Redis and backend,
existing Secrets, converter HPA, NetworkPolicies off, the in-cluster emulator, OTLP and
ServiceMonitors, an existing volume claim, webhook intake (receivers + Ingress instead of the poller).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import kubernetes_validate
import pytest
import yaml

from phonicflow_testing.helm import env_of, of_kind, pod_specs, secret_checksum, secret_keys_read

from .conftest import SCENARIOS

Obj = dict[str, Any]
ALL = sorted(SCENARIOS)
#: Scenarios whose intake is the poller (the rest take updates through the webhook receivers).
POLLING = [name for name in ALL if SCENARIOS[name].get("bot", {}).get("intake") is None]


def intake(scenario: str) -> str:
    """The component that takes updates in: "bot" (the poller) or "webhook"."""
    return "bot" if scenario in POLLING else "webhook"


#: Objects of CRDs kubernetes-validate has no schema for, checked by hand below.
CRD_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}


def named(objects: list[Obj], kind: str, component: str) -> Obj:
    matches = [o for o in of_kind(objects, kind) if o["metadata"]["name"].endswith(f"-{component}")]
    assert len(matches) == 1, f"expected one {kind} named *-{component}, found {len(matches)}"
    return matches[0]


def maybe_named(objects: list[Obj], kind: str, component: str) -> Obj | None:
    matches = [o for o in of_kind(objects, kind) if o["metadata"]["name"].endswith(f"-{component}")]
    return matches[0] if matches else None


def app_containers(spec: Obj) -> list[Obj]:
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def is_test_pod(name: str) -> bool:
    return name.startswith("Pod/")


@pytest.mark.chart
def test_the_strict_validator_would_catch_a_typo(kube_version):
    # the validation below means something only if strict mode rejects unknown fields
    bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "dataa": {}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, kube_version, strict=True)


@pytest.mark.chart
@pytest.mark.parametrize("scenario", ALL)
def test_every_object_validates_against_the_kubernetes_schemas(rendered, kube_version, scenario):
    objects = rendered[scenario]
    assert objects, "nothing rendered"
    for obj in objects:
        if (obj["apiVersion"], obj["kind"]) in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, kube_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} is invalid: {exc.message}")


@pytest.mark.chart
@pytest.mark.parametrize("scenario", ALL)
def test_no_secret_value_is_readable_outside_a_secret(rendered, planted, scenario):
    objects = rendered[scenario]
    for obj in objects:
        text = yaml.safe_dump(obj)
        for label, value in planted.items():
            assert value not in text, (
                f"{label} in plain text in {obj['kind']}/{obj['metadata']['name']}"
            )
            if obj["kind"] != "Secret":
                encoded = base64.b64encode(value.encode()).decode()
                assert encoded not in text, f"{label} (base64) outside a Secret: {obj['kind']}"
    for spec_name, spec in pod_specs(objects):
        for container in app_containers(spec):
            for name, entry in env_of(container).items():
                if any(
                    word in name for word in ("TOKEN", "PRIVATE_KEY", "PASSWORD")
                ) and not name.endswith("_FILE"):
                    assert "value" not in entry or name == "EMULATOR_TOKEN", (
                        f"{spec_name}: {name} is a literal env value; it must come from a Secret"
                    )


@pytest.mark.chart
@pytest.mark.parametrize("scenario", ALL)
def test_the_bot_token_is_mounted_from_a_secret_as_a_file(rendered, scenario):
    objects = rendered[scenario]
    bot = named(objects, "Deployment", intake(scenario))["spec"]["template"]["spec"]
    container = bot["containers"][0]
    env = env_of(container)
    assert "TELEGRAM_BOT_TOKEN" not in env
    token_path = env["TELEGRAM_BOT_TOKEN_FILE"]["value"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in bot["volumes"]}
    mount = next(m for m in mounts.values() if token_path.startswith(m["mountPath"] + "/"))
    source = volumes[mount["name"]]["secret"]
    assert source["items"][0]["path"] == token_path.rsplit("/", 1)[1]
    for configmap in of_kind(objects, "ConfigMap"):
        assert not any("TOKEN" in key for key in configmap.get("data", {})), configmap["metadata"]
    if scenario == "existing-secrets":
        assert source["secretName"] == "telegram-credentials"
        assert source["items"][0]["key"] == "bot-token"
    else:
        secret = named(objects, "Secret", "telegram")
        assert source["secretName"] == secret["metadata"]["name"]
        assert source["items"][0]["key"] in secret["data"]


@pytest.mark.chart
@pytest.mark.parametrize("scenario", ALL)
def test_every_pod_runs_restricted(rendered, scenario):
    specs = pod_specs(rendered[scenario])
    assert specs
    for name, spec in specs:
        pod_sc = spec.get("securityContext", {})
        assert spec.get("automountServiceAccountToken") is False, name
        assert pod_sc.get("runAsNonRoot") is True, name
        assert isinstance(pod_sc.get("runAsUser"), int) and pod_sc["runAsUser"] > 0, name
        assert pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", name
        assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC")
        writable = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        for container in app_containers(spec):
            where = f"{name} container {container['name']}"
            sc = container.get("securityContext", {})
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert sc.get("readOnlyRootFilesystem") is True, where
            assert sc.get("privileged") in (None, False), where
            assert sc.get("runAsNonRoot") is True, where
            assert isinstance(sc.get("runAsUser"), int) and sc["runAsUser"] > 0, where
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
            assert not sc.get("capabilities", {}).get("add"), where
            assert sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
            tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
            assert tmp and tmp[0]["name"] in writable, f"{where}: no writable emptyDir /tmp"


@pytest.mark.chart
@pytest.mark.parametrize("scenario", ALL)
def test_every_container_has_resources_and_every_service_container_has_probes(rendered, scenario):
    for name, spec in pod_specs(rendered[scenario]):
        for container in app_containers(spec):
            where = f"{name} container {container['name']}"
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(bound, {})), f"{where}: {bound}"
            # init containers run to completion: Kubernetes allows them no probes
            if not is_test_pod(name) and container in spec["containers"]:
                assert "livenessProbe" in container, f"{where}: no liveness probe"
                assert "readinessProbe" in container, f"{where}: no readiness probe"


@pytest.mark.chart
@pytest.mark.parametrize("scenario", ALL)
def test_service_accounts_never_mount_an_api_token(rendered, scenario):
    accounts = of_kind(rendered[scenario], "ServiceAccount")
    assert accounts
    for account in accounts:
        assert account.get("automountServiceAccountToken") is False, account["metadata"]["name"]
    names = {a["metadata"]["name"] for a in accounts}
    for name, spec in pod_specs(rendered[scenario]):
        if not is_test_pod(name):
            assert spec["serviceAccountName"] in names, name


@pytest.mark.chart
@pytest.mark.parametrize("scenario", POLLING)
def test_exactly_one_bot_poller_replaced_by_recreate(rendered, scenario):
    bots = [
        d
        for d in of_kind(rendered[scenario], "Deployment")
        if d["metadata"]["name"].endswith("-bot")
    ]
    assert len(bots) == 1
    bot = bots[0]
    assert bot["spec"]["replicas"] == 1
    assert bot["spec"]["strategy"] == {"type": "Recreate"}
    backend_timeout = float(
        named(rendered[scenario], "ConfigMap", "bot")["data"]["BACKEND_TIMEOUT"]
    )
    # in-flight voice notes wait on the backend; the pod must outlive one full backend call
    assert bot["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > backend_timeout
    assert not [h for h in of_kind(rendered[scenario], "HorizontalPodAutoscaler")
                if h["spec"]["scaleTargetRef"]["name"].endswith("-bot")]  # fmt: skip


@pytest.mark.chart
@pytest.mark.parametrize("scenario", ALL)
def test_every_long_running_workload_has_a_matching_disruption_budget(rendered, scenario):
    objects = rendered[scenario]
    budgets = of_kind(objects, "PodDisruptionBudget")
    for deployment in of_kind(objects, "Deployment"):
        if deployment["metadata"]["name"].endswith("-emulator"):
            continue  # a test fixture, not a service
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        matching = [b for b in budgets
                    if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]  # fmt: skip
        assert len(matching) == 1, f"{deployment['metadata']['name']}: {len(matching)} PDBs"


@pytest.mark.chart
@pytest.mark.parametrize("scenario", ALL)
def test_pods_roll_when_their_config_or_chart_secret_changes(rendered, scenario):
    for deployment in of_kind(rendered[scenario], "Deployment"):
        annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
        name = deployment["metadata"]["name"]
        if name.endswith(("-bot", "-webhook", "-worker", "-backend", "-converter")):
            assert len(annotations.get("checksum/config", "")) == 64, name
        if name.endswith(("-bot", "-webhook", "-worker", "-backend")):
            assert len(annotations.get("checksum/secret", "")) == 64, name


@pytest.mark.chart
def test_the_converters_wait_queue_is_its_default_unless_set(render):
    base = SCENARIOS["defaults"]

    def converter_config(values: Obj) -> Obj:
        data: Obj = named(render(values), "ConfigMap", "converter")["data"]
        return data

    assert "CONVERTER_MAX_QUEUE" not in converter_config(base)  # the service's 4 per slot
    refuse_at_once = converter_config({**base, "converter": {"maxQueue": 0}})
    assert refuse_at_once["CONVERTER_MAX_QUEUE"] == "0"


@pytest.mark.chart
def test_a_new_token_or_setting_rolls_the_bot_and_nothing_else_changes_without_cause(render):
    base = SCENARIOS["explicit-secrets"]

    def bot_annotations(values: Obj) -> Obj:
        bot = named(render(values), "Deployment", "bot")
        return bot["spec"]["template"]["metadata"]["annotations"]

    first, again = bot_annotations(base), bot_annotations(base)
    assert first == again, "rendering the same values twice must not roll the pods"
    rotated = bot_annotations({**base, "telegram": {"token": "8888888:rotated-token"}})
    assert rotated["checksum/secret"] != first["checksum/secret"]
    assert rotated["checksum/config"] == first["checksum/config"]
    louder = bot_annotations({**base, "bot": {"logLevel": "DEBUG"}})
    assert louder["checksum/config"] != first["checksum/config"]


@pytest.mark.chart
def test_the_converter_has_native_grpc_probes_and_a_grpc_service(rendered):
    objects = rendered["defaults"]
    container = named(objects, "Deployment", "converter")["spec"]["template"]["spec"]["containers"][
        0
    ]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["grpc"]["port"] == 50051, probe
    service = named(objects, "Service", "converter")
    assert service["spec"]["ports"][0]["appProtocol"] == "grpc"


@pytest.mark.chart
def test_the_bot_balances_over_every_converter_pod_through_a_headless_service(render, rendered):
    objects = rendered["defaults"]
    headless = named(objects, "Service", "converter-headless")
    pods = named(objects, "Deployment", "converter")["spec"]["template"]["metadata"]["labels"]
    # DNS answers with every ready pod, not one virtual IP that pins a gRPC connection to a pod
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["selector"].items() <= pods.items()
    assert not headless["spec"].get("publishNotReadyAddresses"), "a draining pod must drop out"
    assert headless["spec"]["ports"][0]["port"] == 50051
    assert headless["spec"]["ports"][0]["targetPort"] == "grpc"
    address = named(objects, "ConfigMap", "bot")["data"]["CONVERTER_ADDRESS"]
    assert address == f"dns:///{headless['metadata']['name']}:50051"
    # connections age out so the bot resolves again and finds pods the HPA adds
    converter = named(objects, "ConfigMap", "converter")["data"]
    assert converter["CONVERTER_MAX_CONNECTION_AGE_SECONDS"] == "60"

    external = render(
        {
            "telegram": {"token": "123456:external-converter-token"},
            "converter": {"enabled": False, "externalAddress": "converter.shared:50051"},
        }
    )
    assert not maybe_named(external, "Service", "converter-headless")
    assert named(external, "ConfigMap", "bot")["data"]["CONVERTER_ADDRESS"] == (
        "converter.shared:50051"
    )


@pytest.mark.chart
def test_the_hpa_scales_the_converter_and_owns_its_replica_count(rendered):
    assert not maybe_named(rendered["defaults"], "HorizontalPodAutoscaler", "converter")
    objects = rendered["hpa"]
    hpa = named(objects, "HorizontalPodAutoscaler", "converter")
    converter = named(objects, "Deployment", "converter")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": converter["metadata"]["name"],
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 5)
    assert "replicas" not in converter["spec"], "a fixed replica count would fight the HPA"


@pytest.mark.chart
def test_the_backend_keeps_its_state_in_postgresql_and_scales_out(rendered):
    objects = rendered["defaults"]
    backend = named(objects, "Deployment", "backend")
    assert backend["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    assert named(objects, "HorizontalPodAutoscaler", "backend")["spec"]["minReplicas"] == 2
    spec = backend["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert "emptyDir" in volumes["storage"], "only scratch space: no volume claim of its own"
    assert not [
        c for c in of_kind(objects, "PersistentVolumeClaim") if "backend" in c["metadata"]["name"]
    ]
    (migrate,) = spec["initContainers"]
    assert "phonicflow_backend migrate" in migrate["args"][0] and "seq 60" in migrate["args"][0]
    for container in (migrate, spec["containers"][0]):
        env = env_of(container)
        assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "postgres-password"
        assert env["DATABASE_URL"]["value"] == (
            "postgresql+asyncpg://phonicflow:$(POSTGRES_PASSWORD)@pf-phonicflow-bot-postgresql:5432/phonicflow"
        )
    assert env_of(spec["containers"][0])["DATABASE_MIGRATE"]["value"] == "false"

    postgres = named(objects, "StatefulSet", "postgresql")
    (claim,) = postgres["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "8Gi"
    assert postgres["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Retain"
    pg_env = env_of(postgres["spec"]["template"]["spec"]["containers"][0])
    assert "POSTGRES_PASSWORD" not in pg_env and "POSTGRES_PASSWORD_FILE" in pg_env
    ingress = _policy_for(objects, "postgresql")["spec"]["ingress"]
    assert [p for rule in ingress for p in rule["from"]] == [
        {
            "podSelector": {
                "matchLabels": named(objects, "Deployment", "backend")["spec"]["selector"][
                    "matchLabels"
                ]
            }
        }
    ]

    external = rendered["external-postgresql"]
    assert not maybe_named(external, "StatefulSet", "postgresql")
    env = env_of(
        named(external, "Deployment", "backend")["spec"]["template"]["spec"]["containers"][0]
    )
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "pg-url", "key": "url"}
    egress = _policy_for(external, "backend")["spec"]["egress"]
    assert any(p["port"] == 6432 for r in egress for p in r.get("ports", []))


@pytest.mark.chart
def test_external_redis_and_backend_replace_the_in_chart_ones(rendered):
    objects = rendered["external-redis-and-backend"]
    deployments = {d["metadata"]["name"].rsplit("-", 1)[1] for d in of_kind(objects, "Deployment")}
    assert deployments == {"bot", "worker", "converter"}
    assert not maybe_named(objects, "StatefulSet", "redis")
    config = named(objects, "ConfigMap", "bot")["data"]
    assert config["BACKEND_URL"] == "https://backend.example.org:8443"
    env = env_of(named(objects, "Deployment", "bot")["spec"]["template"]["spec"]["containers"][0])
    assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "redis-credentials",
        "key": "password",
    }
    # the kubelet expands $(REDIS_PASSWORD), declared before REDIS_URL
    assert env["REDIS_URL"]["value"] == "rediss://:$(REDIS_PASSWORD)@redis.example.org:6380/2"
    names = list(env)
    assert names.index("REDIS_PASSWORD") < names.index("REDIS_URL")
    egress_ports = {p["port"] for rule in named(objects, "NetworkPolicy", "worker")["spec"]["egress"]
                    for p in rule.get("ports", [])}  # fmt: skip
    assert {8443, 6380, 443, 53} <= egress_ports
    poller_ports = {p["port"] for rule in named(objects, "NetworkPolicy", "bot")["spec"]["egress"]
                    for p in rule.get("ports", [])}  # fmt: skip
    assert poller_ports == {6380, 443, 53}, "the poller talks to Redis and Telegram only"


@pytest.mark.chart
def test_in_chart_redis_requires_the_generated_password(rendered):
    objects = rendered["defaults"]
    secret = named(objects, "Secret", "phonicflow-bot")
    password = base64.b64decode(secret["data"]["redis-password"]).decode()
    assert len(password) >= 32
    redis = named(objects, "StatefulSet", "redis")["spec"]["template"]["spec"]["containers"][0]
    assert "requirepass" in " ".join(redis["args"]) and password not in json.dumps(redis)
    assert env_of(redis)["REDISCLI_AUTH"]["valueFrom"]["secretKeyRef"]["key"] == "redis-password"
    bot = named(objects, "Deployment", "bot")["spec"]["template"]["spec"]["containers"][0]
    assert env_of(bot)["REDIS_URL"]["value"].startswith("redis://:$(REDIS_PASSWORD)@pf-")


@pytest.mark.chart
def test_existing_secrets_are_used_and_the_chart_makes_none_it_does_not_need(rendered):
    objects = rendered["existing-secrets"]
    assert not of_kind(objects, "Secret"), "every secret was brought by the user"
    refs = set()
    for _, spec in pod_specs(objects):
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                refs.add(volume["secret"]["secretName"])
        for container in app_containers(spec):
            for entry in env_of(container).values():
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    refs.add(ref["name"])
    assert refs == {"telegram-credentials", "bot-key", "redis-auth", "postgres-auth"}


def _policy_for(objects: list[Obj], component: str) -> Obj:
    return named(objects, "NetworkPolicy", component)


def _selects(rule_peer: Obj, component: str) -> bool:
    labels = rule_peer.get("podSelector", {}).get("matchLabels", {})
    return (
        labels.get("app.kubernetes.io/component") == component
        and "namespaceSelector" not in rule_peer
    )


@pytest.mark.chart
def test_network_policies_allow_only_the_designed_paths(rendered):
    objects = rendered["defaults"]
    policies = of_kind(objects, "NetworkPolicy")
    # a namespace-wide default deny: any other pod in the namespace gets no traffic at all
    (deny_all,) = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert set(deny_all["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny_all["spec"] and "egress" not in deny_all["spec"]
    policies = [p for p in policies if p is not deny_all]
    for deployment in of_kind(objects, "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        selecting = [p for p in policies
                     if p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()]  # fmt: skip
        assert len(selecting) == 1, deployment["metadata"]["name"]
        assert set(selecting[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}

    def reachable_from(component: str) -> set[str]:
        egress = _policy_for(objects, component)["spec"]["egress"]
        return {c for rule in egress for peer in rule.get("to", [])
                for c in ("converter", "backend", "redis", "emulator", "postgresql")
                if _selects(peer, c)}  # fmt: skip

    assert reachable_from("bot") == {"redis"}, "the poller: Redis (and Telegram)"
    assert reachable_from("worker") == {"converter", "backend", "redis"}
    assert reachable_from("backend") == {"postgresql"}
    bot_egress = _policy_for(objects, "worker")["spec"]["egress"]
    telegram = [r for r in bot_egress if any("ipBlock" in p for p in r.get("to", []))]
    assert [p["port"] for r in telegram for p in r["ports"]] == [443]
    # "anywhere on 443" leaves out what is inside the cluster and the cloud's metadata service
    (block,) = [p["ipBlock"] for r in telegram for p in r["to"]]
    assert block["cidr"] == "0.0.0.0/0"
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= set(
        block["except"]
    )
    dns = [r for r in bot_egress if {p["port"] for p in r.get("ports", [])} == {53}]
    assert dns and {p["protocol"] for p in dns[0]["ports"]} == {"UDP", "TCP"}

    for component, port in (("converter", 50051), ("backend", 8000), ("redis", 6379)):
        ingress = _policy_for(objects, component)["spec"]["ingress"]
        peers = [peer for rule in ingress for peer in rule["from"]]
        assert any(_selects(peer, "worker") for peer in peers), component
        assert not any(
            _selects(peer, c) for peer in peers for c in ("converter", "backend", "redis")
        )
        assert {p["port"] for rule in ingress for p in rule["ports"]} == {port}
        egress = _policy_for(objects, component)["spec"].get("egress", [])
        allowed = {53, 5432} if component == "backend" else {53}
        assert all({p["port"] for p in rule.get("ports", [])} <= allowed for rule in egress), (
            f"{component} may only resolve names (no OTLP configured here)"
        )
    redis_peers = [
        peer for rule in _policy_for(objects, "redis")["spec"]["ingress"] for peer in rule["from"]
    ]
    assert {
        p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in redis_peers
    } == {"bot", "worker"}, "only the poller and the workers talk to Redis"


@pytest.mark.chart
def test_the_helm_test_pods_have_a_policy_of_their_own(rendered):
    policy = _policy_for(rendered["defaults"], "test")
    assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "test"
    egress = policy["spec"]["egress"]
    reachable = {c for rule in egress for peer in rule.get("to", [])
                 for c in ("converter", "backend", "bot", "redis") if _selects(peer, c)}  # fmt: skip
    assert reachable == {"converter", "backend", "bot"}


def _template_annotations(objects: list[Obj]) -> dict[str, Obj]:
    return {
        obj["metadata"]["name"]: obj["spec"]["template"]["metadata"].get("annotations", {})
        for obj in of_kind(objects, "Deployment") + of_kind(objects, "StatefulSet")
    }


@pytest.mark.chart
@pytest.mark.parametrize("scenario", ["defaults", "emulator", "webhook", "explicit-secrets"])
def test_each_pod_carries_the_checksum_of_the_secret_keys_it_reads(rendered, scenario):
    """checksum/secret hashes exactly the chart-made Secret's keys the pod reads, as stored in
    that Secret. The generated values are made once per render (one random value per include
    made the annotations disagree with the stored Secret, and the first no-op `helm upgrade`
    restarted every pod), and a key a pod does not read cannot restart it."""
    objects = rendered[scenario]
    secrets = of_kind(objects, "Secret")  # the credentials and the token
    stored = {
        k: base64.b64decode(v).decode() for secret in secrets for k, v in secret["data"].items()
    }
    workloads = of_kind(objects, "Deployment") + of_kind(objects, "StatefulSet")
    checked = 0
    for workload in workloads:
        name = workload["metadata"]["name"]
        annotations = workload["spec"]["template"]["metadata"].get("annotations", {})
        pod = workload["spec"]["template"]["spec"]
        read = {k for secret in secrets for k in secret_keys_read(pod, secret["metadata"]["name"])}
        values = {key: stored[key] for key in sorted(read) if key in stored}
        if name.endswith("-emulator"):  # the emulator carries its token's checksum only
            assert (
                annotations["checksum/token"]
                == hashlib.sha256(values["telegram-token"].encode()).hexdigest()
            )
            continue
        if not values:
            assert "checksum/secret" not in annotations, name
            continue
        assert annotations["checksum/secret"] == secret_checksum(values), f"{name}: {sorted(read)}"
        checked += 1
    assert checked >= 3, "the bot, backend and Redis at least read the chart's Secret"


@pytest.mark.chart
def test_uninstall_keeps_the_credentials_with_the_volumes_and_deletes_the_token(rendered):
    """The PostgreSQL volume outlives `helm uninstall` with its password inside: the Secret
    holding that password stays too, so a reinstall finds it (lookup) instead of generating a
    password the database refuses. The bot token is the user's value and goes with the release."""
    secrets = {s["metadata"]["name"]: s for s in of_kind(rendered["defaults"], "Secret")}
    credentials = named(rendered["defaults"], "Secret", "phonicflow-bot")
    token = named(rendered["defaults"], "Secret", "telegram")
    assert set(secrets) == {credentials["metadata"]["name"], token["metadata"]["name"]}
    assert credentials["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert {"postgres-password", "redis-password", "bot-private-key"} <= set(credentials["data"])
    assert "telegram-token" not in credentials["data"]
    assert set(token["data"]) == {"telegram-token"}
    assert "helm.sh/resource-policy" not in token["metadata"].get("annotations", {})
    # ...as the volumes they open are kept
    retention = {
        s["metadata"]["name"].rsplit("-", 1)[1]: s["spec"].get(
            "persistentVolumeClaimRetentionPolicy"
        )
        for s in of_kind(rendered["defaults"], "StatefulSet")
    }
    kept = [
        name for name, policy in retention.items() if (policy or {}).get("whenDeleted") == "Retain"
    ]
    assert set(kept) == {"postgresql", "redis"}


@pytest.mark.chart
def test_switching_the_intake_or_a_password_restarts_only_the_pods_that_read_it(render):
    base = SCENARIOS["explicit-secrets"]
    polling = _template_annotations(render(base))
    webhook = _template_annotations(
        render(
            {
                **base,
                "bot": {"intake": {"mode": "webhook"}},
                "webhook": {"publicUrl": "https://bot.example.org/hook"},
            }
        )
    )
    kept = polling.keys() & webhook.keys()
    assert {name.rsplit("-", 1)[1] for name in kept} >= {"worker", "backend", "redis"}
    for name in kept:
        assert webhook[name] == polling[name], f"{name} restarts on an intake switch"

    new_redis = _template_annotations(
        render({**base, "redis": {"auth": {"password": "another-redis-password"}}})
    )
    rolled = {name.rsplit("-", 1)[1] for name in polling if new_redis[name] != polling[name]}
    assert rolled == {"bot", "worker", "redis"}


@pytest.mark.chart
def test_network_policies_can_be_switched_off(rendered):
    assert not of_kind(rendered["no-network-policy"], "NetworkPolicy")


@pytest.mark.chart
def test_the_emulator_toggle_points_the_bot_at_the_in_cluster_emulator(rendered):
    objects = rendered["emulator"]
    emulator = named(objects, "Deployment", "emulator")
    service = named(objects, "Service", "emulator")
    config = named(objects, "ConfigMap", "bot")["data"]
    base = f"http://{service['metadata']['name']}:8081"
    assert config["TELEGRAM_API_BASE_URL"] == f"{base}/bot"
    assert config["TELEGRAM_FILE_BASE_URL"] == f"{base}/file/bot"
    # the bot and the emulator share one token, from the chart's Secret
    secret = named(objects, "Secret", "telegram")
    token = base64.b64decode(secret["data"]["telegram-token"]).decode()
    emu_env = env_of(emulator["spec"]["template"]["spec"]["containers"][0])
    assert emu_env["EMULATOR_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "telegram-token"
    assert emu_env["EMULATOR_HOST"]["value"] == "0.0.0.0"
    assert token.split(":")[0].isdigit()
    bot_egress = _policy_for(objects, "bot")["spec"]["egress"]
    assert any(_selects(p, "emulator") for r in bot_egress for p in r.get("to", []))
    assert not any("ipBlock" in p for r in bot_egress for p in r.get("to", [])), "no internet"
    assert not maybe_named(rendered["defaults"], "Deployment", "emulator")


@pytest.mark.chart
def test_tracing_and_scraping_are_configured_from_values(rendered):
    objects = rendered["observability"]
    for component in ("bot", "converter", "backend"):
        container = named(objects, "Deployment", component)["spec"]["template"]["spec"][
            "containers"
        ][0]
        env = env_of(container)
        # the names the services give themselves, so one trace reads the same anywhere
        service = {"converter": "audio-converter"}.get(component, component)
        assert env["OTEL_SERVICE_NAME"]["value"] == f"phonicflow-{service}"
        assert (
            env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"]
            == "http://otel-collector.observability:4317"
        )
        assert env["OTEL_TRACES_EXPORTER"]["value"] == "otlp"
        egress = _policy_for(objects, component)["spec"]["egress"]
        assert any(p["port"] == 4317 for r in egress for p in r.get("ports", [])), component
    monitors = of_kind(objects, "ServiceMonitor")
    assert {m["metadata"]["name"].rsplit("-", 1)[1] for m in monitors} == {"bot", "backend"}
    for monitor in monitors:
        assert monitor["metadata"]["labels"]["release"] == "prom"
        service = named(objects, "Service", monitor["metadata"]["name"].rsplit("-", 1)[1])
        assert (
            monitor["spec"]["selector"]["matchLabels"].items()
            <= service["metadata"]["labels"].items()
        )
        assert monitor["spec"]["endpoints"][0]["port"] in {
            p["name"] for p in service["spec"]["ports"]
        }
    defaults = env_of(
        named(rendered["defaults"], "Deployment", "bot")["spec"]["template"]["spec"]["containers"][
            0
        ]
    )
    assert defaults["OTEL_TRACES_EXPORTER"]["value"] == "none"
    bot_pod = named(rendered["defaults"], "Deployment", "bot")["spec"]["template"]["metadata"]
    assert bot_pod["annotations"]["prometheus.io/scrape"] == "true"


@pytest.mark.chart
def test_helm_test_pods_check_the_converter_grpc_health_and_the_backend_from_inside(rendered):
    objects = rendered["defaults"]
    pods = {
        p["metadata"]["name"].removeprefix("pf-phonicflow-bot-"): p for p in of_kind(objects, "Pod")
    }
    assert set(pods) == {"converter-grpc-health", "backend-http-health", "bot-http-health"}
    for pod in pods.values():
        assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
        assert pod["spec"]["restartPolicy"] == "Never"
        assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == "test"
    grpc_check = pods["converter-grpc-health"]["spec"]["containers"][0]
    converter = named(objects, "Deployment", "converter")["spec"]["template"]["spec"]["containers"][
        0
    ]
    assert grpc_check["image"] == converter["image"], "grpc_health ships in the converter image"
    assert "HealthStub" in grpc_check["command"][2]
    assert "pf-phonicflow-bot-converter:50051" in grpc_check["command"][2]
    backend_check = pods["backend-http-health"]["spec"]["containers"][0]
    assert backend_check["args"] == [
        "http://pf-phonicflow-bot-backend:8000/healthz",
        "http://pf-phonicflow-bot-backend:8000/readyz",
    ]


@pytest.fixture(scope="module")
def render_notes(helm, chart_dir, kube_version, tmp_path_factory):
    """NOTES.txt as `helm install` would print it (helm template skips NOTES, so a copy of the
    chart exposes it as a ConfigMap through a named template)."""
    import shutil

    from phonicflow_testing import helm as helmlib

    copy = tmp_path_factory.mktemp("chart") / "phonicflow-bot"
    shutil.copytree(chart_dir, copy)
    notes = (copy / "templates" / "NOTES.txt").read_text()
    (copy / "templates" / "_notes_probe.tpl").write_text(
        '{{- define "notes.probe" -}}\n' + notes + "\n{{- end -}}\n"
    )
    (copy / "templates" / "notes-probe.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\n"
        'data:\n  notes: |\n{{ include "notes.probe" . | indent 4 }}\n'
    )

    def _render(values: Obj) -> str:
        result = helmlib.template(
            helm, copy, values, release="phonicflow-bot", kube_version=kube_version
        )
        assert result.returncode == 0, result.stderr
        (configmap,) = [o for o in helmlib.parse(result.stdout) if o["metadata"]["name"] == "notes"]
        return str(configmap["data"]["notes"])

    return _render


@pytest.mark.chart
def test_notes_tell_an_operator_how_to_reach_and_check_the_release(render_notes):
    notes = render_notes(SCENARIOS["existing-secrets"])
    assert 'token from Secret\n"telegram-credentials" (key "bot-token")' in notes
    assert "rollout restart deploy/phonicflow-bot-bot" in notes, "rotating an existing Secret"
    assert "helm test phonicflow-bot" in notes
    assert "EMULATOR" not in notes and "WARNING" not in notes

    emulator = render_notes({**SCENARIOS["emulator"], "networkPolicy": {"enabled": False}})
    assert "port-forward svc/phonicflow-bot-emulator 8081:8081" in emulator
    assert "WARNING: networkPolicy.enabled=false" in emulator

    webhook = render_notes(SCENARIOS["webhook"])
    assert "Telegram posts updates to https://bot.example.org/telegram/updates" in webhook
    assert "rollout status deploy/phonicflow-bot-webhook" in webhook
    assert "long-polls" not in webhook and "deploy/phonicflow-bot-bot" not in webhook


@pytest.mark.chart
def test_scaling_the_converter_does_not_restart_it_but_a_new_limit_does(render):
    base = SCENARIOS["explicit-secrets"]

    def converter_config_checksum(converter_values: Obj) -> str:
        deployment = named(
            render({**base, "converter": converter_values}), "Deployment", "converter"
        )
        return str(deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"])

    first = converter_config_checksum({"replicaCount": 2})
    assert converter_config_checksum({"replicaCount": 5}) == first
    assert converter_config_checksum({"replicaCount": 2, "maxDurationSeconds": 120}) != first


@pytest.mark.chart
def test_images_come_from_the_configured_registry_pinned_by_digest_when_given(render):
    digest = "sha256:" + "ab" * 32
    objects = render(
        {
            **SCENARIOS["defaults"],
            "global": {"imageRegistry": "registry.example.org", "imagePullSecrets": ["pull"]},
            "bot": {"image": {"digest": digest}},
            "converter": {"image": {"tag": "1.2.3"}},
        }
    )
    images = {name: spec["containers"][0]["image"] for name, spec in pod_specs(objects)}
    assert (
        images["Deployment/pf-phonicflow-bot-bot"]
        == f"registry.example.org/phonicflow/bot@{digest}"
    )
    assert (
        images["Deployment/pf-phonicflow-bot-converter"]
        == "registry.example.org/phonicflow/converter:1.2.3"
    )
    assert (
        images["Deployment/pf-phonicflow-bot-backend"]
        == "registry.example.org/phonicflow/backend:0.1.0"
    )
    assert images["StatefulSet/pf-phonicflow-bot-redis"].startswith("docker.io/library/redis:")
    for name, spec in pod_specs(objects):
        assert spec.get("imagePullSecrets") == [{"name": "pull"}], name


@pytest.mark.chart
def test_redis_keeps_its_append_only_file_on_a_volume_that_outlives_the_release(rendered):
    redis = named(rendered["defaults"], "StatefulSet", "redis")
    script = " ".join(redis["spec"]["template"]["spec"]["containers"][0]["args"])
    assert "appendonly yes" in script and "appendfsync everysec" in script
    (claim,) = redis["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert redis["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Retain"


@pytest.mark.chart
def test_the_alerts_and_the_dashboard_cover_the_seeds_targets(rendered):
    assert not of_kind(rendered["defaults"], "PrometheusRule"), "optional: off by default"
    objects = rendered["observability"]
    (rule,) = of_kind(objects, "PrometheusRule")
    alerts = {r["alert"]: r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert set(alerts) == {
        "PhonicFlowErrorRateHigh", "PhonicFlowReplyLatencyHigh",
        "PhonicFlowBacklogGrowing", "PhonicFlowBackendDown",
    }  # fmt: skip
    assert "> 0.01" in alerts["PhonicFlowErrorRateHigh"]
    assert (
        "0.95" in alerts["PhonicFlowReplyLatencyHigh"]
        and "> 5" in alerts["PhonicFlowReplyLatencyHigh"]
    )
    assert "phonicflow_bot_stream_backlog" in alerts["PhonicFlowBacklogGrowing"]
    assert all('namespace="phonicflow"' in e for e in alerts.values())
    dashboard = named(objects, "ConfigMap", "dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    board = json.loads(dashboard["data"]["phonicflow.json"])
    exprs = " ".join(t["expr"] for p in board["panels"] for t in p["targets"])
    for metric in ("phonicflow_bot_audio_processed_total", "phonicflow_bot_stage_seconds_bucket",
                   "phonicflow_bot_active_sessions", "phonicflow_bot_backend_up"):  # fmt: skip
        assert metric in exprs, metric
