"""The converter's settings on their own: the wait queue follows the concurrency unless set."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from phonicflow_converter.config import QUEUE_PER_SLOT, ConverterSettings


def test_the_wait_queue_is_four_per_slot_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVERTER_MAX_CONCURRENCY", "3")
    monkeypatch.delenv("CONVERTER_MAX_QUEUE", raising=False)
    assert ConverterSettings().queue_size == 3 * QUEUE_PER_SLOT
    monkeypatch.setenv("CONVERTER_MAX_QUEUE", "0")
    assert ConverterSettings().queue_size == 0


def test_a_negative_queue_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVERTER_MAX_QUEUE", "-1")
    with pytest.raises(ValidationError, match="CONVERTER_MAX_QUEUE"):
        ConverterSettings()
