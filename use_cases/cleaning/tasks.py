"""The clean tables and the tasks built from them.

Rules:
- The tasks of a seed are every table x dimension x difficulty (`domain.DIMENSIONS`,
  `domain.DIFFICULTIES`), built by the injector; a task's id is `table.dimension.difficulty`
  and, with the seed and its table's version, names it for good.
- A task's details (`get`) are its summary, its instructions, its key column and the dirty
  table a cleaner is given; not its ground truth (the answers a cleaner is scored against).
- Listing tables and tasks is for admins, like evaluation datasets.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from use_cases.access.domain import Caller, require_admin
from use_cases.cleaning.domain import (
    DIFFICULTIES,
    DIMENSIONS,
    Difficulty,
    Dimension,
    SourceTable,
    Task,
    parse_choice,
)
from use_cases.cleaning.inject import build_task
from use_cases.cleaning.ports import TableSource
from use_cases.shared.errors import InvalidRequest, NotFound

PlannedTask = tuple[SourceTable, Dimension, Difficulty]


@dataclass(frozen=True)
class TaskSelection:
    tables: Sequence[str] = ()
    dimensions: Sequence[str] = ()
    difficulties: Sequence[str] = ()
    seed: int = 0


class CleaningTasks:
    """The tables and the tasks of a selection (see the module rules)."""

    def __init__(self, tables: TableSource) -> None:
        self._tables = tables

    async def list_tables(self, caller: Caller) -> list[dict[str, Any]]:
        require_admin(caller, "Reading cleaning benchmarks")
        sources = await asyncio.to_thread(self._tables.list)
        return [table_summary(s) for s in sources]

    async def list(self, caller: Caller, selection: TaskSelection) -> list[dict[str, Any]]:
        require_admin(caller, "Reading cleaning benchmarks")
        tasks = await asyncio.to_thread(self.build, selection)
        return [t.summary() for t in tasks]

    async def get(self, caller: Caller, task_id: str, seed: int = 0) -> dict[str, Any]:
        """One task of `seed` by its id (`table.dimension.difficulty`); `NotFound` otherwise."""
        require_admin(caller, "Reading cleaning benchmarks")
        parts = task_id.rsplit(".", 2)
        if len(parts) != 3:
            raise NotFound(f"No cleaning task {task_id!r}; an id is table.dimension.difficulty.")
        table, dimension, difficulty = parts
        try:
            [task] = await asyncio.to_thread(
                self.build, TaskSelection((table,), (dimension,), (difficulty,), seed)
            )
        except InvalidRequest as exc:
            raise NotFound(f"No cleaning task {task_id!r}: {exc.detail}") from None
        return {
            **task.summary(),
            "instructions": task.instructions,
            "key": task.key,
            "dirty": task.dirty.as_dict(),
        }

    def build(self, selection: TaskSelection) -> builtins.list[Task]:
        return [build_task(s, dim, level, selection.seed) for s, dim, level in self.plan(selection)]

    def plan(self, selection: TaskSelection) -> builtins.list[PlannedTask]:
        """The (table, dimension, difficulty) of each task of `selection`, checked, in order;
        nothing is built yet (that is the run's work)."""
        sources = {s.name: s for s in self._tables.list()}
        try:
            tables = parse_choice(selection.tables, list(sources), "table")
            dimensions = parse_choice(selection.dimensions, DIMENSIONS, "dimension")
            difficulties = parse_choice(selection.difficulties, DIFFICULTIES, "difficulty")
        except ValueError as exc:
            field = str(exc).split()[1]
            name = {"table": "tables", "dimension": "dimensions"}.get(field, "difficulties")
            raise InvalidRequest(f"field '{name}': {exc}.") from None
        return [
            (sources[t], dim, level) for t in tables for dim in dimensions for level in difficulties
        ]

    def source(self, name: str) -> SourceTable | None:
        return next((s for s in self._tables.list() if s.name == name), None)


def table_summary(source: SourceTable) -> dict[str, Any]:
    return {
        "name": source.name,
        "title": source.title,
        "source": source.source,
        "licence": source.licence,
        "version": source.version,
        "rows": len(source.table.rows),
        "columns": list(source.table.columns),
        "key": source.key,
    }
