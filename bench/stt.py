"""Compare the backend's speech-to-text engines on synthetic speech: transcript and time.

Usage: ``.venv/bin/python bench/stt.py`` (about a minute). Each sentence is spoken by espeak-ng
in two voices, resampled to 16 kHz mono as the bot sends it, and transcribed by both engines of
``phonicflow_backend.stt``; the models load once. Results: docs/benchmarks.md, "Speech to text".
"""

from __future__ import annotations

import subprocess
import time

from phonicflow_backend.stt import PocketsphinxSTT, WhisperSTT
from phonicflow_testing.speech import require, synth_wav

SENTENCES = [
    "The weather is nice today",
    "She made a cake for her friend",
    "Harry ran right to the hospital",
    "My brother thinks the weather is nice",
    "I tink tree trees are dere",
    "I would like a cup of coffee please, and then I want to go to the beach with my family "
    "this weekend",
]
VOICES = ["en-us", "en-us+m3"]


def pcm16k(text: str, voice: str) -> bytes:
    return subprocess.run(
        [require("ffmpeg"), "-v", "error", "-i", "pipe:0", "-ar", "16000", "-ac", "1",
         "-f", "s16le", "pipe:1"],
        input=synth_wav(text, voice=voice), capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip


def main() -> None:
    engines = {"pocketsphinx": PocketsphinxSTT(), "whisper": WhisperSTT()}
    print("| said | voice | seconds | " + " | ".join(f"{n} (ms)" for n in engines) + " |")
    print("|---|---|---|" + "---|" * len(engines))
    for sentence in SENTENCES:
        for voice in VOICES:
            audio = pcm16k(sentence, voice)
            cells = []
            for engine in engines.values():
                started = time.perf_counter()
                heard = engine.transcribe(audio, 16000)
                cells.append(f"{heard} ({(time.perf_counter() - started) * 1000:.0f})")
            print(
                f"| {sentence} | {voice} | {len(audio) / 32000:.1f} | " + " | ".join(cells) + " |"
            )


if __name__ == "__main__":
    main()
