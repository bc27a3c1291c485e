"""Tracing helpers: one trace per Telegram update, a child span per stage.

Usage::

    with stage("download"):              # span "bot.download" + the stage latency histogram
        data = await file.download_as_bytearray()

The root span (``telegram.update``) is opened by the update processor in :mod:`phonicflow_bot.bot`,
so every stage inside a handler is its child. gRPC and backend HTTP calls add their own client
spans and carry the context to the converter and the backend.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Span

from phonicflow_bot import metrics

tracer = trace.get_tracer("phonicflow_bot")


@contextmanager
def stage(name: str, **attributes: str | int | float | bool) -> Iterator[Span]:
    """A child span ``bot.<name>`` timed into ``phonicflow_bot_stage_seconds{stage=name}``."""
    started = time.perf_counter()
    with tracer.start_as_current_span(f"bot.{name}", attributes=attributes) as span:
        try:
            yield span
        finally:
            metrics.STAGE_SECONDS.labels(name).observe(time.perf_counter() - started)
