"""Which storage backend each family of stores runs on: SQLite files (the embedded default) or
one PostgreSQL database (DATABASE_URL=postgresql://...), behind the same ports. Another
scheme names an index backend plugin (services/knowledge/index_backends.py), which holds the
knowledge index alone: the other families stay in SQLite files.

`open_database` opens the shared PostgreSQL pool (None on SQLite); each family's builder
(`knowledge`, `app`, `tables`, `jobs`) then builds its adapters for that backend. Only the
composition root (`backend/bootstrap.py`) and the `almanac db` commands call these.
"""

from __future__ import annotations

from backend.config import Settings
from backend.extras import require_postgres
from services.postgres import PgDatabase, redacted_url
from services.presence import new_process_id
from services.sqlite.connection import check_sqlite_support
from use_cases.shared.errors import ConfigurationError


def open_database(settings: Settings) -> PgDatabase | None:
    """The PostgreSQL pool DATABASE_URL names, or None on the SQLite backend (whose files are
    created in the SQLite directory)."""
    if settings.storage.database_backend == "postgresql":
        require_postgres()
        # Named after this process (its presence id), so each session in pg_stat_activity
        # says which process holds it.
        return PgDatabase(
            settings.storage.postgres_url,
            max_size=settings.storage.database_pool_size,
            timeout_s=settings.storage.database_pool_timeout_seconds,
            application_name=new_process_id(),
            prepared=not settings.storage.database_pooled,
        )
    check_sqlite_support()
    settings.storage.sqlite_dir.mkdir(parents=True, exist_ok=True)
    settings.storage.knowledge_db_path.parent.mkdir(parents=True, exist_ok=True)
    return None


def not_on_postgres(family: str) -> ConfigurationError:
    """The error of a family whose PostgreSQL stores are not built yet."""
    return ConfigurationError(
        f"The {family} stores do not run on PostgreSQL yet: leave DATABASE_URL unset."
    )


def storage_label(settings: Settings) -> str:
    """Where the stores live, for start-up lines and `almanac db check` (never a password)."""
    if settings.storage.database_backend == "postgresql":
        return f"PostgreSQL {redacted_url(settings.storage.postgres_url)}"
    label = f"SQLite in {settings.storage.sqlite_dir}"
    url = settings.storage.database_url
    if url is None or url.get_secret_value().startswith("sqlite://"):
        return label
    from services.knowledge.index_backends import backend_for  # reads the entry points

    index = backend_for(url.get_secret_value())
    return f"{label}, the knowledge index on {index.name} ({index.origin})"
