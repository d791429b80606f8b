"""Data-cleaning benchmarks (`use_cases/cleaning`): clean tables, tasks, runs, metrics."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from backend.config import PROJECT_ROOT, CleaningSettings
from backend.features.access import AccessUseCases
from backend.features.adapters import Wiring
from services.chat.models import OFFLINE_MODEL
from services.cleaning.agent_cleaner import AgentCleaner
from services.cleaning.cleaners import CleanerRegistry
from services.cleaning.report import SvgCleaningReportRenderer
from services.cleaning.tables import CsvTableSource
from services.evaluation.pricing import GenaiPricesPricing
from use_cases.cleaning.ports import Cleaner
from use_cases.cleaning.results import CleaningMetrics, RenderCleaningReport
from use_cases.cleaning.runs import CLEANING_RUN, CleaningRuns
from use_cases.cleaning.tasks import CleaningTasks
from use_cases.jobs.queue import QueueLimits
from use_cases.shared.errors import InvalidRequest

#: Cleaning runs one process executes at once (more wait in the job queue).
CLEANING_RUNS_PER_PROCESS = 2
#: Cleaning runs queued or running (all processes) before a start is refused (503): 8 of all
#: admins', 2 of one admin's.
CLEANING_RUN_LIMITS = QueueLimits("cleaning runs", max_pending=8, per_user=2, retry_after_s=60)
REAL_TABLES_DIR = PROJECT_ROOT / "sample_data" / "cleaning"


@dataclass(frozen=True)
class CleaningUseCases:
    cleaning_tasks: CleaningTasks
    cleaning_runs: CleaningRuns
    cleaning_metrics: CleaningMetrics
    cleaning_report: RenderCleaningReport


def agent_cleaners(w: Wiring, settings: CleaningSettings) -> Callable[[str], tuple[str, Cleaner]]:
    """A cleaner per allowed model (built once each): a PydanticAI agent on the model the chat
    would use for that name. The offline answer model cannot clean: `offline-rules` does."""
    models = w.adapters.models
    pricing = GenaiPricesPricing()
    built: dict[str, Cleaner] = {}

    def cleaner(name: str) -> tuple[str, Cleaner]:
        resolved = models.resolve(name)  # InvalidRequest: not allowed; ConfigurationError: no key
        if resolved.identifier == OFFLINE_MODEL:
            raise InvalidRequest(
                f"{OFFLINE_MODEL!r} answers questions and cannot clean tables; use "
                "'offline-rules' or an LLM."
            )
        if resolved.identifier not in built:
            built[resolved.identifier] = AgentCleaner(
                resolved.identifier,
                resolved.model,
                sample_rows=settings.sample_rows,
                price=pricing.cost_usd,
            )
        return resolved.identifier, built[resolved.identifier]

    return cleaner


def build(
    w: Wiring, access: AccessUseCases, settings: CleaningSettings, sample_tables_dir: Path
) -> CleaningUseCases:
    """`sample_tables_dir`: the tables the cleaning tasks are made from (SAMPLE_TABLES_DIR)."""
    a = w.adapters
    tasks = CleaningTasks(CsvTableSource(sample_tables_dir, REAL_TABLES_DIR))
    runs = CleaningRuns(
        tasks,
        a.cleaning_store,
        CleanerRegistry(agent_cleaners(w, settings)),
        w.clock,
        access.audit,
        a.jobs,
        time.monotonic,
        default_concurrency=settings.concurrency,
        timeout_s=settings.timeout,
        limits=CLEANING_RUN_LIMITS,
    )
    a.jobs.register(CLEANING_RUN, runs.run_job, concurrency=CLEANING_RUNS_PER_PROCESS)
    return CleaningUseCases(
        cleaning_tasks=tasks,
        cleaning_runs=runs,
        cleaning_metrics=CleaningMetrics(runs),
        cleaning_report=RenderCleaningReport(runs, SvgCleaningReportRenderer()),
    )
