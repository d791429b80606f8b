"""Named, ordered PostgreSQL migrations, applied once even when replicas start together.

The same rules as the SQLite migrations (`services/sqlite/migrations.py`): each store declares
its list once, migrations are append-only (never edit or reorder a released one), and each
runs in its own transaction together with the row that records it in `schema_migrations`.

Replicas: each migration's transaction first takes the transaction-scoped advisory lock
`MIGRATION_LOCK`, then checks whether the migration is recorded, so a second process starting
at the same moment waits, then finds it recorded and applies nothing. The lock ends with the
transaction (or with the process's connection, if it dies holding it); being
transaction-scoped, it holds behind a transaction-mode pooler too, where a session lock would
stay on whichever server connection the pooler lent.

A migration the connecting role has not the privilege to apply (the typical case: the
database's owner, not a superuser, creating the `vector` extension, which pgvector does not
mark trusted) stops with a `ConfigurationError` that says what to run and as whom, never a
driver traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loguru import logger

from use_cases.shared.errors import ConfigurationError

if TYPE_CHECKING:
    from services.postgres.database import Connection, PgDatabase

#: Advisory lock key held while migrations run (any constant unique to Almanac).
MIGRATION_LOCK = 0x41_6C_6D_61_6E_61_63  # "Almanac"

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    name TEXT PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    """One schema step: SQL statements, or a function for steps SQL alone cannot express."""

    name: str
    sql: str = ""
    function: Callable[[Connection], None] | None = None

    def apply(self, conn: Connection) -> None:
        if self.sql.strip():
            conn.execute(self.sql)
        if self.function is not None:
            self.function(conn)


#: SQLSTATE of "permission denied" (psycopg.errors.InsufficientPrivilege).
INSUFFICIENT_PRIVILEGE = "42501"


def _not_allowed(conn: Connection, migration: Migration, exc: Exception) -> str:
    """What to do when the connecting role may not apply `migration` (module docstring)."""
    role, database = conn.info.user, conn.info.dbname
    reason = (str(exc).strip().splitlines() or ["permission denied"])[0]
    if "extension" in reason and "vector" in reason:
        return (
            f"The role {role!r} may not create the pgvector extension in database "
            f"{database!r} ({reason}): pgvector is not a trusted extension, so only a "
            "superuser may create it. Run once, as a superuser (such as `postgres`): "
            f'psql -d {database} -c "CREATE EXTENSION IF NOT EXISTS vector", then run '
            "`almanac db migrate` again as this role. On a managed service, create it as "
            "its admin role (or allow-list the extension first)."
        )
    return (
        f"Migration {migration.name} needs a privilege the role {role!r} lacks in database "
        f"{database!r} ({reason}). Run `almanac db migrate` as the database's owner, or "
        "grant the role what the message names."
    )


def _check_names(migrations: Sequence[Migration]) -> None:
    names = [m.name for m in migrations]
    if len(set(names)) != len(names):
        raise ValueError(f"Duplicate migration names: {names}")


def applied_migrations(db: PgDatabase) -> list[str]:
    """Names of the migrations already recorded, oldest first (none: an empty list)."""
    with db.connection() as conn:
        exists = conn.execute("SELECT to_regclass('schema_migrations') AS t").fetchone()
        if exists is None or exists["t"] is None:
            return []
        rows = conn.execute("SELECT name FROM schema_migrations ORDER BY applied_at, name")
        return [row["name"] for row in rows]


def pending_migrations(db: PgDatabase, migrations: Sequence[Migration]) -> list[str]:
    """Names of `migrations` not yet applied, in order (for `almanac db check`)."""
    _check_names(migrations)
    done = set(applied_migrations(db))
    return [m.name for m in migrations if m.name not in done]


def apply_migrations(db: PgDatabase, migrations: Sequence[Migration]) -> list[str]:
    """Apply the pending migrations in order under the advisory lock; return the names
    applied by this call."""
    _check_names(migrations)
    applied: list[str] = []
    with db.connection() as conn:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute(_CREATE_TABLE)
            done = {row["name"] for row in conn.execute("SELECT name FROM schema_migrations")}
        for migration in migrations:
            if migration.name in done:
                continue
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                recorded = conn.execute(
                    "SELECT 1 FROM schema_migrations WHERE name = %s", (migration.name,)
                ).fetchone()
                if recorded is not None:  # another process applied it meanwhile
                    continue
                try:
                    migration.apply(conn)
                except Exception as exc:
                    if getattr(exc, "sqlstate", None) == INSUFFICIENT_PRIVILEGE:
                        raise ConfigurationError(_not_allowed(conn, migration, exc)) from exc
                    raise
                conn.execute("INSERT INTO schema_migrations(name) VALUES (%s)", (migration.name,))
            logger.info("Applied migration {}", migration.name)
            applied.append(migration.name)
    return applied
