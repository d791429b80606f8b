"""After the copy: the same searches on both databases should find the same top documents."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from services.database_copy.report import MIN_TOP1_AGREEMENT, SearchCheck
from services.database_copy.tables import VECTOR_TABLE
from services.knowledge.pg_retrieval import PgHybridRetriever
from services.knowledge.pg_store import PgKnowledgeStore
from services.knowledge.retrieval import SqliteHybridRetriever
from services.knowledge.store import SqliteKnowledgeStore
from services.postgres import PgDatabase
from services.sqlite.connection import Connection as SqliteConnection


def _first_sentence(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    match = re.search(r"(?<=[.!?])\s", line)
    sentence = line[: match.start()] if match else line
    return sentence[:limit]


def _sample_queries(conn: SqliteConnection, n: int) -> list[tuple[str, np.ndarray | None, int]]:
    """(query, query vector, its document) for `n` sections spread evenly over the ids: the
    query is the section's first sentence, the vector is its first chunk's stored vector (so
    the check needs no embedding model and compares the copied vectors themselves)."""
    ids = [int(r[0]) for r in conn.execute("SELECT id FROM sections ORDER BY id")]
    if not ids or n <= 0:
        return []
    step = max(1, len(ids) // n)
    picked = ids[::step][:n]
    has_vectors = conn.execute(
        "SELECT 1 FROM sqlite_schema WHERE name = ?", (VECTOR_TABLE,)
    ).fetchone()
    samples: list[tuple[str, np.ndarray | None, int]] = []
    for section_id in picked:
        text, document_id = conn.execute(
            "SELECT text, document_id FROM sections WHERE id = ?", (section_id,)
        ).fetchone()
        vector: np.ndarray | None = None
        if has_vectors:
            row = conn.execute(
                f"SELECT v.embedding FROM chunks c JOIN {VECTOR_TABLE} v ON v.chunk_id = c.id "
                "WHERE c.section_id = ? ORDER BY c.ordinal LIMIT 1",
                (section_id,),
            ).fetchone()
            if row:
                vector = np.frombuffer(row[0], dtype=np.float32).copy()
        query = _first_sentence(text)
        if query:
            samples.append((query, vector, int(document_id)))
    return samples


def _documents(hits: list[Any]) -> list[int]:
    seen: list[int] = []
    for hit in hits:
        if hit.document_id not in seen:
            seen.append(hit.document_id)
    return seen


def check_search(
    directory: Path, db: PgDatabase, queries: int, limits: dict[str, Any]
) -> SearchCheck:
    if queries <= 0:
        return SearchCheck(note="skipped (--queries 0)")
    sqlite_store = SqliteKnowledgeStore(directory / "knowledge.db", readonly=True)
    sqlite_search = SqliteHybridRetriever(sqlite_store, None, **limits)
    pg_search = PgHybridRetriever(PgKnowledgeStore(db), None, **limits)
    try:
        samples = _sample_queries(sqlite_store.connection(), queries)
        if not samples:
            return SearchCheck(note="no sections to search")
        agree, overlaps, rows = 0, [], []
        for query, vector, document_id in samples:
            left = _documents(sqlite_search.search_with_vector(query, vector, k=5))
            right = _documents(pg_search.search_with_vector(query, vector, k=5))
            same_top = bool(left) and bool(right) and left[0] == right[0]
            agree += same_top or (not left and not right)
            union = max(len(set(left)), len(set(right)))
            overlap = len(set(left) & set(right)) / union if union else 1.0
            overlaps.append(overlap)
            rows.append(
                {
                    "query": query,
                    "from_document": document_id,
                    "sqlite_top5": left,
                    "postgresql_top5": right,
                    "same_top1": same_top,
                    "overlap": round(overlap, 3),
                }
            )
        top1 = agree / len(samples)
        return SearchCheck(
            queries=len(samples),
            top1_agreement=round(top1, 3),
            mean_overlap_at_5=round(sum(overlaps) / len(overlaps), 3),
            passed=top1 >= MIN_TOP1_AGREEMENT,
            note="hybrid search with each section's first sentence and its first chunk's "
            "stored vector, on both databases",
            samples=rows,
        )
    finally:
        sqlite_search.close()
        sqlite_store.close()
