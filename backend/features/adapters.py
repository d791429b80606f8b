"""The adapters every feature is wired from, built once from `Settings`: stores, retriever,
embedder, loaders, the model resolver (with the offline model), the job queue, the worker
pool and the processes offline answers run on."""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backend import __version__
from backend.answer_processes import build_planning_processes
from backend.components import build_reader, build_sentence_vectors, load_lexicon
from backend.config import DocumentSettings, ModelSettings, ProviderSettings, Settings
from backend.stores.app import build_app_stores
from backend.stores.file_bytes import build_chat_file_bytes
from backend.stores.jobs import JobQueueAdapter, build_job_queue, build_presence
from backend.stores.knowledge import KnowledgeStoreAdapter, RetrieverAdapter, build_knowledge
from backend.stores.shared_limits import build_shared_buckets, build_upload_ledger
from backend.stores.tables import SqlRunnerAdapter, TableLoaderAdapter, build_tables
from services.admin.api_key_store import ApiKeyStore
from services.admin.audit_log import AuditLog
from services.admin.model_default_store import ModelDefaultStore
from services.admin.prompt_library_store import PromptLibraryStore
from services.admin.prompt_store import PromptStore
from services.budgets import BUDGET, InputBudget
from services.calibration import CalibrationStore, ResponseLog
from services.chat.advice_threads import AdviceThreads
from services.chat.history_store import HistoryStore
from services.chat.model_options import parse_model_options
from services.chat.models import ModelConfig, PydanticAIModelResolver, provider_keys_present
from services.cleaning.store import CleaningStore
from services.compute import WorkerPool
from services.conversations.draft_chat_store import DraftChats
from services.conversations.draft_store import ProjectDrafts
from services.conversations.file_store import SqlChatFileStore
from services.conversations.search_index import SqlChatSearchIndex
from services.conversations.summary_store import SqlSummaryStore
from services.evaluation.run_store import DatasetStore, RunStore
from services.knowledge.chunking import HeadingChunker
from services.knowledge.collection_store import SqlCollectionStore
from services.knowledge.embedders.cached import TextVectorCache
from services.knowledge.loaders import FileLoader, OcrOptions
from services.observability import Observability
from services.observability.retrieval import ObservedRetriever
from services.observability.tracing import tracer_of
from services.offline import build_offline_model
from services.offline.lexicon import Lexicon
from services.offline.processes import PlanningProcesses
from services.offline.sentence_store import SentenceVectorFile
from services.offline.vocabulary import KnowledgeVocabulary
from services.parse_pool import BudgetedLoader
from services.postgres import PgDatabase
from services.presence import Presence
from services.schedules import Scheduler, Schedules
from services.sources.store import SqlSourceStore
from use_cases.chat.agent import AgentLimits
from use_cases.chat.ports import WebSearch
from use_cases.chat.withholding import StoredAnswers
from use_cases.conversations.file_ports import FileBytes
from use_cases.conversations.upload_limits import UploadLedger
from use_cases.knowledge.collections import ResolveReadScope
from use_cases.knowledge.ports import Embedder, Reranker
from use_cases.shared.clock import Clock
from use_cases.shared.token_buckets import TokenBuckets

__all__ = ["Adapters", "Wiring", "budgeted_loader", "build_adapters", "ocr_options"]


@dataclass
class Adapters:
    """The infrastructure the use cases are wired with: for the composition root (which
    closes it) and for tests that must look at stored state directly. The presentation layer
    (`backend/api`, `backend/cli`) never reads it; `tests/unit/test_presentation_boundary.py`
    checks that."""

    store: KnowledgeStoreAdapter
    embedder: Embedder
    """The embedder of chunks and queries (the local one behind its chunk-vector cache)."""
    loader: FileLoader
    chunker: HeadingChunker
    retriever: RetrieverAdapter
    history: HistoryStore
    tables: TableLoaderAdapter
    sql: SqlRunnerAdapter
    models: PydanticAIModelResolver
    api_keys: ApiKeyStore
    audit_log: AuditLog
    jobs: JobQueueAdapter
    prompt_store: PromptStore
    model_default_store: ModelDefaultStore
    dataset_store: DatasetStore
    run_store: RunStore
    advice_thread_store: AdviceThreads
    prompt_library_store: PromptLibraryStore
    response_log: ResponseLog
    calibration_store: CalibrationStore
    cleaning_store: CleaningStore
    project_draft_store: ProjectDrafts
    draft_chat_store: DraftChats
    chat_files: SqlChatFileStore
    chat_file_bytes: FileBytes
    summary_store: SqlSummaryStore
    chat_search_index: SqlChatSearchIndex
    collection_store: SqlCollectionStore
    """Collections, their grants and users' groups, in the knowledge database."""
    answer_pool: WorkerPool
    """The worker threads the offline model answers on (and tools run on)."""
    database: PgDatabase | None = None
    """The PostgreSQL pool every store shares (None on SQLite)."""
    planning: PlanningProcesses | None = None
    """The processes those threads hand planning to, once a server enables them."""
    presence: Presence | None = None
    shared_buckets: TokenBuckets | None = None
    """The evaluation runs' provider rate and the chunks users' attachments embed, shared by
    every process (None: per process)."""
    upload_ledger: UploadLedger | None = None
    """Every replica's files attached to chats in flight (None: per process)."""
    scheduler: Scheduler | None = None
    """Periodic work, once per cluster; started with the job worker."""
    source_store: SqlSourceStore = field(kw_only=True)
    """Synced sources, their items' versions and their sync history (app database)."""
    sentence_vectors: SentenceVectorFile | None = None
    """The local embedder's vectors on disk (None unless the local embedder is used): the
    offline model's sentence vectors, and the chunk vectors `embedder` keeps there."""
    sentence_encoder: Embedder | None = None
    """The embedder itself, for the offline model's sentence vectors (kept in
    `sentence_vectors` under their own keys); None unless the local embedder is used."""
    telemetry: Observability = field(kw_only=True)
    """Metrics and traces (the container hands it to the HTTP edge as `observability`)."""
    observed_retriever: ObservedRetriever = field(kw_only=True)
    """`retriever`, timed and traced: what searches on behalf of users go through."""

    def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.close()
        self.jobs.close()
        self.telemetry.close()
        self.retriever.close()
        self.store.close()
        self.history.close()
        self.api_keys.close()
        self.audit_log.close()
        self.prompt_store.close()
        self.model_default_store.close()
        self.dataset_store.close()
        self.run_store.close()
        self.advice_thread_store.close()
        self.prompt_library_store.close()
        self.response_log.close()
        self.calibration_store.close()
        self.cleaning_store.close()
        self.project_draft_store.close()
        self.draft_chat_store.close()
        self.chat_files.close()
        self.summary_store.close()
        self.collection_store.close()
        self.chat_search_index.close()
        self.source_store.close()
        if self.database is not None:
            self.database.close()
        self.answer_pool.close()
        if self.planning is not None:
            self.planning.close()
        if self.sentence_vectors is not None:
            self.sentence_vectors.close()
        close_shared = getattr(self.shared_buckets, "close", None)  # Redis's client
        if close_shared is not None:
            close_shared()
        if self.presence is not None:  # last: what this process owned has been ended
            self.presence.close()


@dataclass(frozen=True)
class Wiring:
    """What every feature's `build()` is given. No settings: a feature's `build()` is given
    the settings groups it reads, each by itself, so what it depends on is in its signature."""

    adapters: Adapters
    clock: Clock
    web_search: WebSearch | None
    limits: AgentLimits

    def stored_answers(self) -> StoredAnswers:
        """What withholds a stored answer from a reader who may no longer read its sources:
        every feature that returns stored answers' text is built with one."""
        a = self.adapters
        return StoredAnswers(a.store, ResolveReadScope(a.collection_store), a.tables)


def build_adapters(
    settings: Settings,
    database: PgDatabase | None,
    embedder: Embedder,
    reranker: Reranker | None,
) -> Adapters:
    presence = build_presence(settings, database)
    sentence_vectors = build_sentence_vectors(settings, embedder)
    # Chunks are embedded through the same file: text embedded once is not embedded again.
    documents: Embedder = (
        TextVectorCache(embedder, sentence_vectors) if sentence_vectors is not None else embedder
    )
    store, retriever = build_knowledge(settings, database, documents, reranker, presence)
    telemetry = Observability.from_environment(  # the OTEL_* variables
        os.environ, __version__, database_ping=database.ping if database is not None else None
    )
    app_stores = build_app_stores(settings, database, presence)
    tables, sql = build_tables(settings, database)
    lexicon = load_lexicon(settings)
    answer_pool = WorkerPool(settings.offline.answer_workers, settings.offline.answer_queue)
    planning = build_planning_processes(settings)
    models = PydanticAIModelResolver(
        model_config(settings.models, settings.providers),
        offline_factory=_offline_factory(
            settings, sql, store, embedder, sentence_vectors, lexicon, answer_pool, planning
        ),
        offline_admission=answer_pool.admit,
        on_failure=telemetry.metrics.model_failed,
    )
    jobs = build_job_queue(settings, database, presence)
    chunking = settings.chunking
    on_app = database if database is not None else settings.storage.app_db_path
    on_knowledge = database if database is not None else settings.storage.knowledge_db_path
    jobs.watch(on_failure=telemetry.metrics.job_failed, tracer=tracer_of(telemetry.tracer_provider))
    telemetry.metrics.watch_queue(jobs.store.waiting)
    return Adapters(
        store=store,
        embedder=documents,
        loader=FileLoader(ocr_options(settings.documents), input_budget(settings.documents)),
        chunker=HeadingChunker(chunk_tokens=chunking.tokens, overlap_tokens=chunking.overlap),
        retriever=retriever,
        telemetry=telemetry,
        observed_retriever=ObservedRetriever(
            retriever, telemetry.metrics, tracer_of(telemetry.tracer_provider)
        ),
        history=app_stores.history,
        tables=tables,
        sql=sql,
        models=models,
        api_keys=app_stores.api_keys,
        audit_log=app_stores.audit_log,
        jobs=jobs,
        prompt_store=app_stores.prompt_store,
        model_default_store=app_stores.model_default_store,
        dataset_store=app_stores.dataset_store,
        run_store=app_stores.run_store,
        advice_thread_store=app_stores.advice_threads,
        prompt_library_store=app_stores.prompt_library,
        response_log=app_stores.response_log,
        calibration_store=app_stores.calibration_store,
        answer_pool=answer_pool,
        database=database,
        planning=planning,
        presence=presence,
        shared_buckets=build_shared_buckets(settings, database),
        upload_ledger=build_upload_ledger(settings, database),
        scheduler=Scheduler(Schedules(on_app)),
        sentence_vectors=sentence_vectors,
        sentence_encoder=embedder if sentence_vectors is not None else None,
        cleaning_store=app_stores.cleaning,
        project_draft_store=app_stores.project_drafts,
        draft_chat_store=app_stores.draft_chats,
        chat_files=app_stores.chat_files,
        chat_file_bytes=build_chat_file_bytes(settings),
        summary_store=app_stores.conversation_summaries,
        chat_search_index=_chat_search_index(settings, database, embedder),
        source_store=SqlSourceStore(on_app),
        collection_store=SqlCollectionStore(on_knowledge),
    )


def _offline_factory(
    settings: Settings,
    sql: SqlRunnerAdapter,
    store: KnowledgeStoreAdapter,
    embedder: Embedder,
    sentence_vectors: SentenceVectorFile | None,
    lexicon: Lexicon,
    answer_pool: WorkerPool,
    planning: PlanningProcesses | None,
) -> Callable[[], Any]:
    """What builds the offline model when it is first asked for, over the tables' schemas,
    the knowledge base's vocabulary and the lexicon."""
    local = sentence_vectors is not None
    return lambda: build_offline_model(
        sql.schemas,
        embedder if local else None,
        KnowledgeVocabulary(
            store.vocabulary,
            lambda: store.state().generation,
            store.defining_texts,
            store.repeated_lines,
        ),
        lexicon,
        settings.offline.not_found_hint,
        answer_pool,
        planning,
        sentence_vectors=sentence_vectors,
        reader=build_reader(settings) if local else None,
    )


def model_config(models: ModelSettings, providers: ProviderSettings) -> ModelConfig:
    """How the model resolver picks and calls models: the models' settings, the providers'
    keys and addresses, and which other providers' keys the environment holds."""
    key = providers.openai_api_key
    return ModelConfig(
        default_model=models.default_model,
        allowed_models=models.allowed_model_list,
        openai_api_key=key.get_secret_value() if key else None,
        openai_base_url=providers.openai_base_url,
        timeout_s=providers.timeout,
        max_retries=providers.max_retries,
        provider_keys=provider_keys_present(os.environ),  # read by PydanticAI itself
        openai_default_model=models.openai_default_model,
        model_options=parse_model_options(models.options),
    )


def _chat_search_index(
    settings: Settings, database: PgDatabase | None, embedder: Embedder
) -> SqlChatSearchIndex:
    search = settings.conversation_search
    return SqlChatSearchIndex(
        database if database is not None else settings.storage.app_db_path,
        embedder,
        embed_batch=search.embed_batch,
        min_similarity=search.min_similarity,
    )


def ocr_options(documents: DocumentSettings) -> OcrOptions:
    """How the loaders read scans, from the OCR_* settings."""
    return OcrOptions(
        dpi=documents.ocr_dpi,
        min_confidence=documents.ocr_min_confidence,
        language=documents.ocr_language,
        max_pages=documents.ocr_max_pages,
        cpu_s=documents.ocr_cpu_seconds,
        workers=documents.ocr_workers,
    )


def input_budget(documents: DocumentSettings) -> InputBudget:
    """The loaders' input budget (services/budgets.py) with the limits the settings set."""
    return dataclasses.replace(
        BUDGET,
        max_workbook_cells=documents.max_workbook_cells,
        max_archive_members=documents.archive_max_members,
        max_archive_unpacked=documents.archive_max_unpacked_mb * 1024 * 1024,
        max_archive_ratio=documents.archive_max_ratio,
    )


def budgeted_loader(
    documents: DocumentSettings,
    *,
    memory_mb: int | None = None,
    memory_setting: str = "PARSE_MEMORY_MB",
    ocr: OcrOptions | None = None,
) -> BudgetedLoader:
    """The loaders in a child process under the parse budgets (an admin's upload, a chat
    attachment, each file of `almanac ingest`): a scan's OCR pages each grow the budget,
    within OCR's own CPU budget. `memory_mb` (named `memory_setting` in a refusal) lowers the
    memory limit and `ocr` replaces the OCR_* options (a user's attachment:
    CHAT_FILE_PARSE_MEMORY_MB, CHAT_FILE_OCR_MAX_PAGES)."""
    ocr = ocr or ocr_options(documents)
    return BudgetedLoader(
        functools.partial(FileLoader, ocr, input_budget(documents)),
        cpu_s=documents.parse_cpu_seconds,
        memory_bytes=(memory_mb or documents.parse_memory_mb) * 1024 * 1024,
        max_steps=ocr.max_pages,
        memory_setting=memory_setting,
    )
