"""Multi-voice accuracy of the pronunciation scorer (docs/scoring.md, "Multi-voice evaluation").

Usage::

    .venv/bin/python bench/scoring_eval.py [--part tuning|held_out|all] [--families espeak,piper]
        [--set FIELD=VALUE ...] [--verbose]

Every sentence of phonicflow_testing.pronunciation_cases, said correctly and with one planted
Brazilian-learner error of each kind, is spoken by four voice families (espeak-ng, MBROLA via
espeak-ng, piper joe, flite), resampled to 16 kHz PCM16 and scored against its target sentence
in a process pool (one scorer per core). A family that is not installed is skipped with a line
saying so. Choose thresholds and levers on ``--part tuning``; the held-out part is the check.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import time
from typing import Any

from phonicflow_backend.scoring import ScorerConfig
from phonicflow_testing import scoring_eval
from phonicflow_testing.pronunciation_cases import CASES
from phonicflow_testing.voices import FAMILIES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", default="all", choices=["tuning", "held_out", "all"])
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--sentences", default="", metavar="REGEX",
        help="only target sentences matching REGEX (a lever that changes only some sentences' "
        "grammar is measured on those; the others score the same by construction)",
    )  # fmt: skip
    parser.add_argument("--verbose", action="store_true", help="print every miss and false flag")
    parser.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE",
        help="override a ScorerConfig field, e.g. --set mispronounced_below=25",
    )  # fmt: skip
    args = parser.parse_args(argv)
    defaults = ScorerConfig()
    overrides: dict[str, Any] = {}
    for item in args.set:
        name, value = item.split("=", 1)
        kind = type(getattr(defaults, name))
        if kind is bool:
            overrides[name] = value.lower() in ("1", "true", "yes")
        elif kind is frozenset:  # --set disabled_errors=ng_to_n,ae_eh_confusion
            overrides[name] = frozenset(filter(None, value.split(",")))
        else:
            overrides[name] = kind(value)
    config = dataclasses.replace(defaults, **overrides)
    parts = ["tuning", "held_out"] if args.part == "all" else [args.part]
    families = {f: FAMILIES[f] for f in args.families.split(",")}
    cases = [c for c in CASES if c.part in parts and re.search(args.sentences, c.target)]
    job_list, notes = scoring_eval.jobs(cases, families)
    for note in notes:
        print(note)
    start = time.perf_counter()
    results = scoring_eval.tally(scoring_eval.run(job_list, config, args.workers))
    if args.verbose:
        print("\n".join(sorted(results.misses)))
    print(f"command: {' '.join(['.venv/bin/python', 'bench/scoring_eval.py', *sys.argv[1:]])}")
    print(f"{len(job_list)} notes in {time.perf_counter() - start:.0f} s; overrides {overrides}")
    present = [f for f in families if any(k[1] == f for k in results.cells)]
    for line in scoring_eval.report(results, parts, present):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
