"""Speech synthesised once per run (espeak-ng, 16 kHz mono WAV as the bot sends it)."""

from __future__ import annotations

import functools

import pytest

from phonicflow_testing.backend import speech_wav_16k

CORRECT = "I think three trees are there"
MISPRONOUNCED = "I tink tree trees are dere"


@functools.cache
def _speech(text: str) -> bytes:
    return speech_wav_16k(text)


@pytest.fixture(scope="session")
def correct_wav() -> bytes:
    return _speech(CORRECT)


@pytest.fixture(scope="session")
def mispronounced_wav() -> bytes:
    return _speech(MISPRONOUNCED)


@pytest.fixture(scope="session")
def short_wav() -> bytes:
    return _speech("Hello, how are you?")
