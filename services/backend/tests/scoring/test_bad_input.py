"""Bad input gets a ScoringError with a clear message (or low scores), never a crash or a hang."""

from __future__ import annotations

import random
import struct
import threading
from types import ModuleType

import pytest

from phonicflow_backend.scoring import (
    Assessment,
    PronunciationScorer,
    ScorerConfig,
    ScoringError,
    create_scorer,
)

RATE = 16000
TARGET = "I think three trees are there"


def silence(seconds: float) -> bytes:
    return b"\x00\x00" * int(seconds * RATE)


def white_noise(seconds: float, amplitude: int = 8000) -> bytes:
    rng = random.Random(7)
    n = int(seconds * RATE)
    return struct.pack(f"<{n}h", *(rng.randint(-amplitude, amplitude) for _ in range(n)))


def test_a_silent_note_is_a_clear_scoring_error(scorer: PronunciationScorer) -> None:
    with pytest.raises(ScoringError, match="silent"):
        scorer.assess(silence(2.0), RATE, TARGET)


@pytest.mark.parametrize("amplitude", [300, 30000])
def test_noise_instead_of_speech_comes_back_unaligned_not_guessed(
    scorer: PronunciationScorer, amplitude: int
) -> None:
    result = scorer.assess(white_noise(2.0, amplitude), RATE, TARGET)
    assert not result.aligned
    assert result.overall_score == 0
    assert [(w.expected, w.scored, w.error) for w in result.words] == [
        (word, False, None) for word in TARGET.split()
    ]


@pytest.mark.parametrize(
    ("audio", "rate", "text", "message"),
    [
        (b"", RATE, TARGET, "too short"),
        (b"\x01\x02" * 100, RATE, TARGET, "too short"),
        (b"\x01\x02\x03", RATE, TARGET, "odd number of bytes"),
        (b"\x10\x20" * RATE, 8000, TARGET, "16000 Hz"),
        (b"\x10\x20" * RATE * 61, RATE, TARGET, "too long"),
    ],
)
def test_unusable_audio_is_refused_with_the_reason(
    scorer: PronunciationScorer, audio: bytes, rate: int, text: str, message: str
) -> None:
    with pytest.raises(ScoringError, match=message):
        scorer.assess(audio, rate, text)


@pytest.mark.parametrize("text", ["", "   ", "?!...", "— “” ‘’"])
def test_a_target_without_words_is_refused(
    scorer: PronunciationScorer, cases: ModuleType, text: str
) -> None:
    with pytest.raises(ScoringError, match="no words"):
        scorer.assess(cases.pcm16(TARGET), RATE, text)


def test_too_many_words_are_refused(scorer: PronunciationScorer, cases: ModuleType) -> None:
    with pytest.raises(ScoringError, match="too many words"):
        scorer.assess(cases.pcm16(TARGET), RATE, "word " * 61)


def test_punctuation_case_quotes_and_digits_in_the_target_are_normalised(
    scorer: PronunciationScorer, cases: ModuleType
) -> None:
    result = scorer.assess(cases.pcm16(TARGET), RATE, "“I THINK”—3 trees are there!")
    assert [w.expected for w in result.words] == ["I", "THINK", "three", "trees", "are", "there"]
    assert all(w.scored for w in result.words)


def test_a_made_up_word_is_spelled_by_espeak_and_scored(
    scorer: PronunciationScorer, cases: ModuleType
) -> None:
    result = scorer.assess(cases.pcm16("I like zorgles"), RATE, "I like zorgles")
    zorgles = result.words[2]
    assert zorgles.scored and zorgles.expected_phones.startswith("Z AO R G")


def test_without_espeak_an_unknown_word_comes_back_unscored_not_guessed(
    cases: ModuleType,
) -> None:
    scorer = create_scorer(ScorerConfig(espeak_ng=None))
    result = scorer.assess(cases.pcm16("I like zorgles"), RATE, "I like zorgles")
    zorgles = result.words[2]
    assert (zorgles.scored, zorgles.error, zorgles.expected_phones) == (False, None, "")
    assert all(w.scored for w in result.words[:2])
    with pytest.raises(ScoringError, match="unknown words"):
        scorer.assess(cases.pcm16("zorgles"), RATE, "zorgles blixted")


def test_concurrent_assessments_give_the_same_answers_as_one_at_a_time(
    scorer: PronunciationScorer, cases: ModuleType
) -> None:
    jobs = [
        (cases.pcm16(TARGET), TARGET),
        (cases.pcm16("I tink tree trees are dere"), TARGET),
        (cases.pcm16("The big house is red"), "The big house is red"),
        (cases.pcm16("She like green apples"), "She likes green apples"),
    ]
    expected = [scorer.assess(audio, RATE, text) for audio, text in jobs]
    got: list[Assessment | None] = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            got[i] = scorer.assess(jobs[i][0], RATE, jobs[i][1])
        except BaseException as exc:  # collected and re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert got == expected


def test_a_decoder_whose_dictionary_grew_too_big_is_replaced_and_scoring_goes_on(
    cases: ModuleType,
) -> None:
    # free speech brings new words forever; a tiny limit makes every call replace its decoders
    scorer = create_scorer(ScorerConfig(max_decoder_words=5))
    first = scorer.assess(cases.pcm16(TARGET), RATE, TARGET)
    again = scorer.assess(cases.pcm16(TARGET), RATE, TARGET)
    other = scorer.assess(cases.pcm16("The big house is red"), RATE, "The big house is red")
    assert first == again
    assert first.aligned and other.aligned
    # nothing left in the pools has outgrown the limit
    assert all(added <= 5 for added in vars(scorer)["_added"].values())
