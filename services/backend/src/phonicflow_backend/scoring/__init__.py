"""Pronunciation scoring that listens: pocketsphinx forced alignment against learner variants.

Usage (load once, reuse; see docs/scoring.md for how scores and errors are computed)::

    from phonicflow_backend.scoring import create_scorer, ScoringError

    scorer = create_scorer()                 # loads the en-us model and cmudict once
    try:
        result = scorer.assess(pcm16, 16000, "I think three trees are there")
    except ScoringError as exc:              # empty, silent, too long, no scoreable words
        ...
    for word in result.words:
        if word.error:
            print(word.expected, "→", word.heard, ERRORS[word.error].tip_en)

``assess`` is thread-safe: each call decodes on a pocketsphinx decoder taken from a small pool
(models are loaded once per decoder and reused).
"""

from __future__ import annotations

from ._catalogue import ERRORS
from ._types import (
    Assessment,
    ErrorPattern,
    PronunciationScorer,
    ScorerConfig,
    ScoringError,
    WordResult,
)


def create_scorer(config: ScorerConfig | None = None) -> PronunciationScorer:
    """Build the pocketsphinx scorer; loads the acoustic model and dictionary once."""
    from ._engine import SphinxScorer

    return SphinxScorer(config or ScorerConfig())


__all__ = [
    "ERRORS",
    "Assessment",
    "ErrorPattern",
    "PronunciationScorer",
    "ScorerConfig",
    "ScoringError",
    "WordResult",
    "create_scorer",
]
