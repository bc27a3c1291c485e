"""The second opinion (scoring/_second_opinion.py): Whisper, asked how probable the sentence is
with a word as a learner variant would make it, finds an error the phone scorer missed and
drops a flag the scorer invented. Real piper speech (deterministic), the real scorer and the
real Whisper tiny.en the backend ships."""

from __future__ import annotations

import pytest

from phonicflow_backend.scoring import PronunciationScorer, ScorerConfig, create_scorer
from phonicflow_backend.stt import WhisperSTT
from phonicflow_testing.pronunciation_cases import CASES, Case
from phonicflow_testing.voices import RATE, pcm16


@pytest.fixture(scope="module")
def whisper() -> WhisperSTT:
    return WhisperSTT()


def case(target: str, slug: str | None) -> Case:
    [found] = [c for c in CASES if c.target == target and c.slug == slug]
    return found


def flags(scorer: PronunciationScorer, whisper: WhisperSTT, c: Case) -> tuple[dict, dict]:
    audio = pcm16("piper", "joe", c.utterance.render("piper"))
    alone = scorer.assess(audio, RATE, c.target)
    revised, said = scorer.second_opinion(alone, c.target, whisper.sentence_model(audio))
    assert said, "the second opinion was asked"
    before = {i: w.error for i, w in enumerate(alone.words) if w.error}
    after = {i: w.error for i, w in enumerate(revised.words) if w.error}
    return before, after


def test_a_vowel_the_scorer_missed_is_found(
    scorer: PronunciationScorer, whisper: WhisperSTT
) -> None:
    planted = case("I want to live here", "i_ih_confusion")  # "live" said "leave"
    before, after = flags(scorer, whisper, planted)
    assert planted.index not in before, "the phone scorer alone misses it"
    assert after == {planted.index: "i_ih_confusion"}


def test_a_flag_on_a_word_said_right_is_dropped(
    scorer: PronunciationScorer, whisper: WhisperSTT
) -> None:
    said_right = case("They played with the cats", None)
    before, after = flags(scorer, whisper, said_right)
    assert before == {2: "th_to_f"}, "the phone scorer alone hears 'wif'"
    assert after == {}


def test_with_both_thresholds_at_zero_nothing_is_asked(whisper: WhisperSTT) -> None:
    scorer = create_scorer(ScorerConfig(whisper_drop_nats=0, whisper_add_nats=0))
    c = case("They played with the cats", None)
    audio = pcm16("piper", "joe", c.utterance.render("piper"))
    alone = scorer.assess(audio, RATE, c.target)
    assert scorer.second_opinion(alone, c.target, whisper.sentence_model(audio)) == (alone, [])
