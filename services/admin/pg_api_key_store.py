"""PostgreSQL adapter for the `ApiKeyStore` port (the same rules as `SqliteApiKeyStore`).

Only the SHA-256 digest of a key is stored (unique); rows are never deleted, a revoked key
keeps its row. `rowid` (an identity column) keeps SQLite's insertion order for the listing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.postgres import Migration, PgDatabase, apply_migrations
from use_cases.access.domain import ApiKey, StoredApiKey, WebSession

__all__ = ["MIGRATIONS", "PgApiKeyStore"]

MIGRATIONS: list[Migration] = [
    Migration(
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
    Migration(
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


class PgApiKeyStore:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db
        apply_migrations(db, MIGRATIONS)

    def add(self, stored: StoredApiKey) -> ApiKey:
        """Store a new key; a second key with the same digest (or id) raises the driver's
        IntegrityError, as on SQLite."""
        key = stored.key
        with self._db.connection() as conn:
            row = conn.execute(
                "INSERT INTO api_keys (id, key_hash, name, user_id, role, created_at) "
                f"VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
                (key.id, stored.key_hash, key.name, key.user_id, key.role, _aware(key.created_at)),
            ).fetchone()
        assert row is not None
        return _key(row)

    def find_by_hash(self, key_hash: str) -> StoredApiKey | None:
        with self._db.connection() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS}, key_hash FROM api_keys WHERE key_hash = %s", (key_hash,)
            ).fetchone()
        return StoredApiKey(_key(row), row["key_hash"]) if row else None

    def get(self, key_id: str) -> ApiKey | None:
        with self._db.connection() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM api_keys WHERE id = %s", (key_id,)
            ).fetchone()
        return _key(row) if row else None

    def list_keys(self) -> list[ApiKey]:
        with self._db.connection() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at, rowid"
            ).fetchall()
        return [_key(row) for row in rows]

    def revoke(self, key_id: str, at: datetime) -> ApiKey | None:
        """Revoke once: a second revoke keeps the first time."""
        with self._db.connection() as conn:
            conn.execute(
                "UPDATE api_keys SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL",
                (_aware(at), key_id),
            )
        return self.get(key_id)

    def touch(self, key_id: str, at: datetime) -> None:
        with self._db.connection() as conn:
            conn.execute(
                "UPDATE api_keys SET last_used_at = %s WHERE id = %s", (_aware(at), key_id)
            )

    def add_session(self, session: WebSession) -> None:
        with self._db.connection() as conn:
            conn.execute(
                "DELETE FROM web_sessions WHERE expires_at < %s", (_aware(session.created_at),)
            )
            conn.execute(
                "INSERT INTO web_sessions (id_hash, key_id, created_at, expires_at) "
                "VALUES (%s, %s, %s, %s)",
                (
                    session.id_hash,
                    session.key_id,
                    _aware(session.created_at),
                    _aware(session.expires_at),
                ),
            )

    def find_session(self, id_hash: str) -> WebSession | None:
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT id_hash, key_id, created_at, expires_at, ended_at FROM web_sessions "
                "WHERE id_hash = %s",
                (id_hash,),
            ).fetchone()
        if row is None:
            return None
        ended = None if row["ended_at"] is None else _utc(row["ended_at"])
        return WebSession(
            row["id_hash"], row["key_id"], _utc(row["created_at"]), _utc(row["expires_at"]), ended
        )

    def end_session(self, id_hash: str, at: datetime) -> bool:
        with self._db.connection() as conn:
            ended = conn.execute(
                "UPDATE web_sessions SET ended_at = %s WHERE id_hash = %s AND ended_at IS NULL",
                (_aware(at), id_hash),
            ).rowcount
        return ended > 0

    def close(self) -> None:
        """Nothing to release: the pool is shared and closed by its owner."""


def _key(row: dict[str, Any]) -> ApiKey:
    return ApiKey(
        id=row["id"],
        name=row["name"],
        user_id=row["user_id"],
        role="admin" if row["role"] == "admin" else "user",
        created_at=_utc(row["created_at"]),
        last_used_at=None if row["last_used_at"] is None else _utc(row["last_used_at"]),
        revoked_at=None if row["revoked_at"] is None else _utc(row["revoked_at"]),
    )


def _aware(moment: datetime) -> datetime:
    """A naive time is taken to be UTC (as the use cases' `utc` does)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
