"""values.schema.json refuses bad values before anything is rendered, naming the bad value.

Each case is a realistic mistake; helm must exit non-zero and point at the value in its message.
"""

from __future__ import annotations

import subprocess

import pytest

from .conftest import TOKEN

OK = {"telegram": {"token": TOKEN}}

BAD_VALUES = {
    "two bot replicas (two pollers on one token get 409)": (
        {**OK, "bot": {"replicaCount": 2}},
        "/bot/replicaCount",
    ),
    "no token, no existing secret, no emulator": ({}, "/telegram/token"),
    "a token that is not a Telegram token": ({"telegram": {"token": "hunter2"}}, "/telegram/token"),
    "a Bot API URL that is not http(s)": (
        {**OK, "telegram": {"token": TOKEN, "apiBaseUrl": "ftp://api.telegram.org/bot"}},
        "/telegram/apiBaseUrl",
    ),
    "a health port out of range": ({**OK, "bot": {"healthPort": 70000}}, "/bot/healthPort"),
    "a converter port of zero": (
        {**OK, "converter": {"service": {"port": 0}}},
        "/converter/service/port",
    ),
    "external backend without its URL": (
        {**OK, "backend": {"enabled": False}},
        "/backend/externalUrl",
    ),
    "external backend URL without a scheme": (
        {**OK, "backend": {"enabled": False, "externalUrl": "backend:8000"}},
        "/backend/externalUrl",
    ),
    "external Redis given as an http URL": (
        {**OK, "redis": {"enabled": False, "external": {"url": "http://redis:6379"}}},
        "/redis/external/url",
    ),
    "external Redis without its URL": ({**OK, "redis": {"enabled": False}}, "/redis/external/url"),
    "a typo in a key": ({**OK, "bot": {"replicas": 1}}, "replicas"),
    "tracing on without an endpoint": ({**OK, "otel": {"enabled": True}}, "/otel/endpoint"),
    "an unknown speech engine": ({**OK, "backend": {"sttEngine": "siri"}}, "/backend/sttEngine"),
    "an unknown log level": ({**OK, "bot": {"logLevel": "LOUD"}}, "/bot/logLevel"),
    "privilege escalation switched on": (
        {
            **OK,
            "containerSecurityContext": {
                "allowPrivilegeEscalation": True,
                "capabilities": {"drop": ["ALL"]},
            },
        },
        "/containerSecurityContext/allowPrivilegeEscalation",
    ),
    "running as root": (
        {
            **OK,
            "podSecurityContext": {
                "runAsNonRoot": True,
                "runAsUser": 0,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
        },
        "/podSecurityContext/runAsUser",
    ),
    # null deletes a default in helm: an unbounded container
    "a container without limits": ({**OK, "bot": {"resources": {"limits": None}}}, "limits"),
    "webhook intake without its public URL": (
        {**OK, "bot": {"intake": {"mode": "webhook"}}},
        "/webhook/publicUrl",
    ),
    "webhook intake on plain http (Telegram posts only to https)": (
        {
            **OK,
            "bot": {"intake": {"mode": "webhook"}},
            "webhook": {"publicUrl": "http://bot.example.org/hook"},
        },
        "/webhook/publicUrl",
    ),
    "an unknown intake mode": ({**OK, "bot": {"intake": {"mode": "push"}}}, "/bot/intake/mode"),
    "a webhook secret Telegram would refuse": (
        {**OK, "webhook": {"secretToken": {"value": "not allowed!"}}},
        "/webhook/secretToken/value",
    ),
    "an HPA to zero": (
        {**OK, "converter": {"autoscaling": {"enabled": True, "minReplicas": 0}}},
        "/converter/autoscaling/minReplicas",
    ),
}


@pytest.mark.chart
@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_bad_values_are_refused_with_a_message_naming_them(render_fails, case):
    values, pointer = BAD_VALUES[case]
    message = render_fails(values)
    assert "values don't meet the specifications of the schema" in message
    assert pointer in message, message


@pytest.mark.chart
@pytest.mark.parametrize(
    "values",
    [
        {"telegram": {"existingSecret": "telegram-credentials"}},
        {"emulator": {"enabled": True}},
        {**OK, "backend": {"enabled": False, "externalUrl": "http://backend.other-ns:8000"}},
        {**OK, "converter": {"enabled": False, "externalAddress": "converter.shared:50051"}},
        {
            **OK,
            "bot": {"intake": {"mode": "webhook"}},
            "webhook": {"publicUrl": "https://bot.example.org/hook"},
        },
        {
            "emulator": {"enabled": True},
            "bot": {"intake": {"mode": "webhook"}},
            "webhook": {"publicUrl": "http://pf-phonicflow-bot-webhook:8443/hook"},
        },
    ],
    ids=[
        "existing-secret",
        "emulator",
        "external-backend",
        "external-converter",
        "webhook",
        "webhook-on-the-emulator-over-http",
    ],
)
def test_good_alternatives_are_accepted(render, values):
    assert render(values)


@pytest.mark.chart
@pytest.mark.parametrize(
    "values_file", ["ci/default-values.yaml", "ci/e2e-values.yaml", "ci/webhook-values.yaml"]
)
def test_helm_lint_strict_passes(helm, chart_dir, kube_version, values_file):
    result = subprocess.run(
        [helm, "lint", "--strict", "--kube-version", kube_version, str(chart_dir),
         "--values", str(chart_dir / values_file)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.chart
def test_every_value_is_documented_in_values_yaml(chart_dir):
    import yaml

    values = yaml.safe_load((chart_dir / "values.yaml").read_text())
    documented = {
        line.split()[2]
        for line in (chart_dir / "values.yaml").read_text().splitlines()
        if line.strip().startswith("## @param ")
    }

    def leaves(node: object, prefix: str = "") -> set[str]:
        # a documented parent (e.g. bot.resources) covers its children
        if prefix in documented or not isinstance(node, dict) or not node:
            return {prefix}
        return {
            leaf
            for key, child in node.items()
            for leaf in leaves(child, f"{prefix}{'.' if prefix else ''}{key}")
        }

    undocumented = sorted(leaf for leaf in leaves(values) if leaf not in documented)
    assert not undocumented, f"values without a ## @param line: {undocumented}"
