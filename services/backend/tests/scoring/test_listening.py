"""Scenarios on synthetic speech: the scorer hears what was said, not what was meant.

Audio comes from espeak-ng (phonicflow_testing.speech) resampled to 16 kHz mono PCM16, the
form the backend hands over. Expectations are the ones the engine meets on the voices named;
docs/scoring.md has the accuracy over the whole synthetic set.
"""

from __future__ import annotations

from types import ModuleType

import pytest

from phonicflow_backend.scoring import ERRORS, Assessment, PronunciationScorer

TARGET = "I think three trees are there"
RATE = 16000


def flagged(result: Assessment) -> dict[str, str]:
    return {w.expected: w.error for w in result.words if w.error}


@pytest.mark.parametrize("voice", ["en-us", "en-us+f2", "en-gb"])
def test_a_learner_who_says_the_sentence_right_scores_high_with_nothing_flagged(
    scorer: PronunciationScorer, cases: ModuleType, voice: str
) -> None:
    result = scorer.assess(cases.pcm16(TARGET, voice), RATE, TARGET)
    assert result.aligned
    assert flagged(result) == {}
    assert result.overall_score >= 70
    assert [w.expected for w in result.words] == TARGET.split()
    assert all(w.scored and w.heard == w.expected for w in result.words)
    # words come back in order, with times inside the note
    starts = [w.start for w in result.words]
    assert starts == sorted(starts) and result.words[-1].end <= 2.5


@pytest.mark.parametrize(
    "text", ["The big house is red", "This is my brother", "Run to the red car"]
)
def test_other_correct_sentences_are_not_flagged(
    scorer: PronunciationScorer, cases: ModuleType, text: str
) -> None:
    result = scorer.assess(cases.pcm16(text), RATE, text)
    assert flagged(result) == {}
    assert result.overall_score >= 70


@pytest.mark.parametrize("voice", ["en-us", "en-us+m3"])
def test_tink_tree_dere_is_heard_as_th_errors_and_nothing_else(
    scorer: PronunciationScorer, cases: ModuleType, voice: str
) -> None:
    audio = cases.pcm16("I tink tree trees are dere", voice)
    result = scorer.assess(audio, RATE, TARGET)
    assert flagged(result) == {"think": "th_to_t", "three": "th_to_t", "there": "th_to_d"}
    think = result.words[1]
    assert think.heard == "tink"
    assert think.expected_phones == "TH IH NG K" and think.heard_phones == "T IH NG K"
    assert think.error_type == "substitution"
    assert think.tip_en == ERRORS["th_to_t"].tip_en and "língua" in think.tip_pt
    assert think.score <= 50 < result.words[3].score
    assert (
        result.overall_score < scorer.assess(cases.pcm16(TARGET, voice), RATE, TARGET).overall_score
    )


@pytest.mark.parametrize(
    ("spoken", "target", "word", "slug"),
    [
        ("The [[b'Igi]] house is red", "The big house is red", "big", "vowel_insertion"),
        ("He has a happy [[d'0gi]]", "He has a happy dog", "dog", "vowel_insertion"),
        ("The big [['aUs]] is red", "The big house is red", "house", "h_dropped"),
        ("[[h'Vn]] to the red car", "Run to the red car", "Run", "r_as_h"),
        ("She like green apples", "She likes green apples", "likes", "final_s_dropped"),
        ("I think three tree are there", TARGET, "trees", "final_s_dropped"),
        ("He has a rat", "He has a hat", "hat", "h_as_r"),
    ],
)
def test_a_planted_error_is_flagged_on_its_word(
    scorer: PronunciationScorer, cases: ModuleType, spoken: str, target: str, word: str, slug: str
) -> None:
    result = scorer.assess(cases.pcm16(spoken), RATE, target)
    assert flagged(result).get(word) == slug
    hit = next(w for w in result.words if w.expected == word)
    assert hit.error_type == ERRORS[slug].error_type
    assert hit.tip_en and hit.tip_pt


@pytest.mark.parametrize("voice", ["en-us", "en-gb"])
def test_a_word_the_learner_left_out_is_omitted(
    scorer: PronunciationScorer, cases: ModuleType, voice: str
) -> None:
    result = scorer.assess(cases.pcm16(TARGET, voice), RATE, "I think three big trees are there")
    big = result.words[3]
    assert (big.expected, big.error, big.error_type, big.heard, big.score) == (
        "big", "omitted", "omission", "", 0.0,
    )  # fmt: skip


def test_the_same_error_in_a_bigi_spelling_is_heard_without_phoneme_input(
    scorer: PronunciationScorer,
    cases: ModuleType,
) -> None:
    # espeak reads "bigi" as b'Igi: the same planted error spelled as a learner would say it
    result = scorer.assess(cases.pcm16("The bigi house is red"), RATE, "The big house is red")
    assert flagged(result) == {"big": "vowel_insertion"}


@pytest.mark.parametrize("voice", ["en-us", "en-gb"])
def test_a_long_free_speech_note_is_still_aligned_word_by_word(
    scorer: PronunciationScorer, cases: ModuleType, voice: str
) -> None:
    # 13 words, ~4.5 s: the first alignment misses the end here; the retries must not
    text = "She likes green apples and they played with the cats after school today"
    result = scorer.assess(cases.pcm16(text, voice), RATE, text)
    assert result.aligned
    assert len(result.words) == 13 and all(w.scored for w in result.words)
    assert len(flagged(result)) <= 3
    assert result.words[-1].end > 3.5
