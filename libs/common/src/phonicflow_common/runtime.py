"""Process-level tuning every service applies once it has started.

Usage::

    from phonicflow_common.runtime import freeze_startup_heap

    await server.start()          # imports done, clients and models built
    freeze_startup_heap()

Why: CPython's cyclic garbage collector now and then runs a full collection, which walks every
tracked object. A started service holds ~50 000-100 000 of them that live forever (modules,
python-telegram-bot's and OpenTelemetry's classes, gRPC stubs, speech models), so each full
collection paused the bot ~20-46 ms: a visible share of a voice note's p99 (docs/benchmarks.md,
"Bot"). :func:`gc.freeze` moves everything alive at that moment to a permanent generation the
collector skips; objects created later are collected as before.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> int:
    """Collect once, then exempt every surviving object from future collections.

    Returns how many objects were frozen (for the start-up log line).
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
