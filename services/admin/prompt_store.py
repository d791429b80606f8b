"""SQLite adapter for the `PromptStore` port, in the app DB.

`prompt_versions` holds every version of every prompt type, numbered from 1 per type; rows
are never changed or deleted (triggers refuse it), so the history of a prompt stays as
written. `active_prompts` holds at most one row per type, the active version; no row means
the default is in force. Every write is one `BEGIN IMMEDIATE` transaction that reads the
state it replaces, so two admins writing at once get consecutive numbers and exact
before/after values. A version created with `activate=False` is a draft: stored and numbered
like any other, but the active row is left as it was.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from services.sqlite.connection import Connection, immediate_transaction
from services.sqlite.migrations import Migration, apply_migrations
from services.sqlite.thread_connections import ThreadConnections
from use_cases.prompts.domain import PromptChange, PromptVersion

__all__ = ["MIGRATIONS", "SqlitePromptStore"]

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

_COLUMNS = "prompt_type, version, text, author, created_at"


class SqlitePromptStore:
    def __init__(self, path: str | Path) -> None:
        self._connections = ThreadConnections(path)
        apply_migrations(self._connections.get(), MIGRATIONS)

    def create_version(
        self, prompt_type: str, text: str, author: str, at: datetime, *, activate: bool = True
    ) -> PromptChange:
        with immediate_transaction(self._conn()) as conn:
            before = _active_number(conn, prompt_type)
            (number,) = conn.execute(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM prompt_versions WHERE prompt_type = ?",
                (prompt_type,),
            ).fetchone()
            conn.execute(
                f"INSERT INTO prompt_versions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                (prompt_type, number, text, author, at.isoformat(timespec="microseconds")),
            )
            if activate:
                _set_active(conn, prompt_type, number)
            after = _version(conn, prompt_type, number)
        return PromptChange(before, after)

    def active_version(self, prompt_type: str) -> PromptVersion | None:
        row = (
            self._conn()
            .execute(
                f"SELECT {_prefixed('v')} FROM active_prompts a JOIN prompt_versions v "
                "USING (prompt_type, version) WHERE a.prompt_type = ?",
                (prompt_type,),
            )
            .fetchone()
        )
        return _row(row) if row else None

    def get_version(self, prompt_type: str, version: int) -> PromptVersion | None:
        return _version(self._conn(), prompt_type, version)

    def list_versions(
        self, prompt_type: str, *, limit: int, offset: int
    ) -> tuple[list[PromptVersion], int]:
        conn = self._conn()
        (total,) = conn.execute(
            "SELECT count(*) FROM prompt_versions WHERE prompt_type = ?", (prompt_type,)
        ).fetchone()
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM prompt_versions WHERE prompt_type = ? "
            "ORDER BY version DESC LIMIT ? OFFSET ?",
            (prompt_type, limit, offset),
        ).fetchall()
        return [_row(row) for row in rows], int(total)

    def activate(self, prompt_type: str, version: int) -> PromptChange | None:
        with immediate_transaction(self._conn()) as conn:
            after = _version(conn, prompt_type, version)
            if after is None:
                return None
            before = _active_number(conn, prompt_type)
            _set_active(conn, prompt_type, version)
        return PromptChange(before, after)

    def reset(self, prompt_type: str) -> PromptChange:
        with immediate_transaction(self._conn()) as conn:
            before = _active_number(conn, prompt_type)
            conn.execute("DELETE FROM active_prompts WHERE prompt_type = ?", (prompt_type,))
        return PromptChange(before, None)

    def close(self) -> None:
        self._connections.close()

    def _conn(self) -> Connection:
        return self._connections.get()


def _prefixed(alias: str) -> str:
    return ", ".join(f"{alias}.{column.strip()}" for column in _COLUMNS.split(","))


def _active_number(conn: Connection, prompt_type: str) -> int | None:
    row = conn.execute(
        "SELECT version FROM active_prompts WHERE prompt_type = ?", (prompt_type,)
    ).fetchone()
    return None if row is None else int(row[0])


def _set_active(conn: Connection, prompt_type: str, version: int) -> None:
    conn.execute(
        "INSERT INTO active_prompts (prompt_type, version) VALUES (?, ?) "
        "ON CONFLICT (prompt_type) DO UPDATE SET version = excluded.version",
        (prompt_type, version),
    )


def _version(conn: Connection, prompt_type: str, version: int) -> PromptVersion | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM prompt_versions WHERE prompt_type = ? AND version = ?",
        (prompt_type, version),
    ).fetchone()
    return _row(row) if row else None


def _row(row: tuple[Any, ...]) -> PromptVersion:
    return PromptVersion(
        prompt_type=str(row[0]),
        version=int(row[1]),
        text=str(row[2]),
        author=str(row[3]),
        created_at=datetime.fromisoformat(str(row[4])),
    )
