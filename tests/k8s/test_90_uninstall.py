"""Last of the suite: ``helm uninstall`` leaves nothing of the release but the kept volumes."""

from __future__ import annotations

import pytest

from phonicflow_testing.k8s import Release
from phonicflow_testing.processes import eventually

pytestmark = [pytest.mark.k8s]


def test_uninstall_leaves_only_the_kept_volumes(k8s_release: Release):
    k8s_release.test()  # test pods of a last run must not stay either
    claims_before = {
        c["metadata"]["name"]
        for c in k8s_release.cluster.get("pvc", "-n", k8s_release.namespace)["items"]
    }
    k8s_release.uninstall()
    cluster, ns = k8s_release.cluster, k8s_release.namespace

    def left() -> list[str]:
        objects = cluster.get(
            "pods,services,configmaps,secrets,deployments,statefulsets,networkpolicies,"
            "poddisruptionbudgets,serviceaccounts,jobs", "-n", ns,
        )["items"]  # fmt: skip
        return [
            f"{o['kind']}/{o['metadata']['name']}"
            for o in objects
            if o["metadata"]["name"].startswith(k8s_release.fullname)
            or o["metadata"].get("labels", {}).get("app.kubernetes.io/instance") == k8s_release.name
        ]

    # the garbage collector removes the pods of deleted workloads after their grace period
    eventually(lambda: not left(), timeout=150, interval=2, message=f"objects left: {left()}")
    claims = {c["metadata"]["name"] for c in cluster.get("pvc", "-n", ns)["items"]}
    assert claims == claims_before, "the learners' data outlives the release"
    assert any("postgresql" in c for c in claims) and any("redis" in c for c in claims), claims
