"""The value types the scorer hands back, its configuration and its one exception."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from phonicflow_common.catalogue import ErrorEntry

#: One entry of the error catalogue (defined once, in phonicflow_common.catalogue).
ErrorPattern = ErrorEntry


class ScoringError(ValueError):
    """The audio or the text cannot be scored (empty, too short/long, silence, no words).

    The message is written for a caller to show or log as is.
    """


@dataclass(frozen=True)
class WordResult:
    """How one target word was pronounced."""

    expected: str
    heard: str
    score: float
    error: str | None
    error_type: str | None
    expected_phones: str
    heard_phones: str
    start: float
    end: float
    tip_en: str
    tip_pt: str
    #: False when the word could not be scored (not in the dictionary and no spelling found)
    scored: bool = True
    #: the score before a flag capped it at ``flagged_score_cap`` (a verdict overturned by the
    #: second opinion gets it back); None when not capped
    uncapped_score: float | None = None


@dataclass(frozen=True)
class Assessment:
    """The whole utterance: an overall score and one WordResult per target word, in order."""

    overall_score: float
    words: list[WordResult]
    aligned: bool


# Defaults, documented where they are chosen (see docs/scoring.md for the reasoning).
#: the shortest note worth scoring; shorter audio is a ScoringError
DEFAULT_MIN_SECONDS = 0.3
#: the longest note scored; the backend's notes are well under this (Telegram drills are short)
DEFAULT_MAX_SECONDS = 60.0
#: the most words scored in one utterance (grammar size grows with it)
DEFAULT_MAX_WORDS = 60
#: RMS (of int16 samples) below which the whole note counts as silence
DEFAULT_SILENCE_RMS = 100.0
#: a word scoring below this is flagged "mispronounced" even when no known pattern won
DEFAULT_MISPRONOUNCED_BELOW = 15.0
#: leading/trailing audio quieter than this many dB below the loudest 10 ms is cut before the
#: decodes (0 keeps the note whole); a margin of silence stays for the model's silence phone
DEFAULT_TRIM_SILENCE_DB = 0.0
#: also "mispronounced": a word scoring this many points under the median of the sentence's
#: other words and under DEFAULT_MISPRONOUNCED_RELATIVE_BELOW (0 turns the relative test off)
DEFAULT_MISPRONOUNCED_GAP = 0.0
DEFAULT_MISPRONOUNCED_RELATIVE_BELOW = 55.0
DEFAULT_TRIM_MARGIN_S = 0.15
#: prior weight of a word's dictionary pronunciations against each learner variant (JSGF
#: weights); higher means fewer false alarms and fewer detections
DEFAULT_CANONICAL_WEIGHT = 1.0
#: a word whose states fall this many nats per frame below the best senone scores 50
DEFAULT_MIDPOINT_NATS = 4.5
#: a canonical phone aligned to this many frames or fewer had no room in the audio (an HMM
#: phone takes at least 3 frames, 30 ms)
DEFAULT_SQUEEZED_FRAMES = 4
#: the free phone loop must hear the variant's phone over this share of the original's frames
DEFAULT_LOOP_HEARD_FRACTION = 0.5
#: ... and the original phone over at most this share
DEFAULT_LOOP_ABSENT_FRACTION = 0.05
#: a word is "omitted" when its forced alignment squeezed it to at most this many frames per
#: phone (the HMM minimum is 3) ...
DEFAULT_OMITTED_FRAMES_PER_PHONE = 5.0
#: ... and it scored below this
DEFAULT_OMITTED_BELOW = 40.0
#: the width of the logistic around the midpoint, nats per frame
DEFAULT_SLOPE_NATS = 1.0
#: a word flagged with an error scores at most this
DEFAULT_FLAGGED_SCORE_CAP = 50.0
#: threads running the free phone loop beside the other passes (one per concurrent assess)
DEFAULT_LOOP_THREADS = 2
#: a decoder whose dictionary has grown past this many added pronunciations is replaced
DEFAULT_MAX_DECODER_WORDS = 50_000
#: how long espeak-ng may take to spell an unknown word, seconds
DEFAULT_ESPEAK_TIMEOUT = 5.0
#: the second opinion (_second_opinion.py): a flag whose variant sentence is this many nats
#: less probable than the sentence as written is dropped; an unflagged word whose real-word
#: variant sentence is this many nats more probable is flagged (0: off)
DEFAULT_WHISPER_DROP_NATS = 12.0
DEFAULT_WHISPER_ADD_NATS = 2.0
#: Rules off by default, measured on the multi-voice set's sentences they apply to
#: (bench/scoring_eval.py, docs/scoring.md "New error types"): æ→ɛ ("man" → "men") found 15 %
#: of the time for 8 false flags, a final L as [w] ("feel" → "feeu") 14-21 % for 4.
DEFAULT_DISABLED_ERRORS = frozenset({"ae_eh_confusion", "final_l_vocalised"})


@dataclass(frozen=True)
class ScorerConfig:
    """Everything the scorer can be tuned with; every default is usable as is.

    ``model_dir``/``dictionary`` default to the en-us model and cmudict shipped inside the
    pocketsphinx wheel. ``espeak_ng`` is the binary used to spell words missing from the
    dictionary (None disables it: such words come back with ``scored=False``).
    """

    model_dir: Path | None = None
    dictionary: Path | None = None
    espeak_ng: str | None = "espeak-ng"
    espeak_timeout: float = DEFAULT_ESPEAK_TIMEOUT
    min_seconds: float = DEFAULT_MIN_SECONDS
    max_seconds: float = DEFAULT_MAX_SECONDS
    max_words: int = DEFAULT_MAX_WORDS
    loop_threads: int = DEFAULT_LOOP_THREADS
    max_decoder_words: int = DEFAULT_MAX_DECODER_WORDS
    silence_rms: float = DEFAULT_SILENCE_RMS
    mispronounced_below: float = DEFAULT_MISPRONOUNCED_BELOW
    trim_silence_db: float = DEFAULT_TRIM_SILENCE_DB
    mispronounced_gap: float = DEFAULT_MISPRONOUNCED_GAP
    mispronounced_relative_below: float = DEFAULT_MISPRONOUNCED_RELATIVE_BELOW
    trim_margin_s: float = DEFAULT_TRIM_MARGIN_S
    canonical_weight: float = DEFAULT_CANONICAL_WEIGHT
    midpoint_nats: float = DEFAULT_MIDPOINT_NATS
    slope_nats: float = DEFAULT_SLOPE_NATS
    squeezed_frames: int = DEFAULT_SQUEEZED_FRAMES
    loop_heard_fraction: float = DEFAULT_LOOP_HEARD_FRACTION
    loop_absent_fraction: float = DEFAULT_LOOP_ABSENT_FRACTION
    omitted_frames_per_phone: float = DEFAULT_OMITTED_FRAMES_PER_PHONE
    omitted_below: float = DEFAULT_OMITTED_BELOW
    flagged_score_cap: float = DEFAULT_FLAGGED_SCORE_CAP
    whisper_drop_nats: float = DEFAULT_WHISPER_DROP_NATS
    whisper_add_nats: float = DEFAULT_WHISPER_ADD_NATS
    #: error slugs to leave out of the variant grammar (e.g. to switch a noisy rule off);
    #: by default the rules that cost more false flags than they find (docs/scoring.md)
    disabled_errors: frozenset[str] = DEFAULT_DISABLED_ERRORS


class PronunciationScorer(Protocol):
    """Scores one utterance against the words the learner meant to say."""

    def assess(self, pcm16: bytes, sample_rate: int, expected_text: str) -> Assessment:
        """Score raw little-endian PCM16 mono ``pcm16`` against ``expected_text``.

        Raises ScoringError on unusable input; never hangs.
        """
        ...

    def second_opinion(
        self, assessment: Assessment, expected_text: str, model: Any
    ) -> tuple[Assessment, list[Any]]:
        """``assessment`` revised by a model that knows words (a ``SentenceModel`` of
        _second_opinion.py, bound to the same note), and the opinions it gave."""
        ...
