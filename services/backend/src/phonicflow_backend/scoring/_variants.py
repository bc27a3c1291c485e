"""Learner variants of a word: phonetic rewrite rules on its ARPAbet pronunciation.

``variants("think", ("TH", "IH", "NG", "K"))`` → ``T IH NG K`` (th_to_t, heard "tink"),
``F IH NG K`` (th_to_f), ``S IH NG K`` (th_to_s), ``TH IH NG K IY`` (vowel_insertion) ...
Each rule is one slug of the error catalogue; a variant is one rule applied once (rules are not
combined: the grammar would grow as a product and every extra path is a chance of a false alarm).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ._lexicon import Phones

VOWELS = frozenset(
    ["AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"]
)
# Portuguese lets a syllable end in s, r, l and nasals; after other consonants learners add [i]
EPENTHESIS_AFTER = frozenset(
    ["P", "B", "T", "D", "K", "G", "F", "V", "TH", "DH", "CH", "JH", "SH", "ZH"]
)
#: the vowel Brazilian speakers add ([i] as in "bigi")
EPENTHETIC_VOWEL = "IY"
#: the vowel they put before initial s + consonant ("eschool")
PROTHETIC_VOWEL = "IH"
_S_CLUSTER_NEXT = frozenset(["P", "T", "K", "M", "N", "L", "W"])

#: unstressed function words native speakers reduce themselves ("give 'im", "she 'as")
FUNCTION_WORDS = frozenset(
    ["he", "him", "his", "her", "has", "have", "had", "a", "an", "the", "to", "of", "and",
     "for", "with", "at", "in", "on", "is", "as"]
)  # fmt: skip
#: errors natives make themselves on function words ("'as", "end" for a reduced "and")
_FUNCTION_WORD_EXEMPT = frozenset(
    {"h_dropped", "i_ih_confusion", "vowel_insertion", "ae_eh_confusion"}
)


def natives_say_it(word: str, slug: str) -> bool:
    """Whether ``slug`` on ``word`` is how native speakers say it too: never an error."""
    return slug in _FUNCTION_WORD_EXEMPT and word in FUNCTION_WORDS


@dataclass(frozen=True)
class Variant:
    """One learner pronunciation: its phones, the error slug and a word-ish spelling."""

    phones: Phones
    slug: str
    heard: str
    #: the dictionary pronunciation the rule rewrote
    base: Phones


Rule = Callable[[str, Phones], Iterator[tuple[Phones, str]]]


def _replace_all(
    word: str, phones: Phones, src: str, dst: str, spell: tuple[str, str]
) -> Iterator[tuple[Phones, str]]:
    if src in phones:
        yield tuple(dst if p == src else p for p in phones), word.replace(*spell)


def _th_to_t(word: str, ph: Phones) -> Iterator[tuple[Phones, str]]:
    yield from _replace_all(word, ph, "TH", "T", ("th", "t"))


def _th_to_f(word: str, ph: Phones) -> Iterator[tuple[Phones, str]]:
    yield from _replace_all(word, ph, "TH", "F", ("th", "f"))


def _th_to_s(word: str, ph: Phones) -> Iterator[tuple[Phones, str]]:
    yield from _replace_all(word, ph, "TH", "S", ("th", "s"))


def _th_to_d(word: str, ph: Phones) -> Iterator[tuple[Phones, str]]:
    yield from _replace_all(word, ph, "DH", "D", ("th", "d"))


def _th_to_z(word: str, ph: Phones) -> Iterator[tuple[Phones, str]]:
    yield from _replace_all(word, ph, "DH", "Z", ("th", "z"))


def _vowel_insertion(word: str, ph: Phones) -> Iterator[tuple[Phones, str]]:
    if len(ph) >= 2 and ph[-1] in EPENTHESIS_AFTER:
        yield (*ph, EPENTHETIC_VOWEL), (word[:-1] if word.endswith("e") else word) + "i"


def _initial_vowel_insertion(word: str, ph: Phones) -> Iterator[tuple[Phones, str]]:
    if len(ph) >= 3 and ph[0] == "S" and ph[1] in _S_CLUSTER_NEXT:
        yield (PROTHETIC_VOWEL, *ph), "e" + word


def _h_dropped(word: str, ph: Phones) -> Iterator[tuple[Phones, str]]:
    if len(ph) >= 2 and ph[0] == "HH":
        yield ph[1:], word[1:] if word.startswith("h") else word


def _r_as_h(word: str, ph: Phones) -> Iterator[tuple[Phones, str]]:
    if len(ph) >= 2 and ph[0] == "R":
        yield ("HH", *ph[1:]), "h" + (word[1:] if word.startswith("r") else word)


def _h_as_r(word: str, ph: Phones) -> Iterator[tuple[Phones, str]]:
    if len(ph) >= 2 and ph[0] == "HH":
        yield ("R", *ph[1:]), "r" + (word[1:] if word.startswith("h") else word)


def _i_ih_confusion(word: str, ph: Phones) -> Iterator[tuple[Phones, str]]:
    # only the first occurrence: one variant per rule keeps the grammar small
    for i, p in enumerate(ph):
        # the unstressed final -y of "every", "happy": natives say it anywhere between IY and
        # IH, so a confusion there is no error ("key", one vowel, is stressed and keeps it)
        final_y = i == len(ph) - 1 and word.endswith("y") and any(q in VOWELS for q in ph[:i])
        if p in ("IY", "IH") and len(ph) >= 2 and not final_y:
            other = "IH" if p == "IY" else "IY"
            if p == "IY":
                heard = re.sub("ee|ea|ie|ei|e", "i", word, count=1)
            else:
                heard = word.replace("i", "ee", 1)
            yield (*ph[:i], other, *ph[i + 1 :]), heard
            return


def _final_s_dropped(word: str, ph: Phones) -> Iterator[tuple[Phones, str]]:
    # only where the spelling shows an -s ending: "is" or "was" are not plurals
    if len(ph) >= 3 and ph[-1] in ("S", "Z") and word.endswith("s") and len(word) > 3:
        yield ph[:-1], word[:-1]


def _final_ed_dropped(word: str, ph: Phones) -> Iterator[tuple[Phones, str]]:
    if len(ph) >= 3 and ph[-1] in ("T", "D") and word.endswith("ed") and len(word) > 4:
        yield ph[:-1], word[:-2] if word[-3] != "e" else word[:-1]


def _ed_extra_syllable(word: str, ph: Phones) -> Iterator[tuple[Phones, str]]:
    # "worked" said "work-ed", "played" "play-ed": a vowel before the -ed's t/d where English
    # has none (after t or d, as in "wanted", it has one: the dictionary's IH D); not "speed"
    if (
        len(ph) >= 3 and ph[-1] in ("T", "D") and ph[-2] not in ("IH", "AH")
        and word.endswith("ed") and len(word) > 4 and word[-3] not in "tde"
    ):  # fmt: skip
        stem = word[:-3] if word[-3] == word[-4] else word[:-2]  # "stopped": "stop-ed"
        yield (*ph[:-1], "IH", "D"), stem + "-ed"


def _final_l_vocalised(word: str, ph: Phones) -> Iterator[tuple[Phones, str]]:
    # Portuguese "Brasil" ends in [w]: "feel" said "feeu", "school" said "schoou"
    if len(ph) >= 2 and ph[-1] == "L" and ph[-2] in VOWELS and word.endswith("l"):
        yield (*ph[:-1], "W"), word.rstrip("l") + "u"


def _ng_to_n(word: str, ph: Phones) -> Iterator[tuple[Phones, str]]:
    # a final NG said as N ("thing" → "thin", "raining" → "rainin")
    if len(ph) >= 2 and ph[-1] == "NG" and word.endswith("ng"):
        yield (*ph[:-1], "N"), word[:-1]


def _ae_eh_confusion(word: str, ph: Phones) -> Iterator[tuple[Phones, str]]:
    # Portuguese has no /æ/: "man" said "men", "bad" said "bed" (the first AE only)
    if "AE" in ph and len(ph) >= 2 and "a" in word:
        i = ph.index("AE")
        yield (*ph[:i], "EH", *ph[i + 1 :]), word.replace("a", "e", 1)


def _palatalised(stop: str, affricate: str, spell: tuple[str, str]) -> Rule:
    def rule(word: str, ph: Phones) -> Iterator[tuple[Phones, str]]:
        for i in range(len(ph) - 1):
            if ph[i] == stop and ph[i + 1] in ("IY", "IH"):
                yield (*ph[:i], affricate, *ph[i + 1 :]), word.replace(*spell, 1)
                return

    return rule


#: slug → rule; the order is the order variants appear in the grammar
RULES: dict[str, Rule] = {
    "th_to_t": _th_to_t,
    "th_to_d": _th_to_d,
    "th_to_f": _th_to_f,
    "th_to_s": _th_to_s,
    "th_to_z": _th_to_z,
    "vowel_insertion": _vowel_insertion,
    "initial_vowel_insertion": _initial_vowel_insertion,
    "h_dropped": _h_dropped,
    "r_as_h": _r_as_h,
    "h_as_r": _h_as_r,
    "i_ih_confusion": _i_ih_confusion,
    "final_s_dropped": _final_s_dropped,
    "final_ed_dropped": _final_ed_dropped,
    "t_to_ch": _palatalised("T", "CH", ("t", "ch")),
    "d_to_jh": _palatalised("D", "JH", ("d", "j")),
    "ed_extra_syllable": _ed_extra_syllable,
    "final_l_vocalised": _final_l_vocalised,
    "ng_to_n": _ng_to_n,
    "ae_eh_confusion": _ae_eh_confusion,
}


def variants(
    word: str, pronunciations: list[Phones], disabled: frozenset[str] = frozenset()
) -> list[Variant]:
    """Every single-rule learner variant of ``word`` that is not one of its own pronunciations."""
    own = set(pronunciations)
    seen: set[Phones] = set()
    out: list[Variant] = []
    for slug, rule in RULES.items():
        if slug in disabled:
            continue
        for base in pronunciations:
            for phones, heard in rule(word, base):
                if phones in own or phones in seen or not phones:
                    continue
                seen.add(phones)
                out.append(Variant(phones, slug, heard, base))
    return out
