"""In-memory fakes of the cleaning ports: the store (run against the same contract tests as
the SQLite and PostgreSQL store), a table source and cleaners that answer what they are told."""

from __future__ import annotations

import asyncio
import builtins
import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from use_cases.cleaning.domain import CleaningResult, SourceTable, Task
from use_cases.cleaning.ports import (
    UNFINISHED,
    CleaningRequest,
    CleaningRun,
    ResultKey,
    RunStatus,
)
from use_cases.jobs.queue import QueueLimits
from use_cases.shared.errors import InvalidRequest


class InMemoryCleaningStore:
    def __init__(self) -> None:
        self._tasks: dict[tuple[str, int, str], dict[str, Any]] = {}
        self._runs: dict[str, CleaningRun] = {}
        self._results: dict[str, dict[ResultKey, dict[str, Any]]] = {}

    def put_task(self, task: Task) -> None:
        key = (task.id, task.seed, task.table_version)
        self._tasks.setdefault(key, json.loads(json.dumps(task.as_dict())))

    def task(self, task_id: str, seed: int, version: str) -> Task | None:
        found = self._tasks.get((task_id, seed, version))
        return Task.from_dict(found) if found else None

    def create(self, run: CleaningRun, limits: QueueLimits | None = None) -> None:
        if limits is not None:
            waiting = [r for r in self._runs.values() if r.status in UNFINISHED]
            limits.check(len(waiting), sum(r.created_by == run.created_by for r in waiting))
        self._runs[run.run_id] = run
        self._results[run.run_id] = {}

    def get(self, run_id: str) -> CleaningRun | None:
        return self._runs.get(run_id)

    def delete(self, run_id: str) -> bool:
        self._results.pop(run_id, None)
        return self._runs.pop(run_id, None) is not None

    def _newest(self) -> list[CleaningRun]:
        order = list(self._runs)
        return sorted(
            self._runs.values(), key=lambda r: (r.created_at, order.index(r.run_id)), reverse=True
        )

    def latest(self, status: RunStatus | None = None) -> CleaningRun | None:
        return next((r for r in self._newest() if status in (None, r.status)), None)

    def list(self, limit: int, offset: int) -> list[CleaningRun]:
        return self._newest()[offset : offset + limit]

    def unfinished(self) -> builtins.list[CleaningRun]:
        return [r for r in reversed(self._newest()) if r.status in UNFINISHED]

    def set_status(
        self, run_id: str, status: RunStatus, *, at: str, error: str | None = None
    ) -> None:
        run = self._runs[run_id]
        if run.status == "cancelled":
            return
        finished = status in ("completed", "failed", "cancelled")
        self._runs[run_id] = replace(
            run,
            status=status,
            error=error,
            started_at=(run.started_at or at) if status == "running" else run.started_at,
            finished_at=at if finished else None,
        )

    def add_result(self, run_id: str, key: ResultKey, row: Mapping[str, Any]) -> bool:
        rows = self._results.setdefault(run_id, {})
        if key in rows:
            return False
        text = json.dumps(row).replace("NaN", "null")
        rows[key] = json.loads(text)
        return True

    def done(self, run_id: str) -> set[ResultKey]:
        return set(self._results.get(run_id, {}))

    def results(self, run_id: str) -> builtins.list[dict[str, Any]]:
        return list(self._results.get(run_id, {}).values())


class ListedTables:
    """The `TableSource` of the tables given; a test may change `tables` (a file replaced)."""

    def __init__(self, *tables: SourceTable) -> None:
        self.tables = list(tables)

    def list(self) -> list[SourceTable]:
        return list(self.tables)


Answer = Callable[[CleaningRequest], CleaningResult]


class ScriptedCleaner:
    """Answers what `answer` makes of each request; counts its calls; may hang (timeouts)."""

    def __init__(self, answer: Answer, *, hang: bool = False) -> None:
        self.answer = answer
        self.hang = hang
        self.calls: list[str] = []

    async def clean(self, request: CleaningRequest) -> CleaningResult:
        self.calls.append(request.task_id)
        if self.hang:
            await asyncio.sleep(3600)
        return self.answer(request)


class FakeCleaners:
    def __init__(self, **cleaners: ScriptedCleaner) -> None:
        self.cleaners = cleaners

    @property
    def default(self) -> str:
        return next(iter(self.cleaners))

    def get(self, model: str) -> ScriptedCleaner:
        if model not in self.cleaners:
            raise InvalidRequest(f"unknown cleaner {model!r}")
        return self.cleaners[model]

    def identifier(self, model: str) -> str:
        self.get(model)
        return model
