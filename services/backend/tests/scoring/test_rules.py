"""The pieces under the engine: text normalisation, learner-variant rules, IPA mapping, catalogue."""

from __future__ import annotations

import pytest

from phonicflow_backend.scoring import ERRORS
from phonicflow_backend.scoring._lexicon import ipa_to_arpabet
from phonicflow_backend.scoring._text import number_words, tokenize
from phonicflow_backend.scoring._variants import RULES, natives_say_it, variants
from phonicflow_common.catalogue import ERROR_CATALOGUE, ERROR_TYPES, error_label, error_tip


def keys(text: str) -> list[str]:
    return [t.key for t in tokenize(text)]


def test_text_is_case_folded_stripped_of_punctuation_and_quotes_straightened() -> None:
    assert keys("Don’t say “Hello,” Bob!") == ["don't", "say", "hello", "bob"]
    assert [t.surface for t in tokenize("Don’t STOP.")] == ["Don't", "STOP"]


def test_numbers_are_spelled_out_and_hyphens_split() -> None:
    assert keys("3 well-known 21") == ["three", "well", "known", "twenty", "one"]
    assert number_words(1905) == ["one", "thousand", "nine", "hundred", "five"]
    assert keys("12345678") == ["12345678"]  # beyond the speller: left as is, unscoreable


def by_slug(word: str, *prons: tuple[str, ...]) -> dict[str, str]:
    return {v.slug: " ".join(v.phones) for v in variants(word, list(prons))}


def test_think_has_the_th_variants_brazilian_learners_say() -> None:
    found = by_slug("think", ("TH", "IH", "NG", "K"))
    assert found["th_to_t"] == "T IH NG K"
    assert found["th_to_f"] == "F IH NG K"
    assert found["th_to_s"] == "S IH NG K"
    assert found["vowel_insertion"] == "TH IH NG K IY"
    assert {v.heard for v in variants("think", [("TH", "IH", "NG", "K")])} >= {
        "tink",
        "fink",
        "sink",
    }


@pytest.mark.parametrize(
    ("word", "pron", "slug", "expected"),
    [
        ("there", ("DH", "EH", "R"), "th_to_d", "D EH R"),
        ("this", ("DH", "IH", "S"), "th_to_z", "Z IH S"),
        ("big", ("B", "IH", "G"), "vowel_insertion", "B IH G IY"),
        ("school", ("S", "K", "UW", "L"), "initial_vowel_insertion", "IH S K UW L"),
        ("house", ("HH", "AW", "S"), "h_dropped", "AW S"),
        ("red", ("R", "EH", "D"), "r_as_h", "HH EH D"),
        ("hat", ("HH", "AE", "T"), "h_as_r", "R AE T"),
        ("sheep", ("SH", "IY", "P"), "i_ih_confusion", "SH IH P"),
        ("trees", ("T", "R", "IY", "Z"), "final_s_dropped", "T R IY"),
        ("worked", ("W", "ER", "K", "T"), "final_ed_dropped", "W ER K"),
        ("team", ("T", "IY", "M"), "t_to_ch", "CH IY M"),
        ("deep", ("D", "IY", "P"), "d_to_jh", "JH IY P"),
        ("worked", ("W", "ER", "K", "T"), "ed_extra_syllable", "W ER K IH D"),
        ("played", ("P", "L", "EY", "D"), "ed_extra_syllable", "P L EY IH D"),
        ("feel", ("F", "IY", "L"), "final_l_vocalised", "F IY W"),
        ("thing", ("TH", "IH", "NG"), "ng_to_n", "TH IH N"),
        ("man", ("M", "AE", "N"), "ae_eh_confusion", "M EH N"),
    ],
)
def test_each_rule_rewrites_the_pronunciation(
    word: str, pron: tuple[str, ...], slug: str, expected: str
) -> None:
    assert by_slug(word, pron)[slug] == expected


def test_rules_do_not_fire_where_the_spelling_shows_no_such_ending() -> None:
    assert "final_s_dropped" not in by_slug("is", ("IH", "Z"))
    assert "final_ed_dropped" not in by_slug("bed", ("B", "EH", "D"))
    assert "vowel_insertion" not in by_slug("car", ("K", "AA", "R"))


def test_the_new_rules_keep_to_the_words_they_are_about() -> None:
    # -ed after t or d is already a syllable; "speed" is no past tense
    assert "ed_extra_syllable" not in by_slug("wanted", ("W", "AO", "N", "T", "IH", "D"))
    assert "ed_extra_syllable" not in by_slug("speed", ("S", "P", "IY", "D"))
    assert "final_l_vocalised" not in by_slug("cold", ("K", "OW", "L", "D"))
    assert "ng_to_n" not in by_slug("think", ("TH", "IH", "NG", "K"))
    # the learner-facing spellings: "stop-ed", "feeu", "thin", "men"
    heard = {v.slug: v.heard for v in variants("stopped", [("S", "T", "AA", "P", "T")])}
    assert heard["ed_extra_syllable"] == "stop-ed"
    assert {v.slug: v.heard for v in variants("small", [("S", "M", "AO", "L")])}[
        "final_l_vocalised"
    ] == "smau"
    assert {v.slug: v.heard for v in variants("thing", [("TH", "IH", "NG")])}["ng_to_n"] == "thin"


def test_function_words_natives_reduce_get_no_vowel_verdict() -> None:
    # "and" said "end", "has" said "hes": how natives reduce them, never an error
    assert natives_say_it("and", "ae_eh_confusion") and natives_say_it("has", "h_dropped")
    assert not natives_say_it("man", "ae_eh_confusion")
    assert not natives_say_it("the", "th_to_d")


def test_the_unstressed_final_y_gets_no_i_ih_variant_but_a_stressed_one_keeps_it() -> None:
    # natives say the -y of "every" anywhere between IY and IH (bench/scoring_eval.py)
    assert "i_ih_confusion" not in by_slug("every", ("EH", "V", "R", "IY"))
    assert "i_ih_confusion" not in by_slug("happy", ("HH", "AE", "P", "IY"))
    assert by_slug("pretty", ("P", "R", "IH", "T", "IY"))["i_ih_confusion"] == "P R IY T IY"
    assert by_slug("key", ("K", "IY"))["i_ih_confusion"] == "K IH"


def test_a_variant_equal_to_another_pronunciation_of_the_word_is_not_an_error() -> None:
    # "the" is DH AH or DH IY: neither is a learner variant of the other
    slugs = {" ".join(v.phones) for v in variants("the", [("DH", "AH"), ("DH", "IY")])}
    assert "DH AH" not in slugs and "DH IY" not in slugs


def test_every_rule_and_outcome_is_in_the_catalogue_with_both_tips() -> None:
    assert set(RULES) | {"omitted", "mispronounced"} <= set(ERRORS)
    required = ["th_to_t", "th_to_d", "th_to_f", "th_to_s", "vowel_insertion", "h_dropped"]
    required += ["r_as_h", "h_as_r", "i_ih_confusion", "final_s_dropped", "final_ed_dropped"]
    assert set(required) <= set(ERRORS)
    for slug, pattern in ERRORS.items():
        assert pattern.slug == slug
        assert pattern.error_type in ERROR_TYPES
        assert pattern.tip_en and pattern.tip_pt and pattern.tip_en != pattern.tip_pt


def test_every_type_the_scorer_can_emit_has_a_label_and_a_tip_in_both_languages() -> None:
    """The bot shows these labels: a slug without one would reach a learner as "(th to z)"."""
    emitted = set(RULES) | {"omitted", "mispronounced"}
    assert emitted <= set(ERROR_CATALOGUE), "every slug the scorer emits is in the shared catalogue"
    assert ERRORS is ERROR_CATALOGUE, "the scorer reads the one shared catalogue"
    for slug in emitted:
        entry = ERROR_CATALOGUE[slug]
        for lang in ("en", "pt"):
            label, tip = error_label(slug, lang), error_tip(slug, lang)
            assert label and tip, (slug, lang)
            assert "_" not in label and slug.replace("_", " ") not in label.lower(), label
        assert entry.label_en != entry.label_pt, slug
        assert entry.tip_en != entry.tip_pt, slug
    labels_pt = [ERROR_CATALOGUE[slug].label_pt for slug in emitted]
    assert len(set(labels_pt)) == len(labels_pt), "each error has its own name"


def test_espeak_ipa_maps_onto_the_models_phones() -> None:
    assert ipa_to_arpabet("θˈɪŋk") == ("TH", "IH", "NG", "K")
    assert ipa_to_arpabet("zˈoːɹɡəl") == ("Z", "AO", "R", "G", "AH", "L")
    assert ipa_to_arpabet("tʃˈɜːtʃ") == ("CH", "ER", "CH")
    assert ipa_to_arpabet("ʘ") is None
