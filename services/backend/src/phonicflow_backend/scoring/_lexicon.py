"""Pronunciations: the CMU dictionary shipped with pocketsphinx, espeak-ng for the rest.

``Lexicon.load(path, espeak="espeak-ng")`` reads every pronunciation of every word (cmudict
lists alternates as ``word(2)``); ``lexicon.lookup("zorgle")`` falls back to espeak-ng's IPA
(en-us voice) mapped onto the acoustic model's ARPAbet phones, and caches the answer. A word
neither source can spell comes back as an empty list: the scorer reports it unscored.
"""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path

Phones = tuple[str, ...]

# espeak-ng IPA → ARPAbet, longest symbols first; stress and length marks are dropped first
_IPA: list[tuple[str, Phones]] = sorted(
    [
        ("tʃ", ("CH",)), ("dʒ", ("JH",)), ("aɪ", ("AY",)), ("aʊ", ("AW",)), ("ɔɪ", ("OY",)),
        ("eɪ", ("EY",)), ("oʊ", ("OW",)), ("əʊ", ("OW",)), ("ɪɹ", ("IH", "R")),
        ("ɛɹ", ("EH", "R")), ("ʊɹ", ("UH", "R")), ("ɑɹ", ("AA", "R")), ("oɹ", ("AO", "R")),
        ("ɔɹ", ("AO", "R")), ("n̩", ("AH", "N")), ("l̩", ("AH", "L")),
        ("i", ("IY",)), ("ɪ", ("IH",)), ("ɛ", ("EH",)), ("e", ("EH",)), ("æ", ("AE",)),
        ("a", ("AA",)), ("ɑ", ("AA",)), ("ɒ", ("AA",)), ("ɔ", ("AO",)), ("o", ("OW",)),
        ("ʊ", ("UH",)), ("u", ("UW",)), ("ʌ", ("AH",)), ("ə", ("AH",)), ("ɐ", ("AH",)),
        ("ɚ", ("ER",)), ("ɜ", ("ER",)), ("ᵻ", ("IH",)),
        ("p", ("P",)), ("b", ("B",)), ("t", ("T",)), ("d", ("D",)), ("k", ("K",)),
        ("ɡ", ("G",)), ("g", ("G",)), ("f", ("F",)), ("v", ("V",)), ("θ", ("TH",)),
        ("ð", ("DH",)), ("s", ("S",)), ("z", ("Z",)), ("ʃ", ("SH",)), ("ʒ", ("ZH",)),
        ("h", ("HH",)), ("m", ("M",)), ("n", ("N",)), ("ŋ", ("NG",)), ("l", ("L",)),
        ("ɹ", ("R",)), ("r", ("R",)), ("j", ("Y",)), ("w", ("W",)), ("ɾ", ("T",)),
        ("ʔ", ("T",)), ("x", ("K",)),
    ],
    key=lambda item: -len(item[0]),
)  # fmt: skip
#: words spelled by espeak-ng kept in memory; free-speech transcripts bring new words forever
MAX_SPELLED_CACHE = 20_000
_IGNORED = re.compile("[ˈˌːˑ\u0303\u032f\u0361.‿ \n-]")


def ipa_to_arpabet(ipa: str) -> Phones | None:
    """Map espeak-ng's IPA for one word to ARPAbet; None if a symbol has no mapping."""
    text = _IGNORED.sub("", ipa)
    phones: list[str] = []
    i = 0
    while i < len(text):
        for symbol, arpa in _IPA:
            if text.startswith(symbol, i):
                phones.extend(arpa)
                i += len(symbol)
                break
        else:
            return None
    return tuple(phones) or None


class Lexicon:
    """Every pronunciation of every word; thread-safe (the espeak cache is locked)."""

    def __init__(
        self, entries: dict[str, list[Phones]], espeak: str | None, espeak_timeout: float
    ) -> None:
        self._entries = entries
        self._spelled: dict[str, list[Phones]] = {}
        self._espeak = espeak
        self._timeout = espeak_timeout
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path, espeak: str | None, espeak_timeout: float) -> Lexicon:
        entries: dict[str, list[Phones]] = {}
        with path.open(encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 2:
                    continue
                word = parts[0].split("(", 1)[0]
                # some entries carry a trailing "#comment"
                phones = tuple(p for p in parts[1:] if not p.startswith("#"))
                entries.setdefault(word, []).append(phones)
        return cls(entries, espeak, espeak_timeout)

    def known(self, word: str) -> bool:
        return word in self._entries

    def entries(self) -> dict[str, list[Phones]]:
        """The dictionary's words and pronunciations (not the espeak-spelled ones)."""
        return self._entries

    def lookup(self, word: str) -> list[Phones]:
        """All pronunciations of ``word`` (dictionary order: the most common first)."""
        with self._lock:
            found = self._entries.get(word, self._spelled.get(word))
        if found is not None:
            return found
        spelled = self._spell(word)
        result = [spelled] if spelled else []
        with self._lock:
            if len(self._spelled) >= MAX_SPELLED_CACHE:
                self._spelled.clear()
            self._spelled[word] = result
        return result

    def _spell(self, word: str) -> Phones | None:
        if self._espeak is None or not re.fullmatch(r"[a-z']+", word):
            return None
        try:
            result = subprocess.run(
                [self._espeak, "-v", "en-us", "-q", "--ipa", word],
                capture_output=True,
                text=True,
                timeout=self._timeout,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return ipa_to_arpabet(result.stdout.strip())
