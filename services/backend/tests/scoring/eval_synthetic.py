"""Accuracy of the pronunciation scorer on the project's own synthetic speech.

Run:  .venv/bin/python services/backend/tests/scoring/eval_synthetic.py [--voices en-us,en-gb]

Every case is spoken by espeak-ng (several voices), resampled to 16 kHz mono PCM16 and scored
against its target sentence. Reported: detection rate of planted errors (right word, right
slug; and right word, any flag), false alarms per word on correct sentences and on the
untouched words of planted sentences, and time per assessment. The pytest suite imports the
cases and ``pcm16`` from here, so the numbers in docs/scoring.md and the tests share one set.

The multi-voice evaluation (bench/scoring_eval.py: espeak-ng, MBROLA, piper, flite, a tuning
and a held-out part) reuses these sentences and the synthesis of ``phonicflow_testing.voices``.

Planted words use espeak-ng's phoneme input (``[[b'Igi]]``) where a spelling would be read
in some other way. Synthetic voices are not Brazilian learners: read the numbers as a
regression check, not as field accuracy.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

from phonicflow_backend.scoring import (
    Assessment,
    PronunciationScorer,
    ScorerConfig,
    WordResult,
    create_scorer,
)
from phonicflow_testing import voices

#: the rate the backend hands the scorer
RATE = 16000
#: voices the evaluation speaks with by default (espeak-ng's built-in variants)
VOICES = ("en-us", "en-us+m3", "en-us+f2", "en-gb")


@dataclass(frozen=True)
class Case:
    """``spoken`` is what espeak-ng says; ``errors`` maps target word index → expected slug."""

    target: str
    spoken: str
    errors: dict[int, str]


CORRECT = [
    "I think three trees are there",
    "The big house is red",
    "She likes green apples",
    "We worked at the school",
    "He has a happy dog",
    "This is my brother",
    "They played with the cats",
    "Thank you for the food",
    "Run to the red car",
    "Please read this book",
    "My father walked home",
    "The water is deep",
]

PLANTED = [
    Case(
        "I think three trees are there",
        "I tink tree trees are dere",
        {1: "th_to_t", 2: "th_to_t", 5: "th_to_d"},
    ),
    Case("Thank you for the food", "Tank you for the food", {0: "th_to_t"}),
    Case("I think so", "I fink so", {1: "th_to_f"}),
    Case("Three cats", "Free cats", {0: "th_to_f"}),
    Case("I think so", "I sink so", {1: "th_to_s"}),
    Case("This is my brother", "Dis is my brother", {0: "th_to_d"}),
    Case("They played with the cats", "Day played with the cats", {0: "th_to_d"}),
    Case("This is my brother", "Zis is my brother", {0: "th_to_z"}),
    Case("The big house is red", "The [[b'Igi]] house is red", {1: "vowel_insertion"}),
    Case("Please read this book", "Please read this [[b'Uki]]", {3: "vowel_insertion"}),
    Case("He has a happy dog", "He has a happy [[d'0gi]]", {4: "vowel_insertion"}),
    Case("I go to school", "I go to [[Isk'u:l]]", {3: "initial_vowel_insertion"}),
    Case("The big house is red", "The big [['aUs]] is red", {2: "h_dropped"}),
    Case("He has a happy dog", "He has a [['api]] dog", {3: "h_dropped"}),
    Case("Run to the red car", "[[h'Vn]] to the red car", {0: "r_as_h"}),
    Case("The big house is red", "The big house is [[h'Ed]]", {4: "r_as_h"}),
    Case("He has a hat", "He has a rat", {3: "h_as_r"}),
    Case("I like the sheep", "I like the ship", {3: "i_ih_confusion"}),
    Case("I want to live here", "I want to leave here", {3: "i_ih_confusion"}),
    Case("She likes green apples", "She like green apples", {1: "final_s_dropped"}),
    Case("I think three trees are there", "I think three tree are there", {3: "final_s_dropped"}),
    Case("They played with the cats", "They played with the cat", {4: "final_s_dropped"}),
    Case("We worked at the school", "We work at the school", {1: "final_ed_dropped"}),
    Case("My father walked home", "My father walk home", {2: "final_ed_dropped"}),
    Case("The team is here", "The [[tS'i:m]] is here", {1: "t_to_ch"}),
    Case("The water is deep", "The water is [[dZ'i:p]]", {3: "d_to_jh"}),
    Case("I think three big trees are there", "I think three trees are there", {3: "omitted"}),
    Case("Please read this book", "Please read book", {2: "omitted"}),
]


# Sentences never looked at while choosing the thresholds: the honest check of them.
HELD_OUT_CORRECT = [
    "I think three trees are there, and the big house on the hill is red",
    "She likes green apples and they played with the cats after school today",
    "My father walked home through the park because the weather was so nice",
    "Where is the bus station",
    "I would like a cup of coffee please",
    "Can you help me with my homework",
]

HELD_OUT_PLANTED = [
    Case("Thank you very much", "Tank you very much", {0: "th_to_t"}),
    Case("That is my car", "Dat is my car", {0: "th_to_d"}),
    Case("I have a black dog", "I have a [[bl'aki]] dog", {3: "vowel_insertion"}),
    Case("The hotel is near", "The [[oUt'El]] is near", {1: "h_dropped"}),
    Case("The cats are here", "The cat are here", {1: "final_s_dropped"}),
    Case("Read the red book", "Read the [[h'Ed]] book", {2: "r_as_h"}),
    Case("I want a big cup of coffee", "I want a cup of coffee", {3: "omitted"}),
]


def pcm16(text: str, voice: str = "en-us") -> bytes:
    """``text`` spoken by espeak-ng as raw 16 kHz mono PCM16, as the backend passes it on
    (cached; the same synthesis as the multi-voice set of bench/scoring_eval.py)."""
    return voices.pcm16("espeak", voice, text)


def flagged(words: list[WordResult]) -> dict[int, str]:
    """Word index → error slug for every flagged word of an Assessment."""
    return {i: w.error for i, w in enumerate(words) if w.error}


def timed(
    scorer: PronunciationScorer, audio: bytes, text: str, wall: list[float], cpu: list[float]
) -> Assessment:
    """Score ``audio``, appending the wall-clock and process CPU seconds it took."""
    start, start_cpu = time.perf_counter(), time.process_time()
    result = scorer.assess(audio, RATE, text)
    wall.append(time.perf_counter() - start)
    cpu.append(time.process_time() - start_cpu)
    return result


@dataclass
class Tally:
    """Counts for one group of sentences over all voices."""

    planted: int = 0
    exact: int = 0
    word_hit: int = 0
    fa_correct: int = 0
    words_correct: int = 0
    fa_planted: int = 0
    words_planted_clean: int = 0
    per_slug: dict[str, list[int]] = dataclasses.field(default_factory=dict)

    def report(self, name: str) -> None:
        def pct(n: int, d: int) -> str:
            return f"{n}/{d} = {n / d:.1%}" if d else "-"

        print(f"[{name}]")
        print(
            f"  planted errors detected (right word, right slug): {pct(self.exact, self.planted)}"
        )
        print(
            f"  planted errors flagged (right word, any slug):    {pct(self.word_hit, self.planted)}"
        )
        print(
            f"  false alarms, correct sentences (per word):       {pct(self.fa_correct, self.words_correct)}"
        )
        print(
            f"  false alarms, untouched words of planted ones:    {pct(self.fa_planted, self.words_planted_clean)}"
        )
        slugs = ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(self.per_slug.items()))
        print(f"  per slug (detected/planted): {slugs}")  # fmt: skip


def speed(scorer: PronunciationScorer, voices: list[str], runs: int = 5) -> int:
    """Median wall and CPU time to score a ~5 s note (what the backend's budget is set for)."""
    for voice in voices:
        for text in HELD_OUT_CORRECT[:3]:
            audio = pcm16(text, voice)
            wall: list[float] = []
            cpu: list[float] = []
            for _ in range(runs):
                timed(scorer, audio, text, wall, cpu)
            print(
                f"{voice:9} {len(audio) / 2 / RATE:.1f} s note: median wall "
                f"{statistics.median(wall) * 1000:.0f} ms, CPU {statistics.median(cpu) * 1000:.0f} ms"
            )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voices", default=",".join(VOICES))
    parser.add_argument("--verbose", action="store_true", help="print every miss and false alarm")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a ScorerConfig field, e.g. --set mispronounced_below=25",
    )
    parser.add_argument(
        "--speed",
        action="store_true",
        help="only time ~5 s notes (the held-out long sentences), 5 runs each",
    )
    args = parser.parse_args(argv)
    defaults = ScorerConfig()
    overrides: dict[str, Any] = {}
    for item in args.set:
        name, value = item.split("=", 1)
        overrides[name] = type(getattr(defaults, name))(value)
    scorer = create_scorer(dataclasses.replace(defaults, **overrides))
    if args.speed:
        return speed(scorer, args.voices.split(","))
    times: list[float] = []
    cpu: list[float] = []
    audio_seconds = 0.0
    groups = {
        "tuning set": (CORRECT, PLANTED),
        "held-out set": (HELD_OUT_CORRECT, HELD_OUT_PLANTED),
    }
    print(f"voices: {args.voices}")
    for group, (correct, planted) in groups.items():
        tally = Tally()
        for voice in args.voices.split(","):
            for text in correct:
                audio = pcm16(text, voice)
                result = timed(scorer, audio, text, times, cpu)
                audio_seconds += len(audio) / 2 / RATE
                got = flagged(result.words)
                tally.words_correct += len(result.words)
                tally.fa_correct += len(got)
                if args.verbose and got:
                    print(f"FALSE ALARM {voice:9} {text!r}: {got}")
            for case in planted:
                audio = pcm16(case.spoken, voice)
                result = timed(scorer, audio, case.target, times, cpu)
                audio_seconds += len(audio) / 2 / RATE
                got = flagged(result.words)
                for index, slug in case.errors.items():
                    hit = got.get(index) == slug
                    tally.planted += 1
                    tally.exact += hit
                    tally.word_hit += index in got
                    counts = tally.per_slug.setdefault(slug, [0, 0])
                    counts[0] += hit
                    counts[1] += 1
                extra = {i: e for i, e in got.items() if i not in case.errors}
                tally.fa_planted += len(extra)
                tally.words_planted_clean += len(result.words) - len(case.errors)
                missed = any(got.get(i) != e for i, e in case.errors.items())
                if args.verbose and (extra or missed):
                    print(f"MISS/EXTRA  {voice:9} {case.spoken!r}: want {case.errors} got {got}")
        tally.report(group)
    times.sort()
    print(
        f"assess wall time: median {statistics.median(times) * 1000:.0f} ms, "
        f"max {times[-1] * 1000:.0f} ms over {len(times)} notes "
        f"(mean note {audio_seconds / len(times):.1f} s)"
    )
    # CPU time (all threads of this process) does not depend on what else the machine runs
    print(f"assess CPU time: {sum(cpu) / audio_seconds:.3f} s per second of audio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
