"""Speech synthesised once per run (espeak-ng, 16 kHz mono WAV as the bot sends it), and the
two databases every contract test runs against.

``database`` (module-scoped, parametrized): ``None`` for the embedded default (SQLite in the
server's STORAGE_DIR) or the URL of a fresh PostgreSQL database; pass it to
``BackendServer(..., database_url=database)``.
"""

from __future__ import annotations

import functools

import pytest

from phonicflow_testing.backend import speech_wav_16k
from phonicflow_testing.postgres import PostgresServer

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


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str | None:
    if request.param == "sqlite":
        return None
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()
