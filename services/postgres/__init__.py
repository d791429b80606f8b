"""PostgreSQL (+ pgvector) plumbing shared by the PostgreSQL stores: the connection pool and
the migrations. The stores themselves live beside their SQLite siblings, one package per port
(`services/knowledge/pg_store.py`, ...), or are one class for both databases on `services/sql`
(`services/chat/history_store.py`, ...)."""

from services.postgres.database import PgDatabase, redacted_url
from services.postgres.migrations import Migration, apply_migrations, pending_migrations

__all__ = ["Migration", "PgDatabase", "apply_migrations", "pending_migrations", "redacted_url"]
