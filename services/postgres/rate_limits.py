"""`PgTokenBuckets`: per-key token buckets in PostgreSQL, shared by every API replica.

One row per key: the tokens left after the last request and when that was (`updated_at`, the
database clock, so replicas with skewed clocks agree). A request is one atomic statement,
`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`: it refills the bucket for the time elapsed
(at most to `capacity`), takes one token (or `cost` tokens at once) if it holds them, and
answers whether it did, so two replicas can never both take the last token. A refused request
takes nothing. Buckets idle long enough to be full again are deleted now and then (`prune`).
"""

from __future__ import annotations

from services.postgres.database import PgDatabase
from services.postgres.migrations import Migration, apply_migrations

__all__ = ["MIGRATIONS", "PgTokenBuckets"]

MIGRATIONS = [
    Migration(
        "ratelimits_pg_0001_buckets",
        """
        CREATE TABLE rate_limit_buckets (
            key        TEXT PRIMARY KEY,
            tokens     DOUBLE PRECISION NOT NULL,
            allowed    BOOLEAN NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL
        )
        """,
    ),
]

# The tokens after refilling for the time since the last request, at most full.
_REFILLED = (
    "least(%(capacity)s, b.tokens + %(rate)s * "
    "greatest(0, extract(epoch FROM now() - b.updated_at)))"
)
_TAKE = f"""
INSERT INTO rate_limit_buckets AS b (key, tokens, allowed, updated_at)
VALUES (
    %(key)s,
    CASE WHEN %(capacity)s >= %(cost)s THEN %(capacity)s - %(cost)s ELSE %(capacity)s END,
    %(capacity)s >= %(cost)s,
    now()
)
ON CONFLICT (key) DO UPDATE SET
    tokens = CASE WHEN {_REFILLED} >= %(cost)s THEN {_REFILLED} - %(cost)s ELSE {_REFILLED} END,
    allowed = {_REFILLED} >= %(cost)s,
    updated_at = now()
RETURNING tokens, allowed
"""


class PgTokenBuckets:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db
        apply_migrations(db, MIGRATIONS)

    def take(self, key: str, capacity: float, per_second: float, cost: float = 1.0) -> float:
        """Take `cost` tokens of `key`'s bucket: 0.0 if taken, else the seconds until it holds
        them (nothing taken). `capacity` >= `cost`."""
        params = {
            "key": key,
            "capacity": float(capacity),
            "rate": float(per_second),
            "cost": float(cost),
        }
        with self._db.connection() as conn:
            row = conn.execute(_TAKE, params).fetchone()
        assert row is not None
        if row["allowed"]:
            return 0.0
        return (float(cost) - float(row["tokens"])) / per_second

    def prune(self, full_after_s: float) -> int:
        """Delete the buckets idle for `full_after_s` (full again: the same as no row)."""
        with self._db.connection() as conn:
            cursor = conn.execute(
                "DELETE FROM rate_limit_buckets "
                "WHERE updated_at < now() - make_interval(secs => %s)",
                (full_after_s,),
            )
            return cursor.rowcount

    def count(self) -> int:
        with self._db.connection() as conn:
            row = conn.execute("SELECT count(*) AS n FROM rate_limit_buckets").fetchone()
        return int(row["n"]) if row else 0
