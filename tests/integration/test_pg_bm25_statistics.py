"""PostgreSQL's BM25 statistics (knowledge_pg_0002): `lexeme_stats`, `lexical_totals`,
`lexeme_postings` and `sections.fts_length` stay equal to a recount from the sections
themselves through every write path, a rolled-back write leaves them as they were, the
migration backfills them, and the lexical leg's scores are BM25 computed from them (also
when common lexemes are only re-scored on the candidates)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from services.knowledge import document_writes, pg_store
from services.knowledge.pg_retrieval import PgHybridRetriever, PgQuery
from services.postgres import PgDatabase, apply_migrations
from tests.integration.test_knowledge_store import INFO, draft, vectors_for
from use_cases.knowledge.domain import DocumentDraft, EmbeddingInfo, StagedChunk, Vector


@pytest.fixture
def store(pg_url: str) -> Iterator[pg_store.PgKnowledgeStore]:
    db = PgDatabase(pg_url, max_size=4)
    try:
        s = pg_store.PgKnowledgeStore(db)
        s.check_embedding(INFO)
        yield s
    finally:
        db.close()


def kept(store: pg_store.PgKnowledgeStore) -> dict[str, Any]:
    """The statistics as the triggers keep them."""
    with store.db.connection() as conn:
        totals = conn.execute("SELECT sections, length FROM lexical_totals").fetchone()
        df = {r["lexeme"]: r["df"] for r in conn.execute("SELECT lexeme, df FROM lexeme_stats")}
        lengths = {
            r["id"]: r["fts_length"] for r in conn.execute("SELECT id, fts_length FROM sections")
        }
        postings = {
            (r["lexeme"], r["section_id"]): (r["tf_a"], r["tf_b"], r["tf_d"], r["length"])
            for r in conn.execute("SELECT * FROM lexeme_postings")
        }
    assert totals is not None
    return {
        "postings": postings,
        "sections": totals["sections"],
        "length": totals["length"],
        "df": df,
        "lengths": lengths,
    }


def recount(store: pg_store.PgKnowledgeStore) -> dict[str, Any]:
    """The same statistics counted from scratch from the sections' vectors."""
    with store.db.connection() as conn:
        lengths = {
            r["id"]: r["n"]
            for r in conn.execute(
                "SELECT s.id, (SELECT coalesce(sum(array_length(u.positions, 1)), 0) "
                "FROM unnest(s.fts) u) AS n FROM sections s"
            )
        }
        df = {
            r["word"]: r["ndoc"]
            for r in conn.execute("SELECT word, ndoc FROM ts_stat('SELECT fts FROM sections')")
        }
        postings = {
            (r["lexeme"], r["id"]): (
                sum(w == "A" for w in r["weights"]),
                sum(w == "B" for w in r["weights"]),
                sum(w in ("C", "D") for w in r["weights"]),
                lengths[r["id"]],
            )
            for r in conn.execute(
                "SELECT s.id, u.lexeme, u.weights FROM sections s, unnest(s.fts) u"
            )
        }
    return {
        "postings": postings,
        "sections": len(lengths),
        "length": sum(lengths.values()),
        "df": df,
        "lengths": lengths,
    }


def assert_exact(store: pg_store.PgKnowledgeStore) -> dict[str, Any]:
    stats = kept(store)
    assert stats == recount(store)
    return stats


def other(source: str, words: str) -> DocumentDraft:
    return draft(source, title=f"Notes on {words}", sections=((("Body",), (words,)),))


def test_statistics_follow_insert_replace_staging_delete_and_reindex(
    store: pg_store.PgKnowledgeStore,
) -> None:
    assert assert_exact(store)["sections"] == 0
    first = draft()
    first_id = store.save_document(first, vectors_for(first)).id
    stats = assert_exact(store)
    assert stats["sections"] == 2 and stats["df"]["laptop"] == 1 and stats["df"]["onboard"] == 2

    second = other("b.md", "laptop laptop recycling policy")
    second_id = store.save_document(second, vectors_for(second)).id
    assert assert_exact(store)["df"]["laptop"] == 2

    replacement = other("guide.md", "a completely different text about parking")
    store.save_document(replacement, vectors_for(replacement), replace_id=first_id)
    stats = assert_exact(store)
    assert stats["df"]["laptop"] == 1 and "welcom" not in stats["df"] and stats["sections"] == 2

    large = other("large.md", "staged batches arrive later")
    stage = store.begin_staging(large)
    chunks = [StagedChunk(0, 0, "staged batches arrive later")]
    store.stage_chunks(stage, chunks, vectors_for(large))
    assert "stage" not in assert_exact(store)["df"]  # staged rows are not indexed yet
    store.commit_staged(stage, large)
    assert assert_exact(store)["df"]["stage"] == 1

    def batches() -> Iterator[list[tuple[int, Vector]]]:
        for batch in store.iter_chunk_texts(batch_size=2):
            yield [(cid, np.ones(8, dtype=np.float32)) for cid, _ in batch]

    before = assert_exact(store)
    store.replace_embeddings(EmbeddingInfo("bigger", 8), batches())
    assert assert_exact(store) == before

    assert store.delete_document(second_id)
    stats = assert_exact(store)
    assert "laptop" not in stats["df"] and "recycl" not in stats["df"]
    for record in store.list_documents()[0]:
        store.delete_document(record.id)
    assert assert_exact(store) == {
        "postings": {},
        "sections": 0,
        "length": 0,
        "df": {},
        "lengths": {},
    }


def test_direct_updates_and_truncation_of_sections_keep_the_statistics(
    store: pg_store.PgKnowledgeStore,
) -> None:
    d = draft()
    store.save_document(d, vectors_for(d))
    with store.transaction() as conn:
        conn.execute(
            "UPDATE sections SET fts = to_tsvector('english', 'quantum gravity gravity') "
            "WHERE ordinal = 0"
        )
    stats = assert_exact(store)
    assert stats["df"]["graviti"] == 1 and "laptop" not in stats["df"]
    with store.transaction() as conn:
        conn.execute("TRUNCATE sections CASCADE")
    assert assert_exact(store)["sections"] == 0


def test_a_rolled_back_write_leaves_the_statistics_unchanged(
    store: pg_store.PgKnowledgeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = draft()
    first_id = store.save_document(first, vectors_for(first)).id
    before = assert_exact(store)

    def explode(*_args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(document_writes, "link_versions", explode)
    replacement = other("guide.md", "completely different words")
    with pytest.raises(RuntimeError):
        store.save_document(replacement, vectors_for(replacement), replace_id=first_id)
    brand_new = other("new.md", "brand new words")
    with pytest.raises(RuntimeError):
        store.save_document(brand_new, vectors_for(brand_new))
    with pytest.raises(RuntimeError), store.transaction() as conn:
        conn.execute("DELETE FROM documents")
        raise RuntimeError("changed my mind")

    assert assert_exact(store) == before


def test_the_migration_backfills_the_statistics_of_existing_sections(pg_url: str) -> None:
    db = PgDatabase(pg_url, max_size=2)
    try:
        apply_migrations(db, pg_store.MIGRATIONS[:1])
        with db.transaction() as conn:
            conn.execute(
                "INSERT INTO documents (id, source, title, media_type, content_hash, size_bytes, "
                "ingested_at) VALUES (1, 'a.md', 'Parking rules', 'text/markdown', 'h', 1, now())"
            )
            conn.execute(
                "INSERT INTO sections (document_id, ordinal, text) VALUES "
                "(1, 0, 'Cars park in the garage.'), (1, 1, 'Bicycles park by the door.')"
            )
        store = pg_store.PgKnowledgeStore(db)
        stats = assert_exact(store)
        assert stats["sections"] == 2 and stats["df"]["park"] == 2 and stats["df"]["garag"] == 1
    finally:
        db.close()


def bm25(store: pg_store.PgKnowledgeStore, lexemes: list[str]) -> dict[int, float]:
    """BM25 of every section for `lexemes`, computed here from the recount (FTS5's formula,
    title 4 / heading 2 / text 1)."""
    stats = recount(store)
    n, average = stats["sections"], stats["length"] / stats["sections"]
    weight = {"A": 4.0, "B": 2.0, "D": 1.0}
    scores: dict[int, float] = {}
    with store.db.connection() as conn:
        rows = conn.execute(
            "SELECT s.id, u.lexeme, u.weights FROM sections s, unnest(s.fts) u "
            "WHERE u.lexeme = ANY(%s)",
            (lexemes,),
        ).fetchall()
    for r in rows:
        df = stats["df"][r["lexeme"]]
        idf = max(math.log((n - df + 0.5) / (df + 0.5)), 1e-6)
        f = sum(weight[w] for w in r["weights"])
        norm = 1.2 * (1 - 0.75 + 0.75 * stats["lengths"][r["id"]] / average)
        scores[r["id"]] = scores.get(r["id"], 0.0) + idf * f * 2.2 / (f + norm)
    return scores


@pytest.mark.parametrize("posting_budget", [12_000, 1])
def test_lexical_scores_are_bm25_also_when_common_lexemes_are_only_rescored(
    store: pg_store.PgKnowledgeStore, posting_budget: int
) -> None:
    texts = [
        "zebra habitat in the savanna",
        "zebra zebra stripes and the savanna grass",
        "the savanna at night",
        "lions hunt in the savanna",
        "stripes on a shirt",
        "grass and more grass",
    ]
    for i, text in enumerate(texts):
        d = other(f"doc{i}.md", text)
        store.save_document(d, vectors_for(d))
    retriever = PgHybridRetriever(store, None, posting_budget=posting_budget, min_terms=1)
    query = retriever.analyze("zebra savanna stripes")
    assert isinstance(query, PgQuery)
    assert set(query.lexemes) == {"zebra", "savanna", "stripe"}
    with store.connection() as conn:
        hits = retriever.pg_lexical._search(conn, query, 10, None)
    expected = bm25(store, list(query.lexemes))
    if posting_budget == 1:  # only "zebra" picks candidates; the rest are re-scored on them
        expected = {sid: s for sid, s in expected.items() if sid in {h[0] for h in hits}}
        assert len(hits) == 2
    assert [sid for sid, _ in hits] == sorted(expected, key=lambda sid: (-expected[sid], sid))
    for sid, score in hits:
        assert score == pytest.approx(expected[sid], rel=1e-9)
