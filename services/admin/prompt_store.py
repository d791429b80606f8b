"""The `PromptStore` port in the app database, on SQLite or PostgreSQL (`services/sql`).

Rules (both databases):

* `prompt_versions` holds every version of every prompt type, numbered from 1 per type;
  rows are never changed or deleted (triggers refuse it, an IntegrityError on both), so the
  history of a prompt stays as written.
* `active_prompts` holds at most one row per type, the active version; no row means the
  default is in force.
* A version created with `activate=False` is a draft: stored and numbered like any other,
  but the active row is left as it was.
* Every write is one transaction that reads the state it replaces after taking a lock that
  serialises the writes of its prompt type, so two admins writing at once (on any replicas)
  get consecutive numbers and exact before/after values.

What differs by dialect:

* that lock: on SQLite the `BEGIN IMMEDIATE` of `db.write()` already holds the database's
  write lock; on PostgreSQL each write first takes a transaction-scoped advisory lock
  `pg_advisory_xact_lock(_LOCK_SPACE, hashtext(prompt_type))` (`_lock`);
* the schema (`MIGRATIONS` / `PG_MIGRATIONS`): times as ISO text or `timestamptz`, and the
  triggers (PostgreSQL's also refuse TRUNCATE).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.postgres.migrations import Migration as PgMigration
from services.sql import Session, StoreTarget, sql_db
from services.sqlite.migrations import Migration
from use_cases.prompts.domain import PromptChange, PromptVersion

__all__ = ["MIGRATIONS", "PG_MIGRATIONS", "PromptStore"]

#: First key of the (int, int) advisory locks of prompt writes on PostgreSQL; the second is
#: the type's hash.
_LOCK_SPACE = 0x50_52_4F_4D  # "PROM"

MIGRATIONS = (
    Migration(
        "prompts_0001_prompt_versions",
        """
        CREATE TABLE prompt_versions (
            prompt_type  TEXT NOT NULL,
            version      INTEGER NOT NULL CHECK (version >= 1),
            text         TEXT NOT NULL CHECK (length(text) > 0),
            author       TEXT NOT NULL,
            created_at   TEXT NOT NULL,
            PRIMARY KEY (prompt_type, version)
        );
        CREATE TABLE active_prompts (
            prompt_type  TEXT PRIMARY KEY,
            version      INTEGER NOT NULL,
            FOREIGN KEY (prompt_type, version) REFERENCES prompt_versions (prompt_type, version)
        );
        CREATE TRIGGER prompt_versions_no_update BEFORE UPDATE ON prompt_versions
        BEGIN
            SELECT RAISE(ABORT, 'prompt versions are never changed: add a new version');
        END;
        CREATE TRIGGER prompt_versions_no_delete BEFORE DELETE ON prompt_versions
        BEGIN
            SELECT RAISE(ABORT, 'prompt versions are kept');
        END;
        """,
    ),
)

PG_MIGRATIONS: list[PgMigration] = [
    PgMigration(
        "prompts_pg_0001_prompt_versions",
        """
        CREATE TABLE prompt_versions (
            prompt_type  TEXT NOT NULL,
            version      INTEGER NOT NULL CHECK (version >= 1),
            text         TEXT NOT NULL CHECK (length(text) > 0),
            author       TEXT NOT NULL,
            created_at   TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (prompt_type, version)
        );
        CREATE TABLE active_prompts (
            prompt_type  TEXT PRIMARY KEY,
            version      INTEGER NOT NULL,
            FOREIGN KEY (prompt_type, version) REFERENCES prompt_versions (prompt_type, version)
        );
        CREATE FUNCTION prompt_versions_kept() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' THEN
                RAISE EXCEPTION 'prompt versions are never changed: add a new version'
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RAISE EXCEPTION 'prompt versions are kept'
                USING ERRCODE = 'integrity_constraint_violation';
        END;
        $$;
        CREATE TRIGGER prompt_versions_no_update BEFORE UPDATE ON prompt_versions
            FOR EACH ROW EXECUTE FUNCTION prompt_versions_kept();
        CREATE TRIGGER prompt_versions_no_delete BEFORE DELETE ON prompt_versions
            FOR EACH ROW EXECUTE FUNCTION prompt_versions_kept();
        CREATE TRIGGER prompt_versions_no_truncate BEFORE TRUNCATE ON prompt_versions
            FOR EACH STATEMENT EXECUTE FUNCTION prompt_versions_kept();
        """,
    ),
]

_COLUMNS = "prompt_type, version, text, author, created_at"


class PromptStore:
    def __init__(self, target: StoreTarget) -> None:
        self._db = sql_db(target)
        self._db.migrate(sqlite=MIGRATIONS, postgres=PG_MIGRATIONS)

    def create_version(
        self, prompt_type: str, text: str, author: str, at: datetime, *, activate: bool = True
    ) -> PromptChange:
        with self._db.write() as conn:
            self._lock(conn, prompt_type)
            before = _active_number(conn, prompt_type)
            row = conn.execute(
                f"INSERT INTO prompt_versions ({_COLUMNS}) VALUES (?, "
                "(SELECT COALESCE(MAX(version), 0) + 1 FROM prompt_versions "
                " WHERE prompt_type = ?), ?, ?, ?) "
                f"RETURNING {_COLUMNS}",
                (prompt_type, prompt_type, text, author, self._db.put_time(at)),
            ).fetchone()
            after = self._row(row)
            if activate:
                _set_active(conn, prompt_type, after.version)
        return PromptChange(before, after)

    def active_version(self, prompt_type: str) -> PromptVersion | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT v.prompt_type, v.version, v.text, v.author, v.created_at "
                "FROM active_prompts a JOIN prompt_versions v USING (prompt_type, version) "
                "WHERE a.prompt_type = ?",
                (prompt_type,),
            ).fetchone()
        return self._row(row) if row else None

    def get_version(self, prompt_type: str, version: int) -> PromptVersion | None:
        with self._db.read() as conn:
            return self._version(conn, prompt_type, version)

    def list_versions(
        self, prompt_type: str, *, limit: int, offset: int
    ) -> tuple[list[PromptVersion], int]:
        with self._db.read() as conn:
            total = conn.execute(
                "SELECT count(*) AS n FROM prompt_versions WHERE prompt_type = ?", (prompt_type,)
            ).fetchone()
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM prompt_versions WHERE prompt_type = ? "
                "ORDER BY version DESC LIMIT ? OFFSET ?",
                (prompt_type, limit, offset),
            ).fetchall()
        return [self._row(row) for row in rows], int(total["n"])

    def activate(self, prompt_type: str, version: int) -> PromptChange | None:
        with self._db.write() as conn:
            self._lock(conn, prompt_type)
            after = self._version(conn, prompt_type, version)
            if after is None:
                return None
            before = _active_number(conn, prompt_type)
            _set_active(conn, prompt_type, version)
        return PromptChange(before, after)

    def reset(self, prompt_type: str) -> PromptChange:
        with self._db.write() as conn:
            self._lock(conn, prompt_type)
            before = _active_number(conn, prompt_type)
            conn.execute("DELETE FROM active_prompts WHERE prompt_type = ?", (prompt_type,))
        return PromptChange(before, None)

    def close(self) -> None:
        self._db.close()

    def _lock(self, conn: Session, prompt_type: str) -> None:
        """Serialise the writes of one prompt type until the transaction ends: PostgreSQL
        takes an advisory lock; SQLite's `BEGIN IMMEDIATE` already holds the write lock."""
        if self._db.dialect == "postgresql":
            conn.execute("SELECT pg_advisory_xact_lock(?, hashtext(?))", (_LOCK_SPACE, prompt_type))

    def _version(self, conn: Session, prompt_type: str, version: int) -> PromptVersion | None:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM prompt_versions WHERE prompt_type = ? AND version = ?",
            (prompt_type, version),
        ).fetchone()
        return self._row(row) if row else None

    def _row(self, row: Any) -> PromptVersion:
        return PromptVersion(
            prompt_type=str(row["prompt_type"]),
            version=int(row["version"]),
            text=str(row["text"]),
            author=str(row["author"]),
            created_at=self._db.get_time(row["created_at"]),
        )


def _active_number(conn: Session, prompt_type: str) -> int | None:
    row = conn.execute(
        "SELECT version FROM active_prompts WHERE prompt_type = ?", (prompt_type,)
    ).fetchone()
    return None if row is None else int(row["version"])


def _set_active(conn: Session, prompt_type: str, version: int) -> None:
    conn.execute(
        "INSERT INTO active_prompts (prompt_type, version) VALUES (?, ?) "
        "ON CONFLICT (prompt_type) DO UPDATE SET version = excluded.version",
        (prompt_type, version),
    )
