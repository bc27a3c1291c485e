"""Entry point: ``python -m phonicflow_converter`` (settings from the environment, see config)."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import sys

from phonicflow_common.logging import configure_logging
from phonicflow_common.settings import load_settings
from phonicflow_common.telemetry import setup_tracing, shutdown_tracing
from phonicflow_converter.config import ConverterSettings
from phonicflow_converter.server import ListenError, serve

EXIT_CANNOT_LISTEN = 1
"""Exit status when the port cannot be bound (2 is reserved for invalid settings)."""

# glibc mallopt() parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 1024 * 1024
"""Buffers from this size up (decoded PCM, WAV replies) get their own mapping, unmapped on free."""
TRIM_THRESHOLD_BYTES = 4 * 1024 * 1024
"""Free heap kept at the top of an arena before it is returned to the OS."""
ARENA_MAX = 2


def tune_allocator() -> None:
    """Keep RSS close to what is live: a conversion allocates tens of MB and then frees them.

    By default glibc raises its mmap threshold after the first large free, so later WAV-sized
    buffers come from the heap and stay resident after the reply; and every worker thread gets
    its own arena. Fixing the threshold and capping arenas keeps a 300 s note from leaving
    ~100 MB behind. Fixing the mmap threshold also freezes glibc's trim threshold at 128 KB,
    so every short conversion would hand its few hundred KB of heap back and fault it in again
    on the next one (~3 ms of system CPU per voice note, docs/benchmarks.md); a 4 MB trim
    threshold keeps that churn resident. Only on glibc; elsewhere this does nothing.
    """
    if not sys.platform.startswith("linux"):
        return
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
        libc.mallopt(_M_ARENA_MAX, ARENA_MAX)
    except (OSError, AttributeError):  # musl has no mallopt
        return


def main() -> None:
    tune_allocator()
    settings = load_settings(ConverterSettings)
    configure_logging("audio-converter", level=settings.log_level)
    setup_tracing("phonicflow-audio-converter")
    try:
        asyncio.run(serve(settings))
    except ListenError as exc:
        logging.getLogger("phonicflow_converter").error(str(exc))
        raise SystemExit(EXIT_CANNOT_LISTEN) from None
    finally:
        shutdown_tracing()


if __name__ == "__main__":
    main()
