"""PostgreSQL adapter for the `PromptStore` port (the same rules as `SqlitePromptStore`).

`prompt_versions` holds every version of every prompt type, numbered from 1 per type, never
changed or deleted (triggers refuse it); `active_prompts` holds at most one row per type.
Every write takes a transaction-scoped advisory lock on its prompt type before it reads the
state it replaces, so two admins (on any replicas) get consecutive numbers and exact
before/after values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.postgres import Migration, PgDatabase, apply_migrations
from services.postgres.database import Connection
from use_cases.prompts.domain import PromptChange, PromptVersion

__all__ = ["MIGRATIONS", "PgPromptStore"]

#: First key of the (int, int) advisory locks of prompt writes; the second is the type's hash.
_LOCK_SPACE = 0x50_52_4F_4D  # "PROM"

MIGRATIONS: list[Migration] = [
    Migration(
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


class PgPromptStore:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db
        apply_migrations(db, MIGRATIONS)

    def create_version(
        self, prompt_type: str, text: str, author: str, at: datetime, *, activate: bool = True
    ) -> PromptChange:
        moment = at.replace(tzinfo=UTC) if at.tzinfo is None else at
        with self._db.transaction() as conn:
            _lock(conn, prompt_type)
            before = _active_number(conn, prompt_type)
            row = conn.execute(
                f"INSERT INTO prompt_versions ({_COLUMNS}) VALUES (%s, "
                "(SELECT COALESCE(MAX(version), 0) + 1 FROM prompt_versions "
                " WHERE prompt_type = %s), %s, %s, %s) "
                f"RETURNING {_COLUMNS}",
                (prompt_type, prompt_type, text, author, moment),
            ).fetchone()
            assert row is not None
            after = _row(row)
            if activate:
                _set_active(conn, prompt_type, after.version)
        return PromptChange(before, after)

    def active_version(self, prompt_type: str) -> PromptVersion | None:
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT v.prompt_type, v.version, v.text, v.author, v.created_at "
                "FROM active_prompts a JOIN prompt_versions v USING (prompt_type, version) "
                "WHERE a.prompt_type = %s",
                (prompt_type,),
            ).fetchone()
        return _row(row) if row else None

    def get_version(self, prompt_type: str, version: int) -> PromptVersion | None:
        with self._db.connection() as conn:
            return _version(conn, prompt_type, version)

    def list_versions(
        self, prompt_type: str, *, limit: int, offset: int
    ) -> tuple[list[PromptVersion], int]:
        with self._db.connection() as conn:
            total = conn.execute(
                "SELECT count(*) AS n FROM prompt_versions WHERE prompt_type = %s",
                (prompt_type,),
            ).fetchone()
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM prompt_versions WHERE prompt_type = %s "
                "ORDER BY version DESC LIMIT %s OFFSET %s",
                (prompt_type, limit, offset),
            ).fetchall()
        assert total is not None
        return [_row(row) for row in rows], int(total["n"])

    def activate(self, prompt_type: str, version: int) -> PromptChange | None:
        with self._db.transaction() as conn:
            _lock(conn, prompt_type)
            after = _version(conn, prompt_type, version)
            if after is None:
                return None
            before = _active_number(conn, prompt_type)
            _set_active(conn, prompt_type, version)
        return PromptChange(before, after)

    def reset(self, prompt_type: str) -> PromptChange:
        with self._db.transaction() as conn:
            _lock(conn, prompt_type)
            before = _active_number(conn, prompt_type)
            conn.execute("DELETE FROM active_prompts WHERE prompt_type = %s", (prompt_type,))
        return PromptChange(before, None)

    def close(self) -> None:
        """Nothing to release: the pool is shared and closed by its owner."""


def _lock(conn: Connection, prompt_type: str) -> None:
    """Serialise the writes of one prompt type until the transaction ends."""
    conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_SPACE, prompt_type))


def _active_number(conn: Connection, prompt_type: str) -> int | None:
    row = conn.execute(
        "SELECT version FROM active_prompts WHERE prompt_type = %s", (prompt_type,)
    ).fetchone()
    return None if row is None else int(row["version"])


def _set_active(conn: Connection, prompt_type: str, version: int) -> None:
    conn.execute(
        "INSERT INTO active_prompts (prompt_type, version) VALUES (%s, %s) "
        "ON CONFLICT (prompt_type) DO UPDATE SET version = excluded.version",
        (prompt_type, version),
    )


def _version(conn: Connection, prompt_type: str, version: int) -> PromptVersion | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM prompt_versions WHERE prompt_type = %s AND version = %s",
        (prompt_type, version),
    ).fetchone()
    return _row(row) if row else None


def _row(row: dict[str, Any]) -> PromptVersion:
    return PromptVersion(
        prompt_type=row["prompt_type"],
        version=int(row["version"]),
        text=row["text"],
        author=row["author"],
        created_at=row["created_at"].astimezone(UTC),
    )
