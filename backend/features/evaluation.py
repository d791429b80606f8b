"""Evaluation: answer checks, datasets and benchmark runs, metrics, reports, comparisons and
the prompt playground (`use_cases/evaluation`)."""

from __future__ import annotations

from dataclasses import dataclass

from backend.config import PROJECT_ROOT, ChatSettings, EvaluationSettings
from backend.features.access import AccessUseCases
from backend.features.adapters import Wiring
from backend.features.chat import ChatUseCases
from backend.features.knowledge import KnowledgeUseCases
from backend.features.prompts import PromptUseCases
from backend.features.tables import TableUseCases
from services.chat.models import OFFLINE_MODEL, PydanticAIModelResolver
from services.evaluation.judge import PydanticAIJudge
from services.evaluation.pricing import GenaiPricesPricing
from services.evaluation.report import HtmlReportRenderer
from use_cases.access.domain import Caller
from use_cases.access.ports import ApiKeyStore
from use_cases.evaluation.answers import EvaluateAnswers
from use_cases.evaluation.assertions import Judge
from use_cases.evaluation.compare import CompareRuns
from use_cases.evaluation.dataset_items import EditDatasets
from use_cases.evaluation.datasets import ManageDatasets
from use_cases.evaluation.engine import (
    ItemExecutor,
    Monotonic,
    ProviderRateLimits,
    RetryPolicy,
    Sleep,
)
from use_cases.evaluation.playground import RunPlayground
from use_cases.evaluation.prompt_versions import EvaluatePromptVersions
from use_cases.evaluation.report import RenderRunReport
from use_cases.evaluation.runs import (
    BenchmarkRuns,
    CleanerNames,
    ListRunnableModels,
    RunMetrics,
    user_rights,
)
from use_cases.jobs.queue import EVAL_RUN, QueueLimits
from use_cases.shared.errors import ConfigurationError

#: Evaluation runs one process executes at once (more wait in the job queue).
EVAL_RUNS_PER_PROCESS = 4
#: Evaluation runs queued or running (all processes) before a start is refused (503): 16 of
#: all admins', 4 of one admin's.
EVAL_RUN_LIMITS = QueueLimits("evaluation runs", max_pending=16, per_user=4, retry_after_s=60)


@dataclass(frozen=True)
class EvaluationUseCases:
    evaluate_answers: EvaluateAnswers
    datasets: ManageDatasets
    benchmark: BenchmarkRuns
    runnable_models: ListRunnableModels
    run_metrics: RunMetrics
    run_report: RenderRunReport
    compare_runs: CompareRuns
    playground: RunPlayground
    prompt_evaluations: EvaluatePromptVersions
    dataset_edits: EditDatasets


def build_eval_judge(
    settings: EvaluationSettings, models: PydanticAIModelResolver, *, timeout_s: float
) -> Judge | None:
    """The LLM judge of evaluation runs (EVAL_JUDGE_MODEL), or None when none is set. A model
    that cannot be built (no key, unknown provider) stops start-up with a configuration error;
    the offline model cannot judge. `timeout_s`: a judgement's, a chat turn's (AGENT_TIMEOUT)."""
    identifier = settings.judge_model.strip()
    if not identifier:
        return None
    if identifier == OFFLINE_MODEL:
        raise ConfigurationError(
            "EVAL_JUDGE_MODEL cannot be offline-extractive: it does not judge answers."
        )
    return PydanticAIJudge(models.build_unlisted(identifier), timeout_s=timeout_s)


def starter_rights(keys: ApiKeyStore, user_id: str) -> Caller:
    """The rights a run started by `user_id` reads with: an admin's while they hold an
    unrevoked admin key (or are the CLI), else a user's."""
    admin = any(
        k.user_id == user_id and k.role == "admin" and not k.revoked for k in keys.list_keys()
    )
    return Caller(user_id, "admin", None) if admin else user_rights(user_id)


def build(
    w: Wiring,
    access: AccessUseCases,
    prompts: PromptUseCases,
    knowledge: KnowledgeUseCases,
    tables: TableUseCases,
    chat: ChatUseCases,
    *,
    settings: EvaluationSettings,
    chat_settings: ChatSettings,
    cleaners: CleanerNames | None = None,
    sleep: Sleep,
    monotonic: Monotonic,
) -> EvaluationUseCases:
    """`sleep` and `monotonic` time the runs' retries and rate limits (tests pass ones that
    do not wait). The engine runs cases through the real chat turns."""
    a, clock = w.adapters, w.clock
    datasets = ManageDatasets(
        a.dataset_store, clock, access.audit, bundled_dir=PROJECT_ROOT / "sample_data" / "eval"
    )
    executor = ItemExecutor(
        chat.chat,
        chat.chats,
        knowledge.search,
        tables.run_sql,
        pricing=GenaiPricesPricing(),
        judge=build_eval_judge(settings, a.models, timeout_s=w.limits.timeout_s),
        limits=ProviderRateLimits(
            settings.rate_limit_per_minute,
            monotonic=monotonic,
            sleep=sleep,
            shared=a.shared_buckets,  # across the workers (Redis or PostgreSQL), if any
        ),
        retry=RetryPolicy(
            max_attempts=settings.max_attempts,
            backoff_seconds=settings.backoff_seconds,
            backoff_max_seconds=settings.backoff_max_seconds,
        ),
        sleep=sleep,
        readers=knowledge.read_scope,
    )
    benchmark = BenchmarkRuns(
        datasets,
        a.run_store,
        executor,
        chat.chat,
        a.prompt_store,
        clock,
        access.audit,
        a.jobs,
        default_concurrency=settings.concurrency,
        limits=EVAL_RUN_LIMITS,
        starters=lambda user_id: starter_rights(a.api_keys, user_id),
    )
    # Runs are mostly waiting on models: several at once.
    a.jobs.register(EVAL_RUN, benchmark.run_job, concurrency=EVAL_RUNS_PER_PROCESS)
    compare_runs = CompareRuns(benchmark)
    return EvaluationUseCases(
        evaluate_answers=EvaluateAnswers(chat.chat, chat.chats),
        datasets=datasets,
        benchmark=benchmark,
        runnable_models=ListRunnableModels(a.models, cleaners),
        run_metrics=RunMetrics(benchmark),
        run_report=RenderRunReport(benchmark, HtmlReportRenderer()),
        compare_runs=compare_runs,
        playground=RunPlayground(
            chat.agent,
            prompts.prompts,
            prompts.chat_models,
            chat.agent_deps,
            clock,
            w.limits,
            pricing=GenaiPricesPricing(),
            max_message_chars=chat_settings.max_message_chars,
        ),
        prompt_evaluations=EvaluatePromptVersions(
            prompts.prompt_library, benchmark, compare_runs, datasets, a.run_store
        ),
        dataset_edits=EditDatasets(datasets, a.dataset_store, a.run_store, clock, access.audit),
    )
