"""Progress per sound family: what one voice note says about each sound, mastery, trend, the
streak of days, and which sound (and sentence) a learner should drill next.

Pure functions over plain values; :mod:`.db.learners` stores and reads them.

Usage::

    note = sounds_of(answer.pronunciation, target_text="I think three trees are there")
    note.sounds                      # {"th": False, "final_s_ed": True, ...}: family → said right
    recent = push(recent, right=False)
    is_mastered(recent, was_mastered=False)
    streak({date(2026, 12, 1), date(2026, 12, 2)}, today=date(2026, 12, 2))   # (2, True)
    weakest({...: SoundState(...)})  # ("th", "weakest")

The unit is the note, not the word: a note "exercises" a sound family when one of its words
could carry an error of that family (the scorer's own rewrite rules apply to the word's
expected phones), when the scorer flagged such an error, or when the note is a drill of that
family. The note got the family right when no word has an error of it. Mastery: at least
``MASTERED_AT`` of the last ``MASTERY_WINDOW`` notes right; it is lost again only when the
learner slips to ``LOST_AT`` or fewer (hysteresis, so one slip does not flip the message).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from phonicflow_backend.practice import (
    CATALOGUE,
    FOCUSES,
    PracticeItem,
    UnknownFocusError,
    normalize_focus,
)

# The scorer's rewrite rules (slug → rule on a word's phones) are what it can hear; a word no
# rule of a family applies to cannot get that family wrong, so it is no attempt at it.
from phonicflow_backend.scoring._variants import RULES
from phonicflow_common.catalogue import SOUND_FAMILIES
from phonicflow_common.contract import PracticeReason, Pronunciation, Trend, WordResult

#: Sound families, in the order the learner sees them (the practice groups).
FAMILIES: tuple[str, ...] = FOCUSES
#: Outcomes kept per family (mastery and trend read them), newest last.
RECENT = 10
MASTERY_WINDOW = 5
MASTERED_AT = 4
LOST_AT = 2
#: A trend needs this many outcomes (five new ones against at least one before them).
TREND_MIN = 6
TREND_STEP = 0.2
#: Drill sentences counted as "done recently" for the choice of the next one.
RECENT_DRILLS = 10

# Slugs the practice groups do not name yet but whose family is plain.
_MORE_SLUGS = {
    "th_to_z": "th", "initial_vowel_insertion": "vowel_insertion", "h_as_r": "h_r",
    "ed_extra_syllable": "final_s_ed", "ng_to_n": "vowel_insertion",
}  # fmt: skip
_WORD_EDGES = re.compile(r"^[^\w']+|[^\w']+$")
_NOT_LETTERS = re.compile(r"[^a-z ]")


def family_of(slug: str | None) -> str | None:
    """The sound family of an error slug (None for omitted, mispronounced, unknown)."""
    if not slug:
        return None
    if slug in _MORE_SLUGS:
        return _MORE_SLUGS[slug]
    try:
        return normalize_focus(slug)
    except UnknownFocusError:
        return None


def label(family: str) -> tuple[str, str]:
    """(English, Portuguese) name of a family."""
    return SOUND_FAMILIES.get(family, (family, family))


def _sentence_key(text: str) -> str:
    return " ".join(_NOT_LETTERS.sub("", text.lower()).split())


_ITEMS_BY_TEXT = {_sentence_key(item.text): item for item in CATALOGUE.values()}


def drill_item(target_text: str | None) -> PracticeItem | None:
    """The practice item whose sentence ``target_text`` is (case and punctuation aside)."""
    return _ITEMS_BY_TEXT.get(_sentence_key(target_text)) if target_text else None


@dataclass(frozen=True)
class NoteSounds:
    """What one voice note says: family → said right, for every family it exercised."""

    sounds: dict[str, bool] = field(default_factory=dict)
    drill_focus: str | None = None


def exercised(word: WordResult) -> set[str]:
    """The families ``word`` had a chance to get wrong (none when it was not said)."""
    if word.error == "omitted" or word.error_type == "omission":
        return set()
    families: set[str] = set()
    flagged = family_of(word.error)
    if flagged:
        families.add(flagged)
    phones = tuple(re.sub(r"\d", "", p) for p in word.expected_phones.split())
    if phones:
        spelling = _WORD_EDGES.sub("", word.expected.lower())
        for slug, rule in RULES.items():
            family = family_of(slug)
            if family and family not in families and next(rule(spelling, phones), None):
                families.add(family)
    return families


def sounds_of(pronunciation: Pronunciation | None, target_text: str | None) -> NoteSounds:
    """The sounds of one voice note (none when it could not be scored)."""
    item = drill_item(target_text)
    focus = item.focus if item else None
    if pronunciation is None:
        return NoteSounds({}, None)  # a drill nobody could score is no attempt at its sound
    sounds: dict[str, bool] = {}
    if focus:
        sounds[focus] = True
    for word in pronunciation.words:
        for family in exercised(word):
            sounds.setdefault(family, True)
        wrong = family_of(word.error)
        if wrong:
            sounds[wrong] = False
    return NoteSounds(sounds, focus)


def push(recent: str, right: bool) -> str:
    """``recent`` with one more outcome ("1" right, "0" not), the oldest dropped past RECENT."""
    return (recent + ("1" if right else "0"))[-RECENT:]


def recent_right(recent: str) -> tuple[int, int]:
    """(right, attempts) among the last MASTERY_WINDOW outcomes."""
    window = recent[-MASTERY_WINDOW:]
    return window.count("1"), len(window)


def is_mastered(recent: str, *, was_mastered: bool) -> bool:
    right, _ = recent_right(recent)
    return right > LOST_AT if was_mastered else right >= MASTERED_AT


def trend(recent: str) -> Trend:
    if len(recent) < TREND_MIN:
        return "new"
    newer, older = recent[-MASTERY_WINDOW:], recent[:-MASTERY_WINDOW]
    change = newer.count("1") / len(newer) - older.count("1") / len(older)
    if change >= TREND_STEP:
        return "up"
    if change <= -TREND_STEP:
        return "down"
    return "steady"


def accuracy(right: int, attempts: int) -> float | None:
    return round(right / attempts, 4) if attempts else None


def streak(days: Iterable[date], today: date) -> tuple[int, bool]:
    """(consecutive practised days up to today, practised today). A streak stays alive through
    a day that has not had its note yet: it ends only when a whole day passes without one."""
    practised = set(days)
    today_done = today in practised
    day = today if today_done else today - timedelta(days=1)
    count = 0
    while day in practised:
        count += 1
        day -= timedelta(days=1)
    return count, today_done


@dataclass(frozen=True)
class SoundState:
    attempts: int
    recent: str
    mastered: bool


def weakest(states: Mapping[str, SoundState]) -> tuple[str, PracticeReason]:
    """The family to drill next, and why.

    Sounds the learner tried and keeps getting wrong come first (lowest share right among the
    last outcomes), then sounds never tried, then tried ones going well but not yet mastered;
    mastered sounds are skipped ("move on") unless every sound is mastered (a review)."""
    open_families = [f for f in FAMILIES if not states.get(f, _UNTRIED).mastered]
    if not open_families:
        rates = {f: _rate(states[f]) for f in FAMILIES}
        return min(FAMILIES, key=lambda f: rates[f]), "review"

    def weakness(family: str) -> float:
        state = states.get(family, _UNTRIED)
        # an untried sound ranks at the mastery line: below it, a tried sound is weaker
        return _rate(state) if state.attempts else MASTERED_AT / MASTERY_WINDOW

    choice = min(open_families, key=weakness)  # min keeps catalogue order among ties
    tried = states.get(choice, _UNTRIED).attempts > 0
    return choice, "weakest" if tried else "not_tried"


_UNTRIED = SoundState(0, "", False)


def _rate(state: SoundState) -> float:
    window = state.recent[-MASTERY_WINDOW:]
    return window.count("1") / len(window) if window else 0.0


def pick_item(
    focus: str,
    recent_texts: Iterable[str],
    *,
    exclude: str | None = None,
    rng: random.Random | None = None,
) -> PracticeItem:
    """A sentence of ``focus`` the learner did not drill recently (``recent_texts``, newest
    first); when they did them all, the one done longest ago."""
    items = [i for i in CATALOGUE.values() if i.focus == focus and i.id != exclude] or [
        i for i in CATALOGUE.values() if i.focus == focus
    ]
    order: dict[str, int] = {}
    for age, text in enumerate(recent_texts):
        item = drill_item(text)
        if item is not None:
            order.setdefault(item.id, age)
    fresh = [i for i in items if i.id not in order]
    if fresh:
        return (rng or random.Random()).choice(fresh)  # noqa: S311 - variety, not secrecy
    return max(items, key=lambda i: order[i.id])


__all__ = [
    "FAMILIES",
    "MASTERED_AT",
    "MASTERY_WINDOW",
    "RECENT",
    "RECENT_DRILLS",
    "NoteSounds",
    "SoundState",
    "accuracy",
    "drill_item",
    "exercised",
    "family_of",
    "is_mastered",
    "label",
    "pick_item",
    "push",
    "recent_right",
    "sounds_of",
    "streak",
    "trend",
    "weakest",
]
