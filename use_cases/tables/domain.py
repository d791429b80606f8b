"""Domain types of the structured tables: schemas and the rows of a read-only query."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TableColumn:
    """`samples`: a few distinct values (shown to a model); `values`: every distinct value of
    a text column with few enough of them (at most `MAX_COLUMN_VALUES`), for matching a
    question's words against the table; empty otherwise."""

    name: str
    type: str
    samples: tuple[str, ...] = ()
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: tuple[TableColumn, ...]
    row_count: int


@dataclass(frozen=True)
class QueryResult:
    """Rows of one read-only SELECT. `truncated` means more rows existed than were returned."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    truncated: bool
