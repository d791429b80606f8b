"""`almanac bench retrieval`: retrieval quality on any BEIR-format data set.

Builds a throw-away index with the configured embedder and the product's own ingestion
pipeline (chunking, embedding text, FTS5 + vectors), then scores BM25 alone, dense alone and
the hybrid ranking with nDCG@10 and recall@100 at document level (a document ranks where its
best chunk ranks). The hybrid retriever is configured from the settings as the product's is
(fusion, candidates per leg); nDCG@10 comes from a search for 10 hits, recall@100 from a
search for 100. Reads the data in place; writes only to a temporary directory unless given
`index_path` (bench/retrieval_levers.py keeps one under .bench/ to iterate quickly).

`database_url`: run on PostgreSQL instead (`PgKnowledgeStore` + `PgHybridRetriever`; the
lexical leg is then `ts_rank_cd`). The index goes into a throw-away database created on that
server and dropped afterwards (the URL's own database is never written to), or, with
`database_url="pgserver"`, into a throw-away local server started from the `pgserver`
package (a dev dependency).
"""

from __future__ import annotations

import contextlib
import functools
import json
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.components import build_embedder
from backend.config import Settings
from backend.features.knowledge import pipeline_signature
from services.clock import SystemClock
from services.knowledge.chunking import HeadingChunker
from services.knowledge.retrieval import SqliteHybridRetriever
from services.knowledge.store import SqliteKnowledgeStore
from services.postgres import PgDatabase
from use_cases.evaluation.retrieval_metrics import ndcg_at_k, recall_at_k, unique_in_order
from use_cases.knowledge.domain import IngestReport, ParsedDocument, ParsedSection
from use_cases.knowledge.ingest import IngestDocuments, IngestPolicy, IngestRequest, IngestSource
from use_cases.knowledge.ports import Embedder
from use_cases.shared.errors import InvalidDocument, InvalidRequest

if TYPE_CHECKING:  # PostgreSQL needs the `postgres` extra: imported with --database-url
    from services.knowledge.pg_retrieval import PgHybridRetriever
    from services.knowledge.pg_store import PgKnowledgeStore

CANDIDATES = 100


class BeirLoader:
    """A `DocumentLoader` for BEIR corpus records: title plus one text section."""

    def supports(self, name: str) -> bool:
        return name.endswith(".beir")

    def check(self, name: str, data: bytes) -> None:
        return None

    def load(self, name: str, data: bytes) -> ParsedDocument:
        record = json.loads(data)
        text = (record.get("text") or "").strip()
        if not text:
            raise InvalidDocument(f"{name} has no text")
        title = (record.get("title") or "").strip() or record["_id"]
        return ParsedDocument(title=title, sections=(ParsedSection((), text),))


def _json_bytes(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or not parts[2].strip().lstrip("-").isdigit():
            continue  # header or blank line
        qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return qrels


def load_beir(directory: Path, split: str) -> tuple[list[dict[str, Any]], dict[str, str], dict]:
    corpus, queries, qrels = (
        directory / "corpus.jsonl",
        directory / "queries.jsonl",
        directory / "qrels" / f"{split}.tsv",
    )
    for path in (corpus, queries, qrels):
        if not path.is_file():
            raise InvalidRequest(
                f"{path} not found: expected a BEIR folder with qrels/{split}.tsv."
            )
    judged = _read_qrels(qrels)
    texts = {q["_id"]: q["text"] for q in _read_jsonl(queries) if q["_id"] in judged}
    if not texts:
        raise InvalidRequest(f"No query in {queries.name} has judgements in {qrels.name}.")
    return _read_jsonl(corpus), texts, judged


@contextlib.contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    """The URL of a fresh database (with pgvector) on `server_url`'s server, dropped at the
    end; `server_url="pgserver"` starts a throw-away local server first."""
    import psycopg
    from psycopg import sql

    with contextlib.ExitStack() as stack:
        if server_url == "pgserver":
            import pgserver  # a dev dependency

            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="almanac-pg-"))
            server = pgserver.get_server(folder, cleanup_mode="stop")
            stack.callback(server.cleanup)
            server_url = server.get_uri()
        name = f"almanac_bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        params = psycopg.conninfo.conninfo_to_dict(server_url)
        params["dbname"] = name
        url = psycopg.conninfo.make_conninfo(**params)  # type: ignore[arg-type]  # psycopg's stub takes the string first
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            yield url
        finally:
            with psycopg.connect(server_url, autocommit=True) as admin:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


def chunk_sources(store: SqliteKnowledgeStore | PgKnowledgeStore) -> dict[int, str]:
    """{chunk id: its document's source}."""
    query = "SELECT c.id, d.source FROM chunks c JOIN documents d ON d.id = c.document_id"
    if isinstance(store, SqliteKnowledgeStore):
        return {int(cid): source for cid, source in store.connection().execute(query)}
    with store.db.connection() as conn:
        return {int(r["id"]): r["source"] for r in conn.execute(query)}


def index_corpus(
    settings: Settings,
    embedder: Embedder,
    store: SqliteKnowledgeStore | PgKnowledgeStore,
    corpus: list[dict[str, Any]],
) -> IngestReport:
    """Ingest BEIR corpus records through the product's pipeline (unchanged ones are skipped)."""
    ingest = IngestDocuments(
        store,
        BeirLoader(),
        HeadingChunker(
            chunk_tokens=settings.chunking.tokens,
            overlap_tokens=settings.chunking.overlap,
        ),
        embedder,
        SystemClock(),
        pipeline_signature=pipeline_signature(settings.chunking, embedder),
        policy=IngestPolicy(embed_batch_chunks=512),
    )
    sources = [
        IngestSource(
            source=f"beir:{doc['_id']}",
            name=f"{doc['_id']}.beir",
            read=functools.partial(_json_bytes, doc),
        )
        for doc in corpus
    ]
    return ingest.run(IngestRequest(sources=sources))


def bench_retriever(
    settings: Settings, store: SqliteKnowledgeStore | PgKnowledgeStore, embedder: Embedder
) -> SqliteHybridRetriever | PgHybridRetriever:
    """The retriever as the product configures it (fusion, per-leg candidate lists)."""
    if isinstance(store, SqliteKnowledgeStore):
        return SqliteHybridRetriever(
            store,
            embedder,
            vector_search_limit=settings.retrieval.vector_search_limit,
            bm25_search_limit=settings.retrieval.bm25_search_limit,
            final_results_limit=CANDIDATES,
            rrf_k=settings.retrieval.rrf_k,
            resident_min_sections=settings.retrieval.bm25_resident_min_sections,
        )
    from services.knowledge.pg_retrieval import PgHybridRetriever

    return PgHybridRetriever(
        store,
        embedder,
        vector_search_limit=settings.retrieval.vector_search_limit,
        bm25_search_limit=settings.retrieval.bm25_search_limit,
        final_results_limit=CANDIDATES,
        rrf_k=settings.retrieval.rrf_k,
    )


def run_retrieval_benchmark(
    settings: Settings,
    directory: Path,
    split: str,
    *,
    max_queries: int | None = None,
    quiet: bool = False,
    log: Callable[[str], None] = print,
    index_path: Path | None = None,
    database_url: str | None = None,
) -> dict[str, Any]:
    """Score BM25, dense and hybrid retrieval on `directory`'s `split`.

    `index_path`: keep the index in this file and reuse it next time (documents whose bytes
    and pipeline signature are unchanged are not embedded again); default: a temporary file.
    `database_url`: index into a throw-away PostgreSQL database instead (module docstring).
    """
    corpus, queries, qrels = load_beir(directory, split)
    query_ids = sorted(queries)[:max_queries] if max_queries else sorted(queries)
    embedder = build_embedder(settings)
    with contextlib.ExitStack() as stack:
        store: SqliteKnowledgeStore | PgKnowledgeStore
        if database_url:
            from services.knowledge.pg_store import PgKnowledgeStore

            db = PgDatabase(stack.enter_context(throwaway_database(database_url)), max_size=4)
            stack.callback(db.close)
            store = PgKnowledgeStore(db)
        else:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="almanac-bench-"))
            db_path = index_path or Path(tmp) / "bench.db"
            db_path.parent.mkdir(parents=True, exist_ok=True)
            store = SqliteKnowledgeStore(db_path)
        retriever = bench_retriever(settings, store, embedder)
        try:
            if not quiet:
                log(f"Indexing {len(corpus)} documents with {embedder.model}…")
            started = time.perf_counter()
            report = index_corpus(settings, embedder, store, corpus)
            index_seconds = time.perf_counter() - started
            doc_of = {cid: src.removeprefix("beir:") for cid, src in chunk_sources(store).items()}
            retriever.warm_up()  # resident indexes loaded now, not while queries are scored
            resident = getattr(retriever, "resident", None)
            lexical = (
                "resident index"
                if resident is not None and resident.size
                else ("PostgreSQL full-text index" if database_url else "FTS5 index")
            )
            if not quiet:
                log(f"Scoring {len(query_ids)} queries (BM25 from the {lexical})…")
            runs = _score_queries(retriever, embedder, queries, qrels, query_ids, doc_of)
        finally:
            retriever.close()
            store.close()
    metrics = _metrics(runs)
    written = report.chunks_written
    return {
        "metrics": metrics,
        "info": {
            "queries": len(query_ids),
            "documents": len(set(doc_of.values())),
            "chunks": len(doc_of),
            "embedder": embedder.model,
            "backend": "postgresql" if database_url else "sqlite",
            "bm25_from": lexical,
            "index_seconds": index_seconds,
            "chunks_per_second": written / index_seconds if written and index_seconds else 0.0,
        },
    }


#: Per method, one (ranking for nDCG@10, ranking for recall@100, relevant documents) a query.
_Runs = dict[str, list[tuple[list[str], list[str], dict[str, int]]]]


def _score_queries(
    retriever: SqliteHybridRetriever | PgHybridRetriever,
    embedder: Embedder,
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    query_ids: list[str],
    doc_of: dict[int, str],
) -> _Runs:
    """Each query's document rankings by BM25, dense and hybrid search."""
    runs: _Runs = {"bm25": [], "dense": [], "hybrid": []}
    for query_id in query_ids:
        text, relevant = queries[query_id], qrels[query_id]
        vector = embedder.embed_query(text)
        bm25 = unique_in_order(
            [doc_of[h.chunk_id] for h in retriever.search_bm25(text, 2 * CANDIDATES)]
        )
        dense = unique_in_order(
            [doc_of[h.chunk_id] for h in retriever.search_vector(vector, 2 * CANDIDATES)]
        )
        # Top 10 as a search for 10 hits ranks them, top 100 as a search for 100.
        top10, top100 = (
            unique_in_order(
                [
                    hit.source.removeprefix("beir:")
                    for hit in retriever.search_with_vector(text, vector, n)
                ]
            )
            for n in (10, CANDIDATES)
        )
        runs["bm25"].append((bm25, bm25, relevant))
        runs["dense"].append((dense, dense, relevant))
        runs["hybrid"].append((top10, top100, relevant))
    return runs


def _metrics(runs: _Runs) -> dict[str, dict[str, float]]:
    return {
        method: {
            "ndcg@10": round(sum(ndcg_at_k(a, rel, 10) for a, _, rel in run) / len(run), 4),
            "recall@100": round(sum(recall_at_k(b, rel, 100) for _, b, rel in run) / len(run), 4),
        }
        for method, run in runs.items()
    }
