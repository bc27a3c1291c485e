"""The converter's settings, read once from the environment at start-up.

| variable | default | meaning |
|---|---|---|
| ``CONVERTER_LISTEN_ADDRESS`` | ``0.0.0.0:50051`` | gRPC ``host:port`` to bind |
| ``CONVERTER_MAX_INPUT_MB`` | ``20`` | largest accepted input (Telegram's download ceiling) |
| ``CONVERTER_MAX_DURATION_SECONDS`` | ``600`` | longest accepted audio |
| ``CONVERTER_MAX_CONCURRENCY`` | CPU count × 2 | conversions at once; more → RESOURCE_EXHAUSTED |
| ``CONVERTER_GRACE_SECONDS`` | ``20`` | on SIGTERM, how long in-flight conversions may finish |
| ``CONVERTER_MAX_CONNECTION_AGE_SECONDS`` | ``60`` | then a client is asked to reconnect (0: never) |
| ``LOG_LEVEL`` | ``INFO`` | |

Plus the standard ``OTEL_*`` variables (see :mod:`phonicflow_common.telemetry`). A bad value
stops the service with exit status 2 and a message naming the variable.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, field_validator

from phonicflow_common.settings import ServiceSettings

DEFAULT_LISTEN_ADDRESS = "0.0.0.0:50051"
DEFAULT_MAX_INPUT_MB = 20.0
DEFAULT_MAX_DURATION_SECONDS = 600.0
DEFAULT_GRACE_SECONDS = 20.0
# Clients balance across converter pods by the addresses DNS gave them when they connected; a
# connection that ends now and then (GOAWAY, its calls finishing first) makes them look again, so
# pods the autoscaler adds get work within about this long.
DEFAULT_MAX_CONNECTION_AGE_SECONDS = 60.0
# Decoding is CPU-bound but a request also spends time receiving and sending bytes, so a little
# more than one conversion per core keeps the cores busy without queueing without bound.
CONCURRENCY_PER_CPU = 2
# Requests that may wait for a slot, per slot: enough to absorb a burst of voice notes (each a
# few tens of ms of work) in arrival order, few enough that waiting never nears a deadline.
QUEUE_PER_SLOT = 4

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def default_concurrency() -> int:
    return max(1, (os.cpu_count() or 1) * CONCURRENCY_PER_CPU)


class ConverterSettings(ServiceSettings):
    """Typed view of the environment; field ``x`` is read from ``CONVERTER_X`` unless aliased."""

    listen_address: str = Field(
        default=DEFAULT_LISTEN_ADDRESS, validation_alias="CONVERTER_LISTEN_ADDRESS"
    )
    max_input_mb: float = Field(
        default=DEFAULT_MAX_INPUT_MB, gt=0, le=1024, validation_alias="CONVERTER_MAX_INPUT_MB"
    )
    max_duration_seconds: float = Field(
        default=DEFAULT_MAX_DURATION_SECONDS,
        gt=0,
        le=4 * 3600,
        validation_alias="CONVERTER_MAX_DURATION_SECONDS",
    )
    max_concurrency: int = Field(
        default_factory=default_concurrency,
        ge=1,
        le=1024,
        validation_alias="CONVERTER_MAX_CONCURRENCY",
    )
    max_queue: int | None = Field(
        default=None,
        ge=0,
        le=65536,
        validation_alias="CONVERTER_MAX_QUEUE",
        description="Requests that may wait for a slot; unset: QUEUE_PER_SLOT per slot.",
    )
    grace_seconds: float = Field(
        default=DEFAULT_GRACE_SECONDS, ge=0, le=3600, validation_alias="CONVERTER_GRACE_SECONDS"
    )
    max_connection_age_seconds: float = Field(
        default=DEFAULT_MAX_CONNECTION_AGE_SECONDS,
        ge=0,
        le=7 * 24 * 3600,
        validation_alias="CONVERTER_MAX_CONNECTION_AGE_SECONDS",
        description="A client connection older than this is asked to reconnect; 0: never.",
    )
    log_level: LogLevel = Field(default="INFO", validation_alias="LOG_LEVEL")

    @property
    def queue_size(self) -> int:
        """How many requests may wait for a slot (CONVERTER_MAX_QUEUE, or 4 per slot)."""
        if self.max_queue is not None:
            return self.max_queue
        return self.max_concurrency * QUEUE_PER_SLOT

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("listen_address")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"expected host:port (e.g. {DEFAULT_LISTEN_ADDRESS}), got {value!r}")
        return value

    @property
    def max_input_bytes(self) -> int:
        return int(self.max_input_mb * 1024 * 1024)
