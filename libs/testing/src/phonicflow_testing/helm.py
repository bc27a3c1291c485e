"""Rendering a Helm chart in tests, and picking objects out of the result.

Usage::

    from phonicflow_testing import helm
    binary = helm.find_helm()                       # PATH, .bin/helm, ~/go/bin/helm, or pytest.fail
    result = helm.template(binary, chart_dir, {"telegram": {"token": "..."}}, kube_version="1.33.0")
    objects = helm.parse(result.stdout)             # list of dicts, empty documents dropped
    deployments = helm.of_kind(objects, "Deployment")
    for name, spec in helm.pod_specs(objects): ...  # every workload's pod spec and bare Pods

Values are passed as a YAML file rather than ``--set`` so strings, lists and booleans arrive
exactly as written. A missing helm is a test *failure* with the way to install it, never a skip.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

#: Seconds one `helm template` may take (it normally takes ~0.1 s).
DEFAULT_TIMEOUT_S = 60.0
#: What the pod-spec walk treats as workloads.
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"})

Obj = dict[str, Any]

_REPO_ROOT = Path(__file__).resolve().parents[4]


def find_helm() -> str:
    """The helm binary: on PATH, in the repository's .bin/ (scripts/setup.sh), or ~/go/bin."""
    candidates = [shutil.which("helm"), _REPO_ROOT / ".bin" / "helm", Path.home() / "go/bin/helm"]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    pytest.fail(
        "helm is not installed: run `make setup` (scripts/setup.sh installs it into .bin/ with "
        "`go install`) or put helm on PATH; the chart tests cannot run without it.",
        pytrace=False,
    )


def template(
    helm: str,
    chart: Path,
    values: Obj,
    *,
    release: str = "test",
    namespace: str = "default",
    kube_version: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> subprocess.CompletedProcess[str]:
    """Run ``helm template`` with ``values``; the caller checks ``returncode``."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(values, handle)
    argv = [
        helm,
        "template",
        release,
        str(chart),
        "--namespace",
        namespace,
        "--values",
        handle.name,
    ]
    if kube_version:
        argv += ["--kube-version", kube_version]
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    finally:
        os.unlink(handle.name)


def parse(manifests: str) -> list[Obj]:
    """The objects of a multi-document YAML stream, empty documents dropped."""
    return [doc for doc in yaml.safe_load_all(manifests) if doc]


def of_kind(objects: list[Obj], kind: str) -> list[Obj]:
    return [obj for obj in objects if obj.get("kind") == kind]


def pod_specs(objects: list[Obj]) -> list[tuple[str, Obj]]:
    """``("Kind/name", pod spec)`` of every workload template and every bare Pod."""
    specs: list[tuple[str, Obj]] = []
    for obj in objects:
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] in WORKLOAD_KINDS:
            specs.append((name, obj["spec"]["template"]["spec"]))
        elif obj["kind"] == "Pod":
            specs.append((name, obj["spec"]))
    return specs


def env_of(container: Obj) -> dict[str, Obj]:
    """A container's env entries by name."""
    return {item["name"]: item for item in container.get("env", [])}


def secret_keys_read(pod: Obj, secret: str) -> set[str]:
    """The keys of the Secret named ``secret`` that a pod spec reads: the items of its secret
    volumes and its containers' ``secretKeyRef`` env entries."""
    keys = {
        item["key"]
        for volume in pod.get("volumes", [])
        if volume.get("secret", {}).get("secretName") == secret
        for item in volume["secret"].get("items", [])
    }
    for container in pod.get("containers", []) + pod.get("initContainers", []):
        for entry in container.get("env", []):
            ref = entry.get("valueFrom", {}).get("secretKeyRef")
            if ref and ref["name"] == secret:
                keys.add(ref["key"])
    return keys


def secret_checksum(values: dict[str, str]) -> str:
    """What the chart's ``phonicflow.secretChecksum`` gives for these Secret values: sha256 of
    Helm's ``toJson`` (keys sorted, no spaces; our values are ASCII, so no escaping differs)."""
    return hashlib.sha256(
        json.dumps(values, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
