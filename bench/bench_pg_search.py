"""Search latency on PostgreSQL + pgvector at 100k (or 1M) chunks: HNSW build time, HNSW
recall@50 against exact search, and lexical / vector / hybrid p50/p95.

    .venv/bin/python -m bench.bench_pg_search --data ../shared/data/scifact           # 100k
    .venv/bin/python -m bench.bench_pg_search --chunks 1000000 --queries 200         # 1M
    .venv/bin/python -m bench.bench_pg_search --database-url postgresql://u@host/db  # a server

Corpus and vectors: exactly bench/bench_search.py's (synthetic ~95-word chunks recombined
from SciFact sentences, four chunks per document in two sections, five categories; vectors
from the MiniLM pool with `--vectors pool`, else random). Loading (`--load`): `copy` (default)
writes the same rows as the store with COPY, 10k documents a transaction, and the schema's own
triggers compute the tsvectors and the BM25 postings and statistics (checked against the rows
afterwards); `store` calls `PgKnowledgeStore.save_document` per document (~290 chunks/s here,
an hour for 1M). The HNSW index is dropped before loading and built once afterwards (that
build is the time reported; `m` and `ef_construction` are the store's). Latency excludes the
query embedding and is measured after a warm-up pass, as in bench_search.py;
`PgHybridRetriever` with the product's defaults (50 candidates per leg, `hnsw.ef_search` =
max(400, 2 x candidates)); `--ef-sweep` also reports the vector leg's latency and recall at
other `hnsw.ef_search` values. `--collections N` spreads the documents over N collections
(document i in collection i mod N + 1) and times a reader of 3 of them beside the unfiltered
search of the same run, with its recall@10 against an exact filtered search (every lexeme's
postings, every readable vector scored), as bench_search.py's `--collections` does on SQLite.

Server: `--database-url` names a server where the bench may create databases (it builds
`almanac_bench_search_<chunks>` there and keeps it for the next run; `--rebuild` recreates
it). Without it, a local PostgreSQL 16 + pgvector 0.6 is started from the `pgserver` package
with its data kept under .bench/pgserver (stopped at the end). Say which in any report, and
the server's shared_buffers: pgserver runs with PostgreSQL's default 128 MB unless
`--shared-buffers` sets it.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_search import (  # noqa: E402
    CATEGORIES,
    DIM,
    chunk_vectors,
    compare_scoped,
    embed_pool,
    load_scifact,
    overlap,
    report,
    synthetic_chunks,
    timed,
)
from services.knowledge.pg_retrieval import PgHybridRetriever  # noqa: E402
from services.knowledge.pg_store import PgKnowledgeStore, create_vector_index  # noqa: E402
from services.postgres import PgDatabase  # noqa: E402
from use_cases.knowledge.domain import DocumentDraft, EmbeddingInfo, SectionDraft  # noqa: E402


def _search_vector(retriever: PgHybridRetriever, vectors: Sequence[Any], i: int) -> object:
    return retriever.search_vector(vectors[i], 50)


def _database_url(server_url: str, name: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(server_url)
    params["dbname"] = name
    return psycopg.conninfo.make_conninfo(**params)  # type: ignore[arg-type]  # psycopg's stub takes the string first


def ensure_database(server_url: str, name: str, rebuild: bool) -> tuple[str, bool]:
    """(URL of database `name`, whether it must be built)."""
    with psycopg.connect(server_url, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and rebuild:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = None
        if not exists:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _database_url(server_url, name)
    if exists:
        with psycopg.connect(url) as conn:
            done = conn.execute("SELECT to_regclass('chunk_vectors_embedding')").fetchone()
        if done and done[0] is not None:
            return url, False
    return url, True


def build(
    store: PgKnowledgeStore,
    corpus: list[dict[str, str]],
    size: int,
    pool: np.ndarray | None,
    model: str,
    maintenance_work_mem: str,
    load: str,
) -> None:
    store.check_embedding(EmbeddingInfo(model, DIM))
    with store.db.connection() as conn:
        conn.execute("DROP INDEX IF EXISTS chunk_vectors_embedding")
        conn.execute("TRUNCATE documents CASCADE")
    chunks = synthetic_chunks(corpus, size)
    vectors = chunk_vectors(chunks, pool, seed=size)
    started = time.perf_counter()
    if load == "store":
        print(f"loading {size} chunks through PgKnowledgeStore.save_document ...", flush=True)
        load_through_store(store, chunks, vectors)
    else:
        print(f"loading {size} chunks with COPY (the store's triggers) ...", flush=True)
        load_with_copy(store.db, chunks, vectors, maintenance_work_mem)
    loaded = time.perf_counter() - started
    print(f"  loaded in {loaded:.0f} s ({size / loaded:.0f} chunks/s)", flush=True)
    with store.db.connection() as conn:
        conn.execute(
            "SELECT set_config('maintenance_work_mem', %s, false)", (maintenance_work_mem,)
        )
        started = time.perf_counter()
        create_vector_index(conn)
        built = time.perf_counter() - started
        conn.execute("VACUUM ANALYZE")
    print(
        f"  HNSW index (m 16, ef_construction 64, maintenance_work_mem {maintenance_work_mem}) "
        f"built in {built:.1f} s",
        flush=True,
    )


def _documents(chunks: Sequence[tuple[str, str, int, int, float]]) -> Iterator[DocumentDraft]:
    """Four chunks per document, in two sections of two chunks."""
    for doc, start in enumerate(range(0, len(chunks), 4)):
        group = chunks[start : start + 4]
        sections = tuple(
            SectionDraft(
                heading_path=(f"Part {i // 2 + 1}",),
                text=" ".join(c[1] for c in group[i : i + 2]),
                chunks=tuple(c[1] for c in group[i : i + 2]),
            )
            for i in range(0, len(group), 2)
        )
        yield DocumentDraft(
            source=f"synthetic/{doc:07d}.txt",
            content_hash=str(doc),
            title=group[0][0],
            category=CATEGORIES[doc % len(CATEGORIES)],
            updated_at=None,
            media_type="text/plain",
            size_bytes=sum(len(c[1]) for c in group),
            sections=sections,
        )


def load_through_store(
    store: PgKnowledgeStore,
    chunks: Sequence[tuple[str, str, int, int, float]],
    vectors: np.ndarray,
) -> None:
    """One `save_document` per document: the product's write path (~290 chunks/s here)."""
    started = time.perf_counter()
    start = 0
    for doc, draft in enumerate(_documents(chunks)):
        store.save_document(draft, vectors[start : start + draft.chunk_count])
        start += draft.chunk_count
        if doc and doc % 5000 == 0:
            print(f"  {start} chunks, {time.perf_counter() - started:.0f} s", flush=True)


def load_with_copy(
    db: PgDatabase,
    chunks: Sequence[tuple[str, str, int, int, float]],
    vectors: np.ndarray,
    maintenance_work_mem: str,
    batch: int = 10_000,
) -> None:
    """The same rows as `save_document` writes, with COPY, `batch` documents a transaction.

    The schema's own triggers still compute every section's tsvector, length and BM25
    postings and statistics (COPY fires row triggers and the statement triggers with their
    transition tables); only the indexes that random-order inserts make slow (the postings'
    primary key, the sections' GIN) are dropped first and built once at the end, as any bulk
    load does. Ids are assigned here, then the sequences moved past them.
    """
    from pgvector.psycopg import register_vector

    started = time.perf_counter()
    with db.connection() as conn:
        conn.execute("ALTER TABLE lexeme_postings DROP CONSTRAINT IF EXISTS lexeme_postings_pkey")
        conn.execute("DROP INDEX IF EXISTS sections_fts")
        register_vector(conn)
        now = datetime.now(UTC)
        section_id = chunk_id = 0
        start = 0
        drafts = list(_documents(chunks))
        for first in range(0, len(drafts), batch):
            with conn.transaction():
                part = list(enumerate(drafts[first : first + batch], start=first + 1))
                with conn.cursor().copy(
                    "COPY documents (id, source, title, category, media_type, content_hash,"
                    " size_bytes, ingested_at) FROM STDIN"
                ) as copy:
                    for doc_id, d in part:
                        copy.write_row(
                            (
                                doc_id,
                                d.source,
                                d.title,
                                d.category,
                                d.media_type,
                                d.content_hash,
                                d.size_bytes,
                                now,
                            )
                        )
                section_rows, chunk_rows, vector_rows = [], [], []
                for doc_id, d in part:
                    for ordinal, section in enumerate(d.sections):
                        section_id += 1
                        section_rows.append(
                            (
                                section_id,
                                doc_id,
                                ordinal,
                                json.dumps(list(section.heading_path)),
                                section.text,
                            )
                        )
                        for c_ordinal, text in enumerate(section.chunks):
                            chunk_id += 1
                            chunk_rows.append((chunk_id, doc_id, section_id, c_ordinal, text))
                            vector_rows.append((chunk_id, vectors[start], d.category))
                            start += 1
                with conn.cursor().copy(
                    "COPY sections (id, document_id, ordinal, heading_path, text) FROM STDIN"
                ) as copy:
                    for row in section_rows:
                        copy.write_row(row)
                with conn.cursor().copy(
                    "COPY chunks (id, document_id, section_id, ordinal, text) FROM STDIN"
                ) as copy:
                    for chunk_row in chunk_rows:
                        copy.write_row(chunk_row)
                with conn.cursor().copy(
                    "COPY chunk_vectors (chunk_id, embedding, category) FROM STDIN"
                    " WITH (FORMAT BINARY)"
                ) as copy:
                    copy.set_types(["int8", "vector", "text"])
                    for vector_row in vector_rows:
                        copy.write_row(vector_row)
            print(f"  {start} chunks, {time.perf_counter() - started:.0f} s", flush=True)
        for table, last in (
            ("documents", len(drafts)),
            ("sections", section_id),
            ("chunks", chunk_id),
        ):
            conn.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", (table, last))
        conn.execute(
            "SELECT set_config('maintenance_work_mem', %s, false)", (maintenance_work_mem,)
        )
        conn.execute(
            "ALTER TABLE lexeme_postings ADD PRIMARY KEY (lexeme, section_id)"
            " INCLUDE (tf_a, tf_b, tf_d, length)"
        )
        conn.execute("CREATE INDEX sections_fts ON sections USING gin(fts)")
        totals = conn.execute(
            "SELECT (SELECT sections FROM lexical_totals) AS kept, "
            "(SELECT count(*) FROM sections) AS sections, "
            "(SELECT sum(df) FROM lexeme_stats) AS df, "
            "(SELECT count(*) FROM lexeme_postings) AS postings"
        ).fetchone()
    assert totals is not None
    if totals["kept"] != totals["sections"] or totals["df"] != totals["postings"]:
        raise SystemExit(f"BM25 statistics do not match the rows: {dict(totals)}")
    print(
        f"  {totals['sections']} sections, {totals['postings']} postings "
        f"(statistics match the rows)",
        flush=True,
    )


def run(args: argparse.Namespace, server_url: str) -> None:
    corpus, claims = load_scifact(args.data)
    cache = ROOT / ".bench"
    cache.mkdir(exist_ok=True)
    pool = query_pool = None
    if args.vectors == "pool":
        from backend.components import LOCAL_MODEL_DIRNAME
        from backend.config import Settings

        pool, query_pool = embed_pool(
            corpus, claims, Settings().embeddings.models_dir / LOCAL_MODEL_DIRNAME, cache
        )
    rng = np.random.default_rng(1)
    picks = rng.choice(len(claims), size=min(args.queries, len(claims)), replace=False)
    queries = [claims[i] for i in picks]
    if query_pool is not None:
        query_vectors = [query_pool[i] for i in picks]
    else:
        raw = rng.standard_normal((len(queries), DIM)).astype(np.float32)
        query_vectors = list(raw / np.linalg.norm(raw, axis=1, keepdims=True))
    model = "minilm-pool" if pool is not None else "random"
    url, missing = ensure_database(server_url, f"almanac_bench_search_{args.chunks}", args.rebuild)
    db = PgDatabase(url, max_size=8)
    try:
        store = PgKnowledgeStore(db)
        if missing:
            build(store, corpus, args.chunks, pool, model, args.maintenance_work_mem, args.load)
        with db.connection() as conn:
            version = conn.execute("SHOW server_version").fetchone()["server_version"]  # type: ignore[index]  # SHOW always answers one row
            buffers = conn.execute("SHOW shared_buffers").fetchone()["shared_buffers"]  # type: ignore[index]  # SHOW always answers one row
            size = conn.execute(
                "SELECT pg_size_pretty(pg_database_size(current_database())) AS s"
            ).fetchone()["s"]  # type: ignore[index]  # an aggregate always answers one row
        retriever = PgHybridRetriever(store, None)
        n = len(queries)
        print(
            f"\n{args.chunks} chunks on PostgreSQL {version} (shared_buffers {buffers}, "
            f"database {size}), vectors {model}, {n} queries"
        )
        report("lexical BM25 (top 50)", timed(lambda i: retriever.search_bm25(queries[i], 50), n))
        report(
            "vector HNSW (top 50)",
            timed(lambda i: retriever.search_vector(query_vectors[i], 50), n),
        )
        report(
            "hybrid (5 hits)",
            timed(lambda i: retriever.search_with_vector(queries[i], query_vectors[i], 5), n),
        )
        report(
            "hybrid, category filter",
            timed(
                lambda i: retriever.search_with_vector(
                    queries[i], query_vectors[i], 5, CATEGORIES[i % len(CATEGORIES)]
                ),
                n,
            ),
        )
        if args.collections:
            spread_over_collections(db, args.collections)
            exhaustive = PgHybridRetriever(store, None, posting_budget=10**12)
            compare_scoped(retriever, exhaustive, queries, query_vectors, args.collections)
            exhaustive.close()
        m = min(n, args.exact_queries)
        exact_ms = timed(lambda i: retriever.search_vector(query_vectors[i], 50, method="exact"), m)
        report("vector exact scan (top 50)", exact_ms)
        recall = statistics.fmean(
            overlap(
                [h.chunk_id for h in retriever.search_vector(query_vectors[i], 50)],
                [h.chunk_id for h in retriever.search_vector(query_vectors[i], 50, method="exact")],
            )
            for i in range(m)
        )
        print(f"  HNSW recall@50 vs exact search ({m} queries): {recall:.3f}")
        exact = [
            [h.chunk_id for h in retriever.search_vector(query_vectors[i], 50, method="exact")]
            for i in range(m)
        ]
        for ef in args.ef_sweep:
            swept = PgHybridRetriever(store, None, ef_search=ef)
            ms = timed(functools.partial(_search_vector, swept, query_vectors), n)
            recall = statistics.fmean(
                overlap([h.chunk_id for h in swept.search_vector(query_vectors[i], 50)], exact[i])
                for i in range(m)
            )
            report(f"vector HNSW, ef_search {ef}", ms)
            print(f"    recall@50 vs exact search: {recall:.3f}")
            swept.close()
        retriever.close()
    finally:
        db.close()


def spread_over_collections(db: PgDatabase, count: int) -> None:
    """Document i into collection (i mod `count`) + 1, once per database."""
    with db.connection() as conn:
        row = conn.execute("SELECT count(*) AS n FROM collections").fetchone()
        if row is not None and row["n"] == count:
            return
        conn.execute("UPDATE documents SET collection_id = NULL")
        conn.execute("DELETE FROM collections")
        for i in range(1, count + 1):
            conn.execute(
                "INSERT INTO collections (id, name, created_at) VALUES (%s, %s, now())",
                (i, f"team-{i:02d}"),
            )
        conn.execute("UPDATE documents SET collection_id = (id %% %s) + 1", (count,))
        conn.execute("ANALYZE documents")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--exact-queries", type=int, default=50)
    parser.add_argument("--vectors", choices=("pool", "random"), default="pool")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--maintenance-work-mem", default="512MB")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument(
        "--collections",
        type=int,
        default=0,
        help="spread the documents over N collections and time a reader of 3 of them",
    )
    parser.add_argument(
        "--ef-sweep",
        type=lambda text: [int(x) for x in text.split(",") if x.strip()],
        default=[200, 400],
        help="also report vector p50/p95 and recall@50 at these hnsw.ef_search values",
    )
    parser.add_argument(
        "--shared-buffers",
        default=None,
        help="with the local pgserver: set its shared_buffers (ALTER SYSTEM, then a restart), "
        "e.g. 4GB; default: leave the server's setting (PostgreSQL's 128MB)",
    )
    parser.add_argument(
        "--load",
        choices=("copy", "store"),
        default="copy",
        help="copy: COPY in batches through the schema's triggers (fast); store: one "
        "save_document per document (the product's write path, ~290 chunks/s)",
    )
    args = parser.parse_args()
    if args.database_url:
        run(args, args.database_url)
        return
    import pgserver  # a dev dependency

    folder = ROOT / ".bench" / "pgserver"
    folder.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(folder, cleanup_mode="stop")
    if args.shared_buffers:
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            current = conn.execute("SHOW shared_buffers").fetchone()
            conn.execute(
                sql.SQL("ALTER SYSTEM SET shared_buffers = {}").format(
                    sql.Literal(args.shared_buffers)
                )
            )
        if current is None or current[0] != args.shared_buffers:
            server.cleanup()  # shared_buffers takes a restart
            server = pgserver.get_server(folder, cleanup_mode="stop")
    try:
        run(args, server.get_uri())
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()
