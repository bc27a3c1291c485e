"""Driving a real Kubernetes cluster from tests: kubectl, helm, port-forwards and probe pods.

Usage::

    cluster = Cluster.from_env()                    # $KUBECONFIG (scripts/k8s/cluster.sh kubeconfig)
    cluster.create_namespace("pf-test")             # restricted Pod Security, enforced
    release = Release(cluster, "pf", "pf-test", chart_dir)
    release.install(values)                         # helm install --wait
    with cluster.port_forward("pf-test", "svc/pf-phonicflow-bot-emulator", 8081) as forward:
        httpx.get(forward.url)
    result = cluster.run_pod("pf-test", "probe", image, PYTHON_CODE)   # a one-shot pod's exit + logs

The clients are the real kubectl and helm (``KUBECTL``/``HELM`` or PATH). Nothing here hides a
failure: a kubectl or helm error raises :class:`ClusterError` with its stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from phonicflow_testing.processes import free_port

Obj = dict[str, Any]

#: Pod Security labels of every namespace the tests make: what production namespaces should use.
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}
#: The container security the restricted profile demands, for probe pods.
RESTRICTED_CONTAINER: Obj = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


class ClusterError(RuntimeError):
    """kubectl or helm failed; the message carries the command and its stderr."""


def _run(
    argv: Sequence[str], *, input: str | None, timeout: float, check: bool, env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            list(argv), input=input, capture_output=True, text=True, timeout=timeout, env=dict(env)
        )
    except subprocess.TimeoutExpired as exc:
        raise ClusterError(f"{' '.join(argv[:6])} ... took more than {timeout}s") from exc
    if check and result.returncode != 0:
        raise ClusterError(
            f"{' '.join(argv[:8])} exited {result.returncode}:\n{result.stderr[-4000:]}"
        )
    return result


@dataclass
class PodRun:
    """A finished one-shot pod: its exit code and output."""

    exit_code: int
    logs: str

    def json(self) -> Any:
        """The last line of the output, parsed (probe scripts print their result there)."""
        return json.loads(self.logs.strip().splitlines()[-1])


class PortForward:
    """``kubectl port-forward`` to a pod or Service on a fixed local port, restarted if it dies.

    kubectl forwards to one pod; when that pod goes away the forward ends and :meth:`ensure`
    (called by :attr:`url`) starts it again on the same local port, so URLs stay valid.
    """

    def __init__(self, cluster: Cluster, namespace: str, target: str, port: int) -> None:
        self.cluster, self.namespace, self.target, self.port = cluster, namespace, target, port
        self.local_port = free_port()
        self._proc: subprocess.Popen[str] | None = None
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the forward
            "w+", prefix="port-forward-", suffix=".log", delete=False
        )

    @property
    def url(self) -> str:
        self.ensure()
        return f"http://127.0.0.1:{self.local_port}"

    def ensure(self, timeout: float = 60.0) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        deadline = time.monotonic() + timeout
        while True:
            self._proc = subprocess.Popen(
                [*self.cluster.kubectl_argv(), "-n", self.namespace, "port-forward",
                 "--address", "127.0.0.1", self.target, f"{self.local_port}:{self.port}"],
                stdout=self._log, stderr=subprocess.STDOUT, text=True, env=self.cluster.env,
            )  # fmt: skip
            while time.monotonic() < deadline and self._proc.poll() is None:
                with contextlib.suppress(OSError):
                    socket.create_connection(("127.0.0.1", self.local_port), timeout=0.5).close()
                    return
                time.sleep(0.2)
            if time.monotonic() >= deadline:
                self.close()
                self._log.seek(0)
                raise ClusterError(f"port-forward {self.target} never came up:\n{self._log.read()}")
            time.sleep(1)  # the target has no ready pod yet (being replaced): try again

    def restart(self) -> None:
        """Forget the current forward (its pod is gone) and start a new one."""
        self.close()
        self.ensure()

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def __enter__(self) -> PortForward:
        self.ensure()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass
class Cluster:
    """A cluster reached through one kubeconfig."""

    kubeconfig: str
    kubectl_bin: str = "kubectl"
    helm_bin: str = "helm"
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Cluster:
        kubeconfig = os.environ.get("KUBECONFIG", str(Path.home() / ".kube" / "config"))
        kubectl = os.environ.get("KUBECTL") or shutil.which("kubectl") or "kubectl"
        from phonicflow_testing.helm import find_helm

        helm = os.environ.get("HELM") or find_helm()
        return cls(kubeconfig, kubectl, helm, {**os.environ, "KUBECONFIG": kubeconfig})

    # -- clients ------------------------------------------------------------------------------
    def kubectl_argv(self) -> list[str]:
        return [self.kubectl_bin, "--kubeconfig", self.kubeconfig]

    def kubectl(
        self, *args: str, input: str | None = None, timeout: float = 120.0, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return _run(
            [*self.kubectl_argv(), *args], input=input, timeout=timeout, check=check, env=self.env
        )

    def helm(
        self, *args: str, timeout: float = 900.0, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return _run(
            [self.helm_bin, "--kubeconfig", self.kubeconfig, *args],
            input=None, timeout=timeout, check=check, env=self.env,
        )  # fmt: skip

    def get(self, *args: str) -> Any:
        """``kubectl get ... -o json``, parsed."""
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def apply(self, *objects: Obj) -> None:
        self.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objects))

    def reachable(self) -> bool:
        return self.kubectl("get", "--raw", "/readyz", timeout=15, check=False).returncode == 0

    def node_ip(self) -> str:
        nodes = self.get("nodes")["items"]
        return str(
            next(a["address"] for a in nodes[0]["status"]["addresses"] if a["type"] == "InternalIP")
        )

    def host_ip_for_pods(self) -> str:
        """This machine's address on the route to the node: where pods reach a test's servers."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect((self.node_ip(), 9))
            return str(sock.getsockname()[0])

    # -- namespaces ---------------------------------------------------------------------------
    def create_namespace(self, name: str, labels: Mapping[str, str] | None = None) -> None:
        meta = {"name": name, "labels": {**RESTRICTED, **(labels or {})}}
        self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": meta})

    def delete_namespace(self, name: str, wait: bool = True) -> None:
        self.kubectl("delete", "namespace", name, "--ignore-not-found", f"--wait={str(wait).lower()}",
                     timeout=300)  # fmt: skip

    # -- pods ---------------------------------------------------------------------------------
    def pods(self, namespace: str, selector: str = "") -> list[Obj]:
        args = ["pods", "-n", namespace] + (["-l", selector] if selector else [])
        return list(self.get(*args)["items"])

    def exec_python(
        self, namespace: str, pod: str, code: str, timeout: float = 120.0, container: str = ""
    ) -> subprocess.CompletedProcess[str]:
        """Run ``python -c code`` inside a running pod (every service image has python)."""
        args = ["exec", "-n", namespace, pod] + (["-c", container] if container else [])
        return self.kubectl(*args, "--", "python", "-c", code, timeout=timeout, check=False)

    def run_pod(
        self,
        namespace: str,
        name: str,
        image: str,
        code: str,
        *,
        labels: Mapping[str, str] | None = None,
        sysctls: Mapping[str, str] | None = None,
        timeout: float = 180.0,
    ) -> PodRun:
        """Run ``python -c code`` in a fresh restricted pod until it exits; returns code and logs."""
        name = f"{name}-{uuid.uuid4().hex[:6]}"
        security: Obj = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
        if sysctls:
            security["sysctls"] = [{"name": k, "value": v} for k, v in sysctls.items()]
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
            "spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": False,
                "securityContext": security,
                "containers": [{
                    "name": "probe", "image": image, "imagePullPolicy": "IfNotPresent",
                    "command": ["python", "-c", code], "securityContext": RESTRICTED_CONTAINER,
                    "resources": {"requests": {"cpu": "10m", "memory": "32Mi"},
                                  "limits": {"memory": "128Mi"}},
                }],
            },
        }  # fmt: skip
        self.apply(pod)
        try:
            deadline = time.monotonic() + timeout
            while True:
                phase = self.get("pod", "-n", namespace, name)["status"].get("phase")
                if phase in ("Succeeded", "Failed"):
                    break
                if time.monotonic() > deadline:
                    raise ClusterError(f"pod {name} still {phase} after {timeout}s")
                time.sleep(1)
            status = self.get("pod", "-n", namespace, name)["status"]
            exit_code = int(status["containerStatuses"][0]["state"]["terminated"]["exitCode"])
            logs = self.kubectl("logs", "-n", namespace, name).stdout
            return PodRun(exit_code, logs)
        finally:
            self.kubectl("delete", "pod", "-n", namespace, name, "--wait=false",
                         "--ignore-not-found", check=False)  # fmt: skip

    def port_forward(self, namespace: str, target: str, port: int) -> PortForward:
        return PortForward(self, namespace, target, port)


@dataclass
class Release:
    """One Helm release of a chart in one namespace."""

    cluster: Cluster
    name: str
    namespace: str
    chart: Path
    values: Obj = field(default_factory=dict)

    def _values_file(self, values: Obj) -> str:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
            yaml.safe_dump(values, handle)
        return handle.name

    def _helm_with_values(self, verb: str, values: Obj, *extra: str) -> str:
        path = self._values_file(values)
        try:
            return self.cluster.helm(
                verb, self.name, str(self.chart), "-n", self.namespace, "-f", path,
                "--wait", "--timeout", "10m", *extra,
            ).stdout  # fmt: skip
        finally:
            os.unlink(path)

    def install(self, values: Obj) -> str:
        self.values = values
        return self._helm_with_values("install", values)

    def upgrade(self, values: Obj, *extra: str) -> str:
        """``helm upgrade`` with the complete ``values`` (not merged with the previous ones)."""
        self.values = values
        return self._helm_with_values("upgrade", values, *extra)

    def rollback(self, revision: int) -> str:
        """``helm rollback``; :attr:`values` become that revision's, so a later upgrade starts
        from what runs (not from the values rolled back from, which would change images)."""
        out = self.cluster.helm(
            "rollback", self.name, str(revision), "-n", self.namespace, "--wait", "--timeout", "10m"
        ).stdout
        self.values = json.loads(
            self.cluster.helm("get", "values", self.name, "-n", self.namespace, "-o", "json").stdout
        )
        return out

    def test(self, timeout: str = "5m") -> subprocess.CompletedProcess[str]:
        return self.cluster.helm(
            "test", self.name, "-n", self.namespace, "--timeout", timeout, check=False
        )

    def uninstall(self) -> str:
        return self.cluster.helm(
            "uninstall", self.name, "-n", self.namespace, "--wait", "--timeout", "5m"
        ).stdout

    def history(self) -> list[Obj]:
        out = self.cluster.helm("history", self.name, "-n", self.namespace, "-o", "json").stdout
        return list(json.loads(out))

    # -- what it runs -------------------------------------------------------------------------
    @property
    def fullname(self) -> str:
        return self.name if "phonicflow-bot" in self.name else f"{self.name}-phonicflow-bot"

    def component(self, component: str) -> str:
        """Object name of a component, e.g. ``pf-phonicflow-bot-backend``."""
        return f"{self.fullname}-{component}"

    def selector(self, component: str = "") -> str:
        selector = f"app.kubernetes.io/instance={self.name}"
        return f"{selector},app.kubernetes.io/component={component}" if component else selector

    def pods(self, component: str = "") -> list[Obj]:
        return self.cluster.pods(self.namespace, self.selector(component))

    def running_pods(self, component: str) -> list[Obj]:
        return [
            p
            for p in self.pods(component)
            if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
        ]

    def secret_value(self, key: str, secret: str = "") -> str:
        import base64

        data = self.cluster.get("secret", "-n", self.namespace, secret or self.fullname)["data"]
        return base64.b64decode(data[key]).decode()

    def wait_available(self, timeout: float = 600.0) -> None:
        self.cluster.kubectl(
            "-n", self.namespace, "wait", "--for=condition=Available", f"--timeout={int(timeout)}s",
            "deploy", "-l", self.selector(), timeout=timeout + 30,
        )  # fmt: skip

    def image(self, component: str) -> str:
        pod = self.running_pods(component)[0]
        return str(pod["spec"]["containers"][0]["image"])

    def describe(self) -> str:
        """Everything worth reading when a test failed: pods, events, the last logs."""
        ns = self.namespace
        parts = [
            self.cluster.kubectl("get", "all,pvc,networkpolicy", "-n", ns, "-o", "wide", check=False).stdout,
            self.cluster.kubectl("get", "events", "-n", ns, "--sort-by=.lastTimestamp", check=False).stdout[-6000:],
        ]  # fmt: skip
        for pod in self.pods():
            name = pod["metadata"]["name"]
            logs = self.cluster.kubectl("logs", "-n", ns, name, "--all-containers", "--tail=60",
                                        check=False).stdout  # fmt: skip
            parts.append(f"----- {name} -----\n{logs}")
        return "\n".join(parts)
