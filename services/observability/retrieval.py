"""The knowledge-base retriever, timed (`almanac_retrieval_duration_seconds`) and traced (a
`retrieval` span per search, inside the tool call or request that searched)."""

from __future__ import annotations

import time
from datetime import date

from opentelemetry import trace

from services.observability.metrics import Metrics
from use_cases.knowledge.domain import SearchHit
from use_cases.knowledge.ports import Retriever
from use_cases.knowledge.scope import EVERYTHING, ReadScope


class ObservedRetriever:
    """A `Retriever` that times and traces every search of the one it wraps."""

    def __init__(self, inner: Retriever, metrics: Metrics, tracer: trace.Tracer) -> None:
        self._inner = inner
        self._metrics = metrics
        self._tracer = tracer

    @property
    def reranker_enabled(self) -> bool:
        return self._inner.reranker_enabled

    def search(
        self,
        query: str,
        k: int | None = None,
        category: str | None = None,
        *,
        as_of: date | None = None,
        scope: ReadScope = EVERYTHING,
    ) -> list[SearchHit]:
        with self._tracer.start_as_current_span("retrieval") as span:
            started = time.perf_counter()
            hits = self._inner.search(query, k, category, as_of=as_of, scope=scope)
            self._metrics.retrieval_seconds.observe(time.perf_counter() - started)
            span.set_attribute("almanac.retrieval.hits", len(hits))
            return hits
