"""A second opinion on the scorer's word verdicts from a model that knows words (Whisper).

The scorer compares phones. Whisper, the speech-to-text model the backend already runs, can
say how probable a whole sentence is given the audio (CTranslate2 ``align()``). For each
judged word the sentence is rewritten with the word as a learner variant would make it, and
the two probabilities are compared::

    "I think three trees"  vs  "I think tree trees"   (th_to_t: three → tree)
    "Sit down, please"     vs  "Seat down, please"    (i_ih_confusion: sit → seat)

- a flagged word whose variant sentence is much *less* probable than the sentence as written
  is not flagged (the scorer heard a variant Whisper does not);
- an unflagged word whose variant is a real English word (a minimal pair: three/tree/free,
  ship/sheep, worked/work, hat/rat) and whose variant sentence is much *more* probable is
  flagged with that variant.

``delta`` is log P(variant sentence) − log P(sentence), in nats. The thresholds are
:attr:`ScorerConfig.whisper_drop_nats` and :attr:`ScorerConfig.whisper_add_nats` (0: that
half is off); docs/scoring.md has the measurements.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ._catalogue import ERRORS
from ._lexicon import Lexicon, Phones
from ._text import Token, tokenize
from ._types import Assessment, ScorerConfig, WordResult
from ._variants import Variant, natives_say_it, variants

#: error types whose variants the second opinion asks about
ASKED = frozenset(
    ["th_to_t", "th_to_d", "th_to_f", "th_to_s", "th_to_z", "h_as_r", "r_as_h", "h_dropped",
     "i_ih_confusion", "final_s_dropped", "final_ed_dropped", "t_to_ch", "d_to_jh",
     "ng_to_n", "ae_eh_confusion"]
)  # fmt: skip


class SentenceModel(Protocol):
    """A model that knows words, bound to one note (WhisperSTT.sentence_model)."""

    def logprobs(self, texts: Sequence[str]) -> list[float]:
        """log P(text | the note) of each text, in one call."""
        ...

    def is_common(self, word: str) -> bool:
        """Whether the model knows ``word`` as one unit (an everyday word, not a name)."""
        ...


@dataclass(frozen=True)
class Candidate:
    """Word ``index`` said as ``variant``, written ``spelling``."""

    index: int
    variant: Variant
    spelling: str
    #: the scorer already flagged this variant on this word
    flagged: bool


@dataclass(frozen=True)
class Opinion:
    candidate: Candidate
    #: log P(sentence with the variant) − log P(sentence as written), nats
    delta: float


class Spellings:
    """Words of the dictionary by pronunciation: which variants are real words (built once,
    0.2 s and 17 MB, when the scorer loads)."""

    def __init__(self, lexicon: Lexicon) -> None:
        self._by_phones: dict[Phones, list[str]] = {}
        for word, prons in lexicon.entries().items():
            if word.isalpha():
                for pron in prons:
                    self._by_phones.setdefault(pron, []).append(word)

    def of(self, phones: Phones) -> list[str]:
        return self._by_phones.get(phones, [])


def candidates(
    assessment: Assessment, expected_text: str, lexicon: Lexicon, spellings: Spellings,
    model: SentenceModel, config: ScorerConfig,
) -> tuple[list[Token], list[Candidate]]:  # fmt: skip
    """The variant sentences worth asking about, for each judged word of ``assessment``."""
    tokens = tokenize(expected_text)
    if len(tokens) != len(assessment.words):
        return tokens, []
    found: list[Candidate] = []
    for index, (token, word) in enumerate(zip(tokens, assessment.words, strict=True)):
        if not word.scored or word.error in ("omitted", "mispronounced"):
            continue
        prons = lexicon.lookup(token.key)
        for variant in variants(token.key, prons, config.disabled_errors) if prons else []:
            if variant.slug not in ASKED or natives_say_it(token.key, variant.slug):
                continue
            flagged = word.error == variant.slug and " ".join(variant.phones) == word.heard_phones
            if not flagged and word.error is not None:
                continue
            real = [
                w for w in spellings.of(variant.phones) if w != token.key and model.is_common(w)
            ]
            found.extend(Candidate(index, variant, spelling, flagged) for spelling in real)
    # two variants with the same phones ("de" for th_to_d twice) ask the same sentence once
    unique: dict[tuple[int, str, bool], Candidate] = {}
    for c in found:
        unique.setdefault((c.index, c.spelling, c.flagged), c)
    return tokens, list(unique.values())


def _sentence(tokens: list[Token], index: int | None = None, spelling: str = "") -> str:
    words = [t.surface for t in tokens]
    if index is not None:
        original = words[index]
        words[index] = spelling.capitalize() if original[:1].isupper() else spelling
    return " ".join(words)


def opinions(tokens: list[Token], found: list[Candidate], model: SentenceModel) -> list[Opinion]:
    """Each candidate's delta: the sentence as written and every variant sentence, asked of
    the model in one call."""
    if not found:
        return []
    texts = [_sentence(tokens), *(_sentence(tokens, c.index, c.spelling) for c in found)]
    base, *rest = model.logprobs(texts)
    return [Opinion(c, lp - base) for c, lp in zip(found, rest, strict=True)]


def revise(assessment: Assessment, said: list[Opinion], config: ScorerConfig) -> Assessment:
    """The assessment with the verdicts the opinions overturn or add (see the module doc)."""
    words = list(assessment.words)
    best: dict[int, float] = {}
    for opinion in said:
        if opinion.candidate.flagged:
            i = opinion.candidate.index
            best[i] = max(best.get(i, float("-inf")), opinion.delta)
    if config.whisper_drop_nats > 0:
        for i, delta in best.items():
            if delta < -config.whisper_drop_nats:
                words[i] = _cleared(words[i])
    if config.whisper_add_nats > 0:
        added: dict[int, Opinion] = {}
        for opinion in said:
            c = opinion.candidate
            if c.flagged or opinion.delta <= config.whisper_add_nats:
                continue
            if c.index not in added or opinion.delta > added[c.index].delta:
                added[c.index] = opinion
        for i, opinion in added.items():
            words[i] = _flagged(words[i], opinion.candidate, config)
    if words == assessment.words:
        return assessment
    scored = [w.score for w in words if w.scored]
    overall = round(sum(scored) / len(scored), 1) if scored else 0.0
    return Assessment(overall, words, assessment.aligned)


def _cleared(word: WordResult) -> WordResult:
    score = word.uncapped_score if word.uncapped_score is not None else word.score
    return dataclasses.replace(
        word, heard=word.expected, score=score, error=None, error_type=None,
        heard_phones=word.expected_phones, tip_en="", tip_pt="",
    )  # fmt: skip


def _flagged(word: WordResult, candidate: Candidate, config: ScorerConfig) -> WordResult:
    pattern = ERRORS[candidate.variant.slug]
    return dataclasses.replace(
        word, heard=candidate.spelling, score=min(word.score, config.flagged_score_cap),
        error=candidate.variant.slug, error_type=pattern.error_type,
        heard_phones=" ".join(candidate.variant.phones), tip_en=pattern.tip_en,
        tip_pt=pattern.tip_pt, uncapped_score=word.score,
    )  # fmt: skip
