"""Hybrid retrieval: BM25 (FTS5) + vector KNN, fused, optionally reranked.

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

Why collapse to sections before fusing: the agent reads parent sections, and the final list
keeps one hit per section; fusing per chunk would let several chunks of one section take
several ranks in a leg and push other sections down before the duplicates are removed.

The two legs run concurrently (the vector leg on a small thread pool): FTS5 and NumPy both
release the GIL. A hit's ranks/scores are its section's in each leg (the section's own BM25
score; its best chunk in the vector leg); the chunk shown is the section's best chunk in the
vector leg, or its first chunk when only BM25 found it (with a chunk-level BM25 searcher:
the chunk with the best chunk-level RRF score over both legs).

Latency excluding the query embedding (bench/bench_search.py, 200 SciFact claims, this 2-core
machine, p50/p95, section-level BM25): 100k chunks (50k sections): resident BM25 1.9/3.2 ms,
vector 2.0/2.3 ms, hybrid 4.6/6.0 ms; with the FTS5 budgeted leg instead, BM25 14/25 ms and
hybrid 16.4/27 ms. The plain alternatives at 100k: FTS5 OR query 39/66 ms (sections),
sqlite-vec float KNN 56/57 ms.
Quality, SciFact train nDCG@10 (chunked, int8 MiniLM, 50 candidates per leg): BM25 0.706
(section level; chunk level 0.700), vector 0.683, hybrid 0.741 (chunk-level BM25: 0.736;
RRF k=60 with it: 0.727). What else was tried is in docs/benchmarks.md.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from services.knowledge.fts_query import query_terms
from services.knowledge.hybrid import (
    MAX_RESULTS,
    VERSION_WINDOW,
    Candidate,
    RankedChunk,
    build_hits,
    fuse,
    normal_category,
    prefer_current_versions,
    query_vector,
    rerank,
)
from services.knowledge.lexical import AnalyzedQuery, LexicalHit, LexicalSearcher
from services.knowledge.resident_bm25 import ResidentBM25
from services.knowledge.store import VECTOR_TABLE, SqliteKnowledgeStore, StoreState
from services.knowledge.vector_index import VectorIndex
from services.knowledge.versions import versions_of
from services.sqlite.connection import Connection
from use_cases.knowledge.domain import SearchHit, Vector
from use_cases.knowledge.ports import Embedder, Reranker

__all__ = ["HybridRetriever", "RankedChunk"]

#: New sections the resident BM25 index takes in during a search; more are taken in on a
#: background thread while FTS5 answers.
RESIDENT_INLINE_SECTIONS = 500


class HybridRetriever:
    """`Retriever` over a `SqliteKnowledgeStore` (or the path of its file).

    Limits: `bm25_search_limit` / `vector_search_limit` candidates per leg,
    `final_results_limit` hits by default. Fusion: convex combination of min-max scaled
    scores, or RRF with constant `rrf_k` when that is given. With a `reranker`, the top
    `reranker_top_n` fused hits are re-ordered; `reranker_timeout` (seconds) bounds that
    call for rerankers without their own timeout. `lexical` and `vectors` carry the speed
    knobs (posting budget, re-scoring pool, exact-search threshold, shortlist size).
    `parallel=False` runs the two legs one after the other. `resident_min_sections`: from
    this many sections on, BM25 is scored from a resident copy of the section index
    (`ResidentBM25`; built on a background thread, FTS5 answering until it is ready); None
    never does.
    """

    def __init__(
        self,
        store_or_path: SqliteKnowledgeStore | str | Path,
        embedder: Embedder | None,
        *,
        vector_search_limit: int = 50,
        bm25_search_limit: int = 50,
        final_results_limit: int = 5,
        rrf_k: int | None = None,
        reranker: Reranker | None = None,
        reranker_top_n: int = 20,
        reranker_timeout: float | None = None,
        lexical: LexicalSearcher | None = None,
        vectors: VectorIndex | None = None,
        snippet_chars: int = 320,
        parallel: bool = True,
        resident_min_sections: int | None = 5_000,
    ) -> None:
        if isinstance(store_or_path, SqliteKnowledgeStore):
            self._store, self._owns_store = store_or_path, False
        else:
            self._store, self._owns_store = SqliteKnowledgeStore(store_or_path), True
        self._embedder = embedder
        self.vector_search_limit = vector_search_limit
        self.bm25_search_limit = bm25_search_limit
        self.final_results_limit = final_results_limit
        self.rrf_k = rrf_k
        self._reranker = reranker
        self.reranker_top_n = reranker_top_n
        self.reranker_timeout = reranker_timeout
        self.lexical = lexical or LexicalSearcher(level="section")
        self.vectors = vectors or VectorIndex()
        self.resident = (
            ResidentBM25(weights=self.lexical.weights, min_rows=resident_min_sections)
            if resident_min_sections is not None and self.lexical.level == "section"
            else None
        )
        self.snippet_chars = snippet_chars
        self.parallel = parallel
        self._too_small_at: int | None = None  # generation at which it had too few sections
        self._executor: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @property
    def store(self) -> SqliteKnowledgeStore:
        return self._store

    @property
    def reranker_enabled(self) -> bool:
        return self._reranker is not None

    def warm_up(self, *, wait: bool = True) -> None:
        """Load the resident indexes now (start-up) rather than on the first search.
        `wait=False` builds the BM25 one on a background thread (FTS5 answers meanwhile)."""
        conn = self._store.connection()
        self._sync_vectors(conn)
        resident = self.resident
        if resident is not None and resident.large_enough(conn):
            if wait:
                resident.sync(conn, self._store.state())
            else:
                self._start_resident_load(self._store.state())

    def close(self) -> None:
        with self._pool_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        if self._owns_store:
            self._store.close()

    # -- single methods (also used by the benchmark) --------------------------------------------

    def search_bm25(self, query: str, k: int, category: str | None = None) -> list[RankedChunk]:
        conn = self._store.connection()
        state = self._store.state()
        self.lexical.observe_generation(state.generation)
        analyzed = self.lexical.analyze(conn, query)
        hits = self._lexical_leg(conn, analyzed, k, normal_category(category), state)
        if self.lexical.level == "section":  # a section stands for its first chunk
            first = _first_chunks(conn, [h.chunk_id for h in hits])
            hits = [LexicalHit(first[h.chunk_id], h.score) for h in hits if h.chunk_id in first]
        return [RankedChunk(h.chunk_id, rank, h.score) for rank, h in enumerate(hits, start=1)]

    def search_vector(
        self,
        query_vector: Vector,
        k: int,
        category: str | None = None,
        *,
        method: str = "auto",
    ) -> list[RankedChunk]:
        """Nearest chunks by cosine distance.

        `method`: "auto" (resident index: exact when small, binary shortlist + exact
        re-scoring when large), "exact" (resident index, exhaustive), or "vec0" (sqlite-vec
        KNN in SQL, exhaustive; slow at scale, kept as a reference).
        """
        conn = self._store.connection()
        category = normal_category(category)
        if method == "vec0":
            return self._search_vec0(conn, query_vector, k, category)
        if method not in ("auto", "exact"):
            raise ValueError(f"Unknown vector search method {method!r}")
        self._sync_vectors(conn)
        hits = self.vectors.search(
            np.asarray(query_vector, dtype=np.float32), k, category, exact=method == "exact"
        )
        return [RankedChunk(cid, rank, dist) for rank, (cid, dist) in enumerate(hits, start=1)]

    def _search_vec0(
        self, conn: Connection, query_vector: Vector, k: int, category: str | None
    ) -> list[RankedChunk]:
        if self._store.embedding_info() is None or k <= 0:
            return []
        blob = np.asarray(query_vector, dtype=np.float32).tobytes()
        sql = f"SELECT chunk_id, distance FROM {VECTOR_TABLE} WHERE embedding MATCH ? AND k = ?"
        params: list[Any] = [blob, k]
        if category is not None:
            sql += " AND category = ?"
            params.append(category)
        rows = conn.execute(sql + " ORDER BY distance", params).fetchall()
        return [RankedChunk(int(cid), rank, float(d)) for rank, (cid, d) in enumerate(rows, 1)]

    def _vector_leg(
        self, query_vector: np.ndarray, n: int, category: str | None, state: StoreState
    ) -> list[tuple[int, float]]:
        self._sync_vectors(self._store.connection(), state)
        return self.vectors.search(query_vector, max(self.vector_search_limit, n), category)

    def _lexical_leg(
        self,
        conn: Connection,
        analyzed: AnalyzedQuery,
        k: int,
        category: str | None,
        state: StoreState,
    ) -> list[LexicalHit]:
        """BM25 hits from the resident index when it is up to date, else from FTS5."""
        if self.resident is not None and self._resident_ready(conn, state):
            return self.resident.search(analyzed.stems, k, category)
        return self.lexical.search(conn, analyzed, k, category)

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

    def _pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=4, thread_name_prefix="almanac-vector-search"
                )
            return self._executor

    def _sync_vectors(self, conn: Connection, state: StoreState | None = None) -> None:
        self.vectors.sync(conn, state or self._store.state())

    # -- hybrid ----------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        k: int | None = None,
        category: str | None = None,
        *,
        as_of: date | None = None,
    ) -> list[SearchHit]:
        """Hybrid search for `query`; [] for a query without any searchable characters.
        `as_of`: prefer the versions in force on that date over the current ones."""
        if not query_terms(query):
            return []  # nothing searchable: do not spend an embedding on it
        vector = query_vector(query, self._embedder, self._store.embedding_info())
        return self.search_with_vector(query, vector, k, category, as_of=as_of)

    def search_with_vector(
        self,
        query: str,
        query_vector: Vector | None,
        k: int | None = None,
        category: str | None = None,
        *,
        as_of: date | None = None,
    ) -> list[SearchHit]:
        """`search` with the query already embedded (so benchmarks can time retrieval only).

        `query_vector=None` searches by keywords only.
        """
        if not query or not query.strip():
            return []
        n = max(1, min(k if k is not None else self.final_results_limit, MAX_RESULTS))
        category = normal_category(category)
        conn = self._store.connection()
        state = self._store.state()
        self.lexical.observe_generation(state.generation)
        analyzed = self.lexical.analyze(conn, query)
        if not analyzed.words:
            return []
        vector: list[tuple[int, float]] = []
        pending: Future[list[tuple[int, float]]] | None = None
        if query_vector is not None:
            vector_args = (np.asarray(query_vector, dtype=np.float32), n, category, state)
            if self.parallel:
                # The two legs overlap: FTS5 and NumPy both release the GIL.
                pending = self._pool().submit(self._vector_leg, *vector_args)
            else:
                vector = self._vector_leg(*vector_args)
        lexical = self._lexical_leg(conn, analyzed, max(self.bm25_search_limit, n), category, state)
        if pending is not None:
            vector = pending.result()
        candidates = self._fuse(conn, [(h.chunk_id, h.score) for h in lexical], vector)
        if not candidates:
            return []
        wanted = max(n, self.reranker_top_n if self._reranker else n)
        # Look a little past the cut so a current version ranked just below its superseded
        # predecessors can move up.
        window = candidates[: max(wanted, VERSION_WINDOW)]
        details = _details(conn, [c.chunk_id for c in window])
        candidates = [c for c in window if c.chunk_id in details]
        versions = versions_of(
            conn,
            {row["document_id"] for row in details.values()},
            replaced_on=as_of is not None,
        )
        candidates = prefer_current_versions(candidates, details, versions, as_of)[:wanted]
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
        marked = self.lexical.highlight(
            conn, analyzed, [details[c.chunk_id]["chunk_text"] for c in final]
        )
        return build_hits(final, details, marked, snippet_chars=self.snippet_chars)

    def analyze(self, query: str) -> AnalyzedQuery:
        """The query's terms as the index sees them (for callers that explain a search)."""
        return self.lexical.analyze(self._store.connection(), query)

    def _fuse(
        self,
        conn: Connection,
        lexical: Sequence[tuple[int, float]],
        vector: Sequence[tuple[int, float]],
    ) -> list[Candidate]:
        """Collapse each ranking to sections and fuse them (`hybrid.fuse`). With a
        section-level BM25 leg, `lexical` holds section ids: each stands for its first chunk."""
        section_level = self.lexical.level == "section"
        if section_level and lexical:
            first = _first_chunks(conn, [sid for sid, _ in lexical])
            lexical = [(first[sid], score) for sid, score in lexical if sid in first]
        ids = list(dict.fromkeys([cid for cid, _ in lexical] + [cid for cid, _ in vector]))
        if not ids:
            return []
        return fuse(
            lexical,
            vector,
            _sections_of(conn, ids),
            section_level=section_level,
            rrf_k=self.rrf_k,
        )


def _sections_of(conn: Connection, chunk_ids: Sequence[int]) -> dict[int, int]:
    marks = ",".join("?" * len(chunk_ids))
    rows = conn.execute(f"SELECT id, section_id FROM chunks WHERE id IN ({marks})", list(chunk_ids))
    return {int(cid): int(sid) for cid, sid in rows}


def _first_chunks(conn: Connection, section_ids: Sequence[int]) -> dict[int, int]:
    """{section id: its first chunk's id} (sections deleted since the search are absent)."""
    if not section_ids:
        return {}
    marks = ",".join("?" * len(section_ids))
    rows = conn.execute(
        f"SELECT section_id, min(id) FROM chunks WHERE section_id IN ({marks}) GROUP BY section_id",
        list(section_ids),
    )
    return {int(sid): int(cid) for sid, cid in rows}


def _details(conn: Connection, chunk_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    if not chunk_ids:
        return {}
    marks = ",".join("?" * len(chunk_ids))
    rows = conn.execute(
        "SELECT c.id, c.text, s.text, s.heading_path, d.id, d.source, d.title, d.category, "
        "d.updated_at, d.content_hash FROM chunks c JOIN sections s ON s.id = c.section_id "
        f"JOIN documents d ON d.id = c.document_id WHERE c.id IN ({marks})",
        list(chunk_ids),
    ).fetchall()
    details: dict[int, dict[str, Any]] = {}
    for cid, chunk_text, section_text, heading, doc_id, source, title, cat, updated, hash_ in rows:
        details[int(cid)] = {
            "chunk_text": chunk_text,
            "section_text": section_text,
            "section_path": tuple(json.loads(heading or "[]")),
            "document_id": int(doc_id),
            "source": source,
            "title": title,
            "category": cat,
            "updated_at": date.fromisoformat(updated) if updated else None,
            "document_version": hash_,
        }
    return details
