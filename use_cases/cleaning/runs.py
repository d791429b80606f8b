"""Cleaning runs: start, execute in the background, resume, export.

Rules:
- Starting a run checks everything before anything is stored: the tables, dimensions and
  difficulties (all of each by default), every model (allowed and usable; the offline
  cleaner by default), `repeats` (1 to 5), `concurrency` (1 to 32). A bad request is
  `InvalidRequest` naming the field; nothing is stored. The run records its tables' versions;
  its tasks are built (or read, when stored already) and stored with their ground truth when
  it executes, keyed by id, seed and table version. A table that changed since the start
  fails the run (its tasks would not be the ones it was started on).
- The plan is models x tasks x repeats; a result is stored as soon as it is scored, once per
  (model, task, repeat), so a run resumed after a crash cleans only what has no result.
- A cleaner that fails, times out (CLEANING_TIMEOUT) or answers an invalid result is scored
  as if it had repaired nothing, with `valid: false` and the `error`; the run goes on.
- Each result keeps the cleaner's `justification` of the task (up to JUSTIFICATION_KEPT
  characters) and its `auditability_score` (`domain.auditability`); a result that failed or
  was invalid has an empty justification and a null score (there is no account to audit).
- A started run is executed as a background job (`cleaning_run`), like evaluation runs (see
  use_cases/jobs/background.py).
- The runs queued or running are capped, everyone's and each admin's (`limits`, counted by
  the store as it stores the run): past either cap the start is `ServiceBusy` (503 with
  `Retry-After`, the message naming the cleaning runs' queue), and nothing is stored.
- An admin may cancel a queued or running run (`cancel`, audited like a start): it is marked
  `cancelled` at once, with who cancelled it in `error`; no task starts after that (one being
  cleaned finishes, its result not kept), and the run is never resumed nor marked completed.
  Cancelling a finished run is `Conflict`.
- An admin may delete a finished run (completed, failed or cancelled; `delete`, audited): the
  run and its results are gone (its tasks stay, shared with other runs of the same seed).
  Deleting a queued or running run is `Conflict`: cancel it first.
- Run ids are `clean_` and 12 hex digits, so an id alone tells a cleaning run from
  answer runs.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loguru import logger

from use_cases.access.audit import RecordAudit
from use_cases.access.domain import Caller, require_admin
from use_cases.cleaning.domain import (
    CleaningResult,
    Task,
    auditability,
    result_problem,
    task_id,
)
from use_cases.cleaning.inject import build_task
from use_cases.cleaning.metrics import score
from use_cases.cleaning.ports import (
    UNFINISHED,
    Cleaners,
    CleaningRequest,
    CleaningRun,
    CleaningStore,
    ResultKey,
    RunStatus,
)
from use_cases.cleaning.results import build_export
from use_cases.cleaning.tasks import CleaningTasks, TaskSelection
from use_cases.jobs.background import BackgroundRuns
from use_cases.jobs.queue import JobQueue, JobRun, QueueLimits
from use_cases.shared.clock import Clock, utc
from use_cases.shared.errors import (
    AlmanacError,
    ConfigurationError,
    Conflict,
    InvalidRequest,
    NotFound,
)

CLEANING_RUN = "cleaning_run"
"""The job kind of a cleaning run."""
RUN_START = "cleaning_run.start"
RUN_CANCEL = "cleaning_run.cancel"
RUN_DELETE = "cleaning_run.delete"
RUN_ID = re.compile(r"^clean_[0-9a-f]{12}$")
MAX_CONCURRENCY = 32
MAX_REPEATS = 5
ACTIONS_KEPT = 50
"""Actions (with their justifications) kept per result, in the order the cleaner gave them."""
JUSTIFICATION_KEPT = 2000
"""Characters of a task's justification kept with its result."""

Monotonic = Callable[[], float]


@dataclass(frozen=True)
class CleaningRunRequest:
    models: Sequence[str] = ()
    tables: Sequence[str] = ()
    dimensions: Sequence[str] = ()
    difficulties: Sequence[str] = ()
    seed: int = 0
    repeats: int = 1
    concurrency: int | None = None


OnRow = Callable[[Mapping[str, Any]], None]


class CleaningRuns:
    """Starts, executes, resumes and exports cleaning runs (see the module rules)."""

    def __init__(
        self,
        tasks: CleaningTasks,
        store: CleaningStore,
        cleaners: Cleaners,
        clock: Clock,
        audit: RecordAudit,
        jobs: JobQueue,
        monotonic: Monotonic,
        *,
        default_concurrency: int,
        timeout_s: float,
        limits: QueueLimits | None = None,
    ) -> None:
        self._tasks = tasks
        self._limits = limits
        self._store = store
        self._cleaners = cleaners
        self._clock = clock
        self._audit = audit
        self._monotonic = monotonic
        self._default_concurrency = default_concurrency
        self._timeout_s = timeout_s
        self._background = BackgroundRuns(
            jobs,
            CLEANING_RUN,
            "cleaning run",
            unfinished=store.unfinished,
            execute=self.execute,
        )

    @property
    def cleaners(self) -> Cleaners:
        """The cleaners a run may name."""
        return self._cleaners

    # --- starting ---------------------------------------------------------------------------

    async def start(self, caller: Caller, request: CleaningRunRequest) -> CleaningRun:
        require_admin(caller, "Running cleaning benchmarks")
        return await asyncio.to_thread(self._create, caller, request)

    def _create(self, caller: Caller, request: CleaningRunRequest) -> CleaningRun:
        concurrency = request.concurrency or self._default_concurrency
        if not 1 <= concurrency <= MAX_CONCURRENCY:
            raise InvalidRequest(f"field 'concurrency' must be 1 to {MAX_CONCURRENCY}.")
        if not 1 <= request.repeats <= MAX_REPEATS:
            raise InvalidRequest(f"field 'repeats' must be 1 to {MAX_REPEATS}.")
        models = self._models(request.models)
        selection = TaskSelection(
            request.tables, request.dimensions, request.difficulties, request.seed
        )
        planned = self._tasks.plan(selection)
        tasks = [
            {"id": task_id(s.name, dim, level), "table": s.name, "dimension": dim,
             "difficulty": level}
            for s, dim, level in planned
        ]  # fmt: skip
        run = CleaningRun(
            run_id=f"clean_{uuid.uuid4().hex[:12]}",
            status="queued",
            models=models,
            task_ids=tuple(t["id"] for t in tasks),
            settings={
                "seed": request.seed,
                "repeats": request.repeats,
                "concurrency": concurrency,
                "tables": sorted({t["table"] for t in tasks}),
                "dimensions": sorted({t["dimension"] for t in tasks}),
                "difficulties": sorted({t["difficulty"] for t in tasks}),
                "table_versions": {s.name: s.version for s, _, _ in planned},
            },
            created_by=caller.user_id,
            created_at=self._now(),
            total=len(models) * len(tasks) * request.repeats,
        )
        self._store.create(run, self._limits)
        self._audit.record(
            caller,
            RUN_START,
            f"cleaning_run:{run.run_id}",
            after={"models": list(models), "tasks": len(tasks), "seed": request.seed},
        )
        return run

    def _models(self, requested: Sequence[str]) -> tuple[str, ...]:
        wanted = [m.strip() for m in requested if m.strip()] or [self._cleaners.default]
        identifiers = []
        for model in wanted:
            try:
                identifiers.append(self._cleaners.identifier(model))
            except InvalidRequest as exc:
                raise InvalidRequest(f"field 'models': {exc.detail}") from None
            except ConfigurationError as exc:
                raise InvalidRequest(
                    f"field 'models': {model!r} cannot be used: {exc.detail}"
                ) from None
        return tuple(dict.fromkeys(identifiers))

    # --- executing --------------------------------------------------------------------------

    def schedule(self, run_id: str) -> str:
        """Queue the run's job (once); answers the job id (use_cases/jobs/background.py)."""
        return self._background.schedule(run_id)

    async def run_job(self, job: JobRun) -> None:
        """The `cleaning_run` job handler: clean what the run has no result for yet."""
        await self._background.run_job(job)

    async def resume_unfinished(self) -> list[str]:
        """Schedule every run left queued or running (at server start), each once."""
        return await self._background.resume_unfinished()

    async def wait(self, run_id: str, poll_s: float = 0.02) -> None:
        """Until the job this process scheduled for `run_id` (if any) ends (tests, CLI)."""
        await self._background.wait(run_id, poll_s)

    async def execute(self, run_id: str, on_row: OnRow | None = None) -> CleaningRun:
        """Clean what `run_id` has no result for yet, then mark it completed."""
        run = await asyncio.to_thread(self._store.get, run_id)
        if run is None:
            raise NotFound(f"No cleaning run {run_id!r}.")
        if run.status == "cancelled":
            return run
        try:
            tasks = await asyncio.to_thread(self._load_tasks, run)
        except AlmanacError as exc:
            await asyncio.to_thread(self._set, run_id, "failed", exc.detail)
            raise
        await asyncio.to_thread(self._set, run_id, "running")
        done = await asyncio.to_thread(self._store.done, run_id)
        plan = [
            (model, task, repeat)
            for model in run.models
            for task in tasks
            for repeat in range(run.repeats)
            if (model, task.id, repeat) not in done
        ]
        gate = asyncio.Semaphore(int(run.settings.get("concurrency", 1)))

        async def one(model: str, task: Task, repeat: int) -> None:
            async with gate:
                if await asyncio.to_thread(self._cancelled, run_id):
                    return
                row = await self._clean_one(model, task, repeat)
            if await asyncio.to_thread(self._cancelled, run_id):
                return  # cancelled (or deleted) while this task was being cleaned
            key: ResultKey = (model, task.id, repeat)
            await asyncio.to_thread(self._store.add_result, run_id, key, row)
            if on_row is not None:
                on_row(row)

        await asyncio.gather(*(one(m, t, r) for m, t, r in plan))
        if not await asyncio.to_thread(self._cancelled, run_id):
            await asyncio.to_thread(self._set, run_id, "completed")
        finished = await asyncio.to_thread(self._store.get, run_id)
        assert finished is not None
        return finished

    def _load_tasks(self, run: CleaningRun) -> list[Task]:
        """The run's tasks: stored ones as they are, the others built from their table (at
        the version the run started with) and stored with their ground truth."""
        versions: Mapping[str, str] = run.settings.get("table_versions") or {}
        tasks = []
        for name in run.task_ids:
            table, dimension, difficulty = name.rsplit(".", 2)
            version = versions.get(table, "")
            task = self._store.task(name, run.seed, version)
            if task is None:
                source = self._tasks.source(table)
                if source is None or source.version != version:
                    raise NotFound(
                        f"Table {table!r} is gone or changed since the run started; start a "
                        "new run."
                    )
                task = build_task(source, dimension, difficulty, run.seed)  # type: ignore[arg-type]  # the run stored the names its plan checked
                self._store.put_task(task)
            tasks.append(task)
        return tasks

    async def _clean_one(self, model: str, task: Task, repeat: int) -> dict[str, Any]:
        request = CleaningRequest(task.id, task.instructions, task.dirty, task.dimension, task.key)
        started = self._monotonic()
        error: str | None = None
        result = CleaningResult()
        try:
            cleaner = self._cleaners.get(model)
            result = await asyncio.wait_for(cleaner.clean(request), self._timeout_s)
        except TimeoutError:
            error = f"the cleaner did not answer within {self._timeout_s:g} s"
        except AlmanacError as exc:
            error = exc.detail
        except Exception as exc:  # a cleaner's bug must not stop the run
            logger.exception("Cleaner {} failed on {}", model, task.id)
            error = f"internal error ({type(exc).__name__})"
        latency_ms = round((self._monotonic() - started) * 1000, 1)
        if error is None:
            problem = result_problem(task.dirty, result)
            if problem is not None:
                error = f"invalid result: {problem}"
        usage = result.usage
        audit = round(auditability(result), 4) if error is None else None
        if error is not None:
            result = CleaningResult(usage=usage)
        scored = await asyncio.to_thread(score, task, result)
        actions = [{"action": "change", **c.as_dict()} for c in result.changes] + [
            {"action": "remove", **r.as_dict()} for r in result.removals
        ]
        return {
            "model": model,
            "task_id": task.id,
            "table": task.table,
            "dimension": task.dimension,
            "difficulty": task.difficulty,
            "repeat": repeat,
            "valid": error is None,
            "error": error,
            **scored.as_dict(),
            "errors_injected": len(task.truth.errors),
            "changes": len(result.changes),
            "removals": len(result.removals),
            "latency_ms": latency_ms,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cost_usd": usage.cost_usd,
            "justification": result.justification.strip()[:JUSTIFICATION_KEPT],
            "auditability_score": audit,
            "actions": actions[:ACTIONS_KEPT],
        }

    def _cancelled(self, run_id: str) -> bool:
        run = self._store.get(run_id)
        return run is None or run.status == "cancelled"

    # --- cancelling -------------------------------------------------------------------------

    async def cancel(self, caller: Caller, run_id: str) -> CleaningRun:
        """Stop a queued or running run (see the module rules)."""
        require_admin(caller, "Cancelling cleaning runs")
        return await asyncio.to_thread(self._cancel, caller, run_id)

    def _cancel(self, caller: Caller, run_id: str) -> CleaningRun:
        run = self.record(run_id)
        if run.status not in UNFINISHED:
            raise Conflict(
                f"Cleaning run {run.run_id} is {run.status}; only a queued or running run can "
                "be cancelled."
            )
        self._set(run.run_id, "cancelled", f"cancelled by {caller.user_id}")
        self._audit.record(
            caller,
            RUN_CANCEL,
            f"cleaning_run:{run.run_id}",
            before={"status": run.status},
            after={"status": "cancelled"},
        )
        return self.record(run.run_id)

    async def delete(self, caller: Caller, run_id: str) -> None:
        """Delete a finished run and its results (see the module rules)."""
        require_admin(caller, "Deleting cleaning runs")
        await asyncio.to_thread(self._delete, caller, run_id)

    def _delete(self, caller: Caller, run_id: str) -> None:
        run = self._store.get(run_id) if RUN_ID.match(run_id) else None
        if run is None:
            raise NotFound(f"No cleaning run {run_id!r}.")
        if run.status in UNFINISHED:
            raise Conflict(f"Cleaning run {run_id} is {run.status}: cancel it first.")
        self._store.delete(run_id)
        self._audit.record(
            caller,
            RUN_DELETE,
            f"cleaning_run:{run_id}",
            before={"status": run.status, "models": list(run.models), "total": run.total},
        )

    def _set(self, run_id: str, status: RunStatus, error: str | None = None) -> None:
        self._store.set_status(run_id, status, at=self._now(), error=error)

    def _now(self) -> str:
        return utc(self._clock.now()).isoformat(timespec="seconds")

    # --- reading ----------------------------------------------------------------------------

    async def list(self, caller: Caller, *, limit: int = 50, offset: int = 0) -> list[CleaningRun]:
        require_admin(caller, "Reading cleaning runs")
        return await asyncio.to_thread(self._store.list, limit, offset)

    async def export(self, caller: Caller, run_id: str) -> dict[str, Any]:
        """The run in the shape of docs/cleaning.md; `run_id` may be `latest` or
        `latest-completed` (the newest cleaning run)."""
        require_admin(caller, "Reading cleaning runs")
        return await asyncio.to_thread(self._export, run_id)

    def record(self, run_id: str) -> CleaningRun:
        if run_id == "latest":
            found = self._store.latest()
        elif run_id == "latest-completed":
            found = self._store.latest("completed")
        else:
            found = self._store.get(run_id) if RUN_ID.match(run_id) else None
        if found is None:
            if run_id.startswith("latest"):
                raise NotFound("No cleaning run yet: start one with POST /api/cleaning/runs.")
            raise NotFound(f"No cleaning run {run_id!r}.")
        return found

    def _export(self, run_id: str) -> dict[str, Any]:
        run = self.record(run_id)
        return build_export(run, self._store.results(run.run_id))
