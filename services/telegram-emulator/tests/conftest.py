"""One real emulator process for the whole session; each test starts from a reset one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from phonicflow_emulator.testing import EmulatorHandle, running_emulator
from phonicflow_testing.speech import encode, synth_wav


@pytest.fixture(scope="session")
def emulator_process() -> Iterator[EmulatorHandle]:
    with running_emulator() as handle:
        yield handle


@pytest.fixture
def emulator(emulator_process: EmulatorHandle) -> EmulatorHandle:
    emulator_process.client.reset()
    return emulator_process


@pytest.fixture(scope="session")
def voice_note() -> bytes:
    """A real OGG/Opus voice note of a learner saying a sentence."""
    return encode(synth_wav("I think this is the right way"), "ogg")
