"""Hybrid retrieval on PostgreSQL: BM25 over the sections' tsvectors + pgvector HNSW, fused
as on SQLite.

    query -> lexical top-k sections: BM25 computed in SQL (below)
          -> vector top-k chunks: `ORDER BY embedding <=> q` on the HNSW index
             (`hnsw.ef_search` set per query to at least the number of candidates)
          -> collapse to sections, fuse, halve superseded versions, rerank, build hits:
             `hybrid.HybridRetriever`, the same code as on SQLite; the rows it reads are
             `search_catalog.pg_catalog`'s, the same SQL as on SQLite
          -> highlight: `ts_headline` over the shown chunks (same `english` configuration)

The lexical leg is BM25 as SQLite FTS5 computes it (services/knowledge/lexical.py: k1 1.2,
b 0.75, FTS5's IDF, term frequency weighted title 4 / heading 2 / text 1, length in
tokens), in core SQL, no extension. Its statistics are kept exact by triggers in the
writing transaction (pg_store.py, knowledge_pg_0002): `lexeme_stats` (document frequency),
`lexical_totals` (sections, total length), `sections.fts_length` and `lexeme_postings`
(lexeme, section, occurrences in title / heading / text, length; primary key
`(lexeme, section_id) INCLUDE (...)`). One statement:

1. the rarest query lexemes whose document frequencies fit in `posting_budget` (at least
   `min_terms` of them), as lexical.py's `plan`: BM25 over their postings (an index-only
   scan of a contiguous range of the primary key per lexeme), the best `candidate_pool`
   sections kept (just k when nothing was dropped: then this is the exact BM25 top k);
2. the dropped common lexemes' BM25 terms added for those sections only (one primary-key
   probe per section and lexeme), which restores the full-query order among them.

Why postings and not the GIN index on `sections.fts`: `@@` finds the candidates, but their
counts are only in the vectors, and reading those means a heap visit and a pglz
decompression per candidate (GIN has no index-only scans). Measured at 100k chunks on the
loaded 2-core machine: ~155 ms p50 that way (BM25 of term presence for 12k postings, exact
re-score of 200) against ts_rank_cd's 453 ms; the postings are read in order from the
index instead. The price is space: one row per distinct lexeme of a section.

This module holds only what is PostgreSQL's: `PgLexicalIndex` and `PgVectorIndex`, the two
index ports of `hybrid.HybridRetriever` (the SQLite pair is in retrieval.py).

Spelling correction follows the same rules (services/knowledge/spelling.py): a query lexeme
no section holds (none in `lexeme_stats`) also searches the closest known lexeme, looked up
in `lexeme_stats` (cached for `vocabulary_ttl` seconds; only queries with an unknown word
read it). The two legs run at the same time on two pooled connections.

Read scope: the lexical leg scores only the readable sections' postings (a hash join with
their ids, held per scope until the next write), its posting budget sized up by
1 / sqrt(the scope's share of the sections), so a small scope's common words still pick its
candidates (measured at 100k chunks, a reader of 3/20 collections: recall@10 against an
exhaustive filtered search 0.986 with the corpus's budget, 1.000 with this, and with the
budget / share too, which is slower). The vector leg walks the graph widened to the scope's
share, its candidates checked against the readable chunks held in memory.

Category filter: pgvector 0.6 filters after the HNSW scan, which returns at most
`hnsw.ef_search` rows, so the vector leg widens the search to the category's share of the
vectors (ef_search >= 1.5 k / share, counts cached); a category too small for that (at most
`EXACT_CATEGORY_ROWS` vectors, or a share needing ef_search past 1000) is scanned exactly
through the category index, and so is one whose graph search still comes back short.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, Unpack

import numpy as np

from services.knowledge.fts_query import MARK_END, MARK_START, query_terms
from services.knowledge.hybrid import HybridRetriever, LexicalQuery, RetrieverOptions
from services.knowledge.pg_store import PgKnowledgeStore
from services.knowledge.search_catalog import pg_catalog
from services.knowledge.spelling import MIN_CORRECTED_LENGTH, closest_term
from use_cases.knowledge.ports import Embedder
from use_cases.knowledge.scope import ReadScope

if TYPE_CHECKING:
    from services.postgres.database import Connection

__all__ = ["CategoryCounts", "PgHybridRetriever", "PgLexicalIndex", "PgQuery", "PgVectorIndex"]

#: FTS5's bm25() constants (as lexical.py).
K1 = 1.2
B = 0.75
_STEM_CACHE_LIMIT = 200_000
#: The HNSW search list size for 50 candidates: measured at 1M chunks (bench_pg_search),
#: recall@50 against exact search 0.870 / 0.915 / 0.959 at 100 / 200 / 400 for 2.6 / 4.5 /
#: 5.9 ms p50, still well inside the lexical leg's time, which the vector leg runs beside.
DEFAULT_EF_SEARCH = 400
#: pgvector's largest `hnsw.ef_search`.
MAX_EF_SEARCH = 1000
#: A category with at most this many vectors is searched exactly (its rows by the category
#: index, every distance computed), not through the graph: ~2 us a row measured here (20k rows
#: 44 ms p50, against 13 ms for the widened graph search at 100k chunks).
EXACT_CATEGORY_ROWS = 5_000
#: How far a read scope's vector search widens the graph's search past its share of the
#: documents: `hnsw.ef_search` = this x k / share (a category's widening is 1.5).
READABLE_WIDENING = 1.5
#: How many read scopes' readable documents a retriever holds (per write generation).
READABLE_HELD = 256
#: How many ids of readable sections (lexical leg) and chunks (vector leg) each leg holds in
#: all, per write generation (the oldest scopes' go first): ~60 MB at most as Python ints.
READABLE_IDS_HELD = 1_000_000
#: The lexical leg filters a category by taking the best `pool / share x 1.5` sections of any
#: category and keeping the category's among them (a probe each), while that is at most this
#: many; else, and when too few of them are in the category, it checks every posting's
#: section against the category (a small category's sections are a small set).
MAX_CATEGORY_SCAN = 5_000
_Ids = TypeVar("_Ids", list[int], frozenset[int])
_HIGHLIGHT_OPTIONS = f"StartSel={MARK_START}, StopSel={MARK_END}, HighlightAll=true"


@dataclass(frozen=True)
class PgQuery:
    """A query's search terms as the index sees them: surface words and their lexemes."""

    words: tuple[str, ...]
    lexemes: tuple[str, ...]

    def tsquery_of(self, lexemes: Sequence[str]) -> str:
        """`'a' | 'b' | ...` over `lexemes` (quoted: cast as they are, never re-stemmed)."""
        return " | ".join(_quoted(lex) for lex in lexemes)

    @property
    def tsquery(self) -> str:
        """`'a' | 'b' | ...` as tsquery text (lexemes quoted; cast, never re-stemmed)."""
        return self.tsquery_of(self.lexemes)


def _quoted(lexeme: str) -> str:
    """A lexeme as a tsquery operand."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


class CategoryCounts:
    """How many vectors each category holds (and how many documents there are), shared by the
    two PostgreSQL legs to choose how to filter a category or a read scope. Cached for `ttl`
    seconds, and refreshed sooner when the store's generation has moved on, at most every
    `refresh_s` (the count reads every vector row: ~50 ms at 1M chunks, which a busy
    ingestion must not add to every filtered search).
    Stale counts only pick the strategy; the fallbacks keep the results right."""

    def __init__(self, *, ttl: float = 300.0, refresh_s: float = 10.0) -> None:
        self.ttl = ttl
        self.refresh_s = refresh_s
        self._cached: tuple[float, int, dict[str, int], int] | None = None

    def share(self, conn: Connection, category: str, generation: int) -> tuple[float, int]:
        """(share of the vectors in `category`, their number)."""
        counts = self._counts(conn, generation)[0]
        total = sum(counts.values())
        n = counts.get(category, 0)
        return (n / total if total else 0.0) or 1e-9, n

    def document_share(self, conn: Connection, readable: int, generation: int) -> tuple[float, int]:
        """(the share of the documents that `readable` of them are, the number of vectors):
        how much of the graph a read scope's vector search must look through."""
        counts, documents = self._counts(conn, generation)
        return (readable / documents if documents else 0.0) or 1e-9, sum(counts.values())

    def _counts(self, conn: Connection, generation: int) -> tuple[dict[str, int], int]:
        """(vectors by category, documents), cached as the class docstring says."""
        now = time.monotonic()
        cached = self._cached
        age = now - cached[0] if cached is not None else math.inf
        moved = cached is not None and cached[1] != generation
        if cached is None or age >= self.ttl or (moved and age >= self.refresh_s):
            counts = {
                r["category"]: int(r["n"])
                for r in conn.execute(
                    "SELECT category, count(*) AS n FROM chunk_vectors GROUP BY category"
                )
            }
            row = conn.execute("SELECT count(*) AS n FROM documents").fetchone()
            cached = self._cached = (now, generation, counts, int(row["n"]) if row else 0)
        return cached[2], cached[3]


class HeldIds(Generic[_Ids]):
    """Ids read for a set of readable documents (its sections, its chunks), held per set
    until the store's generation moves (a document's sections and chunks change only with a
    write), at most `limit` ids in all: the oldest sets go first, a larger one is not held."""

    def __init__(self, limit: int = READABLE_IDS_HELD) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._generation = -1
        self._held: dict[frozenset[int], _Ids] = {}
        self._size = 0

    def get(self, generation: int, documents: frozenset[int], load: Callable[[], _Ids]) -> _Ids:
        """The ids held for `documents` at `generation`, else `load()`'s, then held. The
        generation is read before `load` runs, so what is held is never older than it."""
        with self._lock:
            if self._generation != generation:
                self._generation, self._held, self._size = generation, {}, 0
            found = self._held.get(documents)
        if found is not None:
            return found
        found = load()
        with self._lock:
            if self._generation == generation and len(found) <= self.limit:
                while self._held and self._size + len(found) > self.limit:
                    self._size -= len(self._held.pop(next(iter(self._held))))
                if documents not in self._held:
                    self._held[documents] = found
                    self._size += len(found)
        return found


class PgLexicalIndex:
    """`LexicalIndex` on PostgreSQL: BM25 over the sections' postings (module docstring).

    `weights`: (title, heading, text) weights of a term occurrence in BM25's term frequency
    (lexical.py's). `posting_budget`, `min_terms`, `candidate_pool`: the candidate step
    (lexical.py's defaults). `vocabulary_ttl`: how long the known lexemes (for spelling
    corrections) are cached.
    """

    level: Literal["section", "chunk"] = "section"

    def __init__(
        self,
        store: PgKnowledgeStore,
        categories: CategoryCounts,
        *,
        weights: tuple[float, float, float] = (4.0, 2.0, 1.0),
        posting_budget: int = 12_000,
        min_terms: int = 2,
        candidate_pool: int = 200,
        drop_stopwords: bool = True,
        correct_spelling: bool = True,
        vocabulary_ttl: float = 300.0,
    ) -> None:
        self._store = store
        self._categories = categories
        self.weights = tuple(float(w) for w in weights)
        self.posting_budget = posting_budget
        self.min_terms = min_terms
        self.candidate_pool = candidate_pool
        self.drop_stopwords = drop_stopwords
        self.correct_spelling = correct_spelling
        self.vocabulary_ttl = vocabulary_ttl
        self._vocabulary: tuple[float, dict[str, list[tuple[str, int]]]] | None = None
        self._lexemes: dict[str, tuple[str, ...]] = {}
        self._sections: HeldIds[list[int]] = HeldIds()

    def warm_up(self, *, wait: bool = True) -> None:
        """Nothing to load: the index lives in the database."""

    def close(self) -> None:
        """Nothing to release: connections are the store's pool's."""

    # -- analysis ------------------------------------------------------------------------------

    def analyze(self, query: str) -> PgQuery:
        with self._store.connection() as conn:
            return self._analyze(conn, query)

    def _analyze(self, conn: Connection, text: str) -> PgQuery:
        surface = query_terms(text, drop_stopwords=self.drop_stopwords)
        unknown = [w for w in surface if w not in self._lexemes]
        if unknown:
            rows = conn.execute(
                "SELECT w, array(SELECT lexeme FROM unnest(to_tsvector('english', w))) AS lex "
                "FROM unnest(%s::text[]) AS w",
                (unknown,),
            ).fetchall()
            if len(self._lexemes) + len(unknown) > _STEM_CACHE_LIMIT:
                self._lexemes.clear()
            for row in rows:
                self._lexemes[row["w"]] = tuple(row["lex"])
        words = tuple(w for w in surface if self._lexemes.get(w))
        lexemes = tuple(dict.fromkeys(lex for w in words for lex in self._lexemes[w]))
        if self.correct_spelling and lexemes:
            lexemes = lexemes + self._corrections(conn, lexemes)
        return PgQuery(words, tuple(dict.fromkeys(lexemes)))

    def _corrections(self, conn: Connection, lexemes: tuple[str, ...]) -> tuple[str, ...]:
        """The known lexemes that query lexemes no section holds are probably typos of."""
        asked = [lex for lex in lexemes if len(lex) >= MIN_CORRECTED_LENGTH and lex.isalpha()]
        if not asked:
            return ()
        known = {
            r["lexeme"]
            for r in conn.execute(
                "SELECT lexeme FROM lexeme_stats WHERE lexeme = ANY(%s)", (asked,)
            )
        }
        unknown = [lex for lex in asked if lex not in known]
        if not unknown:
            return ()
        vocabulary = self._known_lexemes(conn)
        found = (closest_term(lex, vocabulary.get(lex[:1], ())) for lex in unknown)
        return tuple(c for c in found if c is not None)

    def _known_lexemes(self, conn: Connection) -> dict[str, list[tuple[str, int]]]:
        """{first letter: [(lexeme, sections holding it)]} of the index; cached."""
        now = time.monotonic()
        cached = self._vocabulary
        if cached is not None and now - cached[0] < self.vocabulary_ttl:
            return cached[1]
        by_letter: dict[str, list[tuple[str, int]]] = {}
        for row in conn.execute("SELECT lexeme, df FROM lexeme_stats"):
            by_letter.setdefault(row["lexeme"][:1], []).append((row["lexeme"], int(row["df"])))
        self._vocabulary = (now, by_letter)
        return by_letter

    # -- ranking -------------------------------------------------------------------------------

    def plan(
        self, frequencies: dict[str, int], query: PgQuery, *, budget: int | None = None
    ) -> tuple[list[str], list[str]]:
        """(lexemes that pick the candidates, common lexemes only scored on them): rarest
        first while their postings fit in `budget` (default `posting_budget`; at least
        `min_terms`), as `LexicalSearcher.plan`; lexemes no section holds are left out."""
        budget = self.posting_budget if budget is None else budget
        kept: list[str] = []
        dropped: list[str] = []
        total = 0
        for lexeme in sorted(query.lexemes, key=lambda lex: frequencies.get(lex, 0)):
            n = frequencies.get(lexeme, 0)
            if n == 0:
                continue
            if len(kept) < self.min_terms or total + n <= budget:
                kept.append(lexeme)
                total += n
            else:
                dropped.append(lexeme)
        return kept, dropped

    def _readable_sections(
        self, conn: Connection, documents: frozenset[int], generation: int
    ) -> list[int]:
        """The sections of `documents`, sorted; held per set of documents (the retriever
        holds one set per scope) until the store's generation moves."""

        def load() -> list[int]:
            rows = conn.execute(
                "SELECT id FROM sections WHERE document_id = ANY(%s) ORDER BY id",
                (sorted(documents),),
            )
            return [int(r["id"]) for r in rows]

        return self._sections.get(generation, documents, load)

    def search(
        self,
        query: PgQuery,
        k: int,
        category: str | None,
        *,
        documents: frozenset[int] | None = None,
    ) -> list[tuple[int, float]]:
        """(section id, BM25 score), best first; with `documents`, theirs only (every
        posting checked against their sections, in the statement)."""
        if k <= 0 or not query.lexemes:
            return []
        with self._store.connection() as conn:
            return self._search(conn, query, k, category, documents)

    def _search(
        self,
        conn: Connection,
        query: PgQuery,
        k: int,
        category: str | None,
        documents: frozenset[int] | None = None,
    ) -> list[tuple[int, float]]:
        row = conn.execute(
            "SELECT t.sections, t.length, (SELECT coalesce(jsonb_object_agg(lexeme, df), '{}') "
            "FROM lexeme_stats WHERE lexeme = ANY(%s)) AS df, (SELECT value::bigint FROM "
            "knowledge_meta WHERE key = 'generation') AS generation FROM lexical_totals t",
            (list(query.lexemes),),
        ).fetchone()
        if row is None or int(row["sections"]) <= 0:
            return []
        sections, length = int(row["sections"]), int(row["length"])
        frequencies = {lex: int(n) for lex, n in row["df"].items()}
        readable: list[int] | None = None
        budget = self.posting_budget
        if documents is not None:  # budget / sqrt(the scope's share of the sections)
            readable = self._readable_sections(conn, documents, int(row["generation"] or 0))
            budget = math.ceil(budget * math.sqrt(sections / max(len(readable), 1)))
        kept, dropped = self.plan(frequencies, query, budget=budget)
        if not kept:
            return []
        title, heading, text = self.weights
        params: list[Any] = [
            K1 + 1,
            K1,
            B,
            B,
            length / sections if length > 0 else 1.0,
            title,
            heading,
            text,
            kept,
            [_idf(sections, frequencies[lex]) for lex in kept],
            dropped,
            [_idf(sections, frequencies[lex]) for lex in dropped],
        ]
        pool = max(k, self.candidate_pool) if dropped else k
        if readable is not None:
            rows = conn.execute(_LEXICAL_SQL[_IN_DOCUMENTS], [*params, readable, pool, k])
            return [(int(r["id"]), float(r["score"])) for r in rows.fetchall()]
        if category is not None:
            share, _ = self._categories.share(conn, category, int(row["generation"] or 0))
            considered = math.ceil(pool / share * 1.5)
            if considered <= MAX_CATEGORY_SCAN:
                rows = conn.execute(
                    _LEXICAL_SQL[_WIDENED], [*params, considered, category, pool, k]
                )
                found = rows.fetchall()
                if found and (found[0]["pooled"] >= pool or found[0]["considered"] < considered):
                    return [(int(r["id"]), float(r["score"])) for r in found]
            rows = conn.execute(_LEXICAL_SQL[_IN_CATEGORY], [*params, category, pool, k])
        else:
            rows = conn.execute(_LEXICAL_SQL[_ALL], [*params, pool, k])
        return [(int(r["id"]), float(r["score"])) for r in rows.fetchall()]

    def highlight(self, query: PgQuery, texts: Sequence[str]) -> list[str]:
        """`ts_headline` over `texts` (the `english` configuration, as the index)."""
        if not texts or not query.lexemes:
            return ["" for _ in texts]
        clean = [t.replace(MARK_START, " ").replace(MARK_END, " ") for t in texts]
        with self._store.connection() as conn:
            rows = conn.execute(
                "SELECT i, ts_headline('english', t, %s::tsquery, %s) AS marked "
                "FROM unnest(%s::text[]) WITH ORDINALITY AS x(t, i)",
                (query.tsquery, _HIGHLIGHT_OPTIONS, clean),
            ).fetchall()
        marked = {int(r["i"]) - 1: r["marked"] for r in rows}
        return [
            m if MARK_START in m else "" for m in (marked.get(i, "") for i in range(len(texts)))
        ]


class PgVectorIndex:
    """`VectorIndex` on PostgreSQL: `ORDER BY embedding <=> q` on the HNSW index, a category
    widened to its share of the vectors or scanned exactly (module docstring). `ef_search`:
    the HNSW search list size; at least the number of candidates asked for (default:
    `DEFAULT_EF_SEARCH`, or twice the candidates when that is more)."""

    def __init__(
        self, store: PgKnowledgeStore, categories: CategoryCounts, *, ef_search: int | None = None
    ) -> None:
        self._store = store
        self._categories = categories
        self.ef_search = ef_search
        self._chunks: HeldIds[frozenset[int]] = HeldIds()

    def warm_up(self, *, wait: bool = True) -> None:
        """Nothing to load: the index lives in the database."""

    def close(self) -> None:
        """Nothing to release: connections are the store's pool's."""

    def nearest(
        self,
        vector: np.ndarray,
        k: int,
        category: str | None,
        *,
        exact: bool = False,
        documents: frozenset[int] | None = None,
    ) -> list[tuple[int, float]]:
        """(chunk id, cosine distance), nearest first. With `documents`: an exact scan of
        those documents' chunks (the HNSW graph filters only after its search, which could
        leave a reader of a few collections with fewer than `k`)."""
        state = self._store.state()
        if k <= 0 or state.dimension is None:
            return []
        norm = float(np.linalg.norm(vector))
        vector = vector / norm if norm else vector
        if documents is not None:
            return self._nearest_readable(vector, k, documents, state.generation)
        ef = max(k, self.ef_search if self.ef_search is not None else max(2 * k, DEFAULT_EF_SEARCH))
        with self._store.transaction() as conn:
            if category is not None and not exact:
                share, rows_in_category = self._categories.share(conn, category, state.generation)
                if rows_in_category <= EXACT_CATEGORY_ROWS or k / share * 1.5 > MAX_EF_SEARCH:
                    exact = True  # a small category: scanning its rows beats the graph
                else:  # the index filters after its search: widen it to the category's share
                    ef = max(ef, math.ceil(k / share * 1.5))
            if not exact:
                conn.execute(
                    "SELECT set_config('hnsw.ef_search', %s, true)", (str(min(ef, MAX_EF_SEARCH)),)
                )
            rows = [] if exact else _nearest(conn, vector, k, category)
            if exact or (category is not None and len(rows) < k):
                rows = _nearest(conn, vector, k, category, exact=True)
        return rows

    def _readable_chunks(
        self, conn: Connection, documents: frozenset[int], generation: int
    ) -> frozenset[int]:
        """The chunks of `documents`, held per set of documents (the retriever holds one set
        per scope) until the store's generation moves, so the graph's candidates are checked
        in memory, not probed one by one."""

        def load() -> frozenset[int]:
            rows = conn.execute(
                "SELECT id FROM chunks WHERE document_id = ANY(%s)", (sorted(documents),)
            )
            return frozenset(int(r["id"]) for r in rows)

        return self._chunks.get(generation, documents, load)

    def _nearest_readable(
        self, vector: np.ndarray, k: int, documents: frozenset[int], generation: int
    ) -> list[tuple[int, float]]:
        """The nearest chunks of `documents`: the graph's nearest `ef` kept when readable,
        `ef` widened to the documents' share (`READABLE_WIDENING` x k / share), as a
        category's; an exact scan of their chunks when they are few, when the share would
        need an `ef_search` past pgvector's largest, or when the graph comes back short."""
        with self._store.transaction() as conn:
            share, vectors = self._categories.document_share(conn, len(documents), generation)
            ef = math.ceil(k / share * READABLE_WIDENING)
            if share * vectors > EXACT_CATEGORY_ROWS and ef <= MAX_EF_SEARCH:
                chunks = self._readable_chunks(conn, documents, generation)
                found = _graph_nearest_in(conn, vector, k, chunks, max(ef, k))
                if len(found) >= k:
                    return found
            rows = conn.execute(
                "SELECT v.chunk_id, v.embedding <=> %s AS distance FROM chunk_vectors v"
                " JOIN chunks c ON c.id = v.chunk_id WHERE c.document_id = ANY(%s)"
                " ORDER BY (v.embedding <=> %s) + 0 LIMIT %s",
                [vector, sorted(documents), vector, k],
            ).fetchall()
        return [(int(r["chunk_id"]), float(r["distance"])) for r in rows]


class PgHybridRetriever(HybridRetriever):
    """`HybridRetriever` over a `PgKnowledgeStore`: `PgLexicalIndex`, `PgVectorIndex` and
    `search_catalog.pg_catalog`. Their settings are passed through (`weights`,
    `posting_budget`, `min_terms`, `candidate_pool`, `drop_stopwords`, `correct_spelling`,
    `vocabulary_ttl`; `ef_search`); `vocabulary_ttl` and `category_refresh_s` also bound how
    stale the per-category vector counts may be. The other settings are `HybridRetriever`'s."""

    def __init__(
        self,
        store: PgKnowledgeStore,
        embedder: Embedder | None,
        *,
        weights: tuple[float, float, float] = (4.0, 2.0, 1.0),
        posting_budget: int = 12_000,
        min_terms: int = 2,
        candidate_pool: int = 200,
        ef_search: int | None = None,
        drop_stopwords: bool = True,
        correct_spelling: bool = True,
        vocabulary_ttl: float = 300.0,
        category_refresh_s: float = 10.0,
        **options: Unpack[RetrieverOptions],
    ) -> None:
        self.store = store
        self.categories = CategoryCounts(ttl=vocabulary_ttl, refresh_s=category_refresh_s)
        self.pg_lexical = PgLexicalIndex(
            store,
            self.categories,
            weights=weights,
            posting_budget=posting_budget,
            min_terms=min_terms,
            candidate_pool=candidate_pool,
            drop_stopwords=drop_stopwords,
            correct_spelling=correct_spelling,
            vocabulary_ttl=vocabulary_ttl,
        )
        super().__init__(
            pg_catalog(store),
            self.pg_lexical,
            PgVectorIndex(store, self.categories, ef_search=ef_search),
            embedder,
            **options,
        )
        self._readable_at: tuple[int, dict[ReadScope, frozenset[int]]] = (-1, {})

    def _readable(self, scope: ReadScope, query: LexicalQuery) -> frozenset[int]:
        """The documents `scope` may read, held per scope until the store's generation moves
        (as on SQLite: a document's collection and metadata change only with a write). The
        generation is read first, so what is held is never older than its generation."""
        with self.store.connection() as conn:
            row = conn.execute(
                "SELECT value::bigint AS g FROM knowledge_meta WHERE key = 'generation'"
            ).fetchone()
        generation = int(row["g"]) if row is not None else 0
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


#: One posting's BM25 term (without the IDF) in SQL, over `p` (parameters) and `o`
#: (a `lexeme_postings` row): f (k1 + 1) / (f + k1 (1 - b + b len / avg)), f the weighted count.
_F = "(p.wa * o.tf_a + p.wb * o.tf_b + p.wd * o.tf_d)"
_BM25_TERM = f"{_F} * p.k1p / ({_F} + p.k1 * (1 - p.b0 + p.b1 * o.length / p.avg))"

_ALL, _IN_CATEGORY, _WIDENED, _IN_DOCUMENTS = range(4)


def _lexical_sql(mode: int) -> str:
    """The lexical leg's statement. Parameters: BM25's (p), the kept and the dropped lexemes
    with their IDFs, then per `mode`: `_ALL` pool, k; `_IN_CATEGORY` category, pool, k;
    `_IN_DOCUMENTS` readable section ids, pool, k; `_WIDENED` considered, category, pool, k (rows
    also say how many sections were considered and how many of them were pooled, so the
    caller knows whether the pool is exact)."""
    scored = (
        "SELECT o.section_id, sum(k.idf * " + _BM25_TERM + ") AS score"
        " FROM kept k JOIN lexeme_postings o ON o.lexeme = k.lexeme CROSS JOIN p"
    )
    if mode == _ALL:
        pool = (
            f" pool AS ({scored} GROUP BY o.section_id ORDER BY score DESC, o.section_id LIMIT %s)"
        )
    elif mode == _IN_CATEGORY:  # every posting checked: fine for a small category
        pool = (
            f" pool AS ({scored} WHERE o.section_id IN (SELECT s.id FROM sections s"
            " JOIN documents d ON d.id = s.document_id WHERE d.category = %s)"
            " GROUP BY o.section_id ORDER BY score DESC, o.section_id LIMIT %s)"
        )
    elif mode == _IN_DOCUMENTS:  # only the readable sections' postings are scored
        pool = (
            " readable AS MATERIALIZED (SELECT unnest(%s::bigint[]) AS id),"
            " pool AS (SELECT o.section_id, sum(k.idf * " + _BM25_TERM + ") AS score"
            " FROM kept k JOIN lexeme_postings o ON o.lexeme = k.lexeme"
            " JOIN readable r ON r.id = o.section_id CROSS JOIN p"
            " GROUP BY o.section_id ORDER BY score DESC, o.section_id LIMIT %s)"
        )
    else:  # the best `considered` sections of any category, then the category's among them
        pool = (
            f" scored AS ({scored} GROUP BY o.section_id ORDER BY score DESC, o.section_id"
            " LIMIT %s),"
            " pool AS (SELECT t.section_id, t.score FROM scored t"
            " JOIN sections s ON s.id = t.section_id JOIN documents d ON d.id = s.document_id"
            " WHERE d.category = %s ORDER BY t.score DESC, t.section_id LIMIT %s)"
        )
    counts = (
        ", (SELECT count(*) FROM scored) AS considered, (SELECT count(*) FROM pool) AS pooled"
        if mode == _WIDENED
        else ""
    )
    return (
        "WITH p AS MATERIALIZED (SELECT %s::float8 AS k1p, %s::float8 AS k1,"
        " %s::float8 AS b0, %s::float8 AS b1, %s::float8 AS avg,"
        " %s::float8 AS wa, %s::float8 AS wb, %s::float8 AS wd),"
        " kept AS (SELECT * FROM unnest(%s::text[], %s::float8[]) AS k(lexeme, idf)),"
        " dropped AS (SELECT * FROM unnest(%s::text[], %s::float8[]) AS d(lexeme, idf)),"
        # 1. BM25 over the kept lexemes' postings (index-only), the best `pool`
        + pool
        # 2. plus the dropped lexemes' terms, looked up for those sections only
        + " SELECT pool.section_id AS id, pool.score + coalesce((SELECT sum(d.idf * "
        + _BM25_TERM
        + ") FROM dropped d JOIN lexeme_postings o ON o.lexeme = d.lexeme"
        " AND o.section_id = pool.section_id), 0) AS score"
        + counts
        + " FROM pool CROSS JOIN p ORDER BY score DESC, id LIMIT %s"
    )


_LEXICAL_SQL = {mode: _lexical_sql(mode) for mode in (_ALL, _IN_CATEGORY, _WIDENED, _IN_DOCUMENTS)}


def _idf(sections: int, holding: int) -> float:
    """FTS5's IDF: log((N - n + 0.5) / (n + 0.5)), floored at 1e-6 (lexical.py's `_idf`)."""
    value = math.log((sections - holding + 0.5) / (holding + 0.5)) if sections else 0.0
    return value if value > 0 else 1e-6


def _nearest(
    conn: Connection, vector: np.ndarray, k: int, category: str | None, *, exact: bool = False
) -> list[tuple[int, float]]:
    """`ORDER BY embedding <=> q` uses the HNSW index; `exact` orders by an expression the
    index cannot serve, which makes it a full (or category-index) scan."""
    order = "(embedding <=> %s) + 0" if exact else "embedding <=> %s"
    where = " WHERE category = %s" if category is not None else ""
    params: list[Any] = [vector]
    if category is not None:
        params.append(category)
    params += [vector, k]
    rows = conn.execute(
        "SELECT chunk_id, embedding <=> %s AS distance FROM chunk_vectors"
        + where
        + " ORDER BY "
        + order
        + " LIMIT %s",
        params,
    ).fetchall()
    return [(int(r["chunk_id"]), float(r["distance"])) for r in rows]


def _graph_nearest_in(
    conn: Connection, vector: np.ndarray, k: int, chunks: frozenset[int], ef: int
) -> list[tuple[int, float]]:
    """The graph's nearest `ef` chunks (in the transaction of `conn`), nearest first, kept
    while in `chunks` (checked here, in memory), the first `k` of them: fewer when the
    graph's `ef` hold fewer."""
    conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(ef),))
    rows = conn.execute(
        "SELECT chunk_id, embedding <=> %s AS distance FROM chunk_vectors"
        " ORDER BY embedding <=> %s LIMIT %s",
        [vector, vector, ef],
    ).fetchall()
    found = [(int(r["chunk_id"]), float(r["distance"])) for r in rows]
    found.sort(key=lambda row: (row[1], row[0]))
    return [row for row in found if row[0] in chunks][:k]
