"""Behaviour the contract's types carry: which words need work (the bot's ⚠️/❌, "hear it
right")."""

from __future__ import annotations

from phonicflow_common.contract import MAX_WORDS_TO_HEAR, Pronunciation, WordResult


def word(
    expected: str, score: float = 90.0, error: str | None = None, scored: bool = True
) -> WordResult:
    return WordResult(expected=expected, heard=expected, score=score, error=error,
                      error_type=None, expected_phones="", heard_phones="", start=0.0, end=0.1,
                      tip_en="", tip_pt="", scored=scored)  # fmt: skip


def test_the_words_to_hear_are_the_flagged_missing_and_unclear_ones_once_in_order() -> None:
    said = Pronunciation(
        overall_score=50,
        words=[
            word("I"),
            word("think,", 30, "th_to_t"),  # punctuation is not said
            word("the", 40),  # no error, not clear
            word("Zorgle", 0, scored=False),  # could not be checked: no verdict
            word("there", 0, "omitted"),
            word("think", 35, "th_to_t"),  # the same word again
            word("trees", 49.9),
        ],
    )
    assert said.words_to_hear() == ["think", "the", "there", "trees"]
    assert [w.needs_work for w in said.words] == [False, True, True, False, True, True, True]


def test_at_most_a_few_words_are_said_and_a_clean_note_has_none() -> None:
    many = Pronunciation(
        overall_score=30, words=[word(f"w{i}", 20, "mispronounced") for i in range(9)]
    )
    assert many.words_to_hear() == [f"w{i}" for i in range(MAX_WORDS_TO_HEAR)]
    clean = Pronunciation(overall_score=95, words=[word("hello"), word("there", 50.0)])
    assert clean.words_to_hear() == []
