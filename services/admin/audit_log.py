"""SQLite adapter for the `AuditLog` port, in the app DB.

The table is append-only: triggers abort any UPDATE or DELETE, so an entry, once written,
stays as written (short of editing the file by hand). `before` and `after` are JSON text.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from services.sqlite.connection import Connection
from services.sqlite.migrations import Migration, apply_migrations
from services.sqlite.thread_connections import ThreadConnections
from use_cases.access.domain import AuditEntry, AuditRecord

__all__ = ["MIGRATIONS", "SqliteAuditLog"]

MIGRATIONS = (
    Migration(
        "audit_0001_audit_log",
        """
        CREATE TABLE audit_log (
            id             INTEGER PRIMARY KEY AUTOINCREMENT,
            at             TEXT NOT NULL,
            actor_user_id  TEXT NOT NULL,
            actor_key_id   TEXT,
            action         TEXT NOT NULL,
            target         TEXT NOT NULL,
            before         TEXT CHECK (before IS NULL OR json_valid(before)),
            after          TEXT CHECK (after IS NULL OR json_valid(after))
        );
        CREATE INDEX audit_log_by_action ON audit_log(action, id);
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN
            SELECT RAISE(ABORT, 'the audit log is append-only');
        END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN
            SELECT RAISE(ABORT, 'the audit log is append-only');
        END;
        """,
    ),
)

_COLUMNS = "id, at, actor_user_id, actor_key_id, action, target, before, after"


class SqliteAuditLog:
    def __init__(self, path: str | Path) -> None:
        self._connections = ThreadConnections(path)
        apply_migrations(self._connections.get(), MIGRATIONS)

    def append(self, record: AuditRecord) -> AuditEntry:
        conn = self._conn()
        cursor = conn.execute(
            "INSERT INTO audit_log (at, actor_user_id, actor_key_id, action, target, before, "
            "after) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING " + _COLUMNS,
            (
                record.at.isoformat(timespec="microseconds"),
                record.actor_user_id,
                record.actor_key_id,
                record.action,
                record.target,
                _json(record.before),
                _json(record.after),
            ),
        )
        row = cursor.fetchone()
        cursor.close()
        return _entry(row)

    def list_entries(
        self, *, limit: int, offset: int, action: str | None = None, family: str | None = None
    ) -> tuple[list[AuditEntry], int]:
        where, params = "", []
        if action is not None:
            where, params = "WHERE action = ?", [action]
        elif family is not None:
            # A range on the index rather than LIKE, whose '_' would be a wildcard.
            where, params = "WHERE action > ? AND action < ?", [f"{family}.", f"{family}/"]
        conn = self._conn()
        total = conn.execute(f"SELECT count(*) FROM audit_log {where}", params).fetchone()[0]
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM audit_log {where} ORDER BY id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
        return [_entry(row) for row in rows], int(total)

    def close(self) -> None:
        self._connections.close()

    def _conn(self) -> Connection:
        return self._connections.get()


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    return AuditEntry(
        id=int(row[0]),
        at=datetime.fromisoformat(row[1]),
        actor_user_id=row[2],
        actor_key_id=row[3],
        action=row[4],
        target=row[5],
        before=None if row[6] is None else json.loads(row[6]),
        after=None if row[7] is None else json.loads(row[7]),
    )
