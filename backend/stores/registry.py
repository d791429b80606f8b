"""Every PostgreSQL store's migrations in one list, for `almanac db migrate|check`.

Each store also applies its own list when it is built (replicas starting together are safe:
`apply_migrations` holds an advisory lock), so this list only has to be complete, and each
family's migrations keep their order. A test checks that it holds every `MIGRATIONS` list
defined under `services/`.
"""

from __future__ import annotations

from backend.stores.app import APP_MIGRATIONS
from services import job_store, presence, schedules
from services.conversations import pg_upload_ledger
from services.conversations import search_index as chat_search_index
from services.knowledge import conflict_reports
from services.knowledge import pg_store as pg_knowledge
from services.postgres import Migration
from services.postgres import rate_limits as pg_rate_limits
from services.sources import store as source_store
from services.tables import loader as tables_loader


def postgres_migrations() -> list[Migration]:
    return [
        *pg_knowledge.MIGRATIONS,  # first: it creates the vector extension
        *presence.MIGRATIONS,  # applied by each process's presence before any store's
        *APP_MIGRATIONS,
        *chat_search_index.PG_MIGRATIONS,  # built with the embedder (features/adapters.py)
        *tables_loader.PG_MIGRATIONS,
        *job_store.PG_MIGRATIONS,
        *pg_rate_limits.MIGRATIONS,
        *pg_upload_ledger.MIGRATIONS,
        *conflict_reports.PG_MIGRATIONS,
        *schedules.PG_MIGRATIONS,
        *source_store.PG_MIGRATIONS,
    ]
