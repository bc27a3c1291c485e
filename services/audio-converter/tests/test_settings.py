"""The converter's settings on their own: the wait queue follows the concurrency unless set;
connections age out unless that is turned off."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from phonicflow_converter.config import QUEUE_PER_SLOT, ConverterSettings
from phonicflow_converter.server import connection_options


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


def test_connections_age_out_after_a_minute_unless_turned_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CONVERTER_MAX_CONNECTION_AGE_SECONDS", raising=False)
    options = dict(connection_options(ConverterSettings()))
    assert options["grpc.max_connection_age_ms"] == 60_000
    assert options["grpc.max_connection_age_grace_ms"] >= 30_000  # the bot's conversion deadline
    monkeypatch.setenv("CONVERTER_MAX_CONNECTION_AGE_SECONDS", "0")
    options = dict(connection_options(ConverterSettings()))
    assert "grpc.max_connection_age_ms" not in options
    assert "grpc.max_receive_message_length" in options
