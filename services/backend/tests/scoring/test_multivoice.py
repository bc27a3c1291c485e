"""A quick subset of the multi-voice evaluation (bench/scoring_eval.py) as a regression check.

Every fourth case of the tuning part, spoken by one voice of three families that
scripts/setup.sh installs (MBROLA us1, piper joe, flite slt), scored in a process pool of two,
with Whisper's second opinion as the backend runs it.
The floors sit a little under what this subset measured (docs/scoring.md, "Multi-voice
evaluation"): a drop below them is a regression of the scorer, not noise — the audio is
deterministic.
"""

from __future__ import annotations

from phonicflow_testing import scoring_eval
from phonicflow_testing.pronunciation_cases import CASES

QUICK_VOICES = {"mbrola": ("mb-us1",), "piper": ("joe",), "flite": ("slt",)}
QUICK_CASES = [c for c in CASES if c.part == "tuning"][::4]
# measured 2026-12-03 on this subset (with the -ed syllable and NG cases added), with Whisper's
# second opinion as the backend runs it: 30/39 = 76.9 % right word+type, 76.9 % right word,
# 11/210 = 5.2 % false flags per correct word, 11/15 correct sentences with no flag
EXACT_FLOOR = 0.74
WORD_FLOOR = 0.74
FALSE_CEILING = 0.08
CLEAN_FLOOR = 0.66


def test_the_quick_multi_voice_subset_stays_above_its_floor() -> None:
    jobs, notes = scoring_eval.jobs(QUICK_CASES, QUICK_VOICES)
    # a family that is not installed is a failed setup, not a pass
    assert not [n for n in notes if n.startswith("SKIPPED family")], notes
    assert len(jobs) >= 40
    results = scoring_eval.tally(scoring_eval.run(jobs, workers=2))
    t = results.total("tuning")
    summary = (
        f"exact {t.exact}/{t.planted}, word {t.word}/{t.planted}, "
        f"false flags {t.false_flags}/{t.clean_words}, clean {t.clean_sentences}/{t.sentences}\n"
        + "\n".join(results.misses)
    )
    assert t.exact_rate >= EXACT_FLOOR, summary
    assert t.word_rate >= WORD_FLOOR, summary
    assert t.false_rate <= FALSE_CEILING, summary
    assert t.clean_rate >= CLEAN_FLOOR, summary
