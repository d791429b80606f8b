"""The knowledge store and retriever on either backend, for backend-contract tests.

`open_store(backend, tmp_path, request)` builds a `SqliteKnowledgeStore` (a file in
`tmp_path`) or a `PgKnowledgeStore` (a fresh PostgreSQL database from the `pg_url` fixture);
`Probe(store)` reads what the port does not expose (row counts, which chunks the full-text
index finds, staging rows) with each backend's own SQL, so one test body checks both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from services.knowledge.pg_retrieval import PgHybridRetriever
from services.knowledge.pg_store import PgKnowledgeStore
from services.knowledge.retrieval import SqliteHybridRetriever
from services.knowledge.store import SqliteKnowledgeStore
from services.postgres import PgDatabase
from tests.fakes.knowledge import InMemoryKnowledgeStore

AnyStore = SqliteKnowledgeStore | PgKnowledgeStore | InMemoryKnowledgeStore
# The stores the tests marked `real_backends` run on (the fake has no database behind it)
RealStore = SqliteKnowledgeStore | PgKnowledgeStore
AnyRetriever = SqliteHybridRetriever | PgHybridRetriever


@contextmanager
def open_store(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[AnyStore]:
    if backend == "sqlite":
        store = SqliteKnowledgeStore(tmp_path / "knowledge.db")
        try:
            yield store
        finally:
            store.close()
        return
    db = PgDatabase(str(request.getfixturevalue("pg_url")), max_size=8)
    try:
        pg_store = PgKnowledgeStore(db)
        yield pg_store
        pg_store.close()
    finally:
        db.close()


def another_store(store: AnyStore) -> AnyStore:
    """A second store on the same database (as another process would open it)."""
    if isinstance(store, SqliteKnowledgeStore):
        return SqliteKnowledgeStore(store.path)
    assert isinstance(store, PgKnowledgeStore), "a real database's store"
    return PgKnowledgeStore(PgDatabase(store.db.url, max_size=2))


def close_other(store: AnyStore) -> None:
    assert not isinstance(store, InMemoryKnowledgeStore), "a real database's store"
    store.close()
    if isinstance(store, PgKnowledgeStore):
        store.db.close()


def make_retriever(store: AnyStore, embedder: Any, **settings: Any) -> AnyRetriever:
    if isinstance(store, SqliteKnowledgeStore):
        return SqliteHybridRetriever(store, embedder, **settings)
    assert isinstance(store, PgKnowledgeStore), "a real database's store"
    return PgHybridRetriever(store, embedder, **settings)


class Probe:
    """Backend-specific reads of what a test checks behind the port."""

    def __init__(self, store: AnyStore) -> None:
        self.store = store

    def _rows(self, sqlite_sql: str, pg_sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        if isinstance(self.store, SqliteKnowledgeStore):
            return [r[0] for r in self.store.connection().execute(sqlite_sql, params)]
        assert isinstance(self.store, PgKnowledgeStore), "a real database's store"
        with self.store.db.connection() as conn:
            return [next(iter(r.values())) for r in conn.execute(pg_sql, params)]

    def count(self, table: str) -> int:
        assert table in {
            "documents",
            "sections",
            "chunks",
            "chunk_vectors",
            "staged_chunks",
            "staged_sections",
        }
        if isinstance(self.store, InMemoryKnowledgeStore):
            fake = self.store
            return {
                "documents": lambda: fake.stats().documents,
                "sections": lambda: len(fake.section_ids()),
                "chunks": lambda: len(fake.chunk_ids()),
                "chunk_vectors": lambda: len(fake.vector_ids()),
                "staged_chunks": fake.staged_chunk_count,
                "staged_sections": fake.staged_section_count,
            }[table]()
        return int(self._rows(f"SELECT count(*) FROM {table}", f"SELECT count(*) FROM {table}")[0])

    def counts(self) -> dict[str, int]:
        """Rows per table, and the full-text index's terms (the fake has no such index)."""
        result = {t: self.count(t) for t in ("documents", "sections", "chunks", "chunk_vectors")}
        if not isinstance(self.store, InMemoryKnowledgeStore):
            result["fts_terms"] = len(self.vocabulary())
        return result

    def vocabulary(self) -> list[str]:
        return self._rows(
            "SELECT term FROM chunks_fts_vocab",
            "SELECT word FROM ts_stat('SELECT fts FROM sections')",
        )

    def chunk_ids(self) -> list[int]:
        if isinstance(self.store, InMemoryKnowledgeStore):
            return self.store.chunk_ids()
        return self._rows("SELECT id FROM chunks ORDER BY id", "SELECT id FROM chunks ORDER BY id")

    def vector_ids(self) -> list[int]:
        if isinstance(self.store, InMemoryKnowledgeStore):
            return self.store.vector_ids()
        return self._rows(
            "SELECT chunk_id FROM chunk_vectors ORDER BY chunk_id",
            "SELECT chunk_id FROM chunk_vectors ORDER BY chunk_id",
        )

    def section_ids(self) -> set[int]:
        if isinstance(self.store, InMemoryKnowledgeStore):
            return self.store.section_ids()
        return set(self._rows("SELECT id FROM sections", "SELECT id FROM sections"))

    def fts_chunk_ids(self, term: str) -> list[int]:
        """Chunks the full-text index finds for `term` (PostgreSQL indexes sections: the
        chunks of the matching sections)."""
        return self._rows(
            "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rowid",
            "SELECT c.id FROM chunks c JOIN sections s ON s.id = c.section_id "
            "WHERE s.fts @@ plainto_tsquery('english', %s) ORDER BY c.id",
            (f'"{term}"',) if isinstance(self.store, SqliteKnowledgeStore) else (term,),
        )

    def section_fts_ids(self, term: str | None = None) -> set[int]:
        """Sections in the section-level full-text index (matching `term`, if given)."""
        if term is None:
            return set(
                self._rows(
                    "SELECT rowid FROM sections_fts",
                    "SELECT id FROM sections WHERE fts <> ''::tsvector",
                )
            )
        return set(
            self._rows(
                "SELECT rowid FROM sections_fts WHERE sections_fts MATCH ?",
                "SELECT id FROM sections WHERE fts @@ plainto_tsquery('english', %s)",
                (term,),
            )
        )
