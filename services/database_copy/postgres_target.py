"""The PostgreSQL side of the copy: its columns, the emptiness check and the sequences."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from psycopg import sql

from services.database_copy.tables import APP_TABLES, KNOWLEDGE_TABLES, SEEDED
from services.tables.loader import TABLES_SCHEMA
from use_cases.shared.errors import Conflict

if TYPE_CHECKING:
    from services.postgres.database import Connection


@dataclass(frozen=True)
class PgColumn:
    name: str
    type: str  # pg_type.typname: bool, jsonb, timestamptz, vector, ...
    identity: str  # '' | 'a' (ALWAYS) | 'd' (BY DEFAULT)
    has_default: bool


def pg_columns(conn: Connection, qualified: str) -> list[PgColumn]:
    rows = conn.execute(
        "SELECT a.attname AS name, t.typname AS type, a.attidentity AS identity, "
        "a.atthasdef AS has_default FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum",
        (qualified,),
    ).fetchall()
    return [
        PgColumn(r["name"], r["type"], str(r["identity"] or ""), bool(r["has_default"]))
        for r in rows
    ]


def holding_data(conn: Connection) -> list[str]:
    """The target's tables (of those the copy writes) that already hold a row."""
    full: list[str] = []
    for table in (*KNOWLEDGE_TABLES, *APP_TABLES):
        exists = conn.execute("SELECT to_regclass(%s) AS t", (table,)).fetchone()
        if exists and exists["t"] is not None:
            seeded = SEEDED.get(table, ())
            row = conn.execute(
                sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE NOT id = ANY(%s)) AS full").format(
                    sql.Identifier(table)
                )
                if seeded
                else sql.SQL("SELECT EXISTS (SELECT 1 FROM {}) AS full").format(
                    sql.Identifier(table)
                ),
                (list(seeded),) if seeded else None,
            ).fetchone()
            if row and row["full"]:
                full.append(table)
    user_tables = conn.execute(
        "SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND c.relname NOT LIKE '\\_almanac\\_%%' "
        "ORDER BY c.relname",
        (TABLES_SCHEMA,),
    ).fetchall()
    full.extend(f"{TABLES_SCHEMA}.{r['name']}" for r in user_tables)
    return full


def refuse_if_not_empty(conn: Connection, target: str) -> None:
    full = holding_data(conn)
    if full:
        raise Conflict(
            f"The target {target} already holds data ({', '.join(full)}); nothing was "
            "written. `almanac db copy` only fills an empty database: copy into a new one "
            "(CREATE DATABASE ...; CREATE EXTENSION vector;)."
        )


def reset_sequences(conn: Connection, table: str, columns: list[str], floor: int) -> None:
    """Move each sequence of `table`'s copied columns past the largest copied id (and past
    SQLite's AUTOINCREMENT mark `floor`), so the next insert gets a fresh id."""
    for column in columns:
        row = conn.execute(
            "SELECT pg_get_serial_sequence(%s, %s) AS seq", (table, column)
        ).fetchone()
        if not row or not row["seq"]:
            continue
        top = conn.execute(
            sql.SQL("SELECT max({}) AS top FROM {}").format(
                sql.Identifier(column), sql.Identifier(table)
            )
        ).fetchone()
        highest = max(int(top["top"]) if top and top["top"] is not None else 0, floor)
        if highest > 0:
            conn.execute("SELECT setval(%s, %s, true)", (row["seq"], highest))


def pg_table_rows(conn: Connection, schema: str, table: str) -> int:
    row = conn.execute(
        sql.SQL("SELECT count(*) AS n FROM {}.{}").format(
            sql.Identifier(schema), sql.Identifier(table)
        )
    ).fetchone()
    return int(row["n"]) if row else 0
