"""PostgreSQL adapter for the `ModelDefaultStore` port (the same rules as
`SqliteModelDefaultStore`): one row per prompt type with an admin-chosen default model;
clearing the default deletes the row. A write takes a transaction-scoped advisory lock on the
prompt type, then reads the row it replaces, so the previous value it reports is exact even
when two admins (on any replicas) write at once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.postgres import Migration, PgDatabase, apply_migrations
from services.postgres.database import Connection
from use_cases.prompts.domain import ModelDefault

__all__ = ["MIGRATIONS", "PgModelDefaultStore"]

#: First key of the (int, int) advisory locks of model-default writes.
_LOCK_SPACE = 0x4D_44_45_46  # "MDEF"

MIGRATIONS: list[Migration] = [
    Migration(
        "model_defaults_pg_0001_model_defaults",
        """
        CREATE TABLE model_defaults (
            prompt_type  TEXT PRIMARY KEY,
            model        TEXT NOT NULL CHECK (length(model) > 0),
            updated_by   TEXT NOT NULL,
            updated_at   TIMESTAMPTZ NOT NULL
        );
        """,
    ),
]

_COLUMNS = "prompt_type, model, updated_by, updated_at"


class PgModelDefaultStore:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db
        apply_migrations(db, MIGRATIONS)

    def get(self, prompt_type: str) -> ModelDefault | None:
        with self._db.connection() as conn:
            return _get(conn, prompt_type)

    def put(
        self, prompt_type: str, model: str | None, by: str, at: datetime
    ) -> ModelDefault | None:
        moment = at.replace(tzinfo=UTC) if at.tzinfo is None else at
        with self._db.transaction() as conn:
            conn.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_SPACE, prompt_type)
            )
            previous = _get(conn, prompt_type)
            if model is None:
                conn.execute("DELETE FROM model_defaults WHERE prompt_type = %s", (prompt_type,))
            else:
                conn.execute(
                    f"INSERT INTO model_defaults ({_COLUMNS}) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (prompt_type) DO UPDATE SET model = excluded.model, "
                    "updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                    (prompt_type, model, by, moment),
                )
        return previous

    def close(self) -> None:
        """Nothing to release: the pool is shared and closed by its owner."""


def _get(conn: Connection, prompt_type: str) -> ModelDefault | None:
    row: dict[str, Any] | None = conn.execute(
        f"SELECT {_COLUMNS} FROM model_defaults WHERE prompt_type = %s", (prompt_type,)
    ).fetchone()
    if row is None:
        return None
    return ModelDefault(
        prompt_type=row["prompt_type"],
        model=row["model"],
        updated_by=row["updated_by"],
        updated_at=row["updated_at"].astimezone(UTC),
    )
