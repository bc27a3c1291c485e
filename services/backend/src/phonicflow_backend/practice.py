"""The practice catalogue: short drill sentences grouped by the sound they train.

Usage::

    item = next_item(focus="th", exclude="th-01")   # -> PracticeItem(id="th-02", ...)
    get_item("th-02")

Focus groups: ``th`` (th→t/d/f/s), ``vowel_insertion`` (final consonants), ``h_r`` (h and r),
``i_ih`` (ship/sheep), ``final_s_ed`` (plural, third person, past). ``focus`` also accepts the
scorer's error slugs (``th_to_t`` → ``th``, ``final_ed_dropped`` → ``final_s_ed``, ...).
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class PracticeItem:
    id: str
    text: str
    focus: str
    hint_en: str
    hint_pt: str


_HINTS = {
    "th": ("Put your tongue between your teeth for every TH, and let the air flow.",
           "Em todo TH, coloque a língua entre os dentes e deixe o ar sair."),
    "vowel_insertion": ("Stop cleanly on the final consonant: no extra vowel at the end.",
                        "Termine seco na última consoante, sem aquele \"i\" no final."),
    "h_r": ("Breathe out for H; curl your tongue back for R, like the R from the countryside.",
            "No H, solte o ar; no R, curve a língua pra trás, tipo o R caipira."),
    "i_ih": ("Short I is quick and relaxed; long EE is longer, with a smile.",
             "O \"i\" curto é rápido e relaxado; o \"ii\" longo é mais comprido, com um sorriso."),
    "final_s_ed": ("Say every final S and -ED clearly: they carry the grammar.",
                   "Fale bem o S e o -ED do final: é ali que está a gramática."),
}  # fmt: skip

_SENTENCES: dict[str, list[str]] = {
    "th": [
        "I think three trees are there",
        "Thank you for the things you brought",
        "This is the third Thursday this month",
        "My brother thinks the weather is nice",
        "They thought about that theory together",
        "Both of them are thirty three",
    ],
    "vowel_insertion": [
        "The big dog got a good book",
        "I like black coffee in the morning",
        "Stop and think before you speak",
        "She made a cake for her friend",
        "The club has a big red flag",
    ],
    "h_r": [
        "He has a red hat at home",
        "Harry ran right to the hospital",
        "Her house is really hard to reach",
        "Robert hopes it rains here",
        "How are you getting ready for the race",
    ],
    "i_ih": [
        "The ship is bigger than the sheep",
        "Please sit in this seat",
        "I will leave the little key here",
        "He feels it is a big deal",
        "Fill the cup and feel the heat",
    ],
    "final_s_ed": [
        "She works and he walked home",
        "My friends played games yesterday",
        "He likes cats and dogs",
        "We watched the birds and talked",
        "It rains and the streets get wet",
    ],
}

_SLUG_TO_FOCUS = {
    "th_to_t": "th", "th_to_d": "th", "th_to_f": "th", "th_to_s": "th",
    "h_dropped": "h_r", "r_as_h": "h_r", "h": "h_r", "r": "h_r",
    "i_ih_confusion": "i_ih", "final_s_dropped": "final_s_ed", "final_ed_dropped": "final_s_ed",
}  # fmt: skip

CATALOGUE: dict[str, PracticeItem] = {
    f"{focus.replace('_', '-')}-{index:02d}": PracticeItem(
        f"{focus.replace('_', '-')}-{index:02d}", text, focus, *_HINTS[focus]
    )
    for focus, sentences in _SENTENCES.items()
    for index, text in enumerate(sentences, start=1)
}
FOCUSES: tuple[str, ...] = tuple(_SENTENCES)
#: Every value ``focus`` takes (the OpenAPI enum): the families and the error slugs.
FOCUS_NAMES: tuple[str, ...] = FOCUSES + tuple(_SLUG_TO_FOCUS)


class UnknownFocusError(ValueError):
    pass


def normalize_focus(focus: str | None) -> str | None:
    if focus is None or not focus.strip():
        return None
    key = focus.strip().lower().replace("-", "_")
    key = _SLUG_TO_FOCUS.get(key, key)
    if key not in _SENTENCES:
        raise UnknownFocusError(
            f"unknown focus {focus!r}; use one of {', '.join(FOCUSES)} or an error slug"
        )
    return key


def next_item(
    focus: str | None = None, exclude: str | None = None, rng: random.Random | None = None
) -> PracticeItem:
    group = normalize_focus(focus)
    items = [i for i in CATALOGUE.values() if group is None or i.focus == group]
    choices = [i for i in items if i.id != exclude] or items
    return (rng or random.Random()).choice(choices)  # noqa: S311 - variety, not secrecy


def get_item(item_id: str) -> PracticeItem | None:
    return CATALOGUE.get(item_id)
