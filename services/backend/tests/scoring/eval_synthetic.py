"""Accuracy of the pronunciation scorer on the project's own synthetic speech.

Run:  .venv/bin/python services/backend/tests/scoring/eval_synthetic.py [--voices en-us,en-gb]

Every case is spoken by espeak-ng (several voices), resampled to 16 kHz mono PCM16 and scored
against its target sentence. Reported: detection rate of planted errors (right word, right
slug; and right word, any flag), false alarms per word on correct sentences and on the
untouched words of planted sentences, and time per assessment. The pytest suite imports the
cases and ``pcm16`` from here, so the numbers in docs/scoring.md and the tests share one set.

Planted words use espeak-ng's phoneme input (``[[b'Igi]]``) where a spelling would be read
in some other way. Synthetic voices are not Brazilian learners: read the numbers as a
regression check, not as field accuracy.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

from phonicflow_backend.scoring import WordResult, create_scorer
from phonicflow_testing.speech import require, synth_wav

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


_cache: dict[tuple[str, str], bytes] = {}


def pcm16(text: str, voice: str = "en-us") -> bytes:
    """``text`` spoken by espeak-ng as raw 16 kHz mono PCM16, as the backend passes it on."""
    if (text, voice) not in _cache:
        _cache[text, voice] = _synthesize(text, voice)
    return _cache[text, voice]


def _synthesize(text: str, voice: str) -> bytes:
    wav = synth_wav(text, voice=voice)
    result = subprocess.run(
        [require("ffmpeg"), "-v", "error", "-i", "pipe:0", "-ar", str(RATE), "-ac", "1",
         "-f", "s16le", "pipe:1"],
        input=wav, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return result.stdout


def flagged(words: list[WordResult]) -> dict[int, str]:
    """Word index → error slug for every flagged word of an Assessment."""
    return {i: w.error for i, w in enumerate(words) if w.error}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voices", default=",".join(VOICES))
    parser.add_argument("--verbose", action="store_true", help="print every case")
    args = parser.parse_args(argv)
    scorer = create_scorer()
    times: list[float] = []
    planted = exact = word_hit = 0
    fa_correct = words_correct = fa_planted = words_planted_clean = 0
    per_slug: dict[str, list[int]] = {}
    for voice in args.voices.split(","):
        for text in CORRECT:
            audio = pcm16(text, voice)
            start = time.perf_counter()
            result = scorer.assess(audio, RATE, text)
            times.append(time.perf_counter() - start)
            got = flagged(result.words)
            words_correct += len(result.words)
            fa_correct += len(got)
            if args.verbose and got:
                print(f"FALSE ALARM {voice:9} {text!r}: {got}")
        for case in PLANTED:
            audio = pcm16(case.spoken, voice)
            start = time.perf_counter()
            result = scorer.assess(audio, RATE, case.target)
            times.append(time.perf_counter() - start)
            got = flagged(result.words)
            for index, slug in case.errors.items():
                planted += 1
                hit = got.get(index) == slug
                exact += hit
                word_hit += index in got
                per_slug.setdefault(slug, [0, 0])
                per_slug[slug][0] += hit
                per_slug[slug][1] += 1
            extra = {i: s for i, s in got.items() if i not in case.errors}
            fa_planted += len(extra)
            words_planted_clean += len(result.words) - len(case.errors)
            if args.verbose and (extra or any(got.get(i) != s for i, s in case.errors.items())):
                print(f"MISS/EXTRA  {voice:9} {case.spoken!r}: want {case.errors} got {got}")
    print(f"voices: {args.voices}")
    print(
        f"planted errors detected (right word, right slug): {exact}/{planted} = {exact / planted:.0%}"
    )
    print(
        f"planted errors flagged (right word, any slug):    {word_hit}/{planted} = {word_hit / planted:.0%}"
    )
    print(
        f"false alarms, correct sentences: {fa_correct}/{words_correct} words = {fa_correct / words_correct:.1%}"
    )
    print(
        f"false alarms, untouched words of planted sentences: {fa_planted}/{words_planted_clean} = {fa_planted / words_planted_clean:.1%}"
    )
    print(
        "per slug (detected/planted): "
        + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(per_slug.items()))
    )
    times.sort()
    print(
        f"assess time: median {statistics.median(times) * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms over {len(times)} notes"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
