"""Was a drill note the drill sentence at all? Measured evidence, so no verdict is invented.

In a drill the scorer aligns the audio to the *target* sentence: given "I tink tree trees are
dere" against "Thank you for the things you brought" it still finds a best path through the
target's words and reports errors on words nobody said. Two measurements from Whisper decide:

- its probability of the *target* given the audio (CTranslate2's forced decoding,
  ``stt.Transcript.target_logprob``): the drill said with learner errors stays probable
  (Whisper maps "tink" onto "think"), another sentence does not; it holds where Whisper's own
  transcript of synthetic speech is garbled ("i think free treatment now");
- the share of the target's words its transcript has, in order (``coverage``), tolerant of
  learner spellings ("tink"/"think", "dere"/"there", "ship"/"sheep").

Usage::

    evidence = measure(target, transcript, assessment)   # transcript: stt.Transcript
    evidence.coverage        # 0.14: share of target words found, in order, in the transcript
    judge(evidence)          # "different_sentence"

Thresholds and the measurement they come from: docs/scoring.md ("Is it the drill sentence?").
The scorer's evidence (``aligned``, ``low_share``) is recorded beside them: measured, it does
not separate the cases on its own (the scorer aligns other sentences to the target too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from phonicflow_backend.scoring import Assessment
from phonicflow_backend.scoring._text import tokenize
from phonicflow_backend.stt import Transcript
from phonicflow_common.contract import DrillMatch

#: The drill is "matched" when Whisper gives its sentence at least this mean log probability
#: per token given the audio (measured on synthetic speech, docs/scoring.md: the drill said,
#: planted errors included, >= -3.14 but for one with every word changed; other sentences
#: <= -3.82) ...
MIN_TARGET_LOGPROB = -3.5
#: ... or when the transcript covers at least PARTIAL_COVERAGE of its words (other sentences:
#: <= 0.33) and the probability is at least this (a drill said with many errors: -4.95)
PARTIAL_COVERAGE = 0.6
PARTIAL_TARGET_LOGPROB = -6.0
#: ... or when the transcript covers at least this share of the target, whatever else.
SURE_COVERAGE = 0.8
#: Without Whisper's probability of the target (another STT engine): a note whose transcript
#: covers less than this share of the target's words is another sentence (measured: other
#: sentences <= 0.33; but Whisper garbles synthetic speech of the drill down to 0.29 too, which
#: is why the probability decides when there is one).
MIN_COVERAGE = 0.55
#: Two words are "the same word" when their folded spellings are at least this similar
#: (difflib ratio): "tink"/"think" 0.86, "dere"/"there" 0.86, "tree"/"three" 0.86.
SAME_WORD_RATIO = 0.7
#: Free speech: below this mean log probability of Whisper's own transcript, the transcript is
#: too often wrong to score the note against it (measured: under -0.8, 4 of 15 transcripts of
#: synthetic notes were right; -0.8 to -0.6, 15 of 20; above -0.6, 127 of 132 — docs/scoring.md).
UNRELIABLE_LOGPROB = -0.8
#: A word scoring below this counts as "not heard" in ``low_share``.
LOW_WORD_SCORE = 15.0

# Spelling differences that are learner errors or Whisper's spelling of them, not other words.
_FOLDS = (("th", "t"), ("dh", "t"), ("d", "t"), ("z", "s"), ("v", "f"), ("ee", "i"), ("ea", "i"))
_DOUBLE = re.compile(r"(.)\1+")


@dataclass(frozen=True)
class DrillEvidence:
    """What decides :func:`judge`, kept so it can be logged and measured."""

    #: target words matched, in order, by transcript words (0..1); None without a transcript
    coverage: float | None
    #: the scorer found an alignment of the target in the audio
    aligned: bool
    #: share of the target's scored words the scorer gave less than LOW_WORD_SCORE (0..1)
    low_share: float
    #: Whisper's confidence in its transcript (stt.Transcript.avg_logprob); None: not known
    avg_logprob: float | None = None
    #: Whisper's mean log probability per token of the *target* given the audio
    #: (stt.Transcript.target_logprob); None: the engine cannot tell
    target_logprob: float | None = None


def words(text: str) -> list[str]:
    """The words of ``text`` as the scorer reads them (case folded, no punctuation, numbers
    spelled out)."""
    return [token.key for token in tokenize(text)]


def _fold(word: str) -> str:
    for old, new in _FOLDS:
        word = word.replace(old, new)
    return _DOUBLE.sub(r"\1", word)


def same_word(a: str, b: str) -> bool:
    if a == b:
        return True
    fa, fb = _fold(a), _fold(b)
    return fa == fb or SequenceMatcher(None, fa, fb).ratio() >= SAME_WORD_RATIO


def coverage(target: str, transcript: str) -> float | None:
    """Share of ``target``'s words matched in order (longest common subsequence, fuzzy word
    equality) by ``transcript``'s; None when either has no words."""
    want, got = words(target), words(transcript)
    if not want or not got:
        return None
    # lcs[j] over the transcript, row by row over the target
    previous = [0] * (len(got) + 1)
    for w in want:
        current = [0]
        for j, g in enumerate(got):
            step = previous[j] + 1 if same_word(w, g) else 0
            current.append(max(step, previous[j + 1], current[j]))
        previous = current
    return previous[-1] / len(want)


def measure(target: str, heard: Transcript, assessment: Assessment | None) -> DrillEvidence:
    scored = [w for w in assessment.words if w.scored] if assessment is not None else []
    low = sum(1 for w in scored if w.score < LOW_WORD_SCORE)
    return DrillEvidence(
        coverage=coverage(target, heard.text),
        aligned=assessment is not None and assessment.aligned,
        low_share=low / len(scored) if scored else 0.0,
        avg_logprob=heard.avg_logprob,
        target_logprob=heard.target_logprob,
    )


def unreliable(heard: Transcript) -> bool:
    """Free speech: Whisper was too unsure of its transcript to judge words against it."""
    return bool(heard.text.strip()) and (
        heard.avg_logprob is not None and heard.avg_logprob < UNRELIABLE_LOGPROB
    )


def judge(evidence: DrillEvidence) -> DrillMatch:
    """``different_sentence`` when Whisper finds the target improbable given the audio and did
    not itself write (most of) the target; an engine without that probability falls back on
    the transcript's coverage alone. Without a transcript (STT failed or heard nothing) only
    the probability can turn the note away; without either the scorer's own result stands."""
    if evidence.coverage is None:
        # Whisper wrote nothing: its probability of the target still tells, if known
        if evidence.target_logprob is not None and evidence.target_logprob < MIN_TARGET_LOGPROB:
            return "different_sentence"
        return "matched"
    if evidence.coverage >= SURE_COVERAGE:
        return "matched"
    if evidence.target_logprob is not None:
        probable = evidence.target_logprob >= MIN_TARGET_LOGPROB or (
            evidence.coverage >= PARTIAL_COVERAGE
            and evidence.target_logprob >= PARTIAL_TARGET_LOGPROB
        )
        return "matched" if probable else "different_sentence"
    return "matched" if evidence.coverage >= MIN_COVERAGE else "different_sentence"
