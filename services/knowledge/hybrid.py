"""The backend-independent half of hybrid retrieval, shared by the SQLite retriever
(`retrieval.HybridRetriever`) and the PostgreSQL one (`pg_retrieval.PgHybridRetriever`).

Each retriever runs its own two legs (lexical and vector) against its own database and
reads the rows it needs; everything after that is decided here, once:

* `fuse`: collapse each leg's ranking to parent sections (best chunk per section), then fuse
  the two rankings (convex combination of min-max scaled scores, or RRF when `rrf_k` is set;
  services/knowledge/rrf.py);
* `prefer_current_versions`: hits from superseded documents have their fused score halved
  (with `as_of`: hits from the versions not in force on that date)
  (the recorded `supersedes` relation, services/knowledge/versions.py);
* `rerank`: the optional reranker over the top `reranker_top_n` (any failure: fused order);
* `build_hits`: the `SearchHit`s with parent section text, scores and a highlighted snippet.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date
from typing import Any

from loguru import logger

from services.knowledge.fts_query import snippet
from services.knowledge.rrf import convex_combination, reciprocal_rank_fusion
from services.knowledge.versions import Versions, in_force
from use_cases.knowledge.domain import EmbeddingInfo, HitScores, SearchHit, Vector, embedding_text
from use_cases.knowledge.ports import Embedder, Reranker
from use_cases.shared.errors import EmbeddingModelMismatch, UpstreamUnavailable

__all__ = [
    "CHUNK_CHOICE_K",
    "MAX_RESULTS",
    "SUPERSEDED_FACTOR",
    "VERSION_WINDOW",
    "Candidate",
    "RankedChunk",
    "build_hits",
    "check_embedder",
    "fuse",
    "normal_category",
    "prefer_current_versions",
    "rerank",
]

MAX_RESULTS = 100
VERSION_WINDOW = 30
SUPERSEDED_FACTOR = 0.5
"""Fused-score factor for a hit from a superseded document (see services/knowledge/versions.py)."""
CHUNK_CHOICE_K = 60
"""RRF constant of the chunk-level fusion that picks the chunk shown for a section."""


@dataclass(frozen=True)
class RankedChunk:
    """One entry of a single-method ranking. `score`: BM25 / ts_rank_cd (higher is better)
    or cosine distance (lower is better), depending on the method."""

    chunk_id: int
    rank: int
    score: float


@dataclass
class Candidate:
    section_id: int
    chunk_id: int
    fused: float
    bm25_rank: int | None = None
    bm25_score: float | None = None
    vector_rank: int | None = None
    vector_distance: float | None = None
    rerank_score: float | None = None


def normal_category(category: str | None) -> str | None:
    """An empty category filter means no filter."""
    return category if category else None


def check_embedder(embedder: Embedder, info: EmbeddingInfo) -> None:
    """Refuse to search an index built with another embedding model."""
    if (embedder.model, embedder.dimension) != (info.model, info.dimension):
        raise EmbeddingModelMismatch(
            indexed=f"{info.model} ({info.dimension} dimensions)",
            configured=f"{embedder.model} ({embedder.dimension} dimensions)",
        )


def query_vector(
    query: str, embedder: Embedder | None, info: EmbeddingInfo | None
) -> Vector | None:
    """The query's embedding for the vector leg; None without an embedder or an indexed
    model, or when the embedding service fails (then search goes by keywords only). An
    embedder that does not match the index is `EmbeddingModelMismatch`."""
    if embedder is None or info is None:
        return None
    check_embedder(embedder, info)
    try:
        return embedder.embed_query(query)
    except UpstreamUnavailable as exc:
        logger.warning("Query embedding failed ({}); searching by keywords only", exc)
        return None


def fuse(
    lexical: Sequence[tuple[int, float]],
    vector: Sequence[tuple[int, float]],
    section_of: Mapping[int, int],
    *,
    section_level: bool,
    rrf_k: int | None,
) -> list[Candidate]:
    """Collapse each ranking to sections (best chunk each), then fuse the two rankings.

    `lexical`: (chunk id, score) best first (with a section-level lexical leg, each section
    already mapped to its first chunk); `vector`: (chunk id, cosine distance) best first;
    `section_of`: chunk id -> section id (a chunk missing from it was deleted since the search).
    Convex combination of min-max scaled scores by default (lexical score; vector leg: cosine
    similarity, 1 - distance), or RRF when `rrf_k` is set. With a section-level lexical leg
    only the vector leg has a say in which chunk is shown.
    """
    best: dict[int, Candidate] = {}
    chunk_scores: dict[int, float] = {}  # chunk-level RRF, to pick each section's chunk
    rankings: list[list[tuple[int, float]]] = []
    for leg, hits in (("bm25", lexical), ("vector", vector)):
        ranking: list[tuple[int, float]] = []
        for chunk_rank, (chunk_id, score) in enumerate(hits, start=1):
            section_id = section_of.get(chunk_id)
            if section_id is None:  # deleted since the search
                continue
            if not (section_level and leg == "bm25"):
                chunk_scores[chunk_id] = chunk_scores.get(chunk_id, 0.0) + 1.0 / (
                    CHUNK_CHOICE_K + chunk_rank
                )
            candidate = best.get(section_id)
            if candidate is None:
                candidate = best[section_id] = Candidate(section_id, chunk_id, 0.0)
            if leg == "bm25" and candidate.bm25_rank is None:
                ranking.append((section_id, score))
                candidate.bm25_rank, candidate.bm25_score = len(ranking), score
            elif leg == "vector" and candidate.vector_rank is None:
                ranking.append((section_id, 1.0 - score))
                candidate.vector_rank, candidate.vector_distance = len(ranking), score
            if chunk_scores.get(chunk_id, 0.0) > chunk_scores.get(candidate.chunk_id, 0.0):
                candidate.chunk_id = chunk_id
        rankings.append(ranking)
    if rrf_k is None:
        fused = convex_combination(rankings)
    else:
        fused = reciprocal_rank_fusion(
            [[section_id for section_id, _ in ranking] for ranking in rankings], k=rrf_k
        )
    result = []
    for section_id, score in fused:
        candidate = best[section_id]
        candidate.fused = score
        result.append(candidate)
    return result


def prefer_current_versions(
    candidates: list[Candidate],
    details: dict[int, dict[str, Any]],
    versions: Mapping[int, Versions],
    as_of: date | None = None,
) -> list[Candidate]:
    """The one "current version" rule: a hit from a document that another document
    supersedes (an explicit, recorded relation) has its fused score multiplied by
    `SUPERSEDED_FACTOR`, so the current version ranks first while the old one stays
    findable; every hit's row gets its versions for the answer to name.

    `versions`: document id -> `Versions` for every candidate's document. `as_of`: a past
    date the question is about ("back in 2022"): the versions not in force on that date,
    the current one included, are the ones whose score is multiplied."""
    for candidate in candidates:
        row = details[candidate.chunk_id]
        row["versions"] = versions[row["document_id"]]
        if as_of is not None:
            updated = row.get("updated_at")
            issued = date.fromisoformat(updated) if isinstance(updated, str) else updated
            if not in_force(issued, row["versions"], as_of):
                candidate.fused *= SUPERSEDED_FACTOR
        elif row["versions"].superseded_by is not None:
            candidate.fused *= SUPERSEDED_FACTOR
    return sorted(candidates, key=lambda c: c.fused, reverse=True)


def rerank(
    reranker: Reranker,
    query: str,
    candidates: list[Candidate],
    details: dict[int, dict[str, Any]],
    *,
    top_n: int,
    timeout: float | None,
    submit: Callable[..., Future[list[tuple[int, float]]]],
) -> list[Candidate]:
    """Re-order the top `top_n`; on any failure keep the fused order. `submit` runs the call
    on a worker thread when `timeout` bounds it (for rerankers without their own timeout)."""
    head = candidates[:top_n]
    documents = [
        embedding_text(
            details[c.chunk_id]["title"],
            details[c.chunk_id]["section_path"],
            details[c.chunk_id]["chunk_text"],
        )
        for c in head
    ]
    started = time.perf_counter()
    try:
        if timeout is None:
            ranked = reranker.rerank(query, documents, len(head))
        else:
            ranked = submit(reranker.rerank, query, documents, len(head)).result(timeout=timeout)
    except Exception as exc:
        logger.warning(
            "Reranker failed after {:.0f} ms ({}: {}); keeping the fused order",
            (time.perf_counter() - started) * 1000,
            type(exc).__name__,
            exc,
        )
        return candidates
    order: list[Candidate] = []
    seen: set[int] = set()
    for index, score in ranked:
        if 0 <= index < len(head) and index not in seen:
            seen.add(index)
            head[index].rerank_score = float(score)
            order.append(head[index])
    order.extend(c for i, c in enumerate(head) if i not in seen)
    return order + candidates[len(head) :]


def build_hits(
    final: Sequence[Candidate],
    details: dict[int, dict[str, Any]],
    marked: Sequence[str],
    *,
    snippet_chars: int,
) -> list[SearchHit]:
    """`SearchHit`s for `final`; `marked[i]` is its chunk text with the matches marked
    (MARK_START/MARK_END), or '' when nothing matched."""
    hits: list[SearchHit] = []
    for candidate, marks in zip(final, marked, strict=True):
        row = details[candidate.chunk_id]
        hits.append(
            SearchHit(
                chunk_id=candidate.chunk_id,
                document_id=row["document_id"],
                source=row["source"],
                title=row["title"],
                category=row["category"],
                section_path=row["section_path"],
                updated_at=row["updated_at"],
                chunk_text=row["chunk_text"],
                section_text=row["section_text"],
                scores=HitScores(
                    fused=candidate.fused,
                    bm25_rank=candidate.bm25_rank,
                    bm25_score=candidate.bm25_score,
                    vector_rank=candidate.vector_rank,
                    vector_distance=candidate.vector_distance,
                    rerank_score=candidate.rerank_score,
                ),
                highlight=snippet(marks or row["chunk_text"], max_chars=snippet_chars),
                superseded_by=row["versions"].superseded_by,
                supersedes=row["versions"].supersedes,
                document_version=row.get("document_version") or "",
            )
        )
    return hits
