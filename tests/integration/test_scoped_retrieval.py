"""A read scope is applied inside retrieval, on both backends: a reader of a small collection
whose documents rank below many others still gets a full page of their own hits (a filter
over the results would have left it empty), with the FTS5 leg, the resident indexes and the
PostgreSQL statements alike; metadata filters narrow inside the legs too (an unknown key finds
nothing), and listings and reads by id follow the same scope."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from services.knowledge.collection_store import SqlCollectionStore
from services.knowledge.pg_retrieval import PgHybridRetriever, _graph_nearest_in
from services.knowledge.pg_store import PgKnowledgeStore
from services.knowledge.retrieval import SqliteHybridRetriever
from services.knowledge.store import SqliteKnowledgeStore
from tests.integration.test_retrieval import EMBEDDER
from tests.knowledge_backends import make_retriever, open_store
from use_cases.knowledge.domain import DocumentDraft, EmbeddingInfo, SectionDraft
from use_cases.knowledge.scope import DocumentFilter, ReadScope

pytest_plugins = ["tests.postgres"]

NOW = datetime(2026, 1, 1, tzinfo=UTC)
OPEN = 40  # documents everyone reads, each mentioning the searched words many times
TEAM = 6  # documents of the small collection, mentioning them once


def _draft(source: str, text: str, collection_id: int | None, **more: Any) -> DocumentDraft:
    return DocumentDraft(
        source=source,
        content_hash=source,
        title=source.removesuffix(".md"),
        category=str(more.get("category")) if more.get("category") else None,
        updated_at=more.get("updated_at"),
        media_type="text/markdown",
        size_bytes=len(text),
        sections=(SectionDraft((source,), text, (text,)),),
        metadata=dict(more.get("metadata") or {}),
        collection_id=collection_id,
    )


@pytest.fixture
def filled(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple]:
    with open_store(backend, tmp_path, request) as store:
        target = store.db if isinstance(store, PgKnowledgeStore) else tmp_path / "knowledge.db"
        store.check_embedding(EmbeddingInfo(EMBEDDER.model, EMBEDDER.dimension))
        collections = SqlCollectionStore(target)
        team = collections.create_collection("team", "", NOW).id
        for i in range(OPEN):
            text = "harbour crane schedule " * 8 + f"open note {i}"
            store.save_document(
                _draft(f"open-{i:02}.md", text, None), EMBEDDER.embed_documents([text])
            )
        for i in range(TEAM):
            text = f"The harbour crane schedule of the team, entry {i}, lists teamword{i}."
            store.save_document(
                _draft(
                    f"team-{i}.md",
                    text,
                    team,
                    category="ops" if i % 2 else "plans",
                    updated_at=date(2025, 1 + i, 1),
                    metadata={"owner": "dock" if i < 3 else "yard"},
                ),
                EMBEDDER.embed_documents([text]),
            )
        try:
            yield store, team
        finally:
            collections.close()


def _sources(hits: list) -> list[str]:
    return [hit.source for hit in hits]


def test_a_reader_of_a_small_collection_gets_a_full_page_of_it(filled: tuple) -> None:
    store, team = filled
    retriever = make_retriever(store, EMBEDDER, bm25_search_limit=10, vector_search_limit=10)
    try:
        unscoped = retriever.search("harbour crane schedule", 5)
        team_only = retriever.search(
            "harbour crane schedule", 5, scope=ReadScope(frozenset({team}))
        )
    finally:
        retriever.close()
    assert all(source.startswith("open-") for source in _sources(unscoped))
    assert len(team_only) == 5
    assert all(source.startswith("team-") for source in _sources(team_only))


def test_the_default_collection_reader_never_sees_the_team(filled: tuple) -> None:
    store, _team = filled
    retriever = make_retriever(store, EMBEDDER)
    try:
        hits = retriever.search("teamword1 teamword2", 5, scope=ReadScope(frozenset({None})))
    finally:
        retriever.close()
    assert not any(source.startswith("team-") for source in _sources(hits))


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (DocumentFilter(metadata=(("owner", "dock"),)), {"team-0.md", "team-1.md", "team-2.md"}),
        (DocumentFilter(metadata=(("no-such-key", "dock"),)), set()),
        (DocumentFilter(category="ops"), {"team-1.md", "team-3.md", "team-5.md"}),
        (DocumentFilter(source_prefix="team-4"), {"team-4.md"}),
        (
            DocumentFilter(updated_after=date(2025, 3, 1), updated_before=date(2025, 4, 1)),
            {"team-2.md", "team-3.md"},
        ),
    ],
)
def test_filters_narrow_inside_both_legs(
    filled: tuple, filters: DocumentFilter, expected: set[str]
) -> None:
    store, team = filled
    retriever = make_retriever(store, EMBEDDER)
    try:
        hits = retriever.search(
            "harbour crane schedule team", 20, scope=ReadScope(frozenset({team, None}), filters)
        )
    finally:
        retriever.close()
    assert set(_sources(hits)) == expected


def test_listing_and_reading_follow_the_scope(filled: tuple) -> None:
    store, team = filled
    everyone = ReadScope(frozenset({None}))
    listed, total = store.list_documents(limit=500, scope=everyone)
    team_doc = store.get_by_source("team-0.md")
    assert team_doc is not None
    assert total == OPEN and not any(d.source.startswith("team-") for d in listed)
    assert store.get_document(team_doc.id, scope=everyone) is None
    assert store.get_document(team_doc.id, scope=ReadScope(frozenset({team}))) is not None
    assert store.get_document(team_doc.id) is not None  # an admin's


def test_the_resident_indexes_apply_the_scope_too(tmp_path: Path) -> None:
    """From a few sections on the BM25 leg is the resident copy (not FTS5), and the vector
    leg's binary shortlist runs past its exact threshold: both mask before ranking."""
    store = SqliteKnowledgeStore(tmp_path / "knowledge.db")
    store.check_embedding(EmbeddingInfo(EMBEDDER.model, EMBEDDER.dimension))
    collections = SqlCollectionStore(tmp_path / "knowledge.db")
    team = collections.create_collection("team", "", NOW).id
    for i in range(OPEN):
        text = "harbour crane schedule " * 8 + f"open note {i}"
        store.save_document(_draft(f"open-{i:02}.md", text, None), EMBEDDER.embed_documents([text]))
    for i in range(TEAM):
        text = f"The harbour crane schedule of the team, entry {i}."
        store.save_document(_draft(f"team-{i}.md", text, team), EMBEDDER.embed_documents([text]))
    retriever = SqliteHybridRetriever(store, EMBEDDER, resident_min_sections=1)
    retriever.vectors.exact_threshold = 0
    retriever.vectors.candidates = 4
    try:
        retriever.warm_up()
        assert retriever.resident is not None and retriever.resident.current(store.state())
        hits = retriever.search("harbour crane schedule", 5, scope=ReadScope(frozenset({team})))
    finally:
        retriever.close()
        collections.close()
        store.close()
    assert len(hits) == 5 and all(s.startswith("team-") for s in _sources(hits))


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_scope_searched_through_the_graph_finds_what_an_exact_scan_finds(filled: tuple) -> None:
    """On PostgreSQL a large read scope's vector leg walks the HNSW graph, widened to the
    scope's share, keeping the readable chunks as they come (a small one is scanned exactly):
    both find the same nearest readable chunks."""
    store, team = filled
    records, _ = store.list_documents(scope=ReadScope(frozenset({team})))
    documents = sorted(record.id for record in records)
    vector = np.asarray(EMBEDDER.embed_query("harbour crane schedule teamword1"))
    vector = vector / np.linalg.norm(vector)
    with store.transaction() as conn:
        chunks = frozenset(
            int(r["id"])
            for r in conn.execute("SELECT id FROM chunks WHERE document_id = ANY(%s)", (documents,))
        )
        graph = _graph_nearest_in(conn, vector, 4, chunks, ef=100)
    retriever = make_retriever(store, EMBEDDER)
    try:
        exact = retriever.vector_index.nearest(vector, 4, None, documents=frozenset(documents))
    finally:
        retriever.close()
    assert len(graph) == 4
    assert [chunk for chunk, _ in graph] == [chunk for chunk, _ in exact]
    assert [d for _, d in graph] == pytest.approx([d for _, d in exact])


def test_a_write_is_seen_by_the_next_scoped_search_of_the_same_retriever(filled: tuple) -> None:
    """The readable documents a retriever holds per scope go with the store's next write."""
    store, team = filled
    scope = ReadScope(frozenset({team}))
    retriever = make_retriever(store, EMBEDDER)
    try:
        before = retriever.search("quayside forklift rota", 5, scope=scope)
        text = "The quayside forklift rota of the team."
        store.save_document(_draft("team-new.md", text, team), EMBEDDER.embed_documents([text]))
        after = retriever.search("quayside forklift rota", 5, scope=scope)
    finally:
        retriever.close()
    assert "team-new.md" not in _sources(before)
    assert _sources(after)[0] == "team-new.md"


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_scopes_posting_budget_grows_with_how_little_it_reads(filled: tuple) -> None:
    """On PostgreSQL the lexical leg scores only the readable sections' postings, so a small
    scope's budget counts more of the corpus's postings: a common word the whole corpus's
    budget would drop (scored only on the rare word's sections) still picks the scope's
    candidates, and the scope gets what an exhaustive search of it gets."""
    store, team = filled
    records, _ = store.list_documents(scope=ReadScope(frozenset({team})))
    documents = frozenset(record.id for record in records)
    assert isinstance(store, PgKnowledgeStore)
    budgeted = PgHybridRetriever(store, EMBEDDER, posting_budget=17, min_terms=1)
    exhaustive = PgHybridRetriever(store, EMBEDDER, posting_budget=10**12)
    try:
        query = budgeted.pg_lexical.analyze("teamword1 harbour")
        with store.connection() as conn:
            row = conn.execute("SELECT count(*) AS n FROM sections").fetchone()
        assert row is not None
        sections = int(row["n"])
        _kept, dropped = budgeted.pg_lexical.plan({"teamword1": 1, "harbour": sections}, query)
        assert dropped, "the whole corpus's budget drops the common word"
        got = budgeted.pg_lexical.search(query, 10, None, documents=documents)
        want = exhaustive.pg_lexical.search(query, 10, None, documents=documents)
    finally:
        budgeted.close()
        exhaustive.close()
    assert len(want) == TEAM
    assert [section for section, _ in got] == [section for section, _ in want]
    assert [score for _, score in got] == pytest.approx([score for _, score in want])
