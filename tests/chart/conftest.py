"""Fixtures of the chart tests: the chart rendered once per values scenario.

``render(values)`` runs ``helm template`` with a values dict (written to a file, no ``--set``
escaping surprises) and returns the parsed objects; ``render_fails(values)`` returns helm's error
text for values the chart must refuse. The scenarios in :data:`SCENARIOS` are rendered in
parallel once per session (``rendered`` fixture) — helm takes ~0.1 s each.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from phonicflow_testing import helm as helmlib

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "phonicflow-bot"
#: The Kubernetes version rendered for and validated against (schemas from kubernetes-validate).
#: helm built with `go install` believes it talks to Kubernetes 1.20 unless told otherwise.
KUBE_VERSION = "1.33.0"
RELEASE = "pf"
NAMESPACE = "phonicflow"

# Secret values planted by the scenarios, so tests can prove they never leak into plain text
TOKEN = "7777777:planted-token-must-never-leak"
BOT_KEY = "planted-bot-private-key-0123456789"
REDIS_PASSWORD = "plantedRedisPassword42"
WEBHOOK_SECRET = "planted-webhook-secret_0123456789"
WEBHOOK_URL = "https://bot.example.org/telegram/updates"

Obj = dict[str, Any]

SCENARIOS: dict[str, Obj] = {
    "defaults": {"telegram": {"token": TOKEN}},
    "explicit-secrets": {
        "telegram": {"token": TOKEN},
        "botPrivateKey": {"value": BOT_KEY},
        "redis": {"auth": {"password": REDIS_PASSWORD}},
        "postgresql": {"auth": {"password": REDIS_PASSWORD + "pg"}},
    },
    "external-redis-and-backend": {
        "telegram": {"token": TOKEN},
        "backend": {"enabled": False, "externalUrl": "https://backend.example.org:8443"},
        "redis": {
            "enabled": False,
            "external": {
                "url": "rediss://redis.example.org:6380/2",
                "existingSecret": "redis-credentials",
                "existingSecretPasswordKey": "password",
            },
        },
    },
    "existing-secrets": {
        "telegram": {
            "existingSecret": "telegram-credentials",
            "existingSecretTokenKey": "bot-token",
        },
        "botPrivateKey": {"existingSecret": "bot-key", "existingSecretKey": "key"},
        "redis": {"auth": {"existingSecret": "redis-auth"}},
        "postgresql": {"auth": {"existingSecret": "postgres-auth"}},
    },
    "hpa": {
        "telegram": {"token": TOKEN},
        "converter": {"autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 5}},
    },
    "no-network-policy": {"telegram": {"token": TOKEN}, "networkPolicy": {"enabled": False}},
    "emulator": {"emulator": {"enabled": True}, "converter": {"replicaCount": 1}},
    "observability": {
        "telegram": {"token": TOKEN},
        "otel": {"enabled": True, "endpoint": "http://otel-collector.observability:4317"},
        "metrics": {
            "serviceMonitor": {"enabled": True, "labels": {"release": "prom"}},
            "prometheusRule": {"enabled": True},
            "dashboard": {"enabled": True},
        },
    },
    "webhook": {
        "telegram": {"token": TOKEN},
        "bot": {"intake": {"mode": "webhook"}},
        "webhook": {
            "publicUrl": WEBHOOK_URL,
            "secretToken": {"value": WEBHOOK_SECRET},
            "ingress": {
                "enabled": True,
                "className": "nginx",
                "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
                "tls": [{"hosts": ["bot.example.org"], "secretName": "bot-example-tls"}],
            },
        },
    },
    "external-postgresql": {
        "telegram": {"token": TOKEN},
        "postgresql": {
            "enabled": False,
            "external": {"existingSecret": "pg-url", "existingSecretUrlKey": "url", "port": 6432},
        },
    },
}


def _template(helm: str, values: Obj) -> Any:
    return helmlib.template(
        helm, CHART, values, release=RELEASE, namespace=NAMESPACE, kube_version=KUBE_VERSION
    )


@pytest.fixture(scope="session")
def helm() -> str:
    return helmlib.find_helm()


@pytest.fixture(scope="session")
def render(helm: str) -> Callable[[Obj], list[Obj]]:
    def _render(values: Obj) -> list[Obj]:
        result = _template(helm, values)
        assert result.returncode == 0, f"helm template failed:\n{result.stderr}"
        return helmlib.parse(result.stdout)

    return _render


@pytest.fixture(scope="session")
def render_fails(helm: str) -> Callable[[Obj], str]:
    def _render_fails(values: Obj) -> str:
        result = _template(helm, values)
        assert result.returncode != 0, f"helm accepted values it must refuse: {values}"
        return result.stderr

    return _render_fails


@pytest.fixture(scope="session")
def rendered(render: Callable[[Obj], list[Obj]]) -> dict[str, list[Obj]]:
    """Every scenario rendered once, in parallel."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(zip(SCENARIOS, pool.map(render, SCENARIOS.values()), strict=True))
    return results


@pytest.fixture(scope="session")
def planted() -> dict[str, str]:
    """The secret values the scenarios plant, to prove none leaks into plain text."""
    return {
        "token": TOKEN,
        "bot_key": BOT_KEY,
        "redis_password": REDIS_PASSWORD,
        "webhook_secret": WEBHOOK_SECRET,
    }


@pytest.fixture(scope="session")
def chart_dir() -> Path:
    return CHART


@pytest.fixture(scope="session")
def kube_version() -> str:
    return KUBE_VERSION
