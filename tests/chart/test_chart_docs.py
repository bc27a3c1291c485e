"""values.yaml, the README's Parameters table and values.schema.json stay in step.

The README table and the schema are generated from the ``## @param`` lines of values.yaml by
readme-generator-for-helm (scripts/chart-docs, installed by ``make setup``; runs offline), with
the hand-kept constraints of values.schema.overlay.json merged in (scripts/chart_schema.py).
These tests regenerate both and compare them with what is committed, and show that a change to
values.yaml alone is caught. ``make setup`` installs npm (Debian) when it is missing.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "chart_schema.py"

pytestmark = pytest.mark.chart


def check(chart: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--chart", str(chart)],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def chart_schema():
    spec = importlib.util.spec_from_file_location("chart_schema", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_readme_and_schema_are_what_values_yaml_generates(chart_dir):
    result = check(chart_dir)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_value_changed_only_in_values_yaml_is_caught(chart_dir, tmp_path):
    copy = tmp_path / "chart"
    shutil.copytree(chart_dir, copy)
    values = copy / "values.yaml"
    text = values.read_text()
    assert "  port: 8443\n" in text
    values.write_text(text.replace("  port: 8443\n", "  port: 9443\n", 1))
    result = check(copy)
    assert result.returncode == 1, result.stdout
    assert "README.md" in result.stdout and "values.schema.json" in result.stdout
    assert "9443" in result.stdout


def test_an_undocumented_value_stops_the_generator(chart_dir, tmp_path):
    copy = tmp_path / "chart"
    shutil.copytree(chart_dir, copy)
    values = copy / "values.yaml"
    values.write_text(values.read_text() + "\nundocumented: 1\n")
    result = check(copy)
    assert result.returncode != 0
    assert "Missing metadata for key: undocumented" in result.stdout + result.stderr


def test_the_schema_has_the_generated_descriptions_and_the_overlays_constraints(chart_dir):
    schema = json.loads((chart_dir / "values.schema.json").read_text())
    webhook = schema["properties"]["webhook"]["properties"]
    # from the ## @param line
    assert webhook["publicUrl"]["description"].startswith("https:// URL Telegram posts to")
    assert webhook["replicaCount"]["default"] == 2
    # from the overlay: what the generator cannot express
    assert webhook["port"]["maximum"] == 65535
    assert schema["properties"]["bot"]["properties"]["intake"]["properties"]["mode"]["enum"] == [
        "polling",
        "webhook",
    ]
    assert schema["additionalProperties"] is False
    assert "nullable" not in json.dumps(schema), "OpenAPI-only keyword: JSON Schema has none"


def test_the_overlay_merges_key_by_key_and_null_deletes(chart_schema):
    generated = {"type": "string", "description": "d", "properties": {"a": {"type": "integer"}}}
    overlay = {"type": None, "anyOf": [{"type": "string"}], "properties": {"a": {"minimum": 1}}}
    assert chart_schema.merge(generated, overlay) == {
        "description": "d",
        "anyOf": [{"type": "string"}],
        "properties": {"a": {"type": "integer", "minimum": 1}},
    }
