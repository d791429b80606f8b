"""SQLite adapter for the `ApiKeyStore` port, in the app DB.

Only the SHA-256 digest of a key is stored (unique, indexed: a presented key is found by
its digest). Rows are never deleted: a revoked key keeps its row, so the audit log and
`almanac keys list` can still name it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from services.sqlite.connection import Connection, immediate_transaction
from services.sqlite.migrations import Migration, apply_migrations
from services.sqlite.thread_connections import ThreadConnections
from use_cases.access.domain import ApiKey, StoredApiKey, WebSession

__all__ = ["MIGRATIONS", "SqliteApiKeyStore"]

MIGRATIONS = (
    Migration(
        "auth_0001_api_keys",
        """
        CREATE TABLE api_keys (
            id            TEXT PRIMARY KEY,
            key_hash      TEXT NOT NULL UNIQUE CHECK (length(key_hash) = 64),
            name          TEXT,
            user_id       TEXT NOT NULL,
            role          TEXT NOT NULL CHECK (role IN ('user', 'admin')),
            created_at    TEXT NOT NULL,
            last_used_at  TEXT,
            revoked_at    TEXT
        );
        CREATE INDEX api_keys_by_user ON api_keys(user_id);
        """,
    ),
    Migration(
        "auth_0002_web_sessions",
        """
        CREATE TABLE web_sessions (
            id_hash     TEXT PRIMARY KEY CHECK (length(id_hash) = 64),
            key_id      TEXT NOT NULL REFERENCES api_keys(id),
            created_at  TEXT NOT NULL,
            expires_at  TEXT NOT NULL,
            ended_at    TEXT
        );
        CREATE INDEX web_sessions_by_key ON web_sessions(key_id);
        """,
    ),
)

_COLUMNS = "id, name, user_id, role, created_at, last_used_at, revoked_at"


class SqliteApiKeyStore:
    def __init__(self, path: str | Path) -> None:
        self._connections = ThreadConnections(path)
        apply_migrations(self._connections.get(), MIGRATIONS)

    def add(self, stored: StoredApiKey) -> ApiKey:
        key = stored.key
        with immediate_transaction(self._conn()) as conn:
            conn.execute(
                "INSERT INTO api_keys (id, key_hash, name, user_id, role, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (key.id, stored.key_hash, key.name, key.user_id, key.role, _text(key.created_at)),
            )
        found = self.get(key.id)
        assert found is not None
        return found

    def find_by_hash(self, key_hash: str) -> StoredApiKey | None:
        row = (
            self._conn()
            .execute(f"SELECT {_COLUMNS}, key_hash FROM api_keys WHERE key_hash = ?", (key_hash,))
            .fetchone()
        )
        return StoredApiKey(_key(row), row[7]) if row else None

    def get(self, key_id: str) -> ApiKey | None:
        row = (
            self._conn()
            .execute(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", (key_id,))
            .fetchone()
        )
        return _key(row) if row else None

    def list_keys(self) -> list[ApiKey]:
        rows = self._conn().execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at, rowid")
        return [_key(row) for row in rows]

    def revoke(self, key_id: str, at: datetime) -> ApiKey | None:
        with immediate_transaction(self._conn()) as conn:
            conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (_text(at), key_id),
            )
        return self.get(key_id)

    def touch(self, key_id: str, at: datetime) -> None:
        # One statement in autocommit mode: nothing is read first, so no BEGIN IMMEDIATE.
        self._conn().execute(
            "UPDATE api_keys SET last_used_at = ? WHERE id = ?", (_text(at), key_id)
        )

    def add_session(self, session: WebSession) -> None:
        with immediate_transaction(self._conn()) as conn:
            # Expired sessions are removed as new ones start: the table holds the live ones.
            conn.execute(
                "DELETE FROM web_sessions WHERE expires_at < ?", (_text(session.created_at),)
            )
            conn.execute(
                "INSERT INTO web_sessions (id_hash, key_id, created_at, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (
                    session.id_hash,
                    session.key_id,
                    _text(session.created_at),
                    _text(session.expires_at),
                ),
            )

    def find_session(self, id_hash: str) -> WebSession | None:
        row = (
            self._conn()
            .execute(
                "SELECT id_hash, key_id, created_at, expires_at, ended_at FROM web_sessions "
                "WHERE id_hash = ?",
                (id_hash,),
            )
            .fetchone()
        )
        if row is None:
            return None
        ended = None if row[4] is None else _time(row[4])
        return WebSession(str(row[0]), str(row[1]), _time(row[2]), _time(row[3]), ended)

    def end_session(self, id_hash: str, at: datetime) -> bool:
        with immediate_transaction(self._conn()) as conn:
            ended = conn.execute(
                "UPDATE web_sessions SET ended_at = ? WHERE id_hash = ? AND ended_at IS NULL",
                (_text(at), id_hash),
            ).rowcount
        return ended > 0

    def close(self) -> None:
        self._connections.close()

    def _conn(self) -> Connection:
        return self._connections.get()


def _key(row: tuple[object, ...]) -> ApiKey:
    return ApiKey(
        id=str(row[0]),
        name=None if row[1] is None else str(row[1]),
        user_id=str(row[2]),
        role="admin" if row[3] == "admin" else "user",
        created_at=_time(row[4]),
        last_used_at=None if row[5] is None else _time(row[5]),
        revoked_at=None if row[6] is None else _time(row[6]),
    )


def _text(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def _time(value: object) -> datetime:
    return datetime.fromisoformat(str(value))
