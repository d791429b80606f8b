"""The `ModelDefaultStore` port in the app database, on SQLite or PostgreSQL (`services/sql`).

Rules (both databases): one row per prompt type that has an admin-chosen default model;
clearing the default deletes the row. A write takes a lock that serialises the writes of its
prompt type, then reads the row it replaces in the same transaction, so the previous value it
reports is exact even when two admins (on any replicas) write at once.

What differs by dialect:

* that lock: on SQLite the `BEGIN IMMEDIATE` of `db.write()` already holds the database's
  write lock; on PostgreSQL the write first takes a transaction-scoped advisory lock
  `pg_advisory_xact_lock(_LOCK_SPACE, hashtext(prompt_type))`;
* the schema (`MIGRATIONS` / `PG_MIGRATIONS`): `updated_at` as ISO text or `timestamptz`.
"""

from __future__ import annotations

from datetime import datetime

from services.postgres.migrations import Migration as PgMigration
from services.sql import Session, StoreTarget, sql_db
from services.sqlite.migrations import Migration
from use_cases.prompts.domain import ModelDefault

__all__ = ["MIGRATIONS", "PG_MIGRATIONS", "ModelDefaultStore"]

#: First key of the (int, int) advisory locks of model-default writes on PostgreSQL.
_LOCK_SPACE = 0x4D_44_45_46  # "MDEF"

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

PG_MIGRATIONS: list[PgMigration] = [
    PgMigration(
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


class ModelDefaultStore:
    def __init__(self, target: StoreTarget) -> None:
        self._db = sql_db(target)
        self._db.migrate(sqlite=MIGRATIONS, postgres=PG_MIGRATIONS)

    def get(self, prompt_type: str) -> ModelDefault | None:
        with self._db.read() as conn:
            return self._get(conn, prompt_type)

    def put(
        self, prompt_type: str, model: str | None, by: str, at: datetime
    ) -> ModelDefault | None:
        with self._db.write() as conn:
            if self._db.dialect == "postgresql":
                # SQLite's BEGIN IMMEDIATE already holds the write lock.
                conn.execute(
                    "SELECT pg_advisory_xact_lock(?, hashtext(?))", (_LOCK_SPACE, prompt_type)
                )
            previous = self._get(conn, prompt_type)
            if model is None:
                conn.execute("DELETE FROM model_defaults WHERE prompt_type = ?", (prompt_type,))
            else:
                conn.execute(
                    f"INSERT INTO model_defaults ({_COLUMNS}) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (prompt_type) DO UPDATE SET model = excluded.model, "
                    "updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                    (prompt_type, model, by, self._db.put_time(at)),
                )
        return previous

    def close(self) -> None:
        self._db.close()

    def _get(self, conn: Session, prompt_type: str) -> ModelDefault | None:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM model_defaults WHERE prompt_type = ?", (prompt_type,)
        ).fetchone()
        if row is None:
            return None
        return ModelDefault(
            prompt_type=str(row["prompt_type"]),
            model=str(row["model"]),
            updated_by=str(row["updated_by"]),
            updated_at=self._db.get_time(row["updated_at"]),
        )
