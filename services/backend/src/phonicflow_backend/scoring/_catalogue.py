"""The error catalogue the scorer reports from: :mod:`phonicflow_common.catalogue`.

Each slug names one phonetic rewrite rule (see ``_variants.py``) or one outcome of the
alignment (``omitted``, ``mispronounced``). The entries (description, error type, labels and
tips in English and Brazilian Portuguese) live in ``phonicflow_common`` so the bot names the
same errors the scorer finds; ``tests/scoring/test_rules.py`` checks every rule has one.
"""

from __future__ import annotations

from phonicflow_common.catalogue import ERROR_CATALOGUE

from ._types import ErrorPattern

#: slug → pattern; the backend's coaching keys its messages on these slugs
ERRORS: dict[str, ErrorPattern] = ERROR_CATALOGUE
