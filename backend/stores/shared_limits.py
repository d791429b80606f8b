"""Where the limits that must hold across replicas and workers keep their counts: the
evaluation runs' provider rate and the chunks users' attached files embed a minute (token
buckets in Redis with REDIS_URL, else in PostgreSQL, as the chat rate limit's), and the
files attached to chats in flight per user (PostgreSQL). On SQLite (one process) both stay
in the process's memory (None here)."""

from __future__ import annotations

from backend.config import Settings
from backend.extras import require_extra
from services.conversations.pg_upload_ledger import PgUploadLedger
from services.postgres import PgDatabase
from services.postgres.rate_limits import PgTokenBuckets
from use_cases.shared.token_buckets import TokenBuckets

__all__ = ["build_shared_buckets", "build_upload_ledger"]


def build_shared_buckets(settings: Settings, db: PgDatabase | None) -> TokenBuckets | None:
    if settings.storage.redis_url is not None:
        require_extra("redis", "redis", "REDIS_URL")
        from services.redis_buckets import RedisTokenBuckets

        return RedisTokenBuckets(settings.storage.redis_url.get_secret_value())
    if db is not None:
        return PgTokenBuckets(db)
    return None


def build_upload_ledger(settings: Settings, db: PgDatabase | None) -> PgUploadLedger | None:
    """The attachments in flight of every replica (PostgreSQL), counted for this process
    (its presence id) with the processes' own liveness (PROCESS_TIMEOUT_SECONDS)."""
    if db is None:
        return None
    return PgUploadLedger(
        db, db.application_name, process_timeout_s=settings.jobs.process_timeout_seconds
    )
