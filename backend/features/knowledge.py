"""The knowledge base: ingestion, search, documents, conflicts, health (`use_cases/knowledge`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypedDict

from loguru import logger

from backend.config import (
    ChunkingSettings,
    DocumentSettings,
    EmbeddingSettings,
    JobSettings,
    OfflineSettings,
    RetrievalSettings,
)
from backend.features import INTERNAL
from backend.features.adapters import Wiring, budgeted_loader
from services.knowledge.conflict_reports import SqlConflictReports
from services.knowledge.loaders import LOADERS_VERSION
from services.offline.conflict_scan import KnowledgeConflicts
from services.offline.prepared import SentencePreparer
from services.offline.semantic import SentenceSimilarity
from use_cases.access.audit import RecordAudit
from use_cases.jobs.prepare_answers import PrepareAnswers
from use_cases.jobs.queue import PREPARE_ANSWERS
from use_cases.knowledge.collections import ManageCollections, ResolveReadScope
from use_cases.knowledge.conflicts import (
    CONFLICT_SCAN,
    ConflictReports,
    ListConflicts,
    ScanConflicts,
)
from use_cases.knowledge.documents import (
    GetDocument,
    GetKnowledgeStats,
    ListDocuments,
    Reindex,
    RemoveDocument,
)
from use_cases.knowledge.health import CheckHealth
from use_cases.knowledge.ingest import IngestDocuments, IngestPolicy
from use_cases.knowledge.ports import DocumentLoader, Embedder
from use_cases.knowledge.search import SearchKnowledgeBase


@dataclass(frozen=True)
class KnowledgeUseCases:
    ingest: IngestDocuments
    search: SearchKnowledgeBase
    list_documents: ListDocuments
    list_conflicts: ListConflicts
    get_document: GetDocument
    remove_document: RemoveDocument
    knowledge_stats: GetKnowledgeStats
    check_health: CheckHealth
    reindex: Reindex
    collections: ManageCollections
    """Collections and their grants (admins; audited)."""
    read_scope: ResolveReadScope
    """What a caller may read: every feature that reads documents for a caller asks it."""
    prepare_answers: PrepareAnswers
    """The offline answerer's sentences, prepared after an ingest commits (a background
    job, PREPARE_SENTENCES with the local embedder; otherwise ingestion queues none)."""
    scan_conflicts: ScanConflicts | None = field(default=None, metadata=INTERNAL, kw_only=True)
    """On PostgreSQL, the conflict scan as a background job (`CONFLICT_SCAN`) whose report
    every replica shares; None on SQLite (the listing scans on a thread of its own)."""
    budgeted_ingest: IngestDocuments = field(metadata=INTERNAL)
    """`ingest` for the documents an admin adds, uploads (POST /api/documents) and the CLI's
    files and folders (`almanac ingest`): each parsed in a child process under the CPU and
    memory budgets (PARSE_CPU_SECONDS, PARSE_MEMORY_MB, services/parse_pool.py), so one costly
    file is a failed file of the report and the others are still ingested. The bundled sample
    at bootstrap is read in process (`ingest`), at no cost per document."""


def ingest_batch_chunks(settings: EmbeddingSettings) -> int:
    """Chunks an ingest embeds and writes at a time (what it holds in memory); the local model
    embeds each of them on its own, the other providers EMBEDDING_BATCH_SIZE per call."""
    return max(settings.batch_size * 16, 64)


#: Chunks of small documents the local model embeds before they are saved: it embeds each
#: chunk on its own, so a small flush costs nothing and lets the next files' parses run
#: while it embeds (sqlite-docs, 17 files: one flush of 636 chunks parsed every file first).
LOCAL_FLUSH_CHUNKS = 32


def ingest_flush_chunks(settings: EmbeddingSettings) -> int | None:
    """`IngestPolicy.flush_chunks`: `LOCAL_FLUSH_CHUNKS` for the local model, which embeds
    each chunk alone; the batch (`ingest_batch_chunks`) for providers that embed a batch at
    once."""
    return LOCAL_FLUSH_CHUNKS if settings.provider == "local" else None


def pipeline_signature(settings: ChunkingSettings, embedder: Embedder) -> str:
    """Changes whenever re-ingesting the same bytes would give a different index (v2: the
    local model embeds each chunk on its own, no longer in batches; v3: chunks end sentences
    where the one splitter does, `use_cases.shared.sentences`)."""
    return (
        f"chunks={settings.tokens}/{settings.overlap};"
        f"embedder={embedder.model}/{embedder.dimension};loaders={LOADERS_VERSION};v3"
    )


class _SharedScan(TypedDict, total=False):
    """How the conflict list reads a scan replicas share (a job's stored reports)."""

    reports: ConflictReports
    request_scan: Callable[[], object]


def _search(w: Wiring, scopes: ResolveReadScope, limit: int) -> SearchKnowledgeBase:
    return SearchKnowledgeBase(w.adapters.observed_retriever, default_limit=limit, scopes=scopes)


def _collections(w: Wiring) -> ManageCollections:
    a = w.adapters
    return ManageCollections(
        a.collection_store,
        a.history,
        RecordAudit(a.audit_log, w.clock),
        w.clock,
        tables_in=lambda collection_id: [
            t.name for t in a.tables.list_tables() if t.collection_id == collection_id
        ],
    )


def build(
    w: Wiring,
    *,
    documents: DocumentSettings,
    embeddings: EmbeddingSettings,
    chunking: ChunkingSettings,
    retrieval: RetrievalSettings,
    offline: OfflineSettings,
    jobs: JobSettings,
) -> KnowledgeUseCases:
    a = w.adapters
    store, embedder = a.store, a.embedder
    vectors, encoder = a.sentence_vectors, a.sentence_encoder

    def similarity() -> SentenceSimilarity | None:  # one each: the scan runs on its own thread
        if vectors is None or encoder is None:
            return None
        return SentenceSimilarity(encoder, store=vectors)

    preparing = similarity()
    prepare_answers = PrepareAnswers(
        a.jobs, store, SentencePreparer(preparing) if preparing is not None else None
    )
    # One at a time per process: it embeds on every core, as an ingest does. Registered
    # even when nothing is prepared ahead, to end the jobs an earlier configuration queued.
    a.jobs.register(PREPARE_ANSWERS, prepare_answers.run_job, concurrency=1)
    preparation = prepare_answers if offline.prepare_sentences and preparing is not None else None
    generation = lambda: store.state().generation  # noqa: E731 - read by both scans
    scan, shared = _conflict_scan_job(w, generation, similarity, jobs)

    def ingest_with(loader: DocumentLoader) -> IngestDocuments:
        return IngestDocuments(
            store,
            loader,
            a.chunker,
            embedder,
            w.clock,
            pipeline_signature=pipeline_signature(chunking, embedder),
            policy=IngestPolicy(
                max_document_chunks=documents.max_document_chunks,
                future_tolerance=timedelta(days=documents.future_date_tolerance_days),
                embed_batch_chunks=ingest_batch_chunks(embeddings),
                flush_chunks=ingest_flush_chunks(embeddings),
            ),
            preparation=preparation,
        )

    scopes = ResolveReadScope(a.collection_store)
    return KnowledgeUseCases(
        collections=_collections(w),
        read_scope=scopes,
        ingest=ingest_with(a.loader),
        # An admin's file is parsed in a child process under a CPU and a memory budget, as a
        # chat attachment is (the forked parse costs ~50 ms a document; the child: 1st file).
        budgeted_ingest=ingest_with(budgeted_loader(documents)),
        search=_search(w, scopes, retrieval.final_results_limit),
        list_documents=ListDocuments(store, scopes),
        list_conflicts=ListConflicts(
            KnowledgeConflicts(store, a.retriever, similarity()),
            generation,
            w.clock,
            on_error=lambda exc: logger.opt(exception=exc).error("Conflict scan failed"),
            **shared,
        ),
        scan_conflicts=scan,
        get_document=GetDocument(store, scopes),
        remove_document=RemoveDocument(store),
        knowledge_stats=GetKnowledgeStats(store),
        check_health=CheckHealth(store, embedder),
        prepare_answers=prepare_answers,
        reindex=Reindex(store, embedder, batch_size=max(embeddings.batch_size * 4, 64)),
    )


def _conflict_scan_job(
    w: Wiring,
    generation: Callable[[], int],
    similarity: Callable[[], SentenceSimilarity | None],
    jobs: JobSettings,
) -> tuple[ScanConflicts | None, _SharedScan]:
    """With a database (replicas): one conflict scan per change, run as a job and stored."""
    a = w.adapters
    if a.database is None:
        return None, {}
    reports = SqlConflictReports(a.database)
    scan = ScanConflicts(
        KnowledgeConflicts(a.store, a.retriever, similarity()), generation, w.clock, reports
    )
    a.jobs.register(CONFLICT_SCAN, scan.run_job, concurrency=1)

    def request_scan() -> object:  # queued once however many replicas ask
        return a.jobs.submit(CONFLICT_SCAN, "Conflict scan", {}, unique_key=CONFLICT_SCAN)

    every = jobs.conflict_scan_interval_seconds
    if every > 0 and a.scheduler is not None:
        a.scheduler.every(CONFLICT_SCAN, every, request_scan)
    return scan, {"reports": reports, "request_scan": request_scan}
