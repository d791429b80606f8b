"""Hybrid retrieval, written once: `HybridRetriever` over three ports, which SQLite
(`retrieval.py`) and PostgreSQL (`pg_retrieval.py`) implement:

* `LexicalIndex`: BM25 over sections (or chunks): analyse a query, rank ids, mark matches;
* `VectorIndex`: nearest chunks to a query embedding by cosine distance;
* `SearchCatalog`: the store's side (section of a chunk, a hit's rows, document versions;
  services/knowledge/search_catalog.py, one SQL for both databases).

A search runs the two legs at the same time (the vector leg on a small thread pool: FTS5,
NumPy and the PostgreSQL driver all release the GIL); everything after that is decided here:

* `fuse`: collapse each leg's ranking to parent sections (best chunk per section), then fuse
  the two rankings (convex combination of min-max scaled scores, or RRF when `rrf_k` is set;
  services/knowledge/rrf.py);
* `prefer_current_versions`: hits from superseded documents have their fused score halved
  (with `as_of`: hits from the versions not in force on that date)
  (the recorded `supersedes` relation, services/knowledge/versions.py);
* `rerank`: the optional reranker over the top `reranker_top_n` (any failure: fused order);
* `build_hits`: the `SearchHit`s with parent section text, scores and a highlighted snippet.

Why collapse to sections before fusing: the agent reads parent sections, and the final list
keeps one hit per section; fusing per chunk would let several chunks of one section take
several ranks in a leg and push other sections down before the duplicates are removed.
A hit's ranks/scores are its section's in each leg (the section's own BM25 score with a
section-level lexical index; its best chunk in the vector leg); the chunk shown is the
section's best chunk in the vector leg, or its first chunk when only BM25 found it (with a
chunk-level lexical index: the chunk with the best chunk-level RRF score over both legs).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import date
from functools import partial
from typing import Any, Literal, Protocol, TypedDict, TypeVar

import numpy as np
from loguru import logger

from services.knowledge.fts_query import query_terms, snippet
from services.knowledge.rrf import convex_combination, reciprocal_rank_fusion
from services.knowledge.search_catalog import ChunkDetails, ChunkPlaces
from services.knowledge.versions import Versions, in_force
from use_cases.knowledge.domain import EmbeddingInfo, HitScores, SearchHit, Vector, embedding_text
from use_cases.knowledge.ports import Embedder, Reranker
from use_cases.knowledge.scope import EVERYTHING, ReadScope
from use_cases.shared.errors import EmbeddingModelMismatch, UpstreamUnavailable

__all__ = [
    "CHUNK_CHOICE_K",
    "MAX_RESULTS",
    "SUPERSEDED_FACTOR",
    "VERSION_WINDOW",
    "Candidate",
    "CatalogReads",
    "HybridRetriever",
    "LexicalIndex",
    "LexicalQuery",
    "RankedChunk",
    "SearchCatalog",
    "VectorIndex",
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


@dataclass(slots=True)
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
        is_bm25 = leg == "bm25"
        # A section-level BM25 hit names no chunk of its own: it does not vote (and, the BM25
        # leg coming first, no chunk has a vote yet to beat).
        votes = not (section_level and is_bm25)
        for chunk_rank, (chunk_id, score) in enumerate(hits, start=1):
            section_id = section_of.get(chunk_id)
            if section_id is None:  # deleted since the search
                continue
            if votes:
                chunk_scores[chunk_id] = chunk_scores.get(chunk_id, 0.0) + 1.0 / (
                    CHUNK_CHOICE_K + chunk_rank
                )
            candidate = best.get(section_id)
            if candidate is None:
                candidate = best[section_id] = Candidate(section_id, chunk_id, 0.0)
            if is_bm25:
                if candidate.bm25_rank is None:
                    ranking.append((section_id, score))
                    candidate.bm25_rank, candidate.bm25_score = len(ranking), score
            elif candidate.vector_rank is None:
                ranking.append((section_id, 1.0 - score))
                candidate.vector_rank, candidate.vector_distance = len(ranking), score
            if votes and chunk_scores[chunk_id] > chunk_scores.get(candidate.chunk_id, 0.0):
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
    places: ChunkPlaces,
    versions: Mapping[int, Versions],
    as_of: date | None = None,
) -> list[Candidate]:
    """The one "current version" rule: a hit from a document that another document
    supersedes (an explicit, recorded relation) has its fused score multiplied by
    `SUPERSEDED_FACTOR`, so the current version ranks first while the old one stays
    findable (each hit's row gets its versions for the answer to name: `build_hits`).

    `places`: where each candidate lies (its document); `versions`: document id ->
    `Versions` for every candidate's document. `as_of`: a past date the question is about
    ("back in 2022"): the versions not in force on that date, the current one included, are
    the ones whose score is multiplied."""
    for candidate in candidates:
        document_id = places.document_of[candidate.chunk_id]
        document_versions = versions[document_id]
        if as_of is not None:
            if not in_force(places.updated_on(document_id), document_versions, as_of):
                candidate.fused *= SUPERSEDED_FACTOR
        elif document_versions.superseded_by is not None:
            candidate.fused *= SUPERSEDED_FACTOR
    return sorted(candidates, key=lambda c: c.fused, reverse=True)


def rerank(
    reranker: Reranker,
    query: str,
    candidates: list[Candidate],
    details: Mapping[int, ChunkDetails],
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
            details[c.chunk_id].title,
            details[c.chunk_id].section_path,
            details[c.chunk_id].chunk_text,
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
    details: Mapping[int, ChunkDetails],
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
                document_id=row.document_id,
                source=row.source,
                title=row.title,
                category=row.category,
                section_path=row.section_path,
                updated_at=row.updated_at,
                chunk_text=row.chunk_text,
                section_text=row.section_text,
                scores=HitScores(
                    fused=candidate.fused,
                    bm25_rank=candidate.bm25_rank,
                    bm25_score=candidate.bm25_score,
                    vector_rank=candidate.vector_rank,
                    vector_distance=candidate.vector_distance,
                    rerank_score=candidate.rerank_score,
                ),
                highlight=snippet(marks or row.chunk_text, max_chars=snippet_chars),
                superseded_by=row.versions.superseded_by,
                supersedes=row.versions.supersedes,
                document_version=row.document_version,
                extraction=row.extraction,
                link=row.link,
            )
        )
    return hits


# -- the ports the retriever is written over ------------------------------------------------------


class LexicalQuery(Protocol):
    """A query as a lexical index sees it; no `words` means nothing to search for."""

    @property
    def words(self) -> tuple[str, ...]: ...


#: The query type of one lexical index: what its `analyze` makes, its `search` reads.
QueryT = TypeVar("QueryT", bound=LexicalQuery)


class LexicalIndex(Protocol[QueryT]):
    """BM25 ranking of sections (`level` "section") or chunks ("chunk"). Each index reads
    only the queries it analysed itself (`QueryT`: its own stems, corrections, postings)."""

    @property
    def level(self) -> Literal["section", "chunk"]: ...

    def analyze(self, query: str) -> QueryT:
        """The query's terms as the index sees them (stems, spelling corrections)."""
        ...

    def search(
        self,
        query: QueryT,
        k: int,
        category: str | None,
        *,
        documents: frozenset[int] | None = None,
    ) -> list[tuple[int, float]]:
        """(section or chunk id, BM25 score), best first, at most `k`; with `documents`,
        only those documents' rows are ranked."""
        ...

    def highlight(self, query: QueryT, texts: Sequence[str]) -> list[str]:
        """Each text with the query's matches between MARK_START/MARK_END ('' if none)."""
        ...

    def warm_up(self, *, wait: bool = True) -> None: ...

    def close(self) -> None: ...


class VectorIndex(Protocol):
    """Nearest chunks to an embedding."""

    def nearest(
        self,
        vector: np.ndarray,
        k: int,
        category: str | None,
        *,
        exact: bool = False,
        documents: frozenset[int] | None = None,
    ) -> list[tuple[int, float]]:
        """(chunk id, cosine distance), nearest first, at most `k`; `exact`: exhaustive;
        with `documents`, only those documents' chunks are searched."""
        ...

    def warm_up(self, *, wait: bool = True) -> None: ...

    def close(self) -> None: ...


class CatalogReads(Protocol):
    """The store's reads for one search (services/knowledge/search_catalog.py)."""

    def places(self, section_ids: Collection[int], chunk_ids: Collection[int]) -> ChunkPlaces: ...

    def document_dates(self, document_ids: Collection[int]) -> dict[int, Any]: ...

    def first_chunks(self, section_ids: Collection[int]) -> dict[int, int]: ...

    def sections_of(self, chunk_ids: Collection[int]) -> dict[int, int]: ...

    def details(self, chunk_ids: Collection[int]) -> dict[int, ChunkDetails]: ...

    def versions_of(
        self, document_ids: Iterable[int], *, replaced_on: bool = False
    ) -> dict[int, Versions]: ...

    def readable(self, scope: ReadScope) -> frozenset[int]:
        """The ids of the documents a restricted `scope` may read."""
        ...


class SearchCatalog(Protocol):
    def embedding_info(self) -> EmbeddingInfo | None: ...

    def reading(self) -> AbstractContextManager[CatalogReads]:
        """One connection's reads for the steps after the two legs."""
        ...


class RetrieverOptions(TypedDict, total=False):
    """`HybridRetriever`'s settings, as the SQLite and PostgreSQL retrievers pass them on."""

    vector_search_limit: int
    bm25_search_limit: int
    final_results_limit: int
    rrf_k: int | None
    reranker: Reranker | None
    reranker_top_n: int
    reranker_timeout: float | None
    snippet_chars: int
    parallel: bool


# -- the retriever ---------------------------------------------------------------------------------


class HybridRetriever:
    """`Retriever` over a `LexicalIndex`, a `VectorIndex` and a `SearchCatalog`.

    Limits: `bm25_search_limit` / `vector_search_limit` candidates per leg,
    `final_results_limit` hits by default. Fusion: convex combination of min-max scaled
    scores, or RRF with constant `rrf_k` when that is given. With a `reranker`, the top
    `reranker_top_n` fused hits are re-ordered; `reranker_timeout` (seconds) bounds that
    call for rerankers without their own timeout. `parallel=False` runs the two legs one
    after the other. The retriever closes its indexes when it is closed.
    """

    def __init__(
        self,
        catalog: SearchCatalog,
        lexical_index: LexicalIndex[Any],
        vector_index: VectorIndex,
        embedder: Embedder | None,
        *,
        vector_search_limit: int = 50,
        bm25_search_limit: int = 50,
        final_results_limit: int = 5,
        rrf_k: int | None = None,
        reranker: Reranker | None = None,
        reranker_top_n: int = 20,
        reranker_timeout: float | None = None,
        snippet_chars: int = 320,
        parallel: bool = True,
    ) -> None:
        self.catalog = catalog
        self.lexical_index = lexical_index
        self.vector_index = vector_index
        self._embedder = embedder
        self.vector_search_limit = vector_search_limit
        self.bm25_search_limit = bm25_search_limit
        self.final_results_limit = final_results_limit
        self.rrf_k = rrf_k
        self._reranker = reranker
        self.reranker_top_n = reranker_top_n
        self.reranker_timeout = reranker_timeout
        self.snippet_chars = snippet_chars
        self.parallel = parallel
        self._executor: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @property
    def reranker_enabled(self) -> bool:
        return self._reranker is not None

    def warm_up(self, *, wait: bool = True) -> None:
        """Load resident indexes now (start-up) rather than on the first search; `wait=False`
        lets a long build run in the background."""
        self.vector_index.warm_up(wait=wait)
        self.lexical_index.warm_up(wait=wait)

    def close(self) -> None:
        with self._pool_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        self.lexical_index.close()
        self.vector_index.close()

    def _pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=4, thread_name_prefix="almanac-search"
                )
            return self._executor

    def analyze(self, query: str) -> LexicalQuery:
        """The query's terms as the lexical index sees them (for callers that explain a search)."""
        return self.lexical_index.analyze(query)

    # -- single legs (also used by the benchmarks) ---------------------------------------------

    def search_bm25(self, query: str, k: int, category: str | None = None) -> list[RankedChunk]:
        """The lexical leg alone; with a section-level index each section stands for its first
        chunk."""
        analyzed = self.lexical_index.analyze(query)
        if not analyzed.words:
            return []
        hits = self.lexical_index.search(analyzed, k, normal_category(category))
        if self.lexical_index.level == "section":
            with self.catalog.reading() as reads:
                first = reads.first_chunks([sid for sid, _ in hits])
            hits = [(first[sid], score) for sid, score in hits if sid in first]
        return [RankedChunk(cid, rank, score) for rank, (cid, score) in enumerate(hits, 1)]

    def search_vector(
        self, query_vector: Vector, k: int, category: str | None = None, *, method: str = "auto"
    ) -> list[RankedChunk]:
        """Nearest chunks by cosine distance: `method` "auto" (the index's own search) or
        "exact" (exhaustive)."""
        if method not in ("auto", "exact"):
            raise ValueError(f"Unknown vector search method {method!r}")
        hits = self.vector_index.nearest(
            np.asarray(query_vector, dtype=np.float32),
            k,
            normal_category(category),
            exact=method == "exact",
        )
        return [RankedChunk(cid, rank, dist) for rank, (cid, dist) in enumerate(hits, 1)]

    # -- hybrid --------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        k: int | None = None,
        category: str | None = None,
        *,
        as_of: date | None = None,
        scope: ReadScope = EVERYTHING,
    ) -> list[SearchHit]:
        """Hybrid search for `query`; [] for a query without any searchable characters.
        `as_of`: prefer the versions in force on that date over the current ones. `scope`:
        only the documents it may read are ranked, in both legs."""
        if not query_terms(query):
            return []  # nothing searchable: do not spend an embedding on it
        vector = query_vector(query, self._embedder, self.catalog.embedding_info())
        return self.search_with_vector(query, vector, k, category, as_of=as_of, scope=scope)

    def search_with_vector(
        self,
        query: str,
        query_vector: Vector | None,
        k: int | None = None,
        category: str | None = None,
        *,
        as_of: date | None = None,
        scope: ReadScope = EVERYTHING,
    ) -> list[SearchHit]:
        """`search` with the query already embedded (so benchmarks can time retrieval only).

        `query_vector=None` searches by keywords only. A restricted `scope` becomes the set
        of readable documents (one statement, held per scope until the next write), which
        each leg is handed: the legs rank only readable rows, so `k` hits are `k` readable
        hits; the category, if any, is then part of that set.
        """
        if not query or not query.strip():
            return []
        n = max(1, min(k if k is not None else self.final_results_limit, MAX_RESULTS))
        category = normal_category(category)
        analyzed = self.lexical_index.analyze(query)
        if not analyzed.words:
            return []
        category, legs = self._scoped_legs(scope, category, analyzed)
        if legs is None:
            return []
        vector: list[tuple[int, float]] = []
        pending: Future[list[tuple[int, float]]] | None = None
        if query_vector is not None:
            args = (
                np.asarray(query_vector, dtype=np.float32),
                max(self.vector_search_limit, n),
                category,
            )
            nearest = partial(self._nearest(analyzed), **legs)
            if self.parallel:
                pending = self._pool().submit(nearest, *args)
            else:
                vector = nearest(*args)
        lexical = self.lexical_index.search(
            analyzed, max(self.bm25_search_limit, n), category, **legs
        )
        if pending is not None:
            vector = pending.result()
        wanted = max(n, self.reranker_top_n if self._reranker else n)
        with self.catalog.reading() as reads:
            candidates, places = self._fuse(reads, lexical, vector)
            if not candidates:
                return []
            # Look a little past the cut so a current version ranked just below its
            # superseded predecessors can move up.
            window = candidates[: max(wanted, VERSION_WINDOW)]
            documents = {places.document_of[c.chunk_id] for c in window}
            versions = self._versions(reads, documents, analyzed, replaced_on=as_of is not None)
            if as_of is not None:
                places = replace(places, updated=reads.document_dates(documents))
            candidates = prefer_current_versions(window, places, versions, as_of)[:wanted]
            # Only the hits that can be shown are read whole (texts, titles).
            details = reads.details([c.chunk_id for c in candidates])
        candidates = [c for c in candidates if c.chunk_id in details]
        for row in details.values():
            row.versions = versions[row.document_id]
        if self._reranker is not None and candidates:
            candidates = rerank(
                self._reranker,
                query,
                candidates,
                details,
                top_n=self.reranker_top_n,
                timeout=self.reranker_timeout,
                submit=self._pool().submit,
            )
        final = candidates[:n]
        marked = self.lexical_index.highlight(
            analyzed, [details[c.chunk_id].chunk_text for c in final]
        )
        return build_hits(final, details, marked, snippet_chars=self.snippet_chars)

    def _scoped_legs(
        self, scope: ReadScope, category: str | None, query: LexicalQuery
    ) -> tuple[str | None, dict[str, Any] | None]:
        """(the category the legs filter by, the legs' scope arguments); None arguments when
        the scope reads nothing. A restricted scope takes the category into its documents."""
        if scope.unrestricted:
            return category, {}
        if category is not None:
            scope = scope.filtered(replace(scope.filters, category=category))
        documents = self._readable(scope, query)
        return None, ({"documents": documents} if documents else None)

    def _readable(self, scope: ReadScope, query: LexicalQuery) -> frozenset[int]:
        """The documents `scope` may read (`CatalogReads.readable`); a retriever that knows
        the store's write generation holds the answer until the next write."""
        with self.catalog.reading() as reads:
            return reads.readable(scope)

    def _nearest(self, query: LexicalQuery) -> Callable[..., list[tuple[int, float]]]:
        """The vector leg's search for `query` (`VectorIndex.nearest`); a retriever whose
        query carries the store's state hands it on, so the leg reads no state of its own."""
        return self.vector_index.nearest

    def _versions(
        self,
        reads: CatalogReads,
        document_ids: Collection[int],
        query: LexicalQuery,
        *,
        replaced_on: bool,
    ) -> dict[int, Versions]:
        """The candidates' versions (`CatalogReads.versions_of`); a retriever that knows which
        documents have any recorded version reads only those."""
        return reads.versions_of(document_ids, replaced_on=replaced_on)

    def _places(
        self, reads: CatalogReads, section_ids: list[int], chunk_ids: list[int]
    ) -> ChunkPlaces:
        """Where the candidates lie (`CatalogReads.places`); a retriever whose indexes hold
        that in memory answers without the statement."""
        return reads.places(section_ids, chunk_ids)

    def _fuse(
        self,
        reads: CatalogReads,
        lexical: Sequence[tuple[int, float]],
        vector: Sequence[tuple[int, float]],
    ) -> tuple[list[Candidate], ChunkPlaces]:
        """Collapse each ranking to sections and fuse them (`fuse`), with where each
        candidate lies (one read). With a section-level lexical index, `lexical` holds
        section ids: each stands for its first chunk."""
        section_level = self.lexical_index.level == "section"
        lexical_ids = [hit_id for hit_id, _ in lexical]
        chunk_ids = [cid for cid, _ in vector]
        if not section_level:
            chunk_ids = lexical_ids + chunk_ids
        if not lexical and not vector:
            return [], ChunkPlaces({}, {}, {})
        places = self._places(
            reads, lexical_ids if section_level else [], list(dict.fromkeys(chunk_ids))
        )
        if section_level:
            first = places.first_chunk
            lexical = [(first[sid], score) for sid, score in lexical if sid in first]
        candidates = fuse(
            lexical, vector, places.section_of, section_level=section_level, rrf_k=self.rrf_k
        )
        return candidates, places
