"""Named, ordered schema migrations recorded in a `schema_migrations` table.

Each store declares its list once; `apply_migrations` runs the ones not yet recorded, each in
its own `BEGIN IMMEDIATE` transaction together with the row that records it, so a crash
leaves a migration either fully applied and recorded or not at all, and two processes
starting together do not both apply it (the second re-checks under the write lock).
Migrations are append-only: never edit or reorder a released one, add a new one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from loguru import logger

from services.sqlite.connection import Connection, immediate_transaction, split_statements

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    name TEXT PRIMARY KEY,
    applied_at TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class Migration:
    """One schema step: an SQL script, or a function for steps SQL alone cannot express."""

    name: str
    sql: str = ""
    function: Callable[[Connection], None] | None = None

    def apply(self, conn: Connection) -> None:
        for statement in split_statements(self.sql) if self.sql else []:
            conn.execute(statement)
        if self.function is not None:
            self.function(conn)


def applied_migrations(conn: Connection) -> list[str]:
    """Names of the migrations already recorded, in the order they were applied."""
    conn.execute(_CREATE_TABLE)
    return [row[0] for row in conn.execute("SELECT name FROM schema_migrations ORDER BY rowid")]


def apply_migrations(
    conn: Connection, migrations: Sequence[Migration | tuple[str, str]]
) -> list[str]:
    """Apply the pending migrations in order; return the names applied by this call.

    Items may be `Migration`s or plain `(name, sql)` pairs.
    """
    steps = [m if isinstance(m, Migration) else Migration(*m) for m in migrations]
    names = [m.name for m in steps]
    if len(set(names)) != len(names):
        raise ValueError(f"Duplicate migration names: {names}")
    done = set(applied_migrations(conn))
    applied: list[str] = []
    for migration in steps:
        if migration.name in done:
            continue
        with immediate_transaction(conn):
            already = conn.execute(
                "SELECT 1 FROM schema_migrations WHERE name = ?", (migration.name,)
            ).fetchone()
            if already:  # another process got there first
                continue
            migration.apply(conn)
            conn.execute(
                "INSERT INTO schema_migrations(name, applied_at) VALUES (?, ?)",
                (migration.name, datetime.now(UTC).isoformat(timespec="seconds")),
            )
        logger.info("Applied migration {}", migration.name)
        applied.append(migration.name)
    return applied
