"""Hybrid retrieval on SQLite: the two index ports of `hybrid.HybridRetriever` over a
`SqliteKnowledgeStore` (the store's side is `search_catalog.sqlite_catalog`).

    query -> BM25 top-k sections over each section's whole text (`sections_fts`): from the
             resident copy of that index (`resident_bm25`, exact bm25() scores, used from
             `resident_min_sections` sections on, once loaded and up to date), else FTS5
             itself with a posting budget + exact re-scoring (`lexical`)
          -> vector top-k (`vector_index`: resident NumPy copy of the vec0 vectors)
          -> collapse each list to parent sections (best chunk per section)
          -> fusion: convex combination of min-max scaled scores, equal weights
             (or Reciprocal Rank Fusion when `rrf_k` is set; services/knowledge/rrf.py)
          -> current versions first: hits from superseded documents (the recorded
             `supersedes` relation, services/knowledge/versions.py) have their score halved
          -> optional rerank of the top `reranker_top_n` (any failure: keep the fused order)
          -> top n hits with the parent section text, scores and a highlighted snippet

Fusion, versions, rerank and the hits are `hybrid.HybridRetriever`'s, the same code as on
PostgreSQL; this module holds only what is SQLite's: `SqliteLexicalIndex` (FTS5 and its
resident copy) and `SqliteVectorIndex` (the resident vectors, sqlite-vec as a reference).

Where the candidates lie (each chunk's section and document, each section's first chunk)
comes from the two resident indexes when both hold every candidate (`_places`), else from
one statement. Both legs go by the store state read once, when the query is analysed (the
vector leg reads none of its own), and the versions statement runs only for candidates whose
documents are in a recorded version relation (`_versions`: the set of those documents is
read once per write generation; most knowledge bases have few or none).

Latency excluding the query embedding (bench/bench_search.py, 200 SciFact claims, this 2-core
machine, p50/p95, section-level BM25): 100k chunks (50k sections): resident BM25 1.9/3.2 ms,
vector 2.0/2.3 ms, hybrid 4.6/6.0 ms on 2026-11-25; on a slower day (2026-11-27) BM25 2.4,
vector 3.4-3.9 and hybrid 7.4-7.9/8.9-9.8 ms (docs/notes/benchmarks.md, "Search latency"). With the
FTS5 budgeted leg instead, BM25 14/25 ms and hybrid 16.4/27 ms. The plain alternatives at
100k: FTS5 OR query 39/66 ms (sections), sqlite-vec float KNN 56/57 ms.
Quality, SciFact train nDCG@10 (chunked, int8 MiniLM, 50 candidates per leg): BM25 0.706
(section level; chunk level 0.700), vector 0.683, hybrid 0.741 (chunk-level BM25: 0.736;
RRF k=60 with it: 0.727). What else was tried is in docs/notes/benchmarks.md.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal, Unpack

import numpy as np

from services.knowledge.hybrid import (
    CatalogReads,
    HybridRetriever,
    LexicalQuery,
    RankedChunk,
    RetrieverOptions,
    normal_category,
)
from services.knowledge.lexical import AnalyzedQuery, LexicalHit, LexicalSearcher
from services.knowledge.resident_bm25 import ResidentBM25
from services.knowledge.search_catalog import ChunkPlaces, sqlite_catalog
from services.knowledge.store import VECTOR_TABLE, SqliteKnowledgeStore, StoreState
from services.knowledge.vector_index import ResidentVectors
from services.knowledge.versions import Versions
from services.sqlite.connection import Connection
from use_cases.knowledge.domain import Vector
from use_cases.knowledge.ports import Embedder
from use_cases.knowledge.scope import ReadScope

__all__ = [
    "RankedChunk",
    "SqliteHybridRetriever",
    "SqliteLexicalIndex",
    "SqliteVectorIndex",
    "StatedQuery",
]

#: The versions of a document in no recorded version relation.
NO_VERSIONS = Versions()

#: Scopes whose readable documents a SQLite retriever holds between writes.
READABLE_HELD = 256

#: New sections the resident BM25 index takes in during a search; more are taken in on a
#: background thread while FTS5 answers.
RESIDENT_INLINE_SECTIONS = 500


@dataclass(frozen=True)
class StatedQuery:
    """A query as FTS5 analysed it, with the store's state read then: the lexical leg goes
    by that state rather than reading it again while the vector leg runs beside it (each
    statement there hands the GIL to the other thread and waits to get it back)."""

    analyzed: AnalyzedQuery
    state: StoreState

    @property
    def words(self) -> tuple[str, ...]:
        return self.analyzed.words


class SqliteLexicalIndex:
    """`LexicalIndex` on a SQLite store: BM25 from the resident copy of the section index
    (`ResidentBM25`, from `resident_min_sections` sections on, once loaded and up to date),
    else from FTS5 itself (`LexicalSearcher`: posting budget + exact re-scoring)."""

    def __init__(
        self,
        store: SqliteKnowledgeStore,
        searcher: LexicalSearcher | None = None,
        *,
        resident_min_sections: int | None = 5_000,
        **options: Unpack[RetrieverOptions],
    ) -> None:
        self._store = store
        self.searcher = searcher or LexicalSearcher(level="section")
        self.resident = (
            ResidentBM25(weights=self.searcher.weights, min_rows=resident_min_sections)
            if resident_min_sections is not None and self.searcher.level == "section"
            else None
        )
        self._too_small_at: int | None = None  # generation at which it had too few sections

    @property
    def level(self) -> Literal["section", "chunk"]:
        return self.searcher.level  # type: ignore[return-value]  # the searcher level is "section" or "chunk"

    def analyze(self, query: str) -> StatedQuery:
        state = self._store.state()
        self.searcher.observe_generation(state.generation)
        return StatedQuery(self.searcher.analyze(self._store.connection(), query), state)

    def search(
        self,
        query: StatedQuery,
        k: int,
        category: str | None,
        *,
        documents: frozenset[int] | None = None,
    ) -> list[tuple[int, float]]:
        """BM25 hits from the resident index when it is up to date (with the store as the
        query was analysed against), else from FTS5; with `documents`, theirs only."""
        conn = self._store.connection()
        state = query.state
        hits: list[LexicalHit]
        if self.resident is not None and self._resident_ready(conn, state):
            hits = self.resident.search(query.analyzed.stems, k, category, documents=documents)
        else:
            hits = self.searcher.search(conn, query.analyzed, k, category, documents=documents)
        return [(h.chunk_id, h.score) for h in hits]

    def highlight(self, query: StatedQuery, texts: Sequence[str]) -> list[str]:
        return self.searcher.highlight(query.analyzed, texts)

    def warm_up(self, *, wait: bool = True) -> None:
        resident = self.resident
        conn = self._store.connection()
        if resident is not None and resident.large_enough(conn):
            if wait:
                resident.sync(conn, self._store.state())
            else:
                self._start_resident_load(self._store.state())

    def close(self) -> None:
        """Nothing to release: the resident index is memory, the connection the store's."""

    def _resident_ready(self, conn: Connection, state: StoreState) -> bool:
        """Bring the resident index up to `state` if that is cheap (a few new sections, or
        deletions); a whole build, or a large catch-up, runs on a background thread while
        FTS5 answers."""
        resident = self.resident
        assert resident is not None
        if resident.current(state):
            return True
        if resident.loading:
            return False
        if resident.needs_load(state):
            # Checked once per write: a small knowledge base stays on FTS5 without a query.
            if self._too_small_at != state.generation:
                if resident.large_enough(conn):
                    self._start_resident_load(state)
                else:
                    self._too_small_at = state.generation
            return False
        if resident.pending(conn) > RESIDENT_INLINE_SECTIONS:
            self._start_resident_load(state)
            return False
        resident.sync(conn, state)
        return True

    def _start_resident_load(self, state: StoreState) -> None:
        assert self.resident is not None
        self.resident.start_loading(self._store.path, state, readonly=self._store.readonly)


class SqliteVectorIndex:
    """`VectorIndex` on a SQLite store: the resident NumPy copy of the vec0 vectors (exact
    when small, binary shortlist + exact re-scoring when large), brought up to the store's
    state before each search."""

    def __init__(self, store: SqliteKnowledgeStore, vectors: ResidentVectors | None = None) -> None:
        self._store = store
        self.vectors = vectors or ResidentVectors()

    def nearest(
        self,
        vector: np.ndarray,
        k: int,
        category: str | None,
        *,
        exact: bool = False,
        documents: frozenset[int] | None = None,
    ) -> list[tuple[int, float]]:
        return self.nearest_at(
            self._store.state(), vector, k, category, exact=exact, documents=documents
        )

    def nearest_at(
        self,
        state: StoreState,
        vector: np.ndarray,
        k: int,
        category: str | None,
        *,
        exact: bool = False,
        documents: frozenset[int] | None = None,
    ) -> list[tuple[int, float]]:
        """`nearest`, the index brought up to `state` (read by the caller: a hybrid search's,
        as its query was analysed) rather than to a state read here."""
        self.vectors.sync(self._store.connection(), state)
        return self.vectors.search(vector, k, category, exact=exact, documents=documents)

    def sync(self) -> None:
        self.vectors.sync(self._store.connection(), self._store.state())

    def warm_up(self, *, wait: bool = True) -> None:
        self.sync()

    def close(self) -> None:
        """Nothing to release."""

    def nearest_vec0(self, vector: Vector, k: int, category: str | None) -> list[tuple[int, float]]:
        """sqlite-vec's KNN in SQL (exhaustive; slow at scale, kept as the reference)."""
        if self._store.embedding_info() is None or k <= 0:
            return []
        blob = np.asarray(vector, dtype=np.float32).tobytes()
        sql = f"SELECT chunk_id, distance FROM {VECTOR_TABLE} WHERE embedding MATCH ? AND k = ?"
        params: list[Any] = [blob, k]
        if category is not None:
            sql += " AND category = ?"
            params.append(category)
        rows = self._store.connection().execute(sql + " ORDER BY distance", params).fetchall()
        return [(int(cid), float(d)) for cid, d in rows]


class SqliteHybridRetriever(HybridRetriever):
    """`HybridRetriever` over a `SqliteKnowledgeStore` (or the path of its file, which it then
    opens and closes). `lexical` and `vectors` carry the speed knobs (posting budget,
    re-scoring pool, exact-search threshold, shortlist size); `resident_min_sections`: from
    this many sections on, BM25 is scored from a resident copy of the section index (built
    on a background thread, FTS5 answering until it is ready); None never does. The other
    settings are `HybridRetriever`'s."""

    def __init__(
        self,
        store_or_path: SqliteKnowledgeStore | str | Path,
        embedder: Embedder | None,
        *,
        lexical: LexicalSearcher | None = None,
        vectors: ResidentVectors | None = None,
        resident_min_sections: int | None = 5_000,
        **options: Unpack[RetrieverOptions],
    ) -> None:
        if isinstance(store_or_path, SqliteKnowledgeStore):
            self.store, self._owns_store = store_or_path, False
        else:
            self.store, self._owns_store = SqliteKnowledgeStore(store_or_path), True
        self.sqlite_lexical = SqliteLexicalIndex(
            self.store, lexical, resident_min_sections=resident_min_sections
        )
        self.sqlite_vectors = SqliteVectorIndex(self.store, vectors)
        self._versioned_at: tuple[int, frozenset[int]] | None = None
        self._readable_at: tuple[int, dict[ReadScope, frozenset[int]]] = (-1, {})
        super().__init__(
            sqlite_catalog(self.store),
            self.sqlite_lexical,
            self.sqlite_vectors,
            embedder,
            **options,
        )

    def _nearest(self, query: LexicalQuery) -> Callable[..., list[tuple[int, float]]]:
        """The vector leg goes by the state read when the query was analysed, as the
        lexical leg does (a statement on the leg's thread would trade the GIL back and forth
        with the other leg)."""
        if isinstance(query, StatedQuery):
            return partial(self.sqlite_vectors.nearest_at, query.state)
        return super()._nearest(query)

    def _readable(self, scope: ReadScope, query: LexicalQuery) -> frozenset[int]:
        """The documents `scope` may read, held per scope until the store's generation
        changes (a document's collection and metadata change only with a write; grants
        change the scope itself, never this answer)."""
        if not isinstance(query, StatedQuery):
            return super()._readable(scope, query)
        generation = query.state.generation
        if self._readable_at[0] != generation:
            self._readable_at = (generation, {})
        held = self._readable_at[1]
        found = held.get(scope)
        if found is None:
            found = super()._readable(scope, query)
            if len(held) >= READABLE_HELD:
                held.pop(next(iter(held)))
            held[scope] = found
        return found

    def _versions(
        self,
        reads: CatalogReads,
        document_ids: Collection[int],
        query: LexicalQuery,
        *,
        replaced_on: bool,
    ) -> dict[int, Versions]:
        """Versions read only for the candidates' documents that have any (`_versioned`);
        every other one has none, which is what `CatalogReads.versions_of` would say."""
        if not isinstance(query, StatedQuery):
            return super()._versions(reads, document_ids, query, replaced_on=replaced_on)
        versioned = self._versioned(query.state.generation)
        related = [document_id for document_id in document_ids if document_id in versioned]
        found = super()._versions(reads, related, query, replaced_on=replaced_on) if related else {}
        return {document_id: found.get(document_id, NO_VERSIONS) for document_id in document_ids}

    def _versioned(self, generation: int) -> frozenset[int]:
        """The documents in a recorded version relation (superseding or superseded; one
        indexed statement), held until the store's generation changes. Read after
        `generation` was, so never older than it: read again once too often, never too rarely."""
        held = self._versioned_at
        if held is not None and held[0] == generation:
            return held[1]
        rows = self.store.connection().execute(
            "SELECT id, supersedes_id FROM documents WHERE supersedes_id IS NOT NULL"
        )
        versioned = frozenset(int(document_id) for row in rows for document_id in row)
        self._versioned_at = (generation, versioned)
        return versioned

    @property
    def lexical(self) -> LexicalSearcher:
        """The FTS5 searcher (its analysis, budget and weights)."""
        return self.sqlite_lexical.searcher

    @property
    def resident(self) -> ResidentBM25 | None:
        return self.sqlite_lexical.resident

    @property
    def vectors(self) -> ResidentVectors:
        return self.sqlite_vectors.vectors

    def _places(
        self, reads: CatalogReads, section_ids: list[int], chunk_ids: list[int]
    ) -> ChunkPlaces:
        """From the resident indexes when both hold every candidate (they were brought up to
        date for this search's legs): each chunk's section and document from the vector
        index, each section's first chunk and document from the BM25 index. Otherwise (FTS5
        answered, or a candidate is newer than the copy) the database's statement."""
        resident = self.sqlite_lexical.resident
        sections = (
            {}
            if not section_ids
            else resident.places(section_ids)
            if resident is not None
            else None
        )
        chunks = self.sqlite_vectors.vectors.places(chunk_ids)
        if sections is None or chunks is None:
            return super()._places(reads, section_ids, chunk_ids)
        section_of = {chunk_id: place[0] for chunk_id, place in chunks.items()}
        document_of = {chunk_id: place[1] for chunk_id, place in chunks.items()}
        first: dict[int, int] = {}
        for section_id, (chunk_id, document_id) in sections.items():
            first[section_id] = chunk_id
            section_of[chunk_id] = section_id
            document_of[chunk_id] = document_id
        return ChunkPlaces(first, section_of, document_of)

    def search_vector(
        self, query_vector: Vector, k: int, category: str | None = None, *, method: str = "auto"
    ) -> list[RankedChunk]:
        """`HybridRetriever.search_vector`, plus `method="vec0"`: sqlite-vec's KNN in SQL."""
        if method != "vec0":
            return super().search_vector(query_vector, k, category, method=method)
        hits = self.sqlite_vectors.nearest_vec0(query_vector, k, normal_category(category))
        return [RankedChunk(cid, rank, dist) for rank, (cid, dist) in enumerate(hits, 1)]

    def close(self) -> None:
        super().close()
        if self._owns_store:
            self.store.close()
