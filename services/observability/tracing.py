"""OpenTelemetry traces, exported over OTLP/HTTP when the standard variables ask for it.

Rules: tracing is on when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
is set, and off otherwise, or with `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`.
The exporter reads the other `OTEL_EXPORTER_OTLP_*` variables itself (headers, timeout,
compression) and the resource reads `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`
(the service is named `almanac` unless they say otherwise). Spans are sent in batches by a
background thread; `shutdown()` sends what is left.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def tracing_wanted(environ: Mapping[str, str]) -> bool:
    """Whether `environ` asks for traces to be exported (see the module docstring)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return any(environ.get(name, "").strip() for name in _ENDPOINTS)


def build_tracer_provider(environ: Mapping[str, str], version: str) -> TracerProvider | None:
    """A provider exporting over OTLP/HTTP, or None when tracing is off."""
    if not tracing_wanted(environ):
        return None
    resource = Resource.create({"service.name": "almanac", "service.version": version}).merge(
        OTELResourceDetector().detect()
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def tracer_of(provider: TracerProvider | None) -> trace.Tracer:
    """Almanac's own tracer on `provider` (a tracer that records nothing without one)."""
    if provider is None:
        return trace.NoOpTracer()
    return provider.get_tracer("almanac")
