"""The test OTLP receiver gets real spans from a real SDK exporter over HTTP."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from phonicflow_testing.otlp import OtlpReceiver


def test_spans_exported_by_the_sdk_arrive_with_service_and_parent():
    with OtlpReceiver() as receiver:
        provider = TracerProvider(resource=Resource.create({"service.name": "unit"}))
        provider.add_span_processor(
            SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{receiver.endpoint}/v1/traces"))
        )
        tracer = provider.get_tracer("t")
        with tracer.start_as_current_span("outer"), tracer.start_as_current_span("inner") as inner:
            inner.set_attribute("audio.bytes", 42)
        provider.shutdown()
        spans = receiver.wait_for(lambda s: len(s) == 2, timeout=5)
    by_name = {s.name: s for s in spans}
    assert by_name["inner"].parent_span_id == by_name["outer"].span_id
    assert by_name["inner"].trace_id == by_name["outer"].trace_id
    assert by_name["inner"].attributes["audio.bytes"] == 42
    assert {s.service for s in spans} == {"unit"}
