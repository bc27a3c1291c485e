"""Last of the suite: ``helm uninstall`` leaves nothing of the release but the kept volumes and
the credentials Secret, and a reinstall carries on with both."""

from __future__ import annotations

import pytest

from phonicflow_testing.k8s import Release
from phonicflow_testing.processes import eventually

pytestmark = [pytest.mark.k8s]


def test_uninstall_keeps_the_volumes_and_their_credentials_and_a_reinstall_uses_them(
    k8s_release: Release,
):
    k8s_release.test()  # test pods of a last run must not stay either
    password = k8s_release.secret_value("postgres-password")
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
    # the credentials stay with the volumes (helm.sh/resource-policy: keep): the PostgreSQL
    # volume was initialised with its password; the bot token's Secret goes
    kept = [f"Secret/{k8s_release.fullname}"]
    eventually(lambda: left() == kept, timeout=150, interval=2, message=f"objects left: {left()}")
    claims = {c["metadata"]["name"] for c in cluster.get("pvc", "-n", ns)["items"]}
    assert claims == claims_before, "the learners' data outlives the release"
    assert any("postgresql" in c for c in claims) and any("redis" in c for c in claims), claims

    # Installed again, the chart finds (lookup) and adopts the kept Secret instead of generating
    # new passwords; `--wait` returns once the backend's migration has logged in to the kept
    # database. With a new password it retried until the install timed out.
    k8s_release.install(k8s_release.values)
    assert k8s_release.secret_value("postgres-password") == password
    assert k8s_release.running_pods("backend")
