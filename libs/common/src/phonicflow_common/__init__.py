"""What the PhonicFlow services share.

- :mod:`phonicflow_common.logging` — one JSON line per event, secrets redacted from every line.
- :mod:`phonicflow_common.telemetry` — OpenTelemetry tracing configured from the standard
  ``OTEL_*`` variables.
- :mod:`phonicflow_common.settings` — typed settings from the environment, secrets also from
  files (``<NAME>_FILE``), and a start-up failure that names the bad variable.
- ``phonicflow.audio.v1`` (a sibling package) — the gRPC stubs generated from ``proto/``.
"""

__version__ = "0.1.0"
