"""A fresh install with the emulator values, as an operator would do it (first of the suite).

Pod Security ``restricted`` is enforced on the namespace, NetworkPolicies are enforced by the
cluster's policy agent, and the release is installed with ``helm install --wait``
(``k8s_release``, phonicflow_testing.k8s_plugin).
"""

from __future__ import annotations

import pytest

from phonicflow_testing.k8s import Cluster, Release

pytestmark = [pytest.mark.k8s]

COMPONENTS = {"bot", "worker", "converter", "backend", "redis", "postgresql", "emulator"}


def workloads(release: Release) -> list[dict]:
    cluster = release.cluster
    items: list[dict] = []
    for kind in ("deployments", "statefulsets"):
        items += cluster.get(kind, "-n", release.namespace, "-l", release.selector())["items"]
    return items


def test_every_component_runs_under_enforced_restricted_pod_security(
    k8s_release: Release, k8s_cluster: Cluster
):
    labels = k8s_cluster.get("namespace", k8s_release.namespace)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    ready = {
        w["metadata"]["labels"]["app.kubernetes.io/component"]: w["status"].get("readyReplicas", 0)
        for w in workloads(k8s_release)
    }
    assert set(ready) == COMPONENTS
    assert all(ready.values()), ready
    # and the admission really refuses what the profile forbids (a pod with no securityContext)
    refused = k8s_cluster.kubectl(
        "run", "root-pod", "-n", k8s_release.namespace, "--image", k8s_release.image("bot"),
        "--restart=Never", "--dry-run=server", "--command", "--", "true", check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "violates PodSecurity" in refused.stderr


def test_no_pod_restarted_during_the_install(k8s_release: Release):
    restarts = {
        pod["metadata"]["name"]: sum(c["restartCount"] for c in pod["status"]["containerStatuses"])
        for pod in k8s_release.pods()
    }
    assert restarts and not any(restarts.values()), restarts


def test_helm_test_passes_with_network_policies_enforced_and_leaves_no_pod(k8s_release: Release):
    result = k8s_release.test()
    assert result.returncode == 0, result.stdout + result.stderr
    for check in ("converter-grpc-health", "backend-http-health", "bot-http-health"):
        assert f"{k8s_release.component(check)}" in result.stdout and "Succeeded" in result.stdout
    # the pods' output, printed by helm before it deleted them; the retries show the policy
    # agent's window (the first attempts are usually refused)
    assert "SERVING" in result.stdout + result.stderr, "the test pods' output is printed"
    assert not k8s_release.pods("test"), "the test pods were deleted"


def test_a_no_op_upgrade_restarts_nothing(k8s_release: Release):
    def state() -> tuple[set[str], dict[str, int]]:
        uids = {pod["metadata"]["uid"] for pod in k8s_release.pods()}
        generations = {
            w["metadata"]["name"]: w["metadata"]["generation"] for w in workloads(k8s_release)
        }
        return uids, generations

    before = state()
    k8s_release.upgrade(k8s_release.values)
    after = state()
    assert after[1] == before[1], "a pod template changed: a checksum annotation moved"
    assert after[0] == before[0]
