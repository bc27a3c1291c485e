"""OpenTelemetry tracing for a service, configured only by the standard ``OTEL_*`` variables.

Usage::

    from phonicflow_common.telemetry import setup_tracing, shutdown_tracing
    provider = setup_tracing("phonicflow-bot")
    ...
    shutdown_tracing()  # flushes spans still in the batch queue

Which exporter (``OTEL_TRACES_EXPORTER``, default ``none`` unless
``OTEL_EXPORTER_OTLP_ENDPOINT``/``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set, then ``otlp``):

- ``none``: spans are still created, so W3C ``traceparent`` is propagated to the next service
  and log lines carry a trace id, but nothing is exported;
- ``otlp``: OTLP over gRPC, or over HTTP when ``OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf``;
  endpoint, headers and timeouts are read by the exporter from the usual variables;
- ``console``: spans printed to stdout (debugging).

``OTEL_SDK_DISABLED=true`` switches tracing off entirely (no-op tracer), and
``OTEL_SERVICE_NAME``/``OTEL_RESOURCE_ATTRIBUTES`` override the resource as usual.
The propagator is the API default (``tracecontext,baggage``, or ``OTEL_PROPAGATORS``).
"""

from __future__ import annotations

import logging
import os

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)

log = logging.getLogger(__name__)
_provider: TracerProvider | None = None


def _exporter_names() -> list[str]:
    configured = os.environ.get("OTEL_TRACES_EXPORTER", "").strip()
    if configured:
        return [name.strip().lower() for name in configured.split(",") if name.strip()]
    has_endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )
    return ["otlp"] if has_endpoint else ["none"]


def _make_exporter(name: str) -> SpanExporter | None:
    if name == "none":
        return None
    if name == "console":
        return ConsoleSpanExporter()
    if name == "otlp":
        protocol = (
            os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            or "grpc"
        )
        if protocol.startswith("http"):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                OTLPSpanExporter as HttpExporter,
            )

            return HttpExporter()
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        return GrpcExporter()
    raise ValueError(f"OTEL_TRACES_EXPORTER: unknown exporter {name!r} (use otlp, console or none)")


def setup_tracing(
    service_name: str, *, processors: list[SpanProcessor] | None = None
) -> TracerProvider | None:
    """Install the global tracer provider for this process; returns it (None when disabled).

    ``processors`` adds span processors beside the configured exporter (tests use an in-memory
    exporter this way). Safe to call more than once: later calls return the first provider.
    """
    global _provider
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return None
    if _provider is not None:
        return _provider
    resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME", service_name)})
    provider = TracerProvider(resource=resource)
    for name in _exporter_names():
        exporter = _make_exporter(name)
        if exporter is not None:
            processor: SpanProcessor = (
                SimpleSpanProcessor(exporter) if name == "console" else BatchSpanProcessor(exporter)
            )
            provider.add_span_processor(processor)
    for extra in processors or []:
        provider.add_span_processor(extra)
    trace.set_tracer_provider(provider)
    _provider = provider
    log.debug("tracing configured", extra={"exporters": ",".join(_exporter_names())})
    return provider


def shutdown_tracing() -> None:
    """Flush and stop the provider installed by :func:`setup_tracing` (no-op otherwise)."""
    global _provider
    if _provider is not None:
        _provider.shutdown()
        _provider = None
