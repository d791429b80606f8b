"""Domain types of the structured tables: schemas and the rows of a read-only query."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias


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
    """`collection_id`: the collection the table belongs to (None: the default collection,
    which every user reads)."""

    name: str
    columns: tuple[TableColumn, ...]
    row_count: int
    collection_id: int | None = None


TableCollections: TypeAlias = frozenset[int | None] | None
"""The collections whose tables a reader may see: None for every one (an admin, the CLI),
else the readable collections' ids, `None` among them standing for the default collection
(a reader's `ReadScope.collections`)."""

KEEP: Final = "keep"
#: Where a load puts its table: a collection's id, None for the default collection, or
#: `KEEP`: a replaced table keeps its own collection and a new one goes to the default.
Placement: TypeAlias = int | Literal["keep"] | None


def may_read(collections: TableCollections, schema: TableSchema) -> bool:
    """Whether a reader of `collections` may see the table."""
    return collections is None or schema.collection_id in collections


@dataclass(frozen=True)
class QueryResult:
    """Rows of one read-only SELECT. `truncated` means more rows existed than were returned."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    truncated: bool
