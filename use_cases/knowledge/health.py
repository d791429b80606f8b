"""The service's health: the knowledge-base statistics and what is wrong with them.

Rules:
- An index built with another embedder (model or dimension) than the configured one makes
  the service `degraded`, with a problem that names the index's model, the configured one and
  the fix (`almanac reindex`): searches would fail with 409 until then.
- An empty knowledge base (no index yet) is `ok`: the first ingest records the embedder.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from use_cases.knowledge.domain import EmbeddingInfo, KnowledgeStats
from use_cases.knowledge.ports import Embedder, KnowledgeStore


@dataclass(frozen=True)
class HealthReport:
    stats: KnowledgeStats
    configured_embedding: EmbeddingInfo
    problems: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        """`healthy`, or `degraded` when there are problems (the advice-backend contract's
        word for a working service, docs/seeds.md)."""
        return "degraded" if self.problems else "healthy"


class CheckHealth:
    def __init__(self, store: KnowledgeStore, embedder: Embedder) -> None:
        self._store = store
        self._embedder = embedder

    async def execute(self) -> HealthReport:
        stats = await asyncio.to_thread(self._store.stats)
        configured = EmbeddingInfo(self._embedder.model, self._embedder.dimension)
        problems: list[str] = []
        indexed = stats.embedding
        if indexed is not None and indexed != configured:
            problems.append(
                f"The index was built with {_describe(indexed, configured)}; the configured "
                f"embedder is {_describe(configured, indexed)}. Run `almanac reindex`."
            )
        return HealthReport(stats, configured, tuple(problems))


def _describe(info: EmbeddingInfo, other: EmbeddingInfo) -> str:
    """The model's name, with its dimension when the names alone do not tell them apart."""
    if info.model != other.model:
        return info.model
    return f"{info.model} ({info.dimension} dimensions)"
