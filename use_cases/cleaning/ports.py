"""The ports of the cleaning benchmark: where clean tables come from, who cleans, and where
tasks, runs and their results are kept."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from use_cases.cleaning.domain import CleaningResult, SourceTable, Table, Task
from use_cases.jobs.queue import QueueLimits

RunStatus = Literal["queued", "running", "completed", "failed", "cancelled"]
UNFINISHED: tuple[RunStatus, ...] = ("queued", "running")
ResultKey = tuple[str, str, int]
"""(model, task_id, repeat): one cleaning of one task."""


class TableSource(Protocol):
    def list(self) -> list[SourceTable]:
        """Every clean table, by name."""
        ...


@dataclass(frozen=True)
class CleaningRequest:
    task_id: str
    instructions: str
    table: Table
    dimension: str
    """The kind of error the task is about (its instructions say so too)."""
    key: str | None = None


class Cleaner(Protocol):
    async def clean(self, request: CleaningRequest) -> CleaningResult: ...


class Cleaners(Protocol):
    @property
    def default(self) -> str:
        """The model a run uses when it names none (the offline cleaner)."""
        ...

    def get(self, model: str) -> Cleaner:
        """The cleaner of `model`; `InvalidRequest` for one not allowed, `ConfigurationError`
        for one that cannot run here (no key)."""
        ...

    def identifier(self, model: str) -> str:
        """`model`'s canonical name (`gpt-4.1-mini` -> `openai:gpt-4.1-mini`), checked as
        `get` checks it."""
        ...


@dataclass(frozen=True)
class CleaningRun:
    run_id: str
    status: RunStatus
    models: tuple[str, ...]
    task_ids: tuple[str, ...]
    settings: Mapping[str, Any]
    """seed, repeats, concurrency, tables, dimensions, difficulties."""
    created_by: str
    created_at: str
    total: int
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None

    @property
    def seed(self) -> int:
        return int(self.settings["seed"])

    @property
    def repeats(self) -> int:
        return int(self.settings.get("repeats", 1))


class CleaningStore(Protocol):
    def put_task(self, task: Task) -> None:
        """Keep a task (its dirty table and ground truth); the same id, seed and table version
        again keeps the first."""
        ...

    def task(self, task_id: str, seed: int, version: str) -> Task | None: ...

    def create(self, run: CleaningRun, limits: QueueLimits | None = None) -> None:
        """Store a new run. With `limits`: `ServiceBusy` (and nothing stored) when the runs
        queued or running, everyone's or `run.created_by`'s, already fill them (counted in
        the same transaction as the insert)."""
        ...

    def get(self, run_id: str) -> CleaningRun | None: ...

    def latest(self, status: RunStatus | None = None) -> CleaningRun | None: ...

    def list(self, limit: int, offset: int) -> list[CleaningRun]: ...

    def unfinished(self) -> builtins.list[CleaningRun]: ...

    def set_status(
        self, run_id: str, status: RunStatus, *, at: str, error: str | None = None
    ) -> None:
        """Move a run on, as the evaluation runs' store does; a cancelled run is never moved
        on."""
        ...

    def delete(self, run_id: str) -> bool:
        """Delete the run and its results (not its tasks, which other runs share); False when
        there is no such run."""
        ...

    def add_result(self, run_id: str, key: ResultKey, row: Mapping[str, Any]) -> bool:
        """Record one result; False (and no change) when the key has one already."""
        ...

    def done(self, run_id: str) -> set[ResultKey]: ...

    def results(self, run_id: str) -> builtins.list[dict[str, Any]]:
        """In the order they were recorded."""
        ...
