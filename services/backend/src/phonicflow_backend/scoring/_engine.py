"""The pocketsphinx engine (being built; the public types are final)."""

from __future__ import annotations

from ._types import Assessment, ScorerConfig, ScoringError


class SphinxScorer:
    def __init__(self, config: ScorerConfig) -> None:
        self.config = config

    def assess(self, pcm16: bytes, sample_rate: int, expected_text: str) -> Assessment:
        raise ScoringError("the pronunciation scorer is not ready yet")
