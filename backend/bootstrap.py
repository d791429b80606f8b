"""The composition root: the one place that turns `Settings` into wired objects.

The FastAPI lifespan, the CLI and the tests all call `bootstrap()`; tests pass fakes for the
parts we do not own (embedder, reranker) through its keyword arguments.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from loguru import logger

from backend.answer_processes import build_planning_processes
from backend.components import build_embedder, build_sentence_vectors, load_lexicon
from backend.config import PROJECT_ROOT, Settings
from backend.sources import collect_sources
from backend.stores import open_database
from backend.stores.app import (
    AdviceThreadsAdapter,
    ApiKeyStoreAdapter,
    AuditLogAdapter,
    CalibrationStoreAdapter,
    DatasetStoreAdapter,
    HistoryStoreAdapter,
    ModelDefaultStoreAdapter,
    PromptStoreAdapter,
    ResponseLogAdapter,
    RunStoreAdapter,
    build_app_stores,
)
from backend.stores.jobs import JobQueueAdapter, build_job_queue, build_presence
from backend.stores.knowledge import KnowledgeStoreAdapter, RetrieverAdapter, build_knowledge
from backend.stores.tables import SqlRunnerAdapter, TableLoaderAdapter, build_tables
from services.calibration import MatplotlibDiagramRenderer, SklearnCalibrationFitter
from services.chat.models import (
    OFFLINE_MODEL,
    ModelConfig,
    PydanticAIModelResolver,
    provider_keys_present,
)
from services.chat.web_search import build_web_search
from services.clock import SystemClock
from services.compute import WorkerPool
from services.evaluation.judge import PydanticAIJudge
from services.evaluation.pricing import GenaiPricesPricing
from services.evaluation.report import MatplotlibHtmlReportRenderer
from services.knowledge.chunking import HeadingChunker
from services.knowledge.loaders import LOADERS_VERSION, FileLoader
from services.knowledge.reranker import CohereReranker
from services.offline import build_offline_model
from services.offline.conflict_scan import KnowledgeConflicts
from services.offline.prepared import SentencePreparer
from services.offline.processes import PlanningProcesses
from services.offline.semantic import SentenceSimilarity
from services.offline.sentence_store import SentenceVectorFile
from services.offline.vocabulary import KnowledgeVocabulary
from services.postgres import PgDatabase
from services.presence import Presence
from use_cases.access.audit import ListAuditEntries, RecordAudit
from use_cases.access.auth import (
    ActFor,
    Authenticate,
    CreateApiKey,
    EndSession,
    ListApiKeys,
    RevokeApiKey,
    StartSession,
)
from use_cases.admin.actions import (
    DropTableAsAdmin,
    IngestAsAdmin,
    LoadTableAsAdmin,
    RemoveDocumentAsAdmin,
)
from use_cases.admin.table_uploads import UploadTableAsAdmin
from use_cases.admin.uploads import UploadDocument, result_from_json
from use_cases.advice.agent import (
    ADVICE_PROMPT_VERSION,
    ADVICE_SYSTEM_PROMPT,
    ADVICE_TURN,
    AdviceDeps,
)
from use_cases.advice.give_advice import GiveAdvice
from use_cases.advice.manage_threads import ManageAdviceThreads
from use_cases.calibration.analytics import (
    AutoTunePhrases,
    DrawReliabilityDiagram,
    GetBrierScore,
    GetCalibrationReport,
    GetConfidenceStats,
    GetPhraseStatus,
    Recalibrate,
)
from use_cases.chat.agent import (
    CHAT_TURN,
    PROMPT_VERSION,
    SYSTEM_PROMPT,
    AgentDeps,
    AgentLimits,
    build_agent,
)
from use_cases.chat.chat_turns import ChatTurns
from use_cases.chat.manage_chats import ManageChats, SweepAbandonedTurns
from use_cases.chat.ports import WebSearch
from use_cases.chat.responses import ListRecentResponses, RecordFeedback, RecordResponse
from use_cases.chat.search_discipline import DecideSearch
from use_cases.confidence.estimator import rrf_score_ceiling
from use_cases.evaluation.answers import EvaluateAnswers
from use_cases.evaluation.assertions import Judge
from use_cases.evaluation.compare import CompareRuns
from use_cases.evaluation.engine import (
    ItemExecutor,
    Monotonic,
    ProviderRateLimits,
    RetryPolicy,
    Sleep,
)
from use_cases.evaluation.playground import RunPlayground
from use_cases.evaluation.report import RenderRunReport
from use_cases.evaluation.runs import BenchmarkRuns, ListRunnableModels, ManageDatasets, RunMetrics
from use_cases.evaluation.seed_calibration import SeedCalibrationFromEval
from use_cases.jobs.queue import EVAL_RUN, INGEST_UPLOAD, GetJob
from use_cases.knowledge.conflicts import ListConflicts
from use_cases.knowledge.documents import (
    GetDocument,
    GetKnowledgeStats,
    ListDocuments,
    Reindex,
    RemoveDocument,
)
from use_cases.knowledge.domain import IngestReport
from use_cases.knowledge.health import CheckHealth
from use_cases.knowledge.ingest import IngestDocuments, IngestPolicy, IngestRequest
from use_cases.knowledge.ports import Embedder, Reranker
from use_cases.knowledge.search import SearchKnowledgeBase
from use_cases.prompts.domain import ADVICE, CHAT, PromptDefault, PromptTypes
from use_cases.prompts.manage_prompts import ManagePrompts
from use_cases.prompts.model_defaults import ManageModelDefaults, ModelsForPromptType
from use_cases.shared.clock import Clock
from use_cases.shared.errors import ConfigurationError
from use_cases.tables.tables import (
    DropTable,
    ListTables,
    LoadTable,
    LoadTablesIfEmpty,
    RunSql,
    TableRows,
)

#: Upload jobs waiting or running (all processes) before an upload is refused (503).
MAX_PENDING_UPLOADS = 8
#: Evaluation runs one process executes at once (more wait in the job queue).
EVAL_RUNS_PER_PROCESS = 4


@dataclass
class CalibrationUseCases:
    """Everything the routes and the CLI call for the response log and calibration."""

    record_response: RecordResponse
    """What a chat or advice turn calls once it has its answer (see `RecordResponse`)."""
    feedback: RecordFeedback
    recent: ListRecentResponses
    stats: GetConfidenceStats
    brier: GetBrierScore
    calibration: GetCalibrationReport
    diagram: DrawReliabilityDiagram
    auto_tune: AutoTunePhrases
    phrase_status: GetPhraseStatus
    recalibrate: Recalibrate
    seed_from_eval: SeedCalibrationFromEval
    closers: tuple[Callable[[], None], ...] = field(default=(), repr=False)

    def close(self) -> None:
        for close in self.closers:
            close()


@dataclass
class Adapters:
    """The infrastructure the use cases are wired with: for the composition root (which
    closes it) and for tests that must look at stored state directly. The presentation layer
    (`backend/api`, `backend/cli`) never reads it; `tests/unit/test_presentation_boundary.py`
    checks that."""

    store: KnowledgeStoreAdapter
    embedder: Embedder
    loader: FileLoader
    retriever: RetrieverAdapter
    history: HistoryStoreAdapter
    tables: TableLoaderAdapter
    sql: SqlRunnerAdapter
    models: PydanticAIModelResolver
    api_keys: ApiKeyStoreAdapter
    audit_log: AuditLogAdapter
    jobs: JobQueueAdapter
    prompt_store: PromptStoreAdapter
    model_default_store: ModelDefaultStoreAdapter
    dataset_store: DatasetStoreAdapter
    run_store: RunStoreAdapter
    advice_thread_store: AdviceThreadsAdapter
    database: PgDatabase | None = None
    """The PostgreSQL pool every store shares (None on SQLite)."""
    answer_pool: WorkerPool | None = None
    """The worker threads the offline model answers on."""
    planning: PlanningProcesses | None = None
    """The processes those threads hand planning to, once a server enables them."""
    presence: Presence | None = None
    sentence_vectors: SentenceVectorFile | None = None
    """The offline model's sentence vectors on disk (None unless the local embedder is used)."""

    def close(self) -> None:
        self.jobs.close()
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
        if self.database is not None:
            self.database.close()
        if self.answer_pool is not None:
            self.answer_pool.close()
        if self.planning is not None:
            self.planning.close()
        if self.sentence_vectors is not None:
            self.sentence_vectors.close()
        if self.presence is not None:  # last: what this process owned has been ended
            self.presence.close()


@dataclass
class Container:
    """What the presentation layer may use: the settings and the use cases, nothing else."""

    settings: Settings
    # -- knowledge base
    ingest: IngestDocuments
    search: SearchKnowledgeBase
    list_documents: ListDocuments
    list_conflicts: ListConflicts
    get_document: GetDocument
    remove_document: RemoveDocument
    knowledge_stats: GetKnowledgeStats
    check_health: CheckHealth
    reindex: Reindex
    # -- structured tables
    list_tables: ListTables
    run_sql: RunSql
    load_tables_if_empty: LoadTablesIfEmpty
    # -- chat
    chat: ChatTurns
    chats: ManageChats
    sweep_turns: SweepAbandonedTurns
    """Marks answers a dead process left `streaming` as `interrupted` (run periodically)."""
    evaluate_answers: EvaluateAnswers
    # -- auth and audit
    audit: RecordAudit
    """`container.audit.record(actor, action, target, before=, after=)` for admin actions."""
    list_audit: ListAuditEntries
    authenticate: Authenticate
    start_session: StartSession
    end_session: EndSession
    create_key: CreateApiKey
    list_keys: ListApiKeys
    revoke_key: RevokeApiKey
    act_for: ActFor
    # -- admin actions
    admin_ingest: IngestAsAdmin
    admin_remove_document: RemoveDocumentAsAdmin
    admin_load_table: LoadTableAsAdmin
    drop_table: DropTableAsAdmin
    table_rows: TableRows
    upload_table: UploadTableAsAdmin
    upload_document: UploadDocument
    get_job: GetJob
    prompts: ManagePrompts
    model_defaults: ManageModelDefaults
    search_discipline: DecideSearch
    calibration: CalibrationUseCases
    """Response log, feedback, confidence analytics and recalibration (`build_calibration`)."""
    advice: GiveAdvice
    advice_threads: ManageAdviceThreads
    # -- evaluation runs
    datasets: ManageDatasets
    benchmark: BenchmarkRuns
    runnable_models: ListRunnableModels
    run_metrics: RunMetrics
    run_report: RenderRunReport
    compare_runs: CompareRuns
    playground: RunPlayground
    # -- composition root and tests only (see `Adapters`)
    adapters: Adapters = field(repr=False, kw_only=True)
    _closed: bool = field(default=False, repr=False, kw_only=True)

    def close(self) -> None:
        if not self._closed:
            self.list_conflicts.close()  # its scan reads the stores closed below
            self.calibration.close()
            self.adapters.close()
            self._closed = True


def build_reranker(settings: Settings) -> Reranker | None:
    if not settings.reranker_enabled:
        return None
    if settings.cohere_api_key is None:
        raise ConfigurationError("RERANKER_ENABLED=true needs COHERE_API_KEY.")
    return CohereReranker(
        settings.cohere_api_key.get_secret_value(),
        model=settings.reranker_model,
        timeout=settings.reranker_timeout,
        base_url=settings.cohere_base_url,
    )


def build_eval_judge(settings: Settings, models: PydanticAIModelResolver) -> Judge | None:
    """The LLM judge of evaluation runs (EVAL_JUDGE_MODEL), or None when none is set. A model
    that cannot be built (no key, unknown provider) stops start-up with a configuration error;
    the offline model cannot judge."""
    from services.chat.models import OFFLINE_MODEL

    identifier = settings.eval_judge_model.strip()
    if not identifier:
        return None
    if identifier == OFFLINE_MODEL:
        raise ConfigurationError(
            "EVAL_JUDGE_MODEL cannot be offline-extractive: it does not judge answers."
        )
    return PydanticAIJudge(models.build_unlisted(identifier), timeout_s=settings.agent_timeout)


def ingest_batch_chunks(settings: Settings) -> int:
    """Chunks embedded together during ingestion: large batches sort by length and pad little
    (measured: 256 -> 78, 1,024 -> 83 chunks/s end to end on 2 cores)."""
    return max(settings.embedding_batch_size * 16, 64)


def pipeline_signature(settings: Settings, embedder: Embedder) -> str:
    """Changes whenever re-ingesting the same bytes would give a different index."""
    return (
        f"chunks={settings.chunk_tokens}/{settings.chunk_overlap};"
        f"embedder={embedder.model}/{embedder.dimension};loaders={LOADERS_VERSION};v1"
    )


def bootstrap(
    settings: Settings | None = None,
    *,
    embedder: Embedder | None = None,
    reranker: Reranker | None = None,
    clock: Clock | None = None,
    sleep: Sleep = asyncio.sleep,
    monotonic: Monotonic = time.monotonic,
) -> Container:
    """`sleep` and `monotonic` time the evaluation runs' retries and rate limits (tests pass
    ones that do not wait)."""
    settings = settings or Settings()
    web_search = build_web_search(settings.web_search_provider)  # an unknown name stops here
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    embedder = embedder or build_embedder(settings)
    reranker = reranker if reranker is not None else build_reranker(settings)
    clock = clock or SystemClock()
    database = open_database(settings)
    try:
        return _wire(settings, database, embedder, reranker, clock, web_search, sleep, monotonic)
    except BaseException:
        if database is not None:
            database.close()
        raise


def _wire(
    settings: Settings,
    database: PgDatabase | None,
    embedder: Embedder,
    reranker: Reranker | None,
    clock: Clock,
    web_search: WebSearch | None,
    sleep: Sleep,
    monotonic: Monotonic,
) -> Container:
    presence = build_presence(settings, database)
    store, retriever = build_knowledge(settings, database, embedder, reranker, presence)
    app_stores = build_app_stores(settings, database, presence)
    loader = FileLoader()
    chunker = HeadingChunker(
        chunk_tokens=settings.chunk_tokens, overlap_tokens=settings.chunk_overlap
    )
    history = app_stores.history
    tables, sql = build_tables(settings, database)
    lexicon = load_lexicon(settings)
    sentence_vectors = build_sentence_vectors(settings, embedder)
    answer_pool = WorkerPool(settings.answer_workers, settings.answer_queue)
    planning = build_planning_processes(settings)
    models = PydanticAIModelResolver(
        ModelConfig(
            default_model=settings.default_model,
            allowed_models=settings.allowed_model_list,
            openai_api_key=settings.openai_api_key.get_secret_value()
            if settings.openai_api_key
            else None,
            openai_base_url=settings.openai_base_url,
            timeout_s=settings.provider_timeout,
            max_retries=settings.provider_max_retries,
            provider_keys=provider_keys_present(os.environ),  # read by PydanticAI itself
            openai_default_model=settings.openai_default_model,
        ),
        offline_factory=lambda: build_offline_model(
            sql.schemas,
            embedder if sentence_vectors is not None else None,
            KnowledgeVocabulary(store.vocabulary, lambda: store.state().generation),
            lexicon,
            settings.not_found_hint,
            answer_pool,
            planning,
            sentence_vectors=sentence_vectors,
        ),
        offline_admission=answer_pool.admit,
    )
    limits = AgentLimits(
        request_limit=settings.agent_request_limit,
        tool_retries=settings.agent_tool_retries,
        timeout_s=settings.agent_timeout,
    )
    agent = build_agent(CHAT_TURN, limits=limits)
    api_keys = app_stores.api_keys
    audit_log = app_stores.audit_log
    audit = RecordAudit(audit_log, clock)
    prompt_types = build_prompt_types(settings)
    prompt_store = app_stores.prompt_store
    prompts = ManagePrompts(prompt_types, prompt_store, audit, clock)
    model_default_store = app_stores.model_default_store

    def agent_deps() -> AgentDeps:
        return AgentDeps(
            retriever=retriever,
            sql=sql,
            clock=clock,
            search_limit=settings.final_results_limit,
            offload=answer_pool.run,
        )

    response_log = app_stores.response_log
    calibration_store = app_stores.calibration_store
    record_response = RecordResponse(
        response_log,
        calibration_store,
        clock,
        score_ceiling=rrf_score_ceiling(settings.rrf_k, settings.reranker_enabled),
    )
    chat = ChatTurns(
        agent,
        history,
        ModelsForPromptType(models, model_default_store, CHAT),
        agent_deps,
        clock,
        limits,
        history_window=settings.history_window,
        instructions=lambda: prompts.instructions(CHAT),
        max_message_chars=settings.max_message_chars,
        responses=record_response,
    )
    chats = ManageChats(history, response_log, store)
    advice = GiveAdvice(
        build_agent(ADVICE_TURN, limits=limits),
        ModelsForPromptType(models, model_default_store, ADVICE),
        lambda: AdviceDeps(
            retriever=retriever, sql=sql, clock=clock, search_limit=settings.final_results_limit
        ),
        clock,
        limits,
        instructions=lambda: prompts.instructions(ADVICE),
        history_window=settings.history_window,
        max_message_chars=settings.max_message_chars,
        max_conversation_messages=settings.max_conversation_messages,
        max_conversation_chars=settings.max_conversation_chars,
        responses=record_response,
        web_search=web_search,
        threads=app_stores.advice_threads,
    )
    advice_threads = ManageAdviceThreads(app_stores.advice_threads, response_log)
    ingest = IngestDocuments(
        store,
        loader,
        chunker,
        embedder,
        clock,
        pipeline_signature=pipeline_signature(settings, embedder),
        policy=IngestPolicy(
            max_document_chunks=settings.max_document_chunks,
            future_tolerance=timedelta(days=settings.future_date_tolerance_days),
            embed_batch_chunks=ingest_batch_chunks(settings),
        ),
        preparer=SentencePreparer(SentenceSimilarity(embedder, store=sentence_vectors))
        if sentence_vectors is not None and settings.prepare_sentences
        else None,
    )
    remove_document = RemoveDocument(store)
    admin_ingest = IngestAsAdmin(ingest, store, audit)
    jobs = build_job_queue(settings, database, presence)
    load_table = LoadTable(tables, sql)
    admin_load_table = LoadTableAsAdmin(load_table, audit)
    dataset_store = app_stores.dataset_store
    run_store = app_stores.run_store
    datasets, benchmark = build_eval_runs(
        settings,
        clock,
        audit,
        jobs,
        (dataset_store, run_store, prompt_store),
        (
            chat,
            chats,
            SearchKnowledgeBase(retriever, default_limit=settings.final_results_limit),
            RunSql(sql),
        ),
        models,
        sleep=sleep,
        monotonic=monotonic,
    )
    upload_document = UploadDocument(
        admin_ingest,
        store,
        jobs,
        max_bytes=settings.max_upload_bytes,
        job_bytes=settings.upload_job_bytes,
    )
    # One ingest at a time per process (CPU-bound); runs are mostly waiting on models.
    jobs.register(
        INGEST_UPLOAD,
        upload_document.run_job,
        concurrency=1,
        max_pending=MAX_PENDING_UPLOADS,
        decode=result_from_json,
    )
    jobs.register(EVAL_RUN, benchmark.run_job, concurrency=EVAL_RUNS_PER_PROCESS)
    adapters = Adapters(
        store=store,
        embedder=embedder,
        loader=loader,
        retriever=retriever,
        history=history,
        tables=tables,
        sql=sql,
        models=models,
        api_keys=api_keys,
        audit_log=audit_log,
        jobs=jobs,
        prompt_store=prompt_store,
        model_default_store=model_default_store,
        dataset_store=dataset_store,
        run_store=run_store,
        advice_thread_store=app_stores.advice_threads,
        database=database,
        answer_pool=answer_pool,
        planning=planning,
        presence=presence,
        sentence_vectors=sentence_vectors,
    )
    authenticate = Authenticate(
        api_keys, clock, enabled=settings.auth_enabled, local_user_id=settings.default_user_id
    )
    return Container(
        settings=settings,
        ingest=ingest,
        search=SearchKnowledgeBase(retriever, default_limit=settings.final_results_limit),
        list_documents=ListDocuments(store),
        list_conflicts=ListConflicts(
            KnowledgeConflicts(
                store,
                retriever,
                SentenceSimilarity(embedder, store=sentence_vectors)
                if sentence_vectors is not None
                else None,
            ),
            lambda: store.state().generation,
            clock,
            on_error=lambda exc: logger.opt(exception=exc).error("Conflict scan failed"),
        ),
        get_document=GetDocument(store),
        remove_document=remove_document,
        knowledge_stats=GetKnowledgeStats(store),
        check_health=CheckHealth(store, embedder),
        reindex=Reindex(store, embedder, batch_size=max(settings.embedding_batch_size * 4, 64)),
        list_tables=ListTables(tables),
        table_rows=TableRows(tables, sql),
        drop_table=DropTableAsAdmin(DropTable(tables, sql), audit),
        run_sql=RunSql(sql),
        load_tables_if_empty=LoadTablesIfEmpty(load_table, tables),
        chat=chat,
        chats=chats,
        sweep_turns=SweepAbandonedTurns(history, clock, turn_limit_s=settings.agent_timeout),
        evaluate_answers=EvaluateAnswers(chat, chats),
        audit=audit,
        list_audit=ListAuditEntries(audit_log),
        authenticate=authenticate,
        start_session=StartSession(
            api_keys, clock, authenticate, lifetime=timedelta(hours=settings.session_hours)
        ),
        end_session=EndSession(api_keys, clock),
        create_key=CreateApiKey(api_keys, history, audit, clock),
        list_keys=ListApiKeys(api_keys),
        revoke_key=RevokeApiKey(api_keys, audit, clock),
        act_for=ActFor(audit),
        admin_ingest=admin_ingest,
        admin_remove_document=RemoveDocumentAsAdmin(remove_document, store, audit),
        admin_load_table=admin_load_table,
        upload_table=UploadTableAsAdmin(admin_load_table, max_bytes=settings.max_upload_bytes),
        upload_document=upload_document,
        get_job=GetJob(jobs),
        prompts=prompts,
        model_defaults=ManageModelDefaults(prompt_types, model_default_store, models, audit, clock),
        search_discipline=DecideSearch(web_search, max_query_chars=settings.max_message_chars),
        calibration=build_calibration(
            settings,
            clock,
            audit,
            EvaluateAnswers(chat, chats),
            (response_log, calibration_store, record_response),
        ),
        advice=advice,
        advice_threads=advice_threads,
        datasets=datasets,
        benchmark=benchmark,
        runnable_models=ListRunnableModels(models),
        run_metrics=RunMetrics(benchmark),
        run_report=RenderRunReport(benchmark, MatplotlibHtmlReportRenderer()),
        compare_runs=CompareRuns(benchmark),
        playground=RunPlayground(
            agent,
            prompts,
            ModelsForPromptType(models, model_default_store, CHAT),
            agent_deps,
            clock,
            limits,
            pricing=GenaiPricesPricing(),
            max_message_chars=settings.max_message_chars,
        ),
        adapters=adapters,
    )


def build_eval_runs(
    settings: Settings,
    clock: Clock,
    audit: RecordAudit,
    jobs: JobQueueAdapter,
    stores: tuple[DatasetStoreAdapter, RunStoreAdapter, PromptStoreAdapter],
    use_cases: tuple[ChatTurns, ManageChats, SearchKnowledgeBase, RunSql],
    models: PydanticAIModelResolver,
    *,
    sleep: Sleep = asyncio.sleep,
    monotonic: Monotonic = time.monotonic,
) -> tuple[ManageDatasets, BenchmarkRuns]:
    """Evaluation datasets and runs: the engine runs cases through the real chat turns."""
    dataset_store, run_store, prompt_store = stores
    chat, chats, search, run_sql = use_cases
    datasets = ManageDatasets(
        dataset_store, clock, audit, bundled_dir=PROJECT_ROOT / "sample_data" / "eval"
    )
    executor = ItemExecutor(
        chat,
        chats,
        search,
        run_sql,
        pricing=GenaiPricesPricing(),
        judge=build_eval_judge(settings, models),
        limits=ProviderRateLimits(
            settings.eval_rate_limit_per_minute, monotonic=monotonic, sleep=sleep
        ),
        retry=RetryPolicy(
            max_attempts=settings.eval_max_attempts,
            backoff_seconds=settings.eval_backoff_seconds,
            backoff_max_seconds=settings.eval_backoff_max_seconds,
        ),
        sleep=sleep,
    )
    benchmark = BenchmarkRuns(
        datasets,
        run_store,
        executor,
        chat,
        prompt_store,
        clock,
        audit,
        jobs,
        default_concurrency=settings.eval_concurrency,
    )
    return datasets, benchmark


def build_calibration(
    settings: Settings,
    clock: Clock,
    audit: RecordAudit,
    evaluate: EvaluateAnswers,
    logging_parts: tuple[ResponseLogAdapter, CalibrationStoreAdapter, RecordResponse],
) -> CalibrationUseCases:
    """The calibration use cases on the response log that chat turns already write to."""
    log, store, record = logging_parts
    recalibrate = Recalibrate(
        log,
        store,
        SklearnCalibrationFitter(),
        clock,
        audit,
        method=settings.recalibration_method,
        min_feedback=settings.recalibration_min_feedback,
        holdout=settings.recalibration_holdout,
        auto=settings.recalibration_auto,
    )
    return CalibrationUseCases(
        record_response=record,
        feedback=RecordFeedback(log, clock, recalibration=recalibrate),
        recent=ListRecentResponses(log),
        stats=GetConfidenceStats(log, clock),
        brier=GetBrierScore(log, clock),
        calibration=GetCalibrationReport(log, clock),
        diagram=DrawReliabilityDiagram(log, clock, MatplotlibDiagramRenderer()),
        auto_tune=AutoTunePhrases(log, store, clock, audit),
        phrase_status=GetPhraseStatus(store, recalibrate),
        recalibrate=recalibrate,
        seed_from_eval=SeedCalibrationFromEval(evaluate, record, log, recalibrate, clock),
        closers=(log.close, store.close),
    )


def build_prompt_types(settings: Settings) -> PromptTypes:
    """The prompt types and their defaults. `chat`: SYSTEM_PROMPT if set, else the built-in
    prompt; `advice`: the built-in advice prompt. (A new type is one more entry here.)"""
    configured = (settings.system_prompt or "").strip()
    chat_default = (
        PromptDefault(configured, source="setting")
        if configured
        else PromptDefault(SYSTEM_PROMPT, source="built-in", revision=PROMPT_VERSION)
    )
    advice_default = PromptDefault(
        ADVICE_SYSTEM_PROMPT, source="built-in", revision=ADVICE_PROMPT_VERSION
    )
    return PromptTypes({CHAT: chat_default, ADVICE: advice_default})


#: Seconds a server waits for its planning processes before it serves (planning runs on
#: threads until they are ready).
PLANNING_START_S = 60.0


def prepare_to_serve(container: Container) -> None:
    """What a server does once before its first request: load the bundled sample into an
    empty knowledge base (if enabled) and the resident vector index into memory (and, for a
    large knowledge base, start building the resident BM25 index in the background), start this
    process's job worker (it also runs jobs other replicas queued, or left behind), and, with
    ANSWER_PROCESSES, its planning processes (spawned first, so they start meanwhile)."""
    planning = container.adapters.planning
    if planning is not None:  # spawned now when offline answers are the default, else lazily
        planning.enable(start_now=container.adapters.models.default_identifier == OFFLINE_MODEL)
    load_sample_data_if_empty(container)
    container.adapters.retriever.warm_up(wait=False)  # vectors now; BM25 copy in background
    container.adapters.jobs.start()
    if planning is not None:  # they started meanwhile; serve at full strength from the start
        planning.wait_ready(PLANNING_START_S)


#: Advisory lock key held while a first start loads the sample (replicas starting together).
SAMPLE_LOAD_LOCK = 0x41_6C_6D_53_61_6D_70  # "AlmSamp"


def load_sample_data_if_empty(container: Container) -> IngestReport | None:
    """First start: fill an empty knowledge base and an empty tables DB with the bundled
    sample (if enabled). On PostgreSQL, replicas starting together take turns: the first loads
    it, the others then find it there."""
    if not container.settings.load_sample_data:
        return None
    database = container.adapters.database
    if database is None:
        return _load_sample_data_if_empty(container)
    with database.advisory_lock(SAMPLE_LOAD_LOCK):
        return _load_sample_data_if_empty(container)


def _load_sample_data_if_empty(container: Container) -> IngestReport | None:
    settings = container.settings
    load_sample_tables_if_empty(container)
    if container.knowledge_stats.run().documents > 0:
        return None
    sample = Path(settings.sample_data_dir)
    if not sample.is_dir():
        logger.warning("Sample knowledge base not found at {}; starting empty.", sample)
        return None
    logger.info("Empty knowledge base: ingesting the bundled sample from {}", sample)
    sources = collect_sources([sample], container.ingest)
    report = container.ingest.run(IngestRequest(sources=sources))
    logger.info(
        "Sample ingested: {} documents, {} chunks, {} failed",
        report.count("added"),
        report.chunks_written,
        len(report.failed),
    )
    return report


def load_sample_tables_if_empty(container: Container) -> None:
    directory = Path(container.settings.sample_tables_dir)
    if not directory.is_dir():
        return
    loaded = container.load_tables_if_empty.run(sorted(directory.glob("*.csv")))
    if loaded:
        logger.info("Sample tables loaded: {}", ", ".join(t.name for t in loaded))
