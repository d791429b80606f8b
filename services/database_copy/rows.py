"""Copying the rows: app and knowledge tables, the vectors and the user tables, in one
transaction the caller holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from pgvector.psycopg.vector import register_vector_info
from psycopg import sql
from psycopg.types import TypeInfo

from services.database_copy.postgres_target import pg_columns, pg_table_rows, reset_sequences
from services.database_copy.report import TableCount
from services.database_copy.sqlite_source import (
    Source,
    autoincrement_floor,
    quote,
    sqlite_columns,
    sqlite_count,
)
from services.database_copy.tables import (
    APP_TABLES,
    DERIVED,
    KNOWLEDGE_TABLES,
    PROGRESS_EVERY,
    SEEDED,
    VECTOR_TABLE,
    Progress,
)
from services.knowledge import pg_store
from services.sqlite.connection import Connection as SqliteConnection
from services.tables.loader import PG_TYPES, READER_ROLE, TABLES_SCHEMA, user_table_names
from use_cases.shared.errors import ConfigurationError, InvalidRequest

if TYPE_CHECKING:
    from services.postgres.database import Connection


def _converter(pg_type: str) -> Callable[[Any], Any]:
    if pg_type == "bool":
        return lambda v: None if v is None else bool(v)
    return lambda v: v  # numbers, text; JSON, dates and times as the text SQLite holds


def _copy_table(
    sqlite: SqliteConnection,
    conn: Connection,
    table: str,
    progress: Progress,
) -> int:
    """Copy `table` row for row (rowid order); returns the rows written."""
    source_columns = [name for name, _ in sqlite_columns(sqlite, table)]
    if not source_columns:
        return 0  # this store never opened this file: nothing to copy
    target_columns = pg_columns(conn, table)
    if not target_columns:
        raise ConfigurationError(f"The target has no table {table}: its migrations did not run.")
    by_name = {c.name: c for c in target_columns}
    lost = [c for c in source_columns if c not in by_name]
    if lost:
        raise ConfigurationError(
            f"The PostgreSQL table {table} has no column {', '.join(lost)}: this Almanac "
            "does not know that installation's schema (is the installation newer?)."
        )
    missing = [
        c.name
        for c in target_columns
        if c.name not in source_columns
        and c.identity != "a"
        and not c.has_default
        and (table, c.name) not in DERIVED
    ]
    if missing:
        raise ConfigurationError(
            f"The SQLite table {table} has no column {', '.join(missing)}: the installation "
            "is older than this Almanac. Start it once with this version (or run `almanac db "
            "migrate` with DATABASE_URL=sqlite:///DIR) to migrate it, then copy."
        )
    columns = [c.name for c in target_columns if c.name in source_columns]
    converters = [_converter(by_name[c].type) for c in columns]
    select = f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table)} ORDER BY rowid"
    copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    written = 0
    with conn.cursor().copy(copy) as pipe:
        for row in sqlite.execute(select):
            pipe.write_row([convert(v) for convert, v in zip(converters, row, strict=True)])
            written += 1
            if written % PROGRESS_EVERY == 0:
                progress(table, written)
    progress(table, written)
    reset_sequences(conn, table, columns, autoincrement_floor(sqlite, table))
    return written


def _copy_knowledge_meta(sqlite: SqliteConnection, conn: Connection) -> int | None:
    """The embedding model and dimension; returns the dimension (None: no vectors yet)."""
    meta = dict(
        sqlite.execute(
            "SELECT key, value FROM meta WHERE key IN ('embedding_model', 'embedding_dimension')"
        ).fetchall()
    )
    for key, value in sorted(meta.items()):
        conn.execute(
            "INSERT INTO knowledge_meta(key, value) VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, str(value)),
        )
    conn.execute(  # readers' caches keyed on the generation see a new knowledge base
        "UPDATE knowledge_meta SET value = (value::bigint + 1)::text WHERE key = 'generation'"
    )
    dimension = meta.get("embedding_dimension")
    return int(dimension) if dimension is not None else None


def _copy_vectors(
    sqlite: SqliteConnection, conn: Connection, dimension: int, progress: Progress
) -> int:
    """sqlite-vec's float32 vectors into pgvector; the HNSW index is built after the rows."""
    pg_store.create_vector_table(conn, dimension)
    has_table = sqlite.execute(
        "SELECT 1 FROM sqlite_schema WHERE name = ?", (VECTOR_TABLE,)
    ).fetchone()
    written = 0
    if has_table:
        register_vector_info(conn, TypeInfo.fetch(conn, "vector"))
        copy = sql.SQL("COPY {} (chunk_id, embedding, category) FROM STDIN").format(
            sql.Identifier(VECTOR_TABLE)
        )
        rows = sqlite.execute(
            f"SELECT chunk_id, embedding, category FROM {VECTOR_TABLE} ORDER BY chunk_id"
        )
        with conn.cursor().copy(copy) as pipe:
            for chunk_id, blob, category in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape[0] != dimension:
                    raise InvalidRequest(
                        f"Chunk {chunk_id}'s vector has {vector.shape[0]} dimensions; the "
                        f"knowledge base records {dimension}."
                    )
                pipe.write_row((int(chunk_id), vector, category or ""))
                written += 1
                if written % PROGRESS_EVERY == 0:
                    progress(VECTOR_TABLE, written)
    progress(VECTOR_TABLE, written)
    pg_store.create_vector_index(conn)
    return written


def _to_datetime(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value).strip())
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _user_value(value: Any, loader_type: str) -> Any:
    if value is None:
        return None
    if loader_type == "DATE":
        return date.fromisoformat(str(value).strip())
    if loader_type == "DATETIME":
        return _to_datetime(value)
    return value


def _copy_user_tables(
    sqlite: SqliteConnection, conn: Connection, progress: Progress
) -> list[TableCount]:
    """Each user table into TABLES_SCHEMA with its loader types as PostgreSQL types, its
    original headers in `_almanac_columns`, and SELECT granted to the SQL tool's role."""
    counts: list[TableCount] = []
    has_meta = sqlite.execute(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = '_almanac_columns'"
    ).fetchone()
    meta_table = sql.SQL("{}.{}").format(
        sql.Identifier(TABLES_SCHEMA), sql.Identifier("_almanac_columns")
    )
    for name in user_table_names(sqlite):
        table = name.lower()
        columns = sqlite_columns(sqlite, name)
        types = [t if t in PG_TYPES else "TEXT" for _, t in columns]
        headers = {c: c for c, _ in columns}
        if has_meta:
            headers.update(
                sqlite.execute(
                    "SELECT name, source_name FROM _almanac_columns WHERE table_name = ?",
                    (table,),
                ).fetchall()
            )
        qualified = sql.SQL("{}.{}").format(sql.Identifier(TABLES_SCHEMA), sql.Identifier(table))
        definition = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(PG_TYPES[t]))
            for (c, _), t in zip(columns, types, strict=True)
        )
        conn.execute(sql.SQL("CREATE TABLE {} ({})").format(qualified, definition))
        select = (
            f"SELECT {', '.join(quote(c) for c, _ in columns)} FROM {quote(name)} ORDER BY rowid"
        )
        written = 0
        label = f"{TABLES_SCHEMA}.{table}"
        with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(qualified)) as pipe:
            for row in sqlite.execute(select):
                pipe.write_row([_user_value(v, t) for v, t in zip(row, types, strict=True)])
                written += 1
                if written % PROGRESS_EVERY == 0:
                    progress(label, written)
        progress(label, written)
        conn.execute(
            sql.SQL("GRANT SELECT ON {} TO {}").format(qualified, sql.Identifier(READER_ROLE))
        )
        conn.cursor().executemany(
            sql.SQL(
                "INSERT INTO {} (table_name, position, name, source_name, type) "
                "VALUES (%s, %s, %s, %s, %s)"
            ).format(meta_table),
            [
                (table, position, column, headers.get(column, column), loader_type)
                for position, ((column, _), loader_type) in enumerate(
                    zip(columns, types, strict=True)
                )
            ],
        )
        counts.append(
            TableCount(label, sqlite_count(sqlite, name), pg_table_rows(conn, TABLES_SCHEMA, table))
        )
    _copy_table_collections(sqlite, conn)
    return counts


def _copy_table_collections(sqlite: SqliteConnection, conn: Connection) -> None:
    """Each table's collection (`_almanac_tables`; a file from before collections has none:
    every table is in the default collection) into the PostgreSQL catalogue."""
    placed = sqlite.execute(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = '_almanac_tables'"
    ).fetchone()
    if not placed:
        return
    catalogue = sql.SQL("{}.{}").format(
        sql.Identifier(TABLES_SCHEMA), sql.Identifier("_almanac_tables")
    )
    conn.cursor().executemany(
        sql.SQL("INSERT INTO {} (table_name, collection_id) VALUES (%s, %s)").format(catalogue),
        [
            (str(row[0]), int(row[1]))
            for row in sqlite.execute("SELECT table_name, collection_id FROM _almanac_tables")
        ],
    )


def copy_all(source: Source, conn: Connection, progress: Progress) -> list[TableCount]:
    conn.execute("SET LOCAL TIME ZONE 'UTC'")
    counts: list[TableCount] = []
    # Documents first, all in one COPY: a document may supersede one with a larger id, and a
    # foreign key is checked at the end of the statement, when every row is in.
    for table in KNOWLEDGE_TABLES:
        written = _copy_table(source.knowledge, conn, table, progress)
        counts.append(TableCount(table, sqlite_count(source.knowledge, table), written))
    dimension = _copy_knowledge_meta(source.knowledge, conn)
    if dimension is not None:
        _copy_vectors(source.knowledge, conn, dimension, progress)
        has_vectors = source.knowledge.execute(
            "SELECT 1 FROM sqlite_schema WHERE name = ?", (VECTOR_TABLE,)
        ).fetchone()
        source_vectors = sqlite_count(source.knowledge, VECTOR_TABLE) if has_vectors else 0
        counts.append(
            TableCount(VECTOR_TABLE, source_vectors, pg_table_rows(conn, "public", VECTOR_TABLE))
        )
    for table in reversed(SEEDED):
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(sql.Identifier(table)),
            (list(SEEDED[table]),),
        )
    for table in APP_TABLES:
        if not sqlite_columns(source.app, table):
            continue  # that store never opened this file
        _copy_table(source.app, conn, table, progress)
        counts.append(TableCount(table, sqlite_count(source.app, table), 0))
    if source.tables is not None:
        counts.extend(_copy_user_tables(source.tables, conn, progress))
    # Count what the target holds now, in this transaction, before anything is committed.
    for count in counts:
        if "." not in count.table:
            count.target = pg_table_rows(conn, "public", count.table)
    return counts
