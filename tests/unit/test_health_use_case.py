"""The health check's rule: an index built with another embedder than the configured one is
`degraded`, with a problem naming both models and `almanac reindex`; an empty one is fine."""

from __future__ import annotations

from dataclasses import dataclass

from use_cases.knowledge.domain import EmbeddingInfo, KnowledgeStats
from use_cases.knowledge.health import CheckHealth


@dataclass
class StatsOnlyStore:
    """The one `KnowledgeStore` call the health check makes."""

    current: KnowledgeStats

    def stats(self) -> KnowledgeStats:
        return self.current


@dataclass
class NamedEmbedder:
    model: str = "all-MiniLM-L6-v2"
    dimension: int = 384


def _stats(embedding: EmbeddingInfo | None) -> KnowledgeStats:
    return KnowledgeStats(documents=3, sections=9, chunks=20, embedding=embedding)


async def _check(indexed: EmbeddingInfo | None, embedder: NamedEmbedder) -> tuple[str, list[str]]:
    report = await CheckHealth(StatsOnlyStore(_stats(indexed)), embedder).execute()  # type: ignore[arg-type]  # a store of stats alone
    assert report.stats == _stats(indexed)
    assert report.configured_embedding == EmbeddingInfo(embedder.model, embedder.dimension)
    return report.status, list(report.problems)


async def test_an_index_built_with_the_configured_embedder_is_ok() -> None:
    assert await _check(EmbeddingInfo("all-MiniLM-L6-v2", 384), NamedEmbedder()) == ("healthy", [])


async def test_an_empty_knowledge_base_is_ok_whatever_the_embedder() -> None:
    assert await _check(None, NamedEmbedder("hashing-64", 64)) == ("healthy", [])


async def test_another_model_is_degraded_with_a_problem_naming_both_and_the_fix() -> None:
    status, problems = await _check(
        EmbeddingInfo("all-MiniLM-L6-v2", 384), NamedEmbedder("hashing-64", 64)
    )

    assert status == "degraded"
    assert problems == [
        "The index was built with all-MiniLM-L6-v2; the configured embedder is hashing-64. "
        "Run `almanac reindex`."
    ]


async def test_the_same_model_name_with_another_dimension_is_degraded_too() -> None:
    status, problems = await _check(
        EmbeddingInfo("text-embedding-3-small", 1536), NamedEmbedder("text-embedding-3-small", 512)
    )

    assert status == "degraded"
    assert problems == [
        "The index was built with text-embedding-3-small (1536 dimensions); the configured "
        "embedder is text-embedding-3-small (512 dimensions). Run `almanac reindex`."
    ]
