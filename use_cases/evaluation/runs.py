"""Evaluation runs: start, execute in the background, resume, cancel, delete, report. The
datasets a run evaluates are registered by use_cases/evaluation/datasets.py.

Runs (see `eval_run_domain` for the statuses and how resuming works):
- Starting a run checks everything before anything is stored: the task, every model (allowed
  and usable), the prompt version (it exists, and every case supplies the variables it
  needs), the assertions, the robustness perturbations, the numbers. A bad request is
  `InvalidRequest` naming the field; nothing is stored.
- The plan: the dataset's cases (those with any of `tags`, if given; the first `limit`, if
  given) x models x variants (`clean`, then each perturbation). Items run `concurrency` at a
  time; each item's row is stored as soon as it is scored, so a crash loses at most the items
  in flight, and a restart (`resume_unfinished`) runs only the items without a row.
- A started run is executed as a background job (`eval_run`, one per run however often it is
  scheduled; see use_cases/jobs/background.py), so any server process may run it, and a run
  whose process died is taken over and finished by another (its items without a row).
- Reading runs and running them are for admins.
- A run reads what its starter may (`created_by`, whose rights are looked up when it
  executes, `starters`): its turns, the search its retrieval metrics score and the SQL its
  table checks re-run. Its chats are kept under the evaluation user (`almanac-eval`) and
  deleted afterwards; a run of the CLI's reads every collection.
- The runs queued or running are capped, everyone's and each admin's (`limits`, counted by
  the store as it stores the run): past either cap the start is `ServiceBusy` (503 with
  `Retry-After`, the message naming the evaluation runs' queue), and nothing is stored or
  audited. Resuming a run at start-up creates nothing, so it is never refused.
- An admin may cancel a run that is queued or running (`cancel`, audited as
  `eval_run.cancel`): it is marked `cancelled` at once, in one statement (`error` says who
  cancelled it), and keeps the rows recorded so far; the process executing it lets the items
  in flight end (their rows are not kept) and starts no more, and the run is never resumed
  nor marked completed. Cancelling a finished run is `Conflict`.
- An admin may delete a finished run (completed, failed or cancelled; `delete`, audited): the
  run and its rows are gone. Deleting a queued or running run is `Conflict`: cancel it first.
- The export (`export`, the JSON of `GET /api/v1/eval-runs/{run_id}`) follows the contract in
  docs/evaluation-runs.md; aggregates count clean rows only, robustness compares each
  perturbed row with its clean row.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from use_cases.access.audit import RecordAudit
from use_cases.access.domain import CLI_ADMIN, Caller, require_admin
from use_cases.chat.chat_turns import ChatTurns
from use_cases.evaluation.assertions import parse_assertions
from use_cases.evaluation.datasets import ManageDatasets, to_dataset
from use_cases.evaluation.domain import EvalCase
from use_cases.evaluation.engine import Item, ItemContext, ItemExecutor, provider_of
from use_cases.evaluation.metrics import model_aggregates
from use_cases.evaluation.perturb import PERTURBATIONS
from use_cases.evaluation.run_domain import (
    CLEAN,
    UNFINISHED,
    PromptRef,
    RunProgress,
    RunRecord,
    RunSettings,
    RunStore,
    StoredDataset,
)
from use_cases.jobs.background import BackgroundRuns
from use_cases.jobs.queue import EVAL_RUN, JobQueue, JobRun, QueueLimits
from use_cases.prompts.ports import ModelResolver, PromptStore
from use_cases.prompts.templates import builtin_variables, missing_variables
from use_cases.shared.clock import Clock, utc
from use_cases.shared.errors import (
    ConfigurationError,
    Conflict,
    InvalidRequest,
    NotFound,
)
from use_cases.shared.sampling import NO_SAMPLING, Sampling

MAX_CONCURRENCY = 32
MAX_K = 50
_RUN_ID = re.compile(r"^run_[0-9a-f]{12}$")
RUN_START = "eval_run.start"
RUN_CANCEL = "eval_run.cancel"
RUN_DELETE = "eval_run.delete"


@dataclass(frozen=True)
class RunRequest:
    task_id: str
    models: Sequence[str] = ()
    prompt_version: PromptRef | None = None
    assertions: Any = None
    """Raw assertions (decoded JSON), validated by `parse_assertions`."""
    concurrency: int | None = None
    robustness: Sequence[str] | bool = ()
    seed: int = 0
    k: int = 5
    limit: int | None = None
    tags: Sequence[str] = ()
    sampling: Sampling = NO_SAMPLING
    """temperature, max_tokens, top_p, seed for every turn (`seed` above is the
    perturbations')."""


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    status: str
    total: int


OnRow = Callable[[Mapping[str, Any]], None]


def plan(cases: Sequence[EvalCase], record: RunRecord) -> list[Item]:
    settings = record.settings
    chosen = [c for c in cases if not settings.tags or set(settings.tags) & set(c.tags)]
    if settings.limit is not None:
        chosen = chosen[: settings.limit]
    variants = (CLEAN, *settings.robustness)
    return [Item(m, c, v) for m in record.models for c in chosen for v in variants]


#: The rights of the user who started a run, looked up when it executes (a demoted starter's
#: resumed run reads as a user).
Starters = Callable[[str], Caller]


def user_rights(user_id: str) -> Caller:
    """The starter's rights when nothing better is known: the CLI's are an admin's, anyone
    else's a user's (the default collection and their grants)."""
    return CLI_ADMIN if user_id == CLI_ADMIN.user_id else Caller(user_id, "user", None)


class BenchmarkRuns:
    """Starts, executes, resumes and reports evaluation runs (see the module rules).

    `start` stores the run; `schedule` executes it as a task on the running event loop (the
    server's), `execute` in the caller's (the CLI's). `resume_unfinished` schedules every run
    left queued or running; `close` stops the tasks, letting the items in flight end (their
    runs stay `running` and resume at the next start)."""

    def __init__(
        self,
        datasets: ManageDatasets,
        runs: RunStore,
        executor: ItemExecutor,
        chat: ChatTurns,
        prompts: PromptStore,
        clock: Clock,
        audit: RecordAudit,
        jobs: JobQueue,
        *,
        default_concurrency: int,
        limits: QueueLimits | None = None,
        starters: Starters | None = None,
    ) -> None:
        self._limits = limits
        self._starters = starters or user_rights
        self._datasets = datasets
        self._runs = runs
        self._executor = executor
        self._chat = chat
        self._prompts = prompts
        self._clock = clock
        self._audit = audit
        self._default_concurrency = default_concurrency
        self._stops: dict[str, asyncio.Event] = {}
        self._background = BackgroundRuns(
            jobs,
            EVAL_RUN,
            "evaluation run",
            unfinished=runs.unfinished,
            execute=self.execute,
        )

    # --- starting ---------------------------------------------------------------------------

    async def start(self, caller: Caller, request: RunRequest) -> RunRecord:
        require_admin(caller, "Running evaluations")
        return await asyncio.to_thread(self._create, caller, request)

    def _create(self, caller: Caller, request: RunRequest) -> RunRecord:
        try:
            stored = self._datasets.stored(request.task_id.strip())
        except NotFound:
            known = ", ".join(self._datasets.known_ids()) or "none"
            raise InvalidRequest(
                f"field 'task_id': no dataset {request.task_id!r}. Known datasets: {known}."
            ) from None
        dataset = to_dataset(stored)
        settings = self._settings(request)
        models = self._models(request.models)
        prompt = request.prompt_version
        draft = RunRecord(
            run_id=f"run_{uuid.uuid4().hex[:12]}",
            status="queued",
            task_id=stored.id,
            task_version=stored.version,
            models=models,
            prompt_version=prompt,
            settings=settings,
            created_by=caller.user_id,
            created_at=utc(self._clock.now()).isoformat(timespec="seconds"),
            total=0,
        )
        items = plan(dataset.cases, draft)
        if not items:
            raise InvalidRequest(
                f"No case of {stored.id!r} has any of the tags {', '.join(settings.tags)}."
            )
        if prompt is not None:
            self._check_prompt(prompt, [i.case for i in items if i.model == models[0]])
        record = RunRecord(**{**draft.__dict__, "total": len(items)})
        self._runs.create(record, self._limits)
        self._audit.record(
            caller,
            RUN_START,
            f"eval_run:{record.run_id}",
            after={"task": stored.id, "version": stored.version, "models": list(models)},
        )
        return record

    def _settings(self, request: RunRequest) -> RunSettings:
        concurrency = request.concurrency or self._default_concurrency
        if not 1 <= concurrency <= MAX_CONCURRENCY:
            raise InvalidRequest(f"field 'concurrency' must be 1 to {MAX_CONCURRENCY}.")
        if not 1 <= request.k <= MAX_K:
            raise InvalidRequest(f"field 'k' must be 1 to {MAX_K}.")
        if request.limit is not None and request.limit < 1:
            raise InvalidRequest("field 'limit' must be 1 or more.")
        if request.robustness is True:
            perturbations: tuple[str, ...] = PERTURBATIONS
        elif request.robustness is False:
            perturbations = ()
        else:
            perturbations = tuple(dict.fromkeys(request.robustness))
            unknown = [p for p in perturbations if p not in PERTURBATIONS]
            if unknown:
                raise InvalidRequest(
                    f"field 'robustness': unknown perturbation {unknown[0]!r}; "
                    f"use true or some of {', '.join(PERTURBATIONS)}."
                )
        specs = parse_assertions(request.assertions, "field 'assertions'")
        return RunSettings(
            concurrency=concurrency,
            k=request.k,
            robustness=perturbations,
            seed=request.seed,
            assertions=tuple(s.as_dict() for s in specs),
            limit=request.limit,
            tags=tuple(t.strip() for t in request.tags if t.strip()),
            sampling=request.sampling,
        )

    def _models(self, requested: Sequence[str]) -> tuple[str, ...]:
        wanted = [m.strip() for m in requested if m.strip()] or [""]
        identifiers: list[str] = []
        for model in wanted:
            try:
                identifiers.append(self._chat.model_identifier(model or None))
            except InvalidRequest as exc:
                raise InvalidRequest(f"field 'models': {exc.detail}") from None
            except ConfigurationError as exc:
                raise InvalidRequest(
                    f"field 'models': {model!r} cannot be used: {exc.detail}"
                ) from None
        return tuple(dict.fromkeys(identifiers))

    def _check_prompt(self, prompt: PromptRef, cases: Sequence[EvalCase]) -> None:
        version = self._prompts.get_version(prompt.type, prompt.version)
        if version is None:
            raise InvalidRequest(
                f"field 'prompt_version': prompt {prompt.type!r} has no version {prompt.version}."
            )
        builtins = self._builtins()
        for case in cases:
            missing = missing_variables(version.text, {**builtins, **case.variables})
            if missing:
                raise InvalidRequest(
                    f"field 'prompt_version': case {case.id!r} gives no value for "
                    f"{', '.join(missing)} (prompt {prompt.type} version {prompt.version})."
                )

    def _builtins(self) -> dict[str, str]:
        return builtin_variables(self._clock.today())

    # --- executing --------------------------------------------------------------------------

    def schedule(self, run_id: str) -> str:
        """Queue the run's job (once); answers the job id (use_cases/jobs/background.py)."""
        return self._background.schedule(run_id)

    async def run_job(self, job: JobRun) -> None:
        """The `eval_run` job handler: execute the run's items that have no row yet."""
        await self._background.run_job(job)

    async def resume_unfinished(self) -> list[str]:
        """Schedule every run left queued or running (at server start), each once."""
        return await self._background.resume_unfinished()

    async def execute(self, run_id: str, on_row: OnRow | None = None) -> RunRecord:
        """Run the items of `run_id` that have no row yet, then mark it completed."""
        record = await asyncio.to_thread(self._runs.get, run_id)
        if record is None:
            raise NotFound(f"No evaluation run {run_id!r}.")
        if record.status == "cancelled":
            return record
        try:
            items, context = await asyncio.to_thread(self._prepare, record)
        except Exception as exc:
            detail = getattr(exc, "detail", None) or f"internal error ({type(exc).__name__})"
            await asyncio.to_thread(self._set, run_id, "failed", detail)
            raise
        await asyncio.to_thread(self._set, run_id, "running")
        done = await asyncio.to_thread(self._runs.done, run_id)
        pending = [item for item in items if item.key not in done]
        gate = asyncio.Semaphore(record.settings.concurrency)
        stop = self._stops.setdefault(run_id, asyncio.Event())

        async def one(item: Item) -> None:
            async with gate:
                if stop.is_set() or await asyncio.to_thread(self._cancelled, run_id, stop):
                    return
                row = await self._executor.execute(item, context)
            if stop.is_set():  # stopping: this item runs again when the run resumes
                return
            if await asyncio.to_thread(self._cancelled, run_id, stop):
                return  # cancelled (or deleted) while this item ran
            await asyncio.to_thread(self._runs.add_row, run_id, item.key, row)
            if on_row is not None:
                on_row(row)

        # Items are never cancelled half-way: a chat turn's database work runs in worker
        # threads that a cancelled task would leave running, writing through connections the
        # shutdown is about to close. Stopping lets the items in flight end and starts no more.
        work = [asyncio.ensure_future(one(item)) for item in pending]
        try:
            await asyncio.shield(asyncio.gather(*work))
        except BaseException:
            stop.set()
            await asyncio.gather(*work, return_exceptions=True)
            raise
        finally:
            self._stops.pop(run_id, None)
        if stop.is_set() and not await asyncio.to_thread(self._cancelled, run_id, stop):
            raise asyncio.CancelledError(f"Evaluation run {run_id} stopped; it resumes later.")
        await asyncio.to_thread(self._set, run_id, "completed")  # no change once cancelled
        finished = await asyncio.to_thread(self._runs.get, run_id)
        assert finished is not None
        return finished

    def _cancelled(self, run_id: str, stop: asyncio.Event) -> bool:
        """Whether the run was cancelled or deleted (by this process or another); sets `stop`
        if so."""
        found = self._runs.get(run_id)
        if found is None or found.status == "cancelled":
            stop.set()
            return True
        return False

    async def cancel(self, caller: Caller, run_id: str) -> RunRecord:
        """Stop a queued or running run: `cancelled`, its rows so far kept (module rules)."""
        require_admin(caller, "Cancelling evaluation runs")
        record = await asyncio.to_thread(self._cancel, caller, run_id)
        stop = self._stops.get(record.run_id)
        if stop is not None:  # executing here: no item starts after this
            stop.set()
        return record

    def _cancel(self, caller: Caller, run_id: str) -> RunRecord:
        record = self.record(run_id)
        cancelled_by = f"cancelled by {caller.user_id}"
        if not self._runs.cancel(record.run_id, at=self._at(), error=cancelled_by):
            found = self.record(record.run_id)
            raise Conflict(
                f"Run {record.run_id} is {found.status}: only a queued or running run can be "
                "cancelled."
            )
        self._audit.record(
            caller,
            RUN_CANCEL,
            f"eval_run:{record.run_id}",
            before={"status": record.status},
            after={"status": "cancelled"},
        )
        cancelled = self._runs.get(record.run_id)
        assert cancelled is not None
        return cancelled

    def _prepare(self, record: RunRecord) -> tuple[list[Item], ItemContext]:
        dataset = to_dataset(self._datasets.stored(record.task_id, record.task_version))
        prompt_text = None
        if record.prompt_version is not None:
            ref = record.prompt_version
            version = self._prompts.get_version(ref.type, ref.version)
            if version is None:
                raise NotFound(f"Prompt {ref.type!r} version {ref.version} is gone.")
            prompt_text = version.text
        context = ItemContext(
            k=record.settings.k,
            seed=record.settings.seed,
            assertions=parse_assertions(list(record.settings.assertions), "assertions"),
            prompt_text=prompt_text,
            builtins=self._builtins(),
            sampling=record.settings.sampling,
            reader=self._starters(record.created_by),
        )
        return plan(dataset.cases, record), context

    def _set(self, run_id: str, status: Any, error: str | None = None) -> None:
        self._runs.set_status(run_id, status, at=self._at(), error=error)

    def _at(self) -> str:
        return utc(self._clock.now()).isoformat(timespec="seconds")

    async def delete(self, caller: Caller, run_id: str) -> None:
        """Delete a finished run and its rows (see the module rules)."""
        require_admin(caller, "Deleting evaluation runs")
        await asyncio.to_thread(self._delete, caller, run_id)

    def _delete(self, caller: Caller, run_id: str) -> None:
        record = self._runs.get(run_id) if _RUN_ID.match(run_id) else None
        if record is None:
            raise NotFound(f"No run {run_id!r}.")
        if record.status in UNFINISHED:
            raise Conflict(f"Evaluation run {run_id} is {record.status}: cancel it first.")
        self._runs.delete(run_id)
        self._audit.record(
            caller,
            RUN_DELETE,
            f"eval_run:{run_id}",
            before={"status": record.status, "task": record.task_id, "total": record.total},
        )

    async def wait(self, run_id: str, poll_s: float = 0.02) -> None:
        """Until the job this process scheduled for `run_id` (if any) ends (tests, CLI)."""
        await self._background.wait(run_id, poll_s)

    async def close(self) -> None:
        """Stop the runs executing in this process: the items in flight end (their rows are
        not kept), no other starts; the runs stay `running` and resume later (their jobs go
        back to the queue of a durable job store, or are resumed at the next start)."""
        for stop in list(self._stops.values()):
            stop.set()

    # --- reading ----------------------------------------------------------------------------

    async def list(self, caller: Caller, *, limit: int = 50, offset: int = 0) -> list[RunRecord]:
        require_admin(caller, "Reading evaluation runs")
        return await asyncio.to_thread(self._runs.list, limit, offset)

    async def export(self, caller: Caller, run_id: str) -> dict[str, Any]:
        """The JSON export of a run (the `RunExports` port of `use_cases/evaluation/report.py`).
        `run_id` may be `latest` (the newest run) or `latest-completed`."""
        require_admin(caller, "Reading evaluation runs")
        return await asyncio.to_thread(self._export, run_id)

    def record(self, run_id: str) -> RunRecord:
        if run_id == "latest":
            found = self._runs.latest()
        elif run_id == "latest-completed":
            found = self._runs.latest("completed")
        else:
            found = self._runs.get(run_id) if _RUN_ID.match(run_id) else None
        if found is None:
            what = "completed evaluation run" if run_id == "latest-completed" else "run"
            raise NotFound(
                f"No {what} {run_id!r}."
                if not run_id.startswith("latest")
                else f"No {what} yet: start one with POST /api/v1/benchmark-runs."
            )
        return found

    def _export(self, run_id: str) -> dict[str, Any]:
        record = self.record(run_id)
        stored = self._datasets.stored(record.task_id, record.task_version)
        rows = self._runs.rows(record.run_id)
        done, failed = self._runs.progress(record.run_id)
        return build_export(record, stored, rows, RunProgress.of(record.total, done, failed))

    async def export_csv(self, caller: Caller, run_id: str) -> str:
        export = await self.export(caller, run_id)
        return rows_to_csv(export["cases"])


def build_export(
    record: RunRecord,
    dataset: StoredDataset,
    rows: Sequence[Mapping[str, Any]],
    progress: RunProgress,
) -> dict[str, Any]:
    k = record.settings.k
    variants = {v: i for i, v in enumerate((CLEAN, *record.settings.robustness))}
    models = {m: i for i, m in enumerate(record.models)}
    ordered = sorted(
        rows, key=lambda r: (models.get(r["model"], 99), variants.get(r["variant"], 99))
    )
    aggregates = model_aggregates(ordered, k=k)
    settings = record.settings.as_dict()
    return {
        "run_id": record.run_id,
        "status": record.status,
        "progress": progress.as_dict(),
        "task": {
            "id": dataset.id,
            "name": dataset.name,
            "version": dataset.version,
            "cases": record.total // max(1, len(record.models) * len(variants)),
        },
        "models": list(record.models),
        "prompt_version": record.prompt_version.as_dict() if record.prompt_version else None,
        "settings": {
            "concurrency": settings["concurrency"],
            "k": k,
            "robustness": settings["robustness"],
            "seed": settings["seed"],
            "assertions": settings["assertions"],
            "limit": settings["limit"],
            "tags": settings["tags"],
            "sampling": settings["sampling"],
        },
        "created_by": record.created_by,
        "created_at": record.created_at,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "error": record.error,
        "aggregates": aggregates,
        "cases": ordered,
    }


def rows_to_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """One CSV line per row: lists joined by `|`, objects as JSON, null as empty."""
    rows = list(rows)
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _cell(row.get(c)) for c in columns})
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        if all(isinstance(v, str | int | float) for v in value):
            return "|".join(str(v) for v in value)
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


# --- models and metrics -----------------------------------------------------------------------


ModelUse = Literal["answers", "cleaning"]


@dataclass(frozen=True)
class RunnableModel:
    id: str
    provider: str
    usable: bool
    default: bool
    reason: str | None = None
    uses: tuple[ModelUse, ...] = ("answers",)
    """What the model may be named for: answers (chat, advice, evaluation runs), cleaning
    (cleaning benchmark runs)."""


class CleanerNames(Protocol):
    """Which models can clean tables (the cleaning benchmark's `Cleaners`, read only)."""

    @property
    def default(self) -> str:
        """The cleaner a cleaning run uses when it names none: the offline cleaner."""
        ...

    def identifier(self, model: str) -> str:
        """`InvalidRequest` for a model that cannot clean."""
        ...


class ListRunnableModels:
    """The models a run (or a chat) may name: the allowed ones, each with whether it can be
    used here (provider package installed, key or base URL configured) and what for (`uses`),
    then the cleaners that only clean (the offline cleaner). Any caller may ask."""

    def __init__(self, models: ModelResolver, cleaners: CleanerNames | None = None) -> None:
        self._models = models
        self._cleaners = cleaners

    async def execute(self) -> list[RunnableModel]:
        return await asyncio.to_thread(self._list)

    def _list(self) -> list[RunnableModel]:
        listed = []
        for identifier in self._models.allowed:
            reason = None
            try:
                self._models.resolve(identifier)
            except (ConfigurationError, InvalidRequest) as exc:
                reason = exc.detail
            listed.append(
                RunnableModel(
                    id=identifier,
                    provider=provider_of(identifier),
                    usable=reason is None,
                    default=identifier == self._models.default_identifier,
                    reason=reason,
                    uses=("answers", "cleaning") if self._cleans(identifier) else ("answers",),
                )
            )
        if self._cleaners is not None:
            cleaner = self._cleaners.default
            listed.append(
                RunnableModel(cleaner, provider_of(cleaner), True, False, uses=("cleaning",))
            )
        return listed

    def _cleans(self, identifier: str) -> bool:
        if self._cleaners is None:
            return False
        try:
            self._cleaners.identifier(identifier)
        except InvalidRequest:
            return False
        except ConfigurationError:
            return True  # it can clean once its provider is configured (`usable` says)
        return True


MODEL_METRICS = ("f1", "reliability", "robustness", "drift", "calibration")
_F1_KEYS = ("cases", "exact_match", "token_f1", "correct")
_CALIBRATION_KEYS = ("cases", "brier", "ece", "brier_raw", "ece_raw")


class RunMetrics:
    """Aggregates of one run (`run_id`, else the latest completed run), cut for the
    `/api/v1/eval-metrics/...` endpoints; every figure is the run export's."""

    def __init__(self, runs: BenchmarkRuns) -> None:
        self._runs = runs

    async def overview(self, caller: Caller, run_id: str | None) -> dict[str, Any]:
        export = await self._export(caller, run_id)
        return {
            **_head(export),
            "models": {m: a["overall"] for m, a in export["aggregates"].items()},
        }

    async def dimension(self, caller: Caller, name: str, run_id: str | None) -> dict[str, Any]:
        export = await self._export(caller, run_id)
        found = {
            m: a["by_dimension"][name]
            for m, a in export["aggregates"].items()
            if name in a["by_dimension"]
        }
        if not found:
            known = sorted({d for a in export["aggregates"].values() for d in a["by_dimension"]})
            raise NotFound(
                f"Run {export['run_id']} has no dimension {name!r}; it has {', '.join(known)}."
            )
        return {**_head(export), "dimension": name, "models": found}

    async def for_model(
        self, caller: Caller, metric: str, model: str, run_id: str | None
    ) -> dict[str, Any]:
        if metric not in MODEL_METRICS:
            raise NotFound(f"No metric {metric!r}; metrics are {', '.join(MODEL_METRICS)}.")
        export = await self._export(caller, run_id)
        block = export["aggregates"].get(model)
        if block is None:
            raise NotFound(
                f"Run {export['run_id']} did not run model {model!r}; it ran "
                f"{', '.join(export['models'])}."
            )
        head = {**_head(export), "model": model, "metric": metric}
        overall, dims = block["overall"], block["by_dimension"]
        if metric == "f1":
            return {
                **head,
                **{key: overall.get(key) for key in _F1_KEYS},
                "by_dimension": {d: {key: a.get(key) for key in _F1_KEYS} for d, a in dims.items()},
            }
        if metric == "calibration":
            return {
                **head,
                **{key: overall.get(key) for key in _CALIBRATION_KEYS},
                "reliability": block["reliability"],
            }
        if metric == "reliability":
            return {**head, "bands": block["reliability"]}
        robust = block["robustness"]
        if not robust.get("perturbations"):
            raise NotFound(
                f"Run {export['run_id']} was not a robustness run: start one with "
                '"robustness": true.'
            )
        if metric == "robustness":
            return {**head, **robust}
        return {
            **head,
            "answer_drift": robust.get("answer_drift"),
            "by_perturbation": {
                p: figures.get("answer_drift")
                for p, figures in (robust.get("by_perturbation") or {}).items()
            },
        }

    async def _export(self, caller: Caller, run_id: str | None) -> dict[str, Any]:
        return await self._runs.export(caller, run_id or "latest-completed")


def _head(export: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "run_id": export["run_id"],
        "status": export["status"],
        "task": export["task"],
        "finished_at": export["finished_at"],
    }
