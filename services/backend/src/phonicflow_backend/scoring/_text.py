"""Text normalisation: what the learner was meant to say, as dictionary keys.

``tokenize("Don’t say “3” things!")`` → tokens whose ``key`` is ``don't``, ``say``,
``three``, ``things``: case folded, Unicode quotes straightened, punctuation dropped, numbers
spelled out (0 to 999 999), hyphenated words split.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_TOKEN = re.compile(r"[a-z0-9']+")

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
#: numbers above this are left as digits (and so come back unscoreable) rather than guessed at
MAX_SPELLED_NUMBER = 999_999


@dataclass(frozen=True)
class Token:
    """One target word: ``surface`` as written (for display), ``key`` for the dictionary."""

    surface: str
    key: str


def number_words(n: int) -> list[str]:
    """Spell a non-negative integer up to MAX_SPELLED_NUMBER in English words."""
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        tens, ones = divmod(n, 10)
        return [_TENS[tens]] + ([_ONES[ones]] if ones else [])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return [_ONES[hundreds], "hundred"] + (number_words(rest) if rest else [])
    thousands, rest = divmod(n, 1000)
    return number_words(thousands) + ["thousand"] + (number_words(rest) if rest else [])


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into target words (see the module docstring for the rules)."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    tokens: list[Token] = []
    for raw in text.split():
        for part in re.split(r"[-\u2013\u2014/]+", raw):
            lowered = part.lower()
            # a few characters change length when lower-cased; then show the key instead
            same_length = len(lowered) == len(part)
            for match in _TOKEN.finditer(lowered):
                key = match.group().strip("'")
                if not key:
                    continue
                if key.isdigit() and int(key) <= MAX_SPELLED_NUMBER:
                    tokens.extend(Token(w, w) for w in number_words(int(key)))
                    continue
                start, end = match.span()
                surface = part[start:end].strip("'") if same_length else key
                tokens.append(Token(surface, key))
    return tokens
