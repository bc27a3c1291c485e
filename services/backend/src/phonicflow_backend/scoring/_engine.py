"""The pocketsphinx engine behind ``create_scorer``: three decodes of one utterance.

1. **Variant decode** (JSGF, FSG search): each target word is a choice between its dictionary
   pronunciations and its learner variants (``_variants.py``), all added to the decoder's
   dictionary under made-up spellings (``pf_t_ih_ng_k``). It proposes which variant was said.
2. **Forced alignment** of the pronunciations the learner aimed at (the dictionary one the
   decode chose, or the base of the variant it chose), then a phone-level second pass
   (``set_alignment``): start, length and acoustic score of every phone of every word.
3. **Free phone loop** (allphone search, run in a thread beside 1 and 2): which phones the
   model hears with no words imposed.

A proposed variant becomes the word's error only with acoustic evidence (see
``_confirmed_variant`` and docs/scoring.md). Scores: pocketsphinx normalises acoustic scores
frame by frame against the best senone of the frame, so a word's score per frame says how far
it falls below the best the model could hear there; ``word_score`` maps it to 0..100.

Decoders are pooled per kind (a pocketsphinx decoder is not thread-safe; one assess uses
one of each kind at a time); each loads the model once and is reused.
"""

from __future__ import annotations

import array
import contextlib
import dataclasses
import math
import queue
import statistics
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pocketsphinx import Decoder, get_model_path

from phonicflow_backend.audio import speech_span

from ._catalogue import ERRORS
from ._lexicon import Lexicon, Phones
from ._second_opinion import Opinion, SentenceModel, Spellings, candidates, opinions, revise
from ._text import Token, tokenize
from ._types import Assessment, ScorerConfig, ScoringError, WordResult
from ._variants import FUNCTION_WORDS, Variant, natives_say_it, variants

#: the acoustic model's input rate; other rates are rejected rather than silently misread
MODEL_SAMPLE_RATE = 16000
#: pocketsphinx computes 100 feature frames per second
FRAMES_PER_SECOND = 100
# pocketsphinx's alignment scores are log base 1.0001, shifted right by 10 bits (SENSCR_SHIFT)
_ALIGN_SCORE_TO_NATS = math.log(1.0001) * 1024
# Settings per kind of decoder. pocketsphinx's default beams (1e-48) prune the right path away
# on a sizeable share of synthetic notes; a forced alignment is a small search, so wider beams
# are cheap. "nofiller" (no optional silence/noise between words) and "wide" are the retries.
_BEAMS: dict[str, dict[str, float | bool]] = {
    "grammar": {"beam": 1e-60, "wbeam": 1e-40, "pbeam": 1e-60},
    "grammar_nofiller": {"beam": 1e-60, "wbeam": 1e-40, "pbeam": 1e-60, "fsgusefiller": False},
    "align": {"beam": 1e-80, "wbeam": 1e-60, "pbeam": 1e-80},
    "nofiller": {"beam": 1e-80, "wbeam": 1e-60, "pbeam": 1e-80, "fsgusefiller": False},
    "wide": {"beam": 1e-150, "wbeam": 1e-120, "pbeam": 1e-150},
    "loop": {},
}
# Decoders start with an empty dictionary: every word they see is added under a made-up
# spelling from the Lexicon, so loading cmudict into each of them would cost ~25 MB and
# ~0.25 s per decoder for nothing.
_DECODER_DICT = Path(__file__).with_name("decoder.dict")
#: variant decoders tried in turn until one reaches the end of the utterance
_GRAMMARS = ("grammar", "grammar_nofiller")
#: aligners tried in turn until one reaches the end of the utterance
_ALIGNERS = ("align", "nofiller", "wide")


@dataclass
class _Target:
    token: Token
    pronunciations: list[Phones]
    variants: list[Variant]


@dataclass
class _Segment:
    """A word of the variant decode: the dictionary entry chosen and its frames."""

    choice: str
    start: int
    end: int


@dataclass
class _Phone:
    name: str
    start: int
    frames: int
    #: acoustic log-score in nats relative to the best senone of each frame (≤ 0)
    nats: float


# consonant substitutions the free phone loop can confirm on its own (vowels and deletions
# are too often mislabelled by the loop: measured on the synthetic set, see docs/scoring.md)
_LOOP_CONFIRMABLE = frozenset(
    [
        "th_to_t",
        "th_to_d",
        "th_to_f",
        "th_to_s",
        "th_to_z",
        "r_as_h",
        "h_as_r",
        "t_to_ch",
        "d_to_jh",
    ]
)


def _said(target: _Target, chosen: _Segment | None) -> Phones:
    """The dictionary pronunciation to align: the one the decode chose, or its variant's base."""
    if chosen is not None:
        for phones in target.pronunciations:
            if _dict_name(phones) == chosen.choice:
                return phones
        for variant in target.variants:
            if _dict_name(variant.phones) == chosen.choice:
                return variant.base
    return target.pronunciations[0]


# The free phone loop is poor at voicing (on short notes it often labels a D as T): when it
# confirms or rules out a consonant, it counts the voiced/voiceless partner as the same sound.
_VOICING_PAIRS = [("T", "D"), ("S", "Z"), ("F", "V"), ("TH", "DH"), ("CH", "JH"), ("P", "B")]
_SAME_SOUND: dict[str, frozenset[str]] = {}
for _a, _b in _VOICING_PAIRS:
    _SAME_SOUND[_a] = _SAME_SOUND[_b] = frozenset({_a, _b})


def _heard(loop: list[tuple[str, int, int]], phone: _Phone, name: str) -> float:
    """The fraction of ``phone``'s frames the phone loop labelled ``name`` (or its partner)."""
    names = _SAME_SOUND.get(name, frozenset({name}))
    first, last = phone.start, phone.start + phone.frames - 1
    frames = 0
    for label, start, end in loop:
        if label in names:
            frames += max(0, min(end, last) - max(start, first) + 1)
    return frames / max(1, phone.frames)


def _changed_positions(canonical: Phones, variant: Phones) -> list[int] | None:
    """Canonical positions a variant replaces or drops; None when it only inserts phones."""
    if len(variant) == len(canonical):
        return [i for i, (a, b) in enumerate(zip(canonical, variant, strict=True)) if a != b]
    if len(variant) == len(canonical) - 1:
        for i in range(len(canonical)):
            if canonical[:i] + canonical[i + 1 :] == variant:
                return [i]
    return None


def _dict_name(phones: Phones) -> str:
    return "pf_" + "_".join(p.lower() for p in phones)


def word_score(nats_per_frame: float, config: ScorerConfig) -> float:
    """Map a word's mean per-frame log-score gap (≤ 0) to 0..100, a logistic curve.

    The gap is how far the word's states fall below the best senone of each frame: 0 is as
    good as the model can hear. ``config.midpoint_nats`` scores 50; ``config.slope_nats``
    sets how fast the score falls around it.
    """
    if math.isinf(nats_per_frame):
        return 0.0
    x = (-nats_per_frame - config.midpoint_nats) / config.slope_nats
    return 100.0 / (1.0 + math.exp(min(x, 50.0)))


class SphinxScorer:
    """PronunciationScorer on pocketsphinx; thread-safe (a pool of decoders)."""

    def __init__(self, config: ScorerConfig) -> None:
        self.config = config
        model = Path(get_model_path())
        self._hmm = config.model_dir or model / "en-us" / "en-us"
        self._dict = config.dictionary or model / "en-us" / "cmudict-en-us.dict"
        self.lexicon = Lexicon.load(self._dict, config.espeak_ng, config.espeak_timeout)
        self._spellings = Spellings(self.lexicon)
        # words added to each pooled decoder's dictionary, by id(decoder); a decoder is used by
        # one thread at a time, so its entry is too
        self._added: dict[int, int] = {}
        # One pool per kind of decoder. Grammar decoders are kept apart from aligners: once a
        # pocketsphinx 5.1 decoder has run a variant grammar, its forced alignment drops words.
        self._pools: dict[str, queue.LifoQueue[Decoder]] = {
            kind: queue.LifoQueue() for kind in _BEAMS
        }
        for kind in ("grammar", "align", "loop"):
            self._pools[kind].put(self._new_decoder(kind))
        self._executor = ThreadPoolExecutor(
            max_workers=config.loop_threads, thread_name_prefix="phone-loop"
        )

    def _new_decoder(self, kind: str) -> Decoder:
        beams = _BEAMS[kind]
        # bestpath rescoring squeezes phones to impossible durations in alignment: off
        decoder = Decoder(
            hmm=str(self._hmm),
            dict=str(_DECODER_DICT),
            lm=None,
            bestpath=False,
            loglevel="FATAL",
            **beams,
        )
        if kind == "loop":
            decoder.add_allphone_file("loop", None)
            decoder.activate_search("loop")
        return decoder

    @contextmanager
    def _pooled(self, kind: str) -> Iterator[Decoder]:
        pool = self._pools[kind]
        try:
            decoder = pool.get_nowait()
        except queue.Empty:
            decoder = self._new_decoder(kind)
        try:
            yield decoder
        finally:
            # free speech keeps adding new words to a decoder's dictionary: past the limit,
            # let this decoder go and start the next call on a fresh one
            if self._added.get(id(decoder), 0) <= self.config.max_decoder_words:
                pool.put(decoder)
            else:
                self._added.pop(id(decoder), None)

    # -- input checks -------------------------------------------------------------------

    def _check_audio(self, pcm16: bytes, sample_rate: int) -> None:
        cfg = self.config
        if sample_rate != MODEL_SAMPLE_RATE:
            raise ScoringError(f"audio must be {MODEL_SAMPLE_RATE} Hz, got {sample_rate} Hz")
        if len(pcm16) % 2:
            raise ScoringError("audio is not 16-bit PCM (odd number of bytes)")
        seconds = len(pcm16) / 2 / sample_rate
        if seconds < cfg.min_seconds:
            raise ScoringError(f"audio too short to score ({seconds:.2f} s < {cfg.min_seconds} s)")
        if seconds > cfg.max_seconds:
            raise ScoringError(f"audio too long to score ({seconds:.1f} s > {cfg.max_seconds} s)")
        samples = array.array("h", pcm16)
        if sys.byteorder == "big":
            samples.byteswap()
        rms = math.sqrt(sum(s * s for s in samples) / len(samples))
        if rms < cfg.silence_rms:
            raise ScoringError("no speech heard: the audio is silent")

    def _trimmed(self, pcm16: bytes) -> tuple[bytes, float]:
        """The note without its leading/trailing silence (keeping a margin), and the seconds cut
        from its start: the aligner then cannot stretch a weak first phone into the silence."""
        cfg = self.config
        if cfg.trim_silence_db <= 0:
            return pcm16, 0.0
        start, end = speech_span(
            pcm16, floor_db=cfg.trim_silence_db, margin_s=cfg.trim_margin_s, rate=MODEL_SAMPLE_RATE
        )
        if (end - start) / 2 / MODEL_SAMPLE_RATE < cfg.min_seconds:
            return pcm16, 0.0
        return pcm16[start:end], start / 2 / MODEL_SAMPLE_RATE

    def _targets(self, expected_text: str) -> list[_Target]:
        tokens = tokenize(expected_text)
        if not tokens:
            raise ScoringError("no words to score in the expected text")
        if len(tokens) > self.config.max_words:
            raise ScoringError(f"too many words to score ({len(tokens)} > {self.config.max_words})")
        targets = []
        for token in tokens:
            prons = self.lexicon.lookup(token.key)
            found = variants(token.key, prons, self.config.disabled_errors) if prons else []
            targets.append(_Target(token, prons, found))
        if not any(t.pronunciations for t in targets):
            raise ScoringError("none of the expected words can be scored (unknown words)")
        return targets

    # -- the passes ---------------------------------------------------------------------

    def assess(self, pcm16: bytes, sample_rate: int, expected_text: str) -> Assessment:
        self._check_audio(pcm16, sample_rate)
        pcm16, offset = self._trimmed(pcm16)
        targets = self._targets(expected_text)
        scoreable = [t for t in targets if t.pronunciations]
        # the phone loop needs nothing from the other passes: run it beside them (pocketsphinx
        # releases the GIL while decoding)
        loop_future = self._executor.submit(self._loop, pcm16)
        grammar = self._grammar(scoreable)
        chosen = None
        for kind in _GRAMMARS:
            with self._pooled(kind) as decoder:
                chosen = self._variant_decode(decoder, pcm16, scoreable, grammar)
            if chosen is not None:
                break
        said = [
            _said(t, c) for t, c in zip(scoreable, chosen or [None] * len(scoreable), strict=True)
        ]
        phones = None
        # The beam or the optional silences between words make the aligner miss the final
        # state on some notes; each retry changes one of them (see _BEAMS).
        for kind in _ALIGNERS:
            with self._pooled(kind) as aligner:
                phones = self._align(aligner, pcm16, said)
            if phones is not None:
                break
        loop = loop_future.result()
        if phones is None:
            # no alignment even with wide beams: say so, do not guess errors
            return self._fallback(targets)
        results: list[WordResult] = []
        it_chosen = iter(chosen or [None] * len(scoreable))
        it_phones = iter(phones)
        it_said = iter(said)
        for target in targets:
            if not target.pronunciations:
                results.append(self._unscored(target))
                continue
            results.append(
                self._word_result(target, next(it_said), next(it_chosen), next(it_phones), loop)
            )
        results = self._relatively_mispronounced(results)
        if offset:
            # times are of the note the caller gave, not of the trimmed one
            results = [
                dataclasses.replace(
                    w, start=round(w.start + offset, 2), end=round(w.end + offset, 2)
                )
                if w.end
                else w
                for w in results
            ]
        scored = [w.score for w in results if w.scored]
        overall = sum(scored) / len(scored) if scored else 0.0
        return Assessment(round(overall, 1), results, aligned=True)

    def second_opinion(
        self, assessment: Assessment, expected_text: str, model: SentenceModel
    ) -> tuple[Assessment, list[Opinion]]:
        """``assessment`` revised by a model that knows words (_second_opinion.py), and what
        that model said. Unchanged when both thresholds are 0 or nothing was worth asking."""
        cfg = self.config
        if not assessment.aligned or (cfg.whisper_drop_nats <= 0 and cfg.whisper_add_nats <= 0):
            return assessment, []
        tokens, found = candidates(
            assessment, expected_text, self.lexicon, self._spellings, model, cfg
        )
        said = opinions(tokens, found, model)
        return revise(assessment, said, cfg), said

    def _relatively_mispronounced(self, results: list[WordResult]) -> list[WordResult]:
        """Flag an unflagged content word far under the sentence's other words: what the voice
        or the microphone costs every word is no error, a word far below its neighbours is."""
        cfg = self.config
        if cfg.mispronounced_gap <= 0:
            return results
        out = []
        for i, w in enumerate(results):
            others = [o.score for j, o in enumerate(results) if j != i and o.scored and not o.error]
            if (
                w.scored
                and not w.error
                and others
                and w.expected.lower() not in FUNCTION_WORDS
                and w.score < cfg.mispronounced_relative_below
                and w.score < statistics.median(others) - cfg.mispronounced_gap
            ):
                pattern = ERRORS["mispronounced"]
                w = dataclasses.replace(
                    w, error=pattern.slug, error_type=pattern.error_type,
                    tip_en=pattern.tip_en, tip_pt=pattern.tip_pt,
                )  # fmt: skip
            out.append(w)
        return out

    def _loop(self, pcm16: bytes) -> list[tuple[str, int, int]]:
        """Free phone recognition: (phone, first frame, last frame) of what was heard."""
        with self._pooled("loop") as decoder:
            if not self._run(decoder, pcm16):
                return []
            return [(s.word, s.start_frame, s.end_frame) for s in decoder.seg()]

    def _align(
        self, decoder: Decoder, pcm16: bytes, said: list[Phones]
    ) -> list[list[_Phone]] | None:
        """Per target word, the phones of its dictionary pronunciation aligned to the audio."""
        self._add_phones(decoder, said)
        decoder.set_align_text(" ".join(_dict_name(p) for p in said))
        if not self._run(decoder, pcm16) or decoder.hyp() is None:
            return None
        try:
            decoder.set_alignment()
        except RuntimeError:
            return None
        if not self._run(decoder, pcm16):
            return None
        alignment = decoder.get_alignment()
        if alignment is None:
            return None
        words = [
            [_Phone(p.name, p.start, p.duration, p.score * _ALIGN_SCORE_TO_NATS) for p in w]
            for w in alignment
            if w.name.startswith("pf_")
        ]
        # every target word must come back, or the alignment is not usable
        return words if len(words) == len(said) else None

    def _add_words(self, decoder: Decoder, targets: list[_Target]) -> None:
        self._add_phones(
            decoder,
            [p for t in targets for p in [*t.pronunciations, *(v.phones for v in t.variants)]],
        )

    def _add_phones(self, decoder: Decoder, pronunciations: list[Phones]) -> None:
        pending: dict[str, Phones] = {}
        for phones in pronunciations:
            name = _dict_name(phones)
            if name not in pending and decoder.lookup_word(name) is None:
                pending[name] = phones
        self._added[id(decoder)] = self._added.get(id(decoder), 0) + len(pending)
        for name, phones in pending.items():
            # update=False: searches are rebuilt by set_align_text / add_jsgf_string anyway, and
            # rebuilding the active (alignment) search here breaks the next alignment
            decoder.add_word(name, " ".join(phones), False)

    def _grammar(self, targets: list[_Target]) -> str:
        weight = self.config.canonical_weight
        rules = []
        for i, target in enumerate(targets):
            alts = [f"/{weight}/ {_dict_name(p)}" for p in target.pronunciations]
            alts += [f"/1/ {_dict_name(v.phones)}" for v in target.variants]
            rules.append(f"<w{i}> = {' | '.join(alts)};")
        # every word is required: an optional word lets the search skip a word it finds hard
        # rather than weigh its variants; omissions are judged from the alignment instead
        body = " ".join(f"<w{i}>" for i in range(len(targets)))
        return "#JSGF V1.0;\ngrammar pf;\npublic <s> = " + body + ";\n" + "\n".join(rules) + "\n"

    def _run(self, decoder: Decoder, pcm16: bytes) -> bool:
        """Decode the whole utterance; False when the search failed (alignment pruned)."""
        decoder.start_utt()
        try:
            decoder.process_raw(pcm16, full_utt=True)
            # a search that never reached its final state fails here
            decoder.end_utt()
        except RuntimeError:
            # leave the decoder reusable for the next call
            with contextlib.suppress(RuntimeError):
                decoder.end_utt()
            return False
        return True

    def _variant_decode(
        self, decoder: Decoder, pcm16: bytes, targets: list[_Target], grammar: str
    ) -> list[_Segment | None] | None:
        """Per target word: the pronunciation that won (or None when the word was skipped)."""
        self._add_words(decoder, targets)
        decoder.add_jsgf_string("pf", grammar)
        decoder.activate_search("pf")
        if not self._run(decoder, pcm16) or decoder.hyp() is None:
            return None
        segs = [
            _Segment(s.word, s.start_frame, s.end_frame)
            for s in decoder.seg()
            if s.word.startswith("pf_")
        ]
        # the grammar is a fixed sequence of optional words: walk it in order
        out: list[_Segment | None] = []
        k = 0
        for target in targets:
            names = {_dict_name(p) for p in target.pronunciations}
            names |= {_dict_name(v.phones) for v in target.variants}
            if k < len(segs) and segs[k].choice in names:
                out.append(segs[k])
                k += 1
            else:
                out.append(None)
        return out

    # -- results ------------------------------------------------------------------------

    def _word_result(
        self,
        target: _Target,
        said: Phones,
        chosen: _Segment | None,
        phones: list[_Phone],
        loop: list[tuple[str, int, int]],
    ) -> WordResult:
        cfg = self.config
        canonical = said
        frames = sum(p.frames for p in phones)
        function_word = target.token.key in FUNCTION_WORDS
        score = word_score(sum(p.nats for p in phones) / max(1, frames), cfg)
        start = phones[0].start / FRAMES_PER_SECOND
        end = (phones[-1].start + phones[-1].frames) / FRAMES_PER_SECOND
        heard_phones: Phones = canonical
        heard = target.token.surface
        error: str | None = None
        uncapped: float | None = None
        variant = self._confirmed_variant(target, said, chosen, phones, loop)
        squeezed = frames <= cfg.omitted_frames_per_phone * len(phones)
        # natives reduce function words themselves ("fer", "'t"): never call them omitted or
        # mispronounced, only flag a catalogue error on them
        if squeezed and score < cfg.omitted_below and not function_word:
            error, heard, heard_phones = "omitted", "", ()
            score = 0.0
        elif variant is not None:
            error, heard, heard_phones = variant.slug, variant.heard, variant.phones
            uncapped, score = round(score, 1), min(score, cfg.flagged_score_cap)
        elif score < cfg.mispronounced_below and not function_word:
            error = "mispronounced"
        pattern = ERRORS.get(error) if error else None
        return WordResult(
            expected=target.token.surface,
            heard=heard,
            score=round(score, 1),
            error=error,
            error_type=pattern.error_type if pattern else None,
            expected_phones=" ".join(canonical),
            heard_phones=" ".join(heard_phones),
            start=round(start, 2),
            end=round(end, 2),
            tip_en=pattern.tip_en if pattern else "",
            tip_pt=pattern.tip_pt if pattern else "",
            uncapped_score=uncapped,
        )

    def _confirmed_variant(
        self,
        target: _Target,
        said: Phones,
        chosen: _Segment | None,
        phones: list[_Phone],
        loop: list[tuple[str, int, int]],
    ) -> Variant | None:
        """The learner variant the evidence supports, or None (see docs/scoring.md).

        - An inserted sound (``bigi``): the variant decode chose it.
        - A replaced or dropped sound: the decode chose the variant *and* the canonical
          alignment had to squeeze the original phone to (nearly) the shortest an HMM allows,
          i.e. there was no room for it in the audio.
        - A replaced consonant, whatever the decode chose: the free phone loop heard the
          variant's phone over most of the original phone's frames and the original not at all.
        """
        cfg = self.config
        canonical = said
        loop_votes: list[tuple[float, Variant]] = []
        for variant in target.variants:
            if natives_say_it(target.token.key, variant.slug):
                continue
            picked = chosen is not None and chosen.choice == _dict_name(variant.phones)
            if variant.base != said:
                continue
            changed = _changed_positions(canonical, variant.phones)
            if changed is None:
                if picked:
                    return variant
                continue
            squeezed = min(phones[i].frames for i in changed) <= cfg.squeezed_frames
            if picked and squeezed:
                return variant
            if variant.slug in _LOOP_CONFIRMABLE and len(variant.phones) == len(canonical):
                heard = statistics.fmean(
                    _heard(loop, phones[i], variant.phones[i]) for i in changed
                )
                original = max(_heard(loop, phones[i], canonical[i]) for i in changed)
                if heard >= cfg.loop_heard_fraction and original <= cfg.loop_absent_fraction:
                    loop_votes.append((heard, variant))
        if loop_votes:
            return max(loop_votes, key=lambda vote: vote[0])[1]
        return None

    def _unscored(self, target: _Target) -> WordResult:
        return WordResult(
            expected=target.token.surface,
            heard="",
            score=0.0,
            error=None,
            error_type=None,
            expected_phones="",
            heard_phones="",
            start=0.0,
            end=0.0,
            tip_en="",
            tip_pt="",
            scored=False,
        )

    def _fallback(self, targets: list[_Target]) -> Assessment:
        words = [self._unscored(t) for t in targets]
        return Assessment(0.0, words, aligned=False)
