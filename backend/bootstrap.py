"""The composition root: the one place that turns `Settings` into wired objects.

The FastAPI lifespan, the CLI and the tests all call `bootstrap()`; tests pass fakes for the
parts we do not own (embedder, reranker) through its keyword arguments. It builds the
adapters (`backend/features/adapters.py`), then each feature's use cases with that feature's
own `build()` (`backend/features/<feature>.py`), and assembles them into the `Container`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from loguru import logger

from backend.components import build_embedder
from backend.config import Settings
from backend.features import (
    access,
    admin,
    advice,
    calibration,
    chat,
    cleaning,
    container_fields,
    conversation_drafts,
    conversation_files,
    conversation_import,
    conversation_search,
    evaluation,
    knowledge,
    prompts,
    tables,
)
from backend.features.adapters import Adapters, Wiring, build_adapters
from backend.features.calibration import CalibrationUseCases
from backend.features.conversation_import import ConversationImport
from backend.sources import collect_sources
from backend.stores import open_database
from services.chat.models import OFFLINE_MODEL
from services.chat.web_search import build_web_search
from services.clock import SystemClock
from services.knowledge.reranker import CohereReranker
from services.observability import Observability
from use_cases.access.audit import ListAuditEntries, RecordAudit
from use_cases.access.auth import (
    ActFor,
    Authenticate,
    CreateApiKey,
    EndSession,
    ListApiKeys,
    RemoveExpiredSessions,
    RevokeApiKey,
    StartSession,
)
from use_cases.access.oidc import SignInWithProvider
from use_cases.admin.actions import (
    DropTableAsAdmin,
    IngestAsAdmin,
    LoadTableAsAdmin,
    RemoveDocumentAsAdmin,
)
from use_cases.admin.erase_user import EraseUserData
from use_cases.admin.table_uploads import UploadTableAsAdmin
from use_cases.admin.uploads import UploadDocument
from use_cases.advice.give_advice import GiveAdvice
from use_cases.advice.manage_threads import ManageAdviceThreads
from use_cases.chat.agent import AgentLimits
from use_cases.chat.chat_turns import ChatTurns
from use_cases.chat.manage_chats import ManageChats, SweepAbandonedTurns
from use_cases.chat.search_discipline import DecideSearch
from use_cases.cleaning.results import CleaningMetrics, RenderCleaningReport
from use_cases.cleaning.runs import CleaningRuns
from use_cases.cleaning.tasks import CleaningTasks
from use_cases.conversations.draft_chat import DraftChat, TrackProject
from use_cases.conversations.drafts import (
    DraftProject,
    EditDraft,
    ManageDraftVersions,
    UpdateDraftByTurn,
)
from use_cases.conversations.files import AttachFile, GetFile, ListFiles, ReadFile, RemoveFile
from use_cases.conversations.search import SearchChats
from use_cases.conversations.summaries import ManageSummaries
from use_cases.evaluation.answers import EvaluateAnswers
from use_cases.evaluation.compare import CompareRuns
from use_cases.evaluation.dataset_items import EditDatasets
from use_cases.evaluation.datasets import ManageDatasets
from use_cases.evaluation.engine import Monotonic, Sleep
from use_cases.evaluation.playground import RunPlayground
from use_cases.evaluation.prompt_versions import EvaluatePromptVersions
from use_cases.evaluation.report import RenderRunReport
from use_cases.evaluation.runs import BenchmarkRuns, ListRunnableModels, RunMetrics
from use_cases.jobs.queue import GetJob
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
from use_cases.knowledge.ingest import IngestDocuments, IngestRequest
from use_cases.knowledge.ports import Embedder, Reranker
from use_cases.knowledge.search import SearchKnowledgeBase
from use_cases.prompts.library import ManagePromptLibrary
from use_cases.prompts.manage_prompts import ManagePrompts
from use_cases.prompts.model_defaults import ManageModelDefaults
from use_cases.shared.clock import Clock
from use_cases.shared.errors import ConfigurationError
from use_cases.tables.tables import ListTables, LoadTablesIfEmpty, RunSql, TableRows

__all__ = [
    "Adapters",
    "Container",
    "bootstrap",
    "load_sample_data_if_empty",
    "prepare_to_serve",
]


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
    cleanup_sessions: RemoveExpiredSessions
    create_key: CreateApiKey
    list_keys: ListApiKeys
    revoke_key: RevokeApiKey
    act_for: ActFor
    oidc_sign_in: SignInWithProvider
    """Signing in with an OpenID Connect provider (set up with OIDC_CLIENT_ID)."""
    # -- admin actions
    admin_ingest: IngestAsAdmin
    admin_remove_document: RemoveDocumentAsAdmin
    admin_load_table: LoadTableAsAdmin
    drop_table: DropTableAsAdmin
    table_rows: TableRows
    upload_table: UploadTableAsAdmin
    upload_document: UploadDocument
    get_job: GetJob
    erase_user: EraseUserData
    prompts: ManagePrompts
    model_defaults: ManageModelDefaults
    search_discipline: DecideSearch
    calibration: CalibrationUseCases
    """Response log, feedback, confidence analytics and recalibration."""
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
    # -- the prompt library (projects, use cases, prompts, versions) and its evaluations
    prompt_library: ManagePromptLibrary
    prompt_evaluations: EvaluatePromptVersions
    dataset_edits: EditDatasets
    # -- data-cleaning benchmarks
    cleaning_tasks: CleaningTasks
    cleaning_runs: CleaningRuns
    cleaning_metrics: CleaningMetrics
    cleaning_report: RenderCleaningReport
    # -- conversations' project drafts
    draft_project: DraftProject
    update_draft: UpdateDraftByTurn
    edit_draft: EditDraft
    draft_versions: ManageDraftVersions
    draft_chat: DraftChat
    tracked_projects: TrackProject
    # -- files attached to a chat (issue 28)
    attach_file: AttachFile
    list_files: ListFiles
    get_file: GetFile
    read_file: ReadFile
    remove_file: RemoveFile
    # -- conversations: summaries and search across chats
    conversation_summaries: ManageSummaries
    search_chats: SearchChats
    # -- conversations
    conversation_import: ConversationImport
    """Share links, export files and Slack threads into the users' chats."""
    # -- what the HTTP edge reports to operators: /metrics, traces (docs/operations.md)
    observability: Observability = field(repr=False, kw_only=True)
    # -- composition root and tests only (see `Adapters`)
    adapters: Adapters = field(repr=False, kw_only=True)
    _closed: bool = field(default=False, repr=False, kw_only=True)

    def close(self) -> None:
        if not self._closed:
            self.list_conflicts.close()  # its scan reads the stores closed below
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
        adapters = build_adapters(settings, database, embedder, reranker)
    except BaseException:
        if database is not None:
            database.close()
        raise
    try:
        return _assemble(
            Wiring(settings, adapters, clock, web_search, agent_limits(settings)),
            sleep=sleep,
            monotonic=monotonic,
        )
    except BaseException:
        adapters.close()  # the database too
        raise


def agent_limits(settings: Settings) -> AgentLimits:
    return AgentLimits(
        request_limit=settings.agent_request_limit,
        tool_retries=settings.agent_tool_retries,
        timeout_s=settings.agent_timeout,
    )


def _assemble(w: Wiring, *, sleep: Sleep, monotonic: Monotonic) -> Container:
    """Each feature's use cases, built once in the order they depend on each other."""
    access_ = access.build(w)
    prompts_ = prompts.build(w, access_)
    knowledge_ = knowledge.build(w)
    tables_ = tables.build(w)
    files_ = conversation_files.build(w, prompts_)
    chat_ = chat.build(w, prompts_, files_)
    advice_ = advice.build(w, prompts_, chat_)
    admin_ = admin.build(w, access_, knowledge_, tables_, chat_)
    cleaning_ = cleaning.build(w, access_)
    evaluation_ = evaluation.build(
        w,
        access_,
        prompts_,
        knowledge_,
        tables_,
        chat_,
        cleaners=cleaning_.cleaning_runs.cleaners,
        sleep=sleep,
        monotonic=monotonic,
    )
    calibration_ = calibration.build(w, access_, chat_, evaluation_)
    conversation_drafts_ = conversation_drafts.build(w, prompts_)
    conversation_search_ = conversation_search.build(w, prompts_)
    conversation_import_ = conversation_import.build(
        w, summarise=conversation_search_.conversation_summaries.summarise
    )
    return Container(
        settings=w.settings,
        **container_fields(
            access_,
            prompts_,
            knowledge_,
            tables_,
            chat_,
            advice_,
            admin_,
            evaluation_,
            calibration_,
            cleaning_,
            conversation_drafts_,
            files_,
            conversation_search_,
            conversation_import_,
        ),
        observability=w.adapters.telemetry,
        adapters=w.adapters,
    )


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
