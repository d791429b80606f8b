"""A `ReadScope` as SQL over `documents d`, the same on SQLite and PostgreSQL.

Retrieval turns a restricted scope into the set of readable document ids once per search
(`readable_documents`), and each leg ranks only those (FTS5 and the resident indexes on
SQLite, the postings and vector statements on PostgreSQL); listings and reads by id use the
predicate itself (`scope_where`). The two dialects differ only in reading a metadata key
(`json_extract` against `->>`) and in the list parameter (`Reads.any_of`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from use_cases.knowledge.scope import ReadScope

__all__ = ["readable_documents", "scope_where"]


class _Reads(Protocol):
    def rows(self, sql: str, params: Sequence[Any]) -> Sequence[Sequence[Any]]: ...

    def any_of(self, column: str, values: Any) -> tuple[str, list[Any]]: ...


def scope_where(reads: _Reads, scope: ReadScope, alias: str = "d") -> tuple[str, list[Any]]:
    """(a predicate over the documents table under `alias`, its parameters); "1 = 1" for an
    unrestricted scope."""
    dialect = getattr(reads, "dialect", "sqlite")
    parts: list[str] = []
    params: list[Any] = []
    if scope.collections is not None:
        ids = sorted(c for c in scope.collections if c is not None)
        either: list[str] = []
        if ids:
            where, ids_params = reads.any_of(f"{alias}.collection_id", ids)
            either.append(where)
            params += ids_params
        if None in scope.collections:
            either.append(f"{alias}.collection_id IS NULL")
        parts.append("(" + " OR ".join(either) + ")" if either else "1 = 0")
    f = scope.filters
    if f.category is not None:
        parts.append(f"{alias}.category = ?")
        params.append(f.category)
    if f.source_prefix:
        parts.append(f"substr({alias}.source, 1, ?) = ?")
        params += [len(f.source_prefix), f.source_prefix]
    for bound, op in ((f.updated_after, ">="), (f.updated_before, "<=")):
        if bound is not None:
            parts.append(f"{alias}.updated_at IS NOT NULL AND {alias}.updated_at {op} ?")
            params.append(bound.isoformat() if dialect == "sqlite" else bound)
    for key, value in f.metadata:
        if dialect == "sqlite":
            parts.append(f"json_extract({alias}.metadata, ?) = ?")
            params += ['$."' + key.replace('"', "") + '"', value]
        else:
            parts.append(f"{alias}.metadata ->> ? = ?")
            params += [key, value]
    return (" AND ".join(parts) if parts else "1 = 1"), params


def readable_documents(reads: _Reads, scope: ReadScope) -> frozenset[int]:
    """The ids of the documents `scope` may read (call only for a restricted scope)."""
    where, params = scope_where(reads, scope)
    rows = reads.rows(f"SELECT d.id FROM documents d WHERE {where}", params)
    return frozenset(int(row[0]) for row in rows)
