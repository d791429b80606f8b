"""The knowledge store's `Session` on a pooled PostgreSQL connection (the rules are
`services/knowledge/dialect.py`'s; psycopg, the `postgres` extra, is imported only here and
in the other PostgreSQL modules)."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from psycopg.errors import UniqueViolation
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

from services.knowledge.dialect import Dialect, Row

if TYPE_CHECKING:
    from services.postgres.database import Connection as PgConnection

__all__ = ["PgSession"]


class PgSession:
    """A pooled PostgreSQL connection (autocommit, or inside the caller's transaction);
    vectors need pgvector's types registered on it (`PgKnowledgeStore.transaction`)."""

    dialect: Dialect = "postgresql"
    unique_violation: type[Exception] = UniqueViolation

    def __init__(self, conn: PgConnection) -> None:
        self.conn = conn

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self.conn.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(_pg_sql(sql), list(params))
            return list(cursor.fetchall())

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        with self.conn.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(_pg_sql(sql), list(params))
            return cursor.fetchone()

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(_pg_sql(sql), list(params)).rowcount

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(_pg_sql(sql), rows)

    def any_of(self, column: str, values: Collection[Any]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?)", [list(values)]

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        with self.conn.transaction():
            yield

    def put_json(self, value: Any) -> Jsonb:
        return Jsonb(value)

    def put_time(self, moment: datetime) -> datetime:
        return moment

    def put_date(self, day: date | None) -> date | None:
        return day

    def put_vector(self, vector: np.ndarray) -> np.ndarray:
        return vector


@lru_cache(maxsize=256)
def _pg_sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")
