"""A local Telegram Bot API emulator: the real bot, pointed at it, cannot tell the difference.

Run it with ``python -m phonicflow_emulator`` (settings: :mod:`phonicflow_emulator.settings`);
drive it from tests with :class:`EmulatorClient` / :class:`AsyncEmulatorClient`, or start a
private one with :func:`phonicflow_emulator.testing.running_emulator`. The contract is
``docs/emulator.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    # The client (and httpx) load only when asked for: the server process never needs them.
    if name in __all__:
        from phonicflow_emulator import client

        return getattr(client, name)
    raise AttributeError(f"module 'phonicflow_emulator' has no attribute {name!r}")
