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

from backend.components import build_embedder, build_reranker
from backend.config import ModelSettings, Settings
from backend.features import (
    access,
    admin,
    advice,
    calibration,
    chat,
    cleaning,
    conversation_drafts,
    conversation_files,
    conversation_import,
    conversation_search,
    evaluation,
    knowledge,
    prompts,
    sources,
    tables,
)
from backend.features.access import AccessUseCases
from backend.features.adapters import Adapters, Wiring, build_adapters
from backend.features.admin import AdminUseCases
from backend.features.advice import AdviceUseCases
from backend.features.calibration import CalibrationUseCases
from backend.features.chat import ChatUseCases
from backend.features.cleaning import CleaningUseCases
from backend.features.conversation_drafts import ConversationDraftUseCases
from backend.features.conversation_files import ConversationFileUseCases
from backend.features.conversation_import import ConversationImport
from backend.features.conversation_search import ConversationSearchUseCases
from backend.features.evaluation import EvaluationUseCases
from backend.features.knowledge import KnowledgeUseCases
from backend.features.prompts import PromptUseCases
from backend.features.sources import SourceUseCases
from backend.features.tables import TableUseCases
from backend.sources import collect_sources
from backend.stores import open_database
from backend.stores.jobs import JobQueueAdapter
from services.chat.models import OFFLINE_MODEL
from services.chat.web_search import build_web_search
from services.clock import SystemClock
from services.observability import Observability
from use_cases.chat.agent import AgentLimits
from use_cases.evaluation.engine import Monotonic, Sleep
from use_cases.knowledge.domain import IngestReport
from use_cases.knowledge.ingest import IngestRequest
from use_cases.knowledge.ports import Embedder, Reranker
from use_cases.shared.clock import Clock

__all__ = [
    "Adapters",
    "Container",
    "bootstrap",
    "load_sample_data_if_empty",
    "prepare_to_serve",
    "start_job_worker",
]


@dataclass
class Container:
    """What the presentation layer may use: the settings and each feature's use cases, one
    bundle per feature (`container.knowledge.search`, `container.chat.chats`, ...). A bundle's
    fields marked `field(metadata=INTERNAL)` are for other features, not for routes or commands."""

    settings: Settings
    access: AccessUseCases
    """Authentication, sessions, API keys, acting for users, the audit log
    (`container.access.audit.record(actor, action, target, before=, after=)`)."""
    prompts: PromptUseCases
    """The prompts per prompt type, the model defaults and the prompt library."""
    knowledge: KnowledgeUseCases
    """Ingest, search, documents, conflicts, health and reindexing of the knowledge base."""
    tables: TableUseCases
    """The structured tables and the read-only SQL over them."""
    conversation_files: ConversationFileUseCases
    """Files attached to a chat."""
    chat: ChatUseCases
    """Chat turns, the users' chats and the sweep that marks answers a dead process left
    `streaming` as `interrupted` (run periodically)."""
    advice: AdviceUseCases
    admin: AdminUseCases
    """Admin actions (ingest, removal, table loads, uploads), background jobs, erasing a user."""
    cleaning: CleaningUseCases
    """Data-cleaning benchmarks."""
    evaluation: EvaluationUseCases
    """Evaluation datasets, runs, reports, comparisons, the playground and prompt evaluations."""
    calibration: CalibrationUseCases
    """Response log, feedback, confidence analytics and recalibration."""
    conversation_drafts: ConversationDraftUseCases
    """Conversations' project drafts."""
    conversation_search: ConversationSearchUseCases
    """Conversation summaries and search across chats."""
    conversation_import: ConversationImport
    """Share links, export files and Slack threads into the users' chats."""
    sources: SourceUseCases
    """Synced sources (folders, S3 buckets): declared, synced now or on a schedule."""
    # -- what the HTTP edge reports to operators: /metrics, traces (docs/operations.md)
    observability: Observability = field(repr=False, kw_only=True)
    # -- composition root and tests only (see `Adapters`)
    adapters: Adapters = field(repr=False, kw_only=True)
    _closed: bool = field(default=False, repr=False, kw_only=True)

    def close(self) -> None:
        if not self._closed:
            self.knowledge.list_conflicts.close()  # its scan reads the stores closed below
            if self.knowledge.scan_conflicts is not None:
                self.knowledge.scan_conflicts.close()
            self.adapters.close()
            self._closed = True


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
    web_search = build_web_search(
        settings.providers.web_search_provider
    )  # an unknown name stops here
    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
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
            Wiring(adapters, clock, web_search, agent_limits(settings.models)),
            settings,
            sleep=sleep,
            monotonic=monotonic,
        )
    except BaseException:
        adapters.close()  # the database too
        raise


def agent_limits(settings: ModelSettings) -> AgentLimits:
    return AgentLimits(
        request_limit=settings.agent_request_limit,
        tool_retries=settings.agent_tool_retries,
        timeout_s=settings.agent_timeout,
    )


def _knowledge(w: Wiring, settings: Settings) -> KnowledgeUseCases:
    """The knowledge feature, given the six groups it reads (parsing limits, embeddings,
    chunking, retrieval, the offline answerer's preparation, the conflict scan's schedule)."""
    return knowledge.build(
        w,
        documents=settings.documents,
        embeddings=settings.embeddings,
        chunking=settings.chunking,
        retrieval=settings.retrieval,
        offline=settings.offline,
        jobs=settings.jobs,
    )


def _assemble(w: Wiring, settings: Settings, *, sleep: Sleep, monotonic: Monotonic) -> Container:
    """Each feature's use cases, built once in the order they depend on each other. Each
    feature is given the settings groups it reads, not the whole `Settings` (but sources,
    whose plugin kinds read their own settings from it)."""
    access_ = access.build(w, settings.auth)
    prompts_ = prompts.build(w, access_, settings.chat)
    knowledge_ = _knowledge(w, settings)
    tables_ = tables.build(w)
    files_ = conversation_files.build(
        w,
        prompts_,
        settings=settings.chat_files,
        documents=settings.documents,
        retrieval=settings.retrieval,
    )
    chat_ = chat.build(
        w,
        prompts_,
        files_,
        settings=settings.chat,
        retrieval=settings.retrieval,
        mcp_tools=settings.mcp_tools,
    )
    advice_ = advice.build(
        w, prompts_, chat_, chat_settings=settings.chat, retrieval=settings.retrieval
    )
    admin_ = admin.build(w, access_, knowledge_, tables_, chat_, settings.documents)
    cleaning_ = cleaning.build(
        w, access_, settings.cleaning, settings.knowledge_base.sample_tables_dir
    )
    evaluation_ = evaluation.build(
        w,
        access_,
        prompts_,
        knowledge_,
        tables_,
        chat_,
        settings=settings.evaluation,
        chat_settings=settings.chat,
        cleaners=cleaning_.cleaning_runs.cleaners,
        sleep=sleep,
        monotonic=monotonic,
    )
    calibration_ = calibration.build(w, access_, chat_, evaluation_, settings.calibration)
    conversation_drafts_ = conversation_drafts.build(
        w, prompts_, settings=settings.drafts, chat=settings.chat
    )
    conversation_search_ = conversation_search.build(w, prompts_, settings.conversation_search)
    conversation_import_ = conversation_import.build(
        w,
        settings=settings.conversation_import,
        documents=settings.documents,
        summarise=conversation_search_.conversation_summaries.summarise,
    )
    sources_ = sources.build(w, access_, knowledge_, settings)
    return Container(
        settings=settings,
        access=access_,
        prompts=prompts_,
        knowledge=knowledge_,
        tables=tables_,
        conversation_files=files_,
        chat=chat_,
        advice=advice_,
        admin=admin_,
        cleaning=cleaning_,
        evaluation=evaluation_,
        calibration=calibration_,
        conversation_drafts=conversation_drafts_,
        conversation_search=conversation_search_,
        conversation_import=conversation_import_,
        sources=sources_,
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
    start_job_worker(container)  # none with RUN_JOBS=false (`almanac serve --no-jobs`)
    if planning is not None:  # they started meanwhile; serve at full strength from the start
        planning.wait_ready(PLANNING_START_S)


def start_job_worker(container: Container) -> JobQueueAdapter:
    """Start this process's job worker (the kinds JOB_KINDS names, or all; none in a process
    that only queues jobs), after checking the kinds asked for exist."""
    jobs = container.adapters.jobs
    jobs.check_kinds()
    jobs.start()
    scheduler = container.adapters.scheduler
    if jobs.runs_jobs and scheduler is not None:
        scheduler.start()  # periodic work (CONFLICT_SCAN_INTERVAL_SECONDS), once per cluster
    return jobs


#: Advisory lock key held while a first start loads the sample (replicas starting together).
SAMPLE_LOAD_LOCK = 0x41_6C_6D_53_61_6D_70  # "AlmSamp"


def load_sample_data_if_empty(container: Container) -> IngestReport | None:
    """First start: fill an empty knowledge base and an empty tables DB with the bundled
    sample (if enabled). On PostgreSQL, replicas starting together take turns: the first loads
    it, the others then find it there."""
    if not container.settings.knowledge_base.load_sample_data:
        return None
    database = container.adapters.database
    if database is None:
        return _load_sample_data_if_empty(container)
    with database.advisory_lock(SAMPLE_LOAD_LOCK):
        return _load_sample_data_if_empty(container)


def _load_sample_data_if_empty(container: Container) -> IngestReport | None:
    settings = container.settings
    load_sample_tables_if_empty(container)
    if container.knowledge.knowledge_stats.run().documents > 0:
        return None
    sample = Path(settings.knowledge_base.sample_data_dir)
    if not sample.is_dir():
        logger.warning("Sample knowledge base not found at {}; starting empty.", sample)
        return None
    logger.info("Empty knowledge base: ingesting the bundled sample from {}", sample)
    sources = collect_sources([sample], container.knowledge.ingest)
    report = container.knowledge.ingest.run(IngestRequest(sources=sources))
    logger.info(
        "Sample ingested: {} documents, {} chunks, {} failed",
        report.count("added"),
        report.chunks_written,
        len(report.failed),
    )
    return report


def load_sample_tables_if_empty(container: Container) -> None:
    directory = Path(container.settings.knowledge_base.sample_tables_dir)
    if not directory.is_dir():
        return
    loaded = container.tables.load_tables_if_empty.run(sorted(directory.glob("*.csv")))
    if loaded:
        logger.info("Sample tables loaded: {}", ", ".join(t.name for t in loaded))
