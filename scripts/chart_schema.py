"""The chart's values.schema.json and README "Parameters" table, both from values.yaml.

Usage::

    python scripts/chart_schema.py           # rewrite charts/phonicflow-bot/{README.md,values.schema.json}
    python scripts/chart_schema.py --check   # exit 1 (with a diff) when either is out of step

Every value in values.yaml has a ``## @param`` line (``## @section`` groups them). Bitnami's
readme-generator-for-helm (pinned in scripts/chart-docs/package.json, installed by
``make setup``) turns those into the README table and an OpenAPI-style schema with each value's
type, description and default. It cannot say what the chart refuses (enums, patterns,
minimums, ``required``, ``additionalProperties: false``, the ``allOf`` rules between values), so
``values.schema.overlay.json`` holds only those constraints, kept by hand, and is merged over the
generated schema: objects merge key by key, anything else in the overlay wins, and a ``null``
in the overlay deletes the generated key (e.g. a ``type`` where the overlay says ``anyOf``).
"""

from __future__ import annotations

import argparse
import difflib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "phonicflow-bot"
GENERATOR = ROOT / "scripts" / "chart-docs" / "node_modules" / ".bin" / "readme-generator"
#: Keys the generator's schema has that JSON Schema (draft 7, what helm checks) does not know.
OPENAPI_ONLY = ("nullable",)


def merge(generated: Any, overlay: Any) -> Any:
    """``overlay`` over ``generated``: dicts merge recursively, a None in the overlay deletes."""
    if not (isinstance(generated, dict) and isinstance(overlay, dict)):
        return overlay
    result = dict(generated)
    for key, value in overlay.items():
        if value is None:
            result.pop(key, None)
        elif key in result:
            result[key] = merge(result[key], value)
        else:
            result[key] = value
    return result


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in OPENAPI_ONLY}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def render(chart: Path, workdir: Path) -> tuple[str, str]:
    """Run the generator on copies; return (README text, schema text) as they should be."""
    if not GENERATOR.exists():
        raise SystemExit(
            f"{GENERATOR.relative_to(ROOT)} is missing: run `make setup` (npm ci in scripts/chart-docs)"
        )
    readme_copy = workdir / "README.md"
    shutil.copyfile(chart / "README.md", readme_copy)
    generated_schema = workdir / "generated.schema.json"
    result = subprocess.run(
        [str(GENERATOR), "--values", str(chart / "values.yaml"), "--readme", str(readme_copy),
         "--schema", str(generated_schema)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        errors = [line for line in result.stdout.splitlines() if "ERROR" in line]
        raise SystemExit("readme-generator failed:\n" + "\n".join(errors or [result.stderr]))
    generated = _strip(json.loads(generated_schema.read_text()))
    schema = merge(generated, json.loads((chart / "values.schema.overlay.json").read_text()))
    first = {k: schema.pop(k) for k in ("$schema", "title", "type") if k in schema}
    text = json.dumps({**first, **schema}, indent=2, ensure_ascii=True) + "\n"
    return readme_copy.read_text(), text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--chart", type=Path, default=CHART)
    args = parser.parse_args()
    chart: Path = args.chart
    targets = {"README.md": chart / "README.md", "values.schema.json": chart / "values.schema.json"}
    with tempfile.TemporaryDirectory() as tmp:
        readme, schema = render(chart, Path(tmp))
    wanted = {"README.md": readme, "values.schema.json": schema}
    stale = [name for name, path in targets.items() if path.read_text() != wanted[name]]
    if args.check:
        for name in stale:
            diff = difflib.unified_diff(
                targets[name].read_text().splitlines(), wanted[name].splitlines(),
                f"{name} (committed)", f"{name} (from values.yaml)", lineterm="", n=1,
            )  # fmt: skip
            print("\n".join(list(diff)[:60]))
        if stale:
            print(f"out of step with values.yaml: {', '.join(stale)}; run `make chart-docs`")
        return 1 if stale else 0
    for name in stale:
        targets[name].write_text(wanted[name])
        print(f"wrote {targets[name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
