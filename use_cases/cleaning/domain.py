"""Data-cleaning benchmarks: the tables, the tasks built from them and what a cleaner answers.

Rules:
- A table is text cells (`""` is a missing cell), its columns named in its header; a row is
  addressed by its position in the table the cleaner was given (0-based).
- A task is one clean table with errors of one dimension injected at one difficulty with one
  seed (`use_cases/cleaning/inject.py`). Its ground truth (the clean table, which clean row each
  dirty row comes from, and every injected error with its clean value) is stored with it.
- A cleaner answers cell changes and row removals, each with a justification, and a
  justification of the whole task (its own account of what it changed and why). An answer
  that names a row or column the table has not, or changes one cell twice, is invalid as a
  whole: it is scored as no repair at all and counted against the model's reliability.
- Auditability (`auditability`) is the share of a result's actions that carry a justification
  of their own (not blank); a result with no action scores 1.0 when its task justification
  says why it changed nothing, else 0.0. It measures whether each action is explained, not
  whether the explanation is right (F1 and corruption say that).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

Dimension = Literal["accuracy", "completeness", "consistency", "uniqueness"]
Difficulty = Literal["easy", "medium", "hard"]
DIMENSIONS: tuple[Dimension, ...] = ("accuracy", "completeness", "consistency", "uniqueness")
DIFFICULTIES: tuple[Difficulty, ...] = ("easy", "medium", "hard")


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def cell(self, row: int, column: str) -> str:
        return self.rows[row][self.columns.index(column)]

    def column(self, column: str) -> list[str]:
        index = self.columns.index(column)
        return [row[index] for row in self.rows]

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return out.getvalue()

    @classmethod
    def from_csv(cls, name: str, text: str) -> Table:
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if not header:
            raise ValueError(f"table {name!r} has no header line")
        width = len(header)
        rows = []
        for number, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != width:
                raise ValueError(f"table {name!r} line {number}: {len(row)} cells, not {width}")
            rows.append(tuple(cell.strip() for cell in row))
        return cls(name, tuple(h.strip() for h in header), tuple(rows))

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "columns": list(self.columns),
            "rows": [list(r) for r in self.rows],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Table:
        return cls(
            str(data["name"]),
            tuple(data["columns"]),
            tuple(tuple(str(c) for c in row) for row in data["rows"]),
        )


def content_version(text: str) -> str:
    """A table's version: the sha256 of its CSV text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SourceTable:
    """A clean table a benchmark is built from, with what its `table.json` says."""

    table: Table
    title: str
    source: str
    licence: str
    version: str
    key: str | None = None
    """A column that identifies a row (never given errors)."""
    units: Mapping[str, str] = field(default_factory=dict)
    """Unit of a numeric column (e.g. `mm`), for unit-suffix consistency errors."""

    @property
    def name(self) -> str:
        return self.table.name


@dataclass(frozen=True)
class InjectedError:
    """One injected error: a cell (`column` set) with its clean and dirty value, or a
    duplicate row (`column` None) of clean row `origin`."""

    row: int
    column: str | None
    kind: str
    clean: str | None = None
    dirty: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "kind": self.kind,
            "clean": self.clean,
            "dirty": self.dirty,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InjectedError:
        return cls(data["row"], data["column"], data["kind"], data["clean"], data["dirty"])


@dataclass(frozen=True)
class GroundTruth:
    clean: Table
    origin: tuple[int, ...]
    """For each dirty row, the clean row it comes from."""
    errors: tuple[InjectedError, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "clean": self.clean.as_dict(),
            "origin": list(self.origin),
            "errors": [e.as_dict() for e in self.errors],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroundTruth:
        return cls(
            Table.from_dict(data["clean"]),
            tuple(int(o) for o in data["origin"]),
            tuple(InjectedError.from_dict(e) for e in data["errors"]),
        )


@dataclass(frozen=True)
class Task:
    id: str
    table: str
    table_version: str
    dimension: Dimension
    difficulty: Difficulty
    seed: int
    dirty: Table
    truth: GroundTruth
    key: str | None = None

    @property
    def instructions(self) -> str:
        return INSTRUCTIONS[self.dimension]

    def summary(self) -> dict[str, Any]:
        return {
            "task_id": self.id,
            "table": self.table,
            "table_version": self.table_version,
            "dimension": self.dimension,
            "difficulty": self.difficulty,
            "seed": self.seed,
            "rows": len(self.dirty.rows),
            "columns": len(self.dirty.columns),
            "errors": len(self.truth.errors),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "key": self.key,
            "dirty": self.dirty.as_dict(),
            "truth": self.truth.as_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Task:
        return cls(
            id=data["task_id"],
            table=data["table"],
            table_version=data["table_version"],
            dimension=data["dimension"],
            difficulty=data["difficulty"],
            seed=int(data["seed"]),
            dirty=Table.from_dict(data["dirty"]),
            truth=GroundTruth.from_dict(data["truth"]),
            key=data.get("key"),
        )


INSTRUCTIONS: dict[Dimension, str] = {
    "accuracy": "Some cells hold wrong values or typos. Correct them; change nothing else.",
    "completeness": "Some cells are missing (empty). Fill those you can infer from the rest of "
    "the table; leave the others empty.",
    "consistency": "Some cells use another format, case or unit than the rest of their "
    "column. Rewrite them in the column's usual form; change nothing else.",
    "uniqueness": "Some rows are duplicates (possibly with small differences) of other rows. "
    "Remove the extra copies; keep one of each.",
}


@dataclass(frozen=True)
class CellChange:
    row: int
    column: str
    value: str
    justification: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "justification": self.justification,
        }


@dataclass(frozen=True)
class RowRemoval:
    row: int
    justification: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "justification": self.justification}


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


@dataclass(frozen=True)
class CleaningResult:
    changes: tuple[CellChange, ...] = ()
    removals: tuple[RowRemoval, ...] = ()
    usage: Usage = Usage()
    justification: str = ""
    """The cleaner's account of the whole task: what it changed and why."""


def auditability(result: CleaningResult) -> float:
    """The share of the result's actions that its justifications account for (module rules)."""
    reasons = [c.justification for c in result.changes] + [r.justification for r in result.removals]
    if not reasons:
        return 1.0 if result.justification.strip() else 0.0
    return sum(1 for why in reasons if why.strip()) / len(reasons)


def result_problem(table: Table, result: CleaningResult) -> str | None:
    """Why `result` is invalid for `table` (see the module rules), or None."""
    seen: set[tuple[int, str]] = set()
    rows = len(table.rows)
    for change in result.changes:
        if not 0 <= change.row < rows:
            return f"a change names row {change.row}; the table has rows 0 to {rows - 1}"
        if change.column not in table.columns:
            return f"a change names column {change.column!r}, which the table has not"
        if (change.row, change.column) in seen:
            return f"row {change.row} column {change.column!r} is changed twice"
        seen.add((change.row, change.column))
    for removal in result.removals:
        if not 0 <= removal.row < rows:
            return f"a removal names row {removal.row}; the table has rows 0 to {rows - 1}"
    return None


def apply(table: Table, result: CleaningResult) -> Table:
    """The table after the result's changes and removals (the result must be valid)."""
    rows = [list(row) for row in table.rows]
    for change in result.changes:
        rows[change.row][table.columns.index(change.column)] = change.value.strip()
    removed = {r.row for r in result.removals}
    kept = tuple(tuple(row) for i, row in enumerate(rows) if i not in removed)
    return Table(table.name, table.columns, kept)


def task_id(table: str, dimension: str, difficulty: str) -> str:
    return f"{table}.{dimension}.{difficulty}"


_Choice = TypeVar("_Choice", bound=str)


def parse_choice(values: Sequence[str], known: Sequence[_Choice], what: str) -> tuple[_Choice, ...]:
    """`values` (all of `known` when empty), each checked; raises ValueError naming `what`."""
    chosen = tuple(dict.fromkeys(v.strip() for v in values if v.strip())) or tuple(known)
    unknown = [v for v in chosen if v not in known]
    if unknown:
        raise ValueError(f"unknown {what} {unknown[0]!r}; use some of {', '.join(known)}")
    return cast("tuple[_Choice, ...]", chosen)  # each one of `known`, checked above
