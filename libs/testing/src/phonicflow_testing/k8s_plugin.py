"""pytest side of the in-cluster suite (``make k8s-test``; loaded by :mod:`phonicflow_testing.plugin`).

- ``--k8s``: run the tests marked ``k8s`` (tests/k8s) against the cluster of ``$KUBECONFIG``, and
  point the ``system`` of tests/e2e at the chart's pods instead of local processes. Without it the
  ``k8s`` tests are deselected (not skipped): ``make test`` needs no cluster.
- ``k8s_cluster`` (session): the :class:`~phonicflow_testing.k8s.Cluster`.
- ``k8s_release`` (session): the chart installed once with the emulator values
  (charts/phonicflow-bot/ci/e2e-values.yaml) in a fresh namespace with restricted Pod Security,
  exporting traces to ``k8s_otlp``; uninstalled, namespace deleted, at the end.
- ``k8s_system`` (session): :class:`ClusterSystem`, what tests/e2e scenarios use as ``system``.

Environment: ``PHONICFLOW_IMAGE_TAG`` (``dev``: what scripts/k8s/cluster-images.sh built),
``PHONICFLOW_K8S_KEEP=1`` keeps the namespace after the run for a look around.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import yaml

from phonicflow_testing.k8s import Cluster, Release
from phonicflow_testing.otlp import OtlpReceiver

REPO = Path(__file__).resolve().parents[4]
CHART = REPO / "charts" / "phonicflow-bot"
NAMESPACE = "pf-k8s-test"
RELEASE = "pf"
IMAGE_TAG = os.environ.get("PHONICFLOW_IMAGE_TAG", "dev")
COMPONENT_IMAGES = ("bot", "converter", "backend", "emulator")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--k8s",
        action="store_true",
        help="run the in-cluster suite (tests/k8s) and point tests/e2e at the chart in the "
        "cluster of $KUBECONFIG (make k8s-test)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "k8s: needs a real Kubernetes cluster (make k8s-test)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--k8s"):
        return
    deselected = [item for item in items if item.get_closest_marker("k8s")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("k8s")]


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def e2e_values(**overrides: Any) -> dict[str, Any]:
    """The chart's emulator values with this run's images, plus ``overrides``."""
    base = yaml.safe_load((CHART / "ci" / "e2e-values.yaml").read_text())
    images = {name: {"image": {"tag": IMAGE_TAG}} for name in COMPONENT_IMAGES}
    return deep_merge(deep_merge(base, images), overrides)


@pytest.fixture(scope="session")
def k8s_cluster() -> Cluster:
    cluster = Cluster.from_env()
    if not cluster.reachable():
        pytest.fail(
            f"no Kubernetes API answers for KUBECONFIG={cluster.kubeconfig}: start one with "
            "`make cluster-up` (or run everything with `make k8s-test`)",
            pytrace=False,
        )
    return cluster


@pytest.fixture(scope="session")
def k8s_otlp(k8s_cluster: Cluster) -> Iterator[OtlpReceiver]:
    """An OTLP/HTTP receiver on this machine where the cluster's pods can reach it."""
    with OtlpReceiver(host=k8s_cluster.host_ip_for_pods()) as receiver:
        yield receiver


@pytest.fixture(scope="session")
def k8s_release(
    k8s_cluster: Cluster, k8s_otlp: OtlpReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Release]:
    k8s_cluster.delete_namespace(NAMESPACE)  # what a crashed earlier run left
    k8s_cluster.create_namespace(NAMESPACE)
    release = Release(k8s_cluster, RELEASE, NAMESPACE, CHART)
    host = k8s_otlp.endpoint.split("//")[1].split(":")[0]
    values = e2e_values(
        otel={"enabled": True, "endpoint": k8s_otlp.endpoint, "protocol": "http/protobuf"},
        networkPolicy={"otelEgressCidrs": [f"{host}/32"]},
    )
    try:
        release.install(values)
        yield release
    finally:
        log = tmp_path_factory.getbasetemp() / "k8s-release.log"
        log.write_text(release.describe())
        print(f"\n[k8s] pods, events and logs of the release: {log}")
        if os.environ.get("PHONICFLOW_K8S_KEEP") != "1":
            release.cluster.helm("uninstall", RELEASE, "-n", NAMESPACE, "--wait", check=False)
            k8s_cluster.delete_namespace(NAMESPACE)


class ClusterSystem:
    """The e2e scenarios' ``system``, backed by the chart's pods (see tests/e2e/conftest.py).

    The same surface the local ``System`` offers the learner journeys: the emulator's client,
    Redis, the backend's API, stored files and the OTLP receiver, reached through port-forwards.
    """

    def __init__(self, release: Release, otlp: OtlpReceiver) -> None:
        from phonicflow_emulator.client import EmulatorClient

        cluster, ns = release.cluster, release.namespace
        self.release = release
        self.otlp = otlp
        self._emulator = cluster.port_forward(ns, f"svc/{release.component('emulator')}", 8081)
        self._backend = cluster.port_forward(ns, f"svc/{release.component('backend')}", 8000)
        self._redis = cluster.port_forward(ns, f"svc/{release.component('redis')}", 6379)
        self._postgres = cluster.port_forward(ns, f"svc/{release.component('postgresql')}", 5432)
        self._bot_key = release.secret_value("bot-private-key")
        token = str(release.values.get("emulator", {}).get("token", "1000000:local-emulator-token"))
        self.emulator = SimpleNamespace(client=EmulatorClient(self._emulator.url), token=token)

    @property
    def redis_url(self) -> str:
        self._redis.ensure()
        password = self.release.secret_value("redis-password")
        return f"redis://:{password}@127.0.0.1:{self._redis.local_port}/0"

    @property
    def backend_url(self) -> str:
        return self._backend.url

    def backend_get(self, path: str) -> httpx.Response:
        return httpx.get(
            f"{self.backend_url}{path}", headers={"X-Bot-Key": self._bot_key}, timeout=10
        )

    @property
    def database_url(self) -> str:
        """The in-chart PostgreSQL through a port-forward, with the chart's generated password."""
        self._postgres.ensure()
        password = self.release.secret_value("postgres-password")
        return (
            f"postgresql+asyncpg://phonicflow:{password}@127.0.0.1:{self._postgres.local_port}"
            "/phonicflow"
        )

    def logs(self) -> str:
        return self.release.describe()

    def close(self) -> None:
        self.emulator.client.close()
        for forward in (self._emulator, self._backend, self._redis, self._postgres):
            forward.close()


@pytest.fixture(scope="session")
def k8s_system(k8s_release: Release, k8s_otlp: OtlpReceiver) -> Iterator[ClusterSystem]:
    system = ClusterSystem(k8s_release, k8s_otlp)
    try:
        yield system
    finally:
        system.close()
