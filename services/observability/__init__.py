"""What an operator watches the service by: Prometheus metrics (`metrics.py`), OpenTelemetry
traces exported over OTLP when the standard `OTEL_*` variables ask for it (`tracing.py`), and
the retriever seen through both (`retrieval.py`). See docs/operations.md."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from opentelemetry.sdk.trace import TracerProvider

from services.observability.metrics import Metrics
from services.observability.tracing import build_tracer_provider


@dataclass(frozen=True)
class Observability:
    """One service's metrics, when tracing is on its tracer provider, and on PostgreSQL a
    check that the database answers (`database_ping(timeout_s)` raises `DatabaseUnavailable`
    if not: `/health` reports it)."""

    metrics: Metrics
    tracer_provider: TracerProvider | None
    database_ping: Callable[[float], None] | None = None

    @classmethod
    def from_environment(
        cls,
        environ: Mapping[str, str],
        version: str,
        *,
        database_ping: Callable[[float], None] | None = None,
    ) -> Observability:
        return cls(Metrics(), build_tracer_provider(environ, version), database_ping)

    def close(self) -> None:
        """Send the spans still queued (tracing on)."""
        if self.tracer_provider is not None:
            self.tracer_provider.shutdown()


__all__ = ["Metrics", "Observability"]
