"""Ports of the structured tables: loading a table and running read-only SQL over them."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from use_cases.tables.domain import Placement, QueryResult, TableCollections, TableSchema


class SqlRunner(Protocol):
    """Read-only access to the structured tables.

    `run` raises `ToolRejected`, with a message fit to show the model, for anything that is
    not one permitted SELECT, and when the query hits the time limit.

    `collections` (None: every table) limits both to the tables of those collections, inside
    the engine's boundary: a query naming any other table fails as "no such table", exactly
    as for a table that does not exist, and `schemas` lists only those tables.
    """

    @property
    def dialect(self) -> str:
        """The SQL dialect queries must be written in ("SQLite", "PostgreSQL")."""
        ...

    def schemas(self, collections: TableCollections = None) -> list[TableSchema]: ...

    def run(self, sql: str, collections: TableCollections = None) -> QueryResult: ...

    def refresh(self) -> None:
        """Forget cached schemas (row counts, samples): the next call re-reads them."""
        ...


class TableLoader(Protocol):
    """Creates or replaces the structured tables the SQL tool reads."""

    def load(self, file: Path, name: str, collection: Placement = "keep") -> TableSchema:
        """Create or atomically replace table `name` from a CSV/TSV or JSON-lines file, in
        `collection` (`Placement`).

        A missing file, a bad line or a bad name is `InvalidRequest` (an unsupported type
        `UnsupportedDocument`), raised before anything is written."""
        ...

    def is_workbook(self, file: Path) -> bool:
        """Whether `file` is a workbook (`.xlsx`, `.xlsm`, `.ods`): a table per sheet."""
        ...

    def load_workbook(
        self, file: Path, prefix: str | None = None, collection: Placement = "keep"
    ) -> list[TableSchema]:
        """Create or atomically replace a table per sheet of the workbook `file`, named from
        `prefix` (or the file's name) and the sheet, each in `collection`; nothing is
        written unless every sheet loads."""
        ...

    def list_tables(self) -> list[TableSchema]: ...

    def drop(self, name: str) -> bool:
        """Drop table `name` (any case); False if there was no such table."""
        ...
