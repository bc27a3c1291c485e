"""Score the multi-voice pronunciation set and count what the scorer found (shared by
bench/scoring_eval.py and the regression test in services/backend/tests/scoring).

Counts per (part, voice family, error type): planted errors found with the right word and
type, found on the right word with any type, flags on correctly said words (the untouched
words of planted sentences included: a flag spilled onto a neighbour counts), and correctly
said sentences that came back with no flag at all.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from phonicflow_testing.pronunciation_cases import Case
from phonicflow_testing.voices import FAMILIES, RATE, available, flite_phones, pcm16

Job = tuple[str, str, Case]


@dataclass(frozen=True)
class Outcome:
    family: str
    voice: str
    case: Case
    flags: dict[int, str]
    words: int
    aligned: bool
    #: the scorer's flags before the second opinion, and what it said: (word index, slug,
    #: the scorer had flagged it, delta in nats); empty when the second opinion is off
    before: dict[int, str] = field(default_factory=dict)
    opinions: tuple[tuple[int, str, bool, float], ...] = ()


def _same_phones(spelling: str, arpabet: str) -> bool:
    # flite's lexicon writes a stressed AH as "aa" (cup → K AA P): one sound for this check
    def norm(phones: str) -> list[str]:
        return [p.rstrip("012").replace("AH", "AA") for p in phones.split()]

    return norm(flite_phones(spelling)) == norm(arpabet)


def jobs(
    cases: Iterable[Case], families: dict[str, tuple[str, ...]] = FAMILIES
) -> tuple[list[Job], list[str]]:
    """Every (family, voice, case) to score, and one line per family or case left out and why."""
    out: list[Job] = []
    notes: list[str] = []
    cases = list(cases)
    for family, voices in families.items():
        missing = available(family)
        if missing:
            notes.append(f"SKIPPED family {family}: {missing}")
            continue
        for case in cases:
            if (
                family == "flite"
                and case.slug
                and case.arpabet
                and not _same_phones(case.spelling, case.arpabet)
            ):
                notes.append(
                    f"SKIPPED on flite: {case.spelling!r} is {flite_phones(case.spelling)}, "
                    f"not {case.arpabet} ({case.target!r})"
                )
                continue
            out.extend((family, voice, case) for voice in voices)
    return out, notes


_scorer: Any = None
#: Whisper, for the second opinion (loaded when the config turns it on)
_stt: Any = None


def _init(config: Any) -> None:
    global _scorer, _stt
    from phonicflow_backend.scoring import ScorerConfig, create_scorer

    config = config or ScorerConfig()
    _scorer = create_scorer(config)
    # the second opinion runs as the backend runs it, on Whisper tiny.en
    if config.whisper_drop_nats > 0 or config.whisper_add_nats > 0:
        from phonicflow_backend.stt import WhisperSTT

        _stt = WhisperSTT()


def _run(job: Job) -> Outcome:
    family, voice, case = job
    audio = pcm16(family, voice, case.utterance.render(family))
    result = _scorer.assess(audio, RATE, case.target)
    before = {i: w.error for i, w in enumerate(result.words) if w.error}
    said: tuple[tuple[int, str, bool, float], ...] = ()
    if _stt is not None:
        result, opinions = _scorer.second_opinion(result, case.target, _stt.sentence_model(audio))
        said = tuple(
            (o.candidate.index, o.candidate.variant.slug, o.candidate.flagged, o.delta)
            for o in opinions
        )
    flags = {i: w.error for i, w in enumerate(result.words) if w.error}
    return Outcome(family, voice, case, flags, len(result.words), result.aligned, before, said)


def run(job_list: list[Job], config: Any = None, workers: int | None = None) -> list[Outcome]:
    """Score every job in a process pool (one scorer per process, built from ``config``)."""
    workers = workers or min(2, os.cpu_count() or 1)
    # sorted by family so each worker's synthesiser stays warm; chunks keep the pickling cheap
    with ProcessPoolExecutor(workers, initializer=_init, initargs=(config,)) as pool:
        return list(pool.map(_run, job_list, chunksize=4))


@dataclass
class Tally:
    planted: int = 0
    exact: int = 0
    word: int = 0
    false_flags: int = 0
    clean_words: int = 0
    sentences: int = 0
    clean_sentences: int = 0
    unaligned: int = 0

    def add(self, other: Tally) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def exact_rate(self) -> float:
        return self.exact / self.planted if self.planted else float("nan")

    @property
    def word_rate(self) -> float:
        return self.word / self.planted if self.planted else float("nan")

    @property
    def false_rate(self) -> float:
        return self.false_flags / self.clean_words if self.clean_words else float("nan")

    @property
    def clean_rate(self) -> float:
        return self.clean_sentences / self.sentences if self.sentences else float("nan")


@dataclass
class Results:
    #: (part, family, slug or "correct") → counts
    cells: dict[tuple[str, str, str], Tally] = field(default_factory=dict)
    misses: list[str] = field(default_factory=list)

    def total(self, part: str, family: str | None = None, slug: str | None = None) -> Tally:
        out = Tally()
        for (p, f, s), t in self.cells.items():
            if p == part and family in (None, f) and slug in (None, s):
                out.add(t)
        return out


def tally(outcomes: Iterable[Outcome]) -> Results:
    results = Results()
    for o in outcomes:
        c = o.case
        t = results.cells.setdefault((c.part, o.family, c.slug or "correct"), Tally())
        t.unaligned += not o.aligned
        planted = {c.index} if c.slug else set()
        extra = {i: s for i, s in o.flags.items() if i not in planted}
        t.false_flags += len(extra)
        t.clean_words += o.words - len(planted)
        if c.slug:
            t.planted += 1
            t.exact += o.flags.get(c.index) == c.slug
            t.word += c.index in o.flags
            if o.flags.get(c.index) != c.slug or extra:
                results.misses.append(
                    f"{o.family}/{o.voice} {c.part} {c.target!r} {c.slug}@{c.index}: got {o.flags}"
                )
        else:
            t.sentences += 1
            t.clean_sentences += not o.flags
            if o.flags:
                results.misses.append(f"{o.family}/{o.voice} {c.part} {c.target!r}: got {o.flags}")
    return results


def pct(x: float) -> str:
    return "–" if x != x else f"{x:.1%}"


def report(results: Results, parts: Iterable[str], families: Iterable[str]) -> Iterator[str]:
    """Markdown tables: per family, then per error type (right word and type) per family."""
    families = list(families)
    for part in parts:
        yield f"\n### {part}\n"
        yield "| family | right word+type | right word | false flags / correct word | clean correct sentences | unaligned notes |"
        yield "|---|---|---|---|---|---|"
        for family in [*families, None]:
            t = results.total(part, family)
            if not (t.planted or t.sentences):
                continue
            yield (
                f"| {family or '**all**'} | {t.exact}/{t.planted} = {pct(t.exact_rate)} "
                f"| {pct(t.word_rate)} | {t.false_flags}/{t.clean_words} = {pct(t.false_rate)} "
                f"| {t.clean_sentences}/{t.sentences} = {pct(t.clean_rate)} | {t.unaligned} |"
            )
        slugs = sorted({s for (p, _, s) in results.cells if p == part and s != "correct"})
        yield ""
        yield "| error type | " + " | ".join([*families, "all (word+type / word)"]) + " |"
        yield "|---" * (len(families) + 2) + "|"
        for slug in slugs:
            row = []
            for family in families:
                t = results.total(part, family, slug)
                row.append(f"{t.exact}/{t.planted}" if t.planted else "–")
            t = results.total(part, None, slug)
            row.append(f"{pct(t.exact_rate)} / {pct(t.word_rate)}")
            yield f"| {slug} | " + " | ".join(row) + " |"
