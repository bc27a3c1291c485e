"""A local Telegram Bot API emulator: the real bot, pointed at it, cannot tell the difference.

Run it with ``python -m phonicflow_emulator`` (settings: :mod:`phonicflow_emulator.settings`);
drive it from tests with :class:`EmulatorClient` / :class:`AsyncEmulatorClient`, or start a
private one with :func:`phonicflow_emulator.testing.running_emulator`. The contract is
``docs/emulator.md``.
"""

from phonicflow_emulator.client import (
    AsyncEmulatorClient,
    AsyncEmulatorUser,
    EmulatorClient,
    EmulatorError,
    EmulatorUser,
)

__all__ = [
    "AsyncEmulatorClient",
    "AsyncEmulatorUser",
    "EmulatorClient",
    "EmulatorError",
    "EmulatorUser",
]
