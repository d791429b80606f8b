"""The `ApiKeyStore` port in the app database, on SQLite or PostgreSQL (`services/sql`).

Only the SHA-256 digest of a key is stored (unique, indexed: a presented key is found by
its digest). Rows are never deleted: a revoked key keeps its row, so the audit log and
`almanac keys list` can still name it. Keys are listed in the order they were added
(`created_at`, then SQLite's `rowid`, which PostgreSQL's identity column `rowid` stands in
for). The schemas differ only in types (times as ISO text or `timestamptz`) and that column.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.postgres.migrations import Migration as PgMigration
from services.sql import StoreTarget, sql_db
from services.sqlite.migrations import Migration
from use_cases.access.domain import ApiKey, StoredApiKey, WebSession

__all__ = ["MIGRATIONS", "PG_MIGRATIONS", "ApiKeyStore"]

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

PG_MIGRATIONS: list[PgMigration] = [
    PgMigration(
        "auth_pg_0001_api_keys",
        """
        CREATE TABLE api_keys (
            id            TEXT PRIMARY KEY,
            key_hash      TEXT NOT NULL UNIQUE CHECK (length(key_hash) = 64),
            name          TEXT,
            user_id       TEXT NOT NULL,
            role          TEXT NOT NULL CHECK (role IN ('user', 'admin')),
            created_at    TIMESTAMPTZ NOT NULL,
            last_used_at  TIMESTAMPTZ,
            revoked_at    TIMESTAMPTZ,
            rowid         BIGINT GENERATED ALWAYS AS IDENTITY
        );
        CREATE INDEX api_keys_by_user ON api_keys(user_id);
        """,
    ),
    PgMigration(
        "auth_pg_0002_web_sessions",
        """
        CREATE TABLE web_sessions (
            id_hash     TEXT PRIMARY KEY CHECK (length(id_hash) = 64),
            key_id      TEXT NOT NULL REFERENCES api_keys(id),
            created_at  TIMESTAMPTZ NOT NULL,
            expires_at  TIMESTAMPTZ NOT NULL,
            ended_at    TIMESTAMPTZ
        );
        CREATE INDEX web_sessions_by_key ON web_sessions(key_id);
        """,
    ),
]

_COLUMNS = "id, name, user_id, role, created_at, last_used_at, revoked_at"


class ApiKeyStore:
    def __init__(self, target: StoreTarget) -> None:
        self._db = sql_db(target)
        self._db.migrate(sqlite=MIGRATIONS, postgres=PG_MIGRATIONS)

    def add(self, stored: StoredApiKey) -> ApiKey:
        """Store a new key; a second key with the same digest (or id) raises the driver's
        IntegrityError."""
        key = stored.key
        with self._db.write() as conn:
            row = conn.execute(
                "INSERT INTO api_keys (id, key_hash, name, user_id, role, created_at) "
                f"VALUES (?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
                (
                    key.id,
                    stored.key_hash,
                    key.name,
                    key.user_id,
                    key.role,
                    self._db.put_time(key.created_at),
                ),
            ).fetchone()
        return self._key(row)

    def find_by_hash(self, key_hash: str) -> StoredApiKey | None:
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS}, key_hash FROM api_keys WHERE key_hash = ?", (key_hash,)
            ).fetchone()
        return StoredApiKey(self._key(row), row["key_hash"]) if row else None

    def get(self, key_id: str) -> ApiKey | None:
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", (key_id,)
            ).fetchone()
        return self._key(row) if row else None

    def list_keys(self) -> list[ApiKey]:
        with self._db.read() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at, rowid")
            return [self._key(row) for row in rows]

    def revoke(self, key_id: str, at: datetime) -> ApiKey | None:
        """Revoke once: a second revoke keeps the first time."""
        with self._db.write() as conn:
            conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (self._db.put_time(at), key_id),
            )
        return self.get(key_id)

    def touch(self, key_id: str, at: datetime) -> None:
        # One statement in autocommit mode: nothing is read first, so no transaction.
        with self._db.read() as conn:
            conn.execute(
                "UPDATE api_keys SET last_used_at = ? WHERE id = ?", (self._db.put_time(at), key_id)
            )

    def add_session(self, session: WebSession) -> None:
        with self._db.write() as conn:
            # Expired sessions are removed as new ones start: the table holds the live ones.
            conn.execute(
                "DELETE FROM web_sessions WHERE expires_at < ?",
                (self._db.put_time(session.created_at),),
            )
            conn.execute(
                "INSERT INTO web_sessions (id_hash, key_id, created_at, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (
                    session.id_hash,
                    session.key_id,
                    self._db.put_time(session.created_at),
                    self._db.put_time(session.expires_at),
                ),
            )

    def find_session(self, id_hash: str) -> WebSession | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT id_hash, key_id, created_at, expires_at, ended_at FROM web_sessions "
                "WHERE id_hash = ?",
                (id_hash,),
            ).fetchone()
        if row is None:
            return None
        time = self._db.get_time
        return WebSession(
            str(row["id_hash"]),
            str(row["key_id"]),
            time(row["created_at"]),
            time(row["expires_at"]),
            None if row["ended_at"] is None else time(row["ended_at"]),
        )

    def end_session(self, id_hash: str, at: datetime) -> bool:
        with self._db.write() as conn:
            ended = conn.execute(
                "UPDATE web_sessions SET ended_at = ? WHERE id_hash = ? AND ended_at IS NULL",
                (self._db.put_time(at), id_hash),
            ).rowcount
        return ended > 0

    def remove_expired_sessions(self, now: datetime) -> int:
        with self._db.write() as conn:
            removed = conn.execute(
                "DELETE FROM web_sessions WHERE expires_at <= ?", (self._db.put_time(now),)
            ).rowcount
        return int(removed)

    def close(self) -> None:
        self._db.close()

    def _key(self, row: Any) -> ApiKey:
        time = self._db.get_time
        return ApiKey(
            id=str(row["id"]),
            name=None if row["name"] is None else str(row["name"]),
            user_id=str(row["user_id"]),
            role="admin" if row["role"] == "admin" else "user",
            created_at=time(row["created_at"]),
            last_used_at=None if row["last_used_at"] is None else time(row["last_used_at"]),
            revoked_at=None if row["revoked_at"] is None else time(row["revoked_at"]),
        )
