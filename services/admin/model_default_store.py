"""SQLite adapter for the `ModelDefaultStore` port, in the app DB: one row per prompt type
that has an admin-chosen default model; clearing the default deletes the row. A write reads
the row it replaces in the same `BEGIN IMMEDIATE` transaction."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from services.sqlite.connection import Connection, immediate_transaction
from services.sqlite.migrations import Migration, apply_migrations
from services.sqlite.thread_connections import ThreadConnections
from use_cases.prompts.domain import ModelDefault

__all__ = ["MIGRATIONS", "SqliteModelDefaultStore"]

MIGRATIONS = (
    Migration(
        "model_defaults_0001_model_defaults",
        """
        CREATE TABLE model_defaults (
            prompt_type  TEXT PRIMARY KEY,
            model        TEXT NOT NULL CHECK (length(model) > 0),
            updated_by   TEXT NOT NULL,
            updated_at   TEXT NOT NULL
        );
        """,
    ),
)

_COLUMNS = "prompt_type, model, updated_by, updated_at"


class SqliteModelDefaultStore:
    def __init__(self, path: str | Path) -> None:
        self._connections = ThreadConnections(path)
        apply_migrations(self._connections.get(), MIGRATIONS)

    def get(self, prompt_type: str) -> ModelDefault | None:
        return _get(self._conn(), prompt_type)

    def put(
        self, prompt_type: str, model: str | None, by: str, at: datetime
    ) -> ModelDefault | None:
        with immediate_transaction(self._conn()) as conn:
            previous = _get(conn, prompt_type)
            if model is None:
                conn.execute("DELETE FROM model_defaults WHERE prompt_type = ?", (prompt_type,))
            else:
                conn.execute(
                    f"INSERT INTO model_defaults ({_COLUMNS}) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (prompt_type) DO UPDATE SET model = excluded.model, "
                    "updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                    (prompt_type, model, by, at.isoformat(timespec="microseconds")),
                )
        return previous

    def close(self) -> None:
        self._connections.close()

    def _conn(self) -> Connection:
        return self._connections.get()


def _get(conn: Connection, prompt_type: str) -> ModelDefault | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM model_defaults WHERE prompt_type = ?", (prompt_type,)
    ).fetchone()
    if row is None:
        return None
    return ModelDefault(
        prompt_type=str(row[0]),
        model=str(row[1]),
        updated_by=str(row[2]),
        updated_at=datetime.fromisoformat(str(row[3])),
    )
