"""The PostgreSQL vector leg under a category filter: pgvector 0.6 filters after the HNSW
scan, so the leg widens `hnsw.ef_search` to the category's share, scans a small category
exactly, and still returns exactly what an exact scan of the category returns (on a graph this
small, HNSW is exact)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from services.knowledge import pg_retrieval, pg_store
from services.knowledge.pg_retrieval import PgHybridRetriever
from services.postgres import PgDatabase
from tests.integration.test_knowledge_store import INFO, draft, vectors_for
from tests.postgres import fresh_database

CATEGORIES = ("hr", "it", "finance", "legal")


@pytest.fixture(scope="module")
def retriever(pg_server_url: str) -> Iterator[PgHybridRetriever]:
    with fresh_database(pg_server_url) as url:
        db = PgDatabase(url, max_size=4)
        store = pg_store.PgKnowledgeStore(db)
        store.check_embedding(INFO)
        for i in range(40):  # 40 documents of 3 chunks, 10 per category
            d = draft(
                f"doc-{i}.md",
                title=f"Document {i}",
                category=CATEGORIES[i % len(CATEGORIES)],
                sections=(
                    ((f"Part {i}",), (f"topic {i} alpha", f"topic {i} beta {i % 7}")),
                    ((), (f"closing words {i % 5}",)),
                ),
            )
            store.save_document(d, vectors_for(d))
        with db.connection() as conn:
            pg_store.create_vector_index(conn)
        r = PgHybridRetriever(store, None)
        yield r
        r.close()
        db.close()


def _ids(hits: list) -> list[int]:
    return [h.chunk_id for h in hits]


@pytest.mark.parametrize("category", CATEGORIES)
def test_the_graph_search_of_a_category_finds_what_an_exact_scan_finds(
    retriever: PgHybridRetriever, monkeypatch: pytest.MonkeyPatch, category: str
) -> None:
    monkeypatch.setattr(pg_retrieval, "EXACT_CATEGORY_ROWS", 0)  # take the graph path
    scans: list[bool] = []
    nearest = pg_retrieval._nearest

    def spy(*args: Any, exact: bool = False) -> list[tuple[int, float]]:
        scans.append(exact)
        return nearest(*args, exact=exact)

    monkeypatch.setattr(pg_retrieval, "_nearest", spy)
    query = vectors_for(draft("q.md", title="topic alpha"))[0]

    # 28 of the category's 30 vectors: the default ef_search (100 of 120 rows) would leave
    # ~25 after the filter and fall back to an exact scan; the widened search does not
    graph = retriever.search_vector(query, 28, category)
    assert scans == [False]
    exact = retriever.search_vector(query, 28, category, method="exact")

    assert len(graph) == 28
    assert _ids(graph) == _ids(exact)
    with retriever.store.connection() as conn:
        found = {
            r["category"]
            for r in conn.execute(
                "SELECT DISTINCT category FROM chunk_vectors WHERE chunk_id = ANY(%s)",
                (_ids(graph),),
            )
        }
    assert found == {category}


def test_category_counts_follow_writes(
    retriever: PgHybridRetriever, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retriever.categories, "refresh_s", 0.0)  # no wait between refreshes
    with retriever.store.connection() as conn:
        before = retriever.categories.share(conn, "new", retriever.store.state().generation)
    d = draft("new.md", title="A new category", category="new")
    retriever.store.save_document(d, vectors_for(d))
    try:
        with retriever.store.connection() as conn:
            after = retriever.categories.share(conn, "new", retriever.store.state().generation)
        query = np.asarray(vectors_for(d)[0])

        hits = retriever.search_vector(query, 5, "new")

        assert before[1] == 0 and after[1] == d.chunk_count
        assert len(hits) == d.chunk_count  # the whole (small) category, scanned exactly
    finally:
        record = retriever.store.get_by_source("new.md")
        assert record is not None
        retriever.store.delete_document(record.id)


@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("query", ["topic alpha", "closing words beta 3", "document part 12"])
def test_the_lexical_leg_filters_a_category_the_same_way_on_both_paths(
    retriever: PgHybridRetriever, monkeypatch: pytest.MonkeyPatch, category: str, query: str
) -> None:
    widened = retriever.search_bm25(query, 8, category)  # the best sections, then the category
    monkeypatch.setattr(pg_retrieval, "MAX_CATEGORY_SCAN", 0)  # every posting checked
    checked = retriever.search_bm25(query, 8, category)

    assert widened and [(h.chunk_id, h.score) for h in widened] == [
        (h.chunk_id, h.score) for h in checked
    ]
    with retriever.store.connection() as conn:
        found = {
            r["category"]
            for r in conn.execute(
                "SELECT DISTINCT d.category FROM chunks c JOIN documents d"
                " ON d.id = c.document_id WHERE c.id = ANY(%s)",
                (_ids(widened),),
            )
        }
    assert found == {category}


def test_a_busy_writer_does_not_make_every_filtered_search_recount(
    retriever: PgHybridRetriever, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retriever.categories, "refresh_s", 3600.0)
    with retriever.store.connection() as conn:
        retriever.categories.share(conn, "hr", retriever.store.state().generation)
    d = draft("busy.md", title="Written meanwhile", category="busy")
    retriever.store.save_document(d, vectors_for(d))
    try:
        with retriever.store.connection() as conn:
            share = retriever.categories.share(conn, "busy", retriever.store.state().generation)
        hits = retriever.search_vector(np.asarray(vectors_for(d)[0]), 5, "busy")

        assert share[1] == 0  # the cached counts, not a recount after the write
        assert len(hits) == d.chunk_count  # still found: an unknown category is scanned exactly
    finally:
        record = retriever.store.get_by_source("busy.md")
        assert record is not None
        retriever.store.delete_document(record.id)
