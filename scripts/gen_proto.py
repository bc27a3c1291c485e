"""Generate the Python gRPC stubs from proto/ into libs/common/src (``make proto``).

``--check`` generates into a temporary directory and fails when the checked-in stubs differ,
so a .proto edited without regenerating is caught by the test suite.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
OUT = ROOT / "libs" / "common" / "src"
GENERATED_ROOT = OUT / "phonicflow"


def generate(out: Path) -> list[Path]:
    protos = sorted(PROTO_ROOT.rglob("*.proto"))
    include = Path(protoc.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        *[str(p) for p in protos],
    ]
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    # make every generated directory an importable package
    for directory in {p.parent for p in (out / "phonicflow").rglob("*.py")} | {out / "phonicflow"}:
        while directory != out:
            (directory / "__init__.py").touch()
            directory = directory.parent
    return sorted(p.relative_to(out) for p in (out / "phonicflow").rglob("*") if p.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if checked-in stubs are stale")
    args = parser.parse_args()
    if not args.check:
        files = generate(OUT)
        print(f"generated {len(files)} files under {GENERATED_ROOT.relative_to(ROOT)}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        current = sorted(
            p.relative_to(OUT)
            for p in GENERATED_ROOT.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        )
        stale = [
            str(p)
            for p in fresh
            if not (OUT / p).exists() or not filecmp.cmp(Path(tmp) / p, OUT / p, shallow=False)
        ]
        extra = [str(p) for p in current if p not in fresh]
    if stale or extra:
        print("stale generated stubs, run `make proto`:", *stale, *extra, sep="\n  ")
        return 1
    print("generated stubs are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
