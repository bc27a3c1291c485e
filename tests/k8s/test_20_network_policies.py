"""The NetworkPolicies as the cluster's policy agent enforces them (kube-router here, kindnet on kind).

A new pod's traffic is refused until the agent has programmed its address, so every probe here
first proves it can reach something it may reach (a positive control) before it reports what it
cannot, and "cannot" means: not once within a window longer than the agent's delay.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from phonicflow_testing.k8s import RESTRICTED_CONTAINER, Cluster, Release

pytestmark = [pytest.mark.k8s]

PROBE_NAMESPACE = "pf-k8s-probe"

# Connects to each "host:port" of argv[1] (JSON) for `window` seconds; prints which ever answered.
# argv[2] is a control target that must answer first (proof that this pod's own traffic flows).
PROBE = """
import json, socket, sys, time
targets, control, window = json.loads(sys.argv[1]), sys.argv[2], float(sys.argv[3])
def connects(target):
    host, port = target.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        return True
    except OSError:
        return False
deadline = time.monotonic() + 90
controlled = False
while control and time.monotonic() < deadline:
    if connects(control):
        controlled = True
        break
    time.sleep(1)
reached = {t: False for t in targets}
end = time.monotonic() + window
while time.monotonic() < end:
    for t in targets:
        reached[t] = reached[t] or connects(t)
    time.sleep(1)
print(json.dumps({"control": controlled, "reached": reached}))
"""

# A pod the agent has not programmed yet is not restricted (kube-router lets it through for its
# first seconds). So: connect to argv[1] until that is refused (the policy now holds; if no
# policy applies it never is), then check argv[2] (JSON) stays unreachable for `window` seconds.
CUT_OFF = """
import json, socket, sys, time
canary, targets, window = sys.argv[1], json.loads(sys.argv[2]), float(sys.argv[3])
def connects(target):
    host, port = target.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        return True
    except OSError:
        return False
start = time.monotonic()
while connects(canary) and time.monotonic() - start < 120:
    time.sleep(1)
cut_off_after = time.monotonic() - start
reached = {t: False for t in targets}
end = time.monotonic() + window
while time.monotonic() < end:
    for t in targets:
        reached[t] = reached[t] or connects(t)
    time.sleep(1)
print(json.dumps({"cut_off_after": cut_off_after, "reached": reached}))
"""


def probe_code(targets: list[str], control: str, window: float) -> str:
    """The probe as a one-liner for ``python -c`` (argv cannot be given to ``-c`` code here)."""
    argv = ["probe", json.dumps(targets), control, str(window)]
    return f"import sys; sys.argv = {argv!r}\n{PROBE}"


def service_targets(release: Release) -> dict[str, str]:
    """component -> ClusterIP:port of every Service of the release."""
    services = release.cluster.get("services", "-n", release.namespace, "-l", release.selector())
    return {
        s["metadata"]["labels"][
            "app.kubernetes.io/component"
        ]: f"{s['spec']['clusterIP']}:{s['spec']['ports'][0]['port']}"
        for s in services["items"]
        if s["spec"].get("clusterIP") not in (None, "None")
    }


@pytest.fixture(scope="module")
def probe_namespace(k8s_cluster: Cluster) -> Iterator[str]:
    """A namespace with no NetworkPolicy at all: its pods are 'outside the policies'."""
    k8s_cluster.delete_namespace(PROBE_NAMESPACE)
    k8s_cluster.create_namespace(PROBE_NAMESPACE)
    yield PROBE_NAMESPACE
    k8s_cluster.delete_namespace(PROBE_NAMESPACE, wait=False)


@pytest.fixture(scope="module")
def api_server(k8s_cluster: Cluster) -> str:
    """The API server's ClusterIP:443, reachable from any pod no policy restricts."""
    service = k8s_cluster.get("service", "-n", "default", "kubernetes")
    return f"{service['spec']['clusterIP']}:443"


@pytest.fixture(scope="module")
def decoy(k8s_cluster: Cluster, probe_namespace: str, k8s_release: Release) -> str:
    """A server on port 443 at a private (pod) address: what the bot's egress must not reach."""
    name = "decoy-443"
    code = (
        "import http.server as h; h.HTTPServer(('', 443), h.BaseHTTPRequestHandler).serve_forever()"
    )
    k8s_cluster.apply({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": probe_namespace, "labels": {"app": name}},
        "spec": {
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"},
                "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}],
            },
            "containers": [{
                "name": "decoy", "image": k8s_release.image("bot"), "command": ["python", "-c", code],
                "securityContext": RESTRICTED_CONTAINER,
                "readinessProbe": {"tcpSocket": {"port": 443}, "periodSeconds": 1},
            }],
        },
    })  # fmt: skip
    k8s_cluster.kubectl("wait", "-n", probe_namespace, "--for=condition=Ready", f"pod/{name}",
                        "--timeout=120s", timeout=150)  # fmt: skip
    ip = k8s_cluster.get("pod", "-n", probe_namespace, name)["status"]["podIP"]
    return f"{ip}:443"


def test_a_pod_outside_the_policies_reaches_none_of_the_release(
    k8s_release: Release, k8s_cluster: Cluster, probe_namespace: str, api_server: str
):
    targets = service_targets(k8s_release)
    assert {"bot", "worker", "converter", "backend", "redis", "postgresql", "emulator"} <= set(
        targets
    )
    result = k8s_cluster.run_pod(
        probe_namespace, "outsider", k8s_release.image("bot"),
        probe_code(list(targets.values()), api_server, window=10),
    ).json()  # fmt: skip
    assert result["control"], "the probe pod's own traffic never flowed"
    reached = [c for c, t in targets.items() if result["reached"][t]]
    assert reached == [], f"a pod outside the policies reached {reached}"


def test_the_bot_reaches_what_it_needs(k8s_release: Release, k8s_cluster: Cluster):
    """The positive side of the test above: the same Services answer the poller and the
    workers, each only what its role needs (only the backend reaches PostgreSQL)."""
    targets = service_targets(k8s_release)
    for role, needs, not_needed in (
        ("bot", ("redis", "emulator"), ("converter", "backend", "postgresql")),
        ("worker", ("converter", "backend", "redis", "emulator"), ("postgresql",)),
    ):
        pod = k8s_release.running_pods(role)[0]["metadata"]["name"]
        probe = probe_code([targets[c] for c in needs + not_needed], "", window=1)
        result = k8s_cluster.exec_python(k8s_release.namespace, pod, probe)
        assert result.returncode == 0, result.stderr
        reached = json.loads(result.stdout.strip().splitlines()[-1])["reached"]
        assert [c for c in needs if not reached[targets[c]]] == [], role
        assert [c for c in not_needed if reached[targets[c]]] == [], role


def test_an_unknown_pod_in_the_namespace_gets_no_traffic_at_all(
    k8s_release: Release, k8s_cluster: Cluster, probe_namespace: str, decoy: str
):
    """The namespace-wide default deny: a pod no chart policy names reaches nothing.

    Until the agent has programmed it, a new pod is not held back here, so the probe waits for
    its first refusal and then checks that nothing answers it; without the default deny the
    decoy in the open namespace would go on answering. (The node's own addresses,
    where the local cluster's API server listens, stay reachable: kube-router lets pods reach
    their node whatever the policies say.)
    """
    targets = service_targets(k8s_release)
    seen = k8s_cluster.run_pod(probe_namespace, "control", k8s_release.image("bot"),
                               probe_code([decoy], "", window=3)).json()  # fmt: skip
    assert seen["reached"][decoy], "the decoy answers a pod no policy restricts"
    argv = ["cut-off", decoy, json.dumps([decoy, targets["backend"], targets["emulator"]]), "20"]
    result = k8s_cluster.run_pod(
        k8s_release.namespace, "stranger", k8s_release.image("bot"),
        f"import sys; sys.argv = {argv!r}\n{CUT_OFF}", timeout=240,
    ).json()  # fmt: skip
    assert result["cut_off_after"] < 110, "the stranger's traffic was never cut off"
    assert not any(result["reached"].values()), result["reached"]


def test_the_bot_cannot_reach_private_addresses_on_443(
    k8s_release: Release, k8s_cluster: Cluster, probe_namespace: str, decoy: str
):
    """Telegram egress is "anywhere on 443" minus the private ranges: not the API server, not
    the cloud's metadata service, not another team's pods."""
    seen = k8s_cluster.run_pod(probe_namespace, "control", k8s_release.image("bot"),
                               probe_code([decoy], "", window=3)).json()  # fmt: skip
    assert seen["reached"][decoy], "the decoy answers a pod no policy restricts"
    for role in ("bot", "worker"):
        pod = k8s_release.running_pods(role)[0]["metadata"]["name"]
        probe = probe_code([decoy], "", window=8)
        result = k8s_cluster.exec_python(k8s_release.namespace, pod, probe)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout.strip().splitlines()[-1])["reached"] == {decoy: False}, role
