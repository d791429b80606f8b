"""Where the stores live: SQLite files, or PostgreSQL (and Redis)."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, SecretStr, field_validator

from backend.config.base import SettingsGroup

#: A DATABASE_URL starts with a scheme; which index backend serves it is the registry's
#: (services/knowledge/index_backends.py), which a plugin can add to.
DATABASE_URL_FORM = r"^[A-Za-z][A-Za-z0-9+.-]*://"
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class StorageSettings(SettingsGroup):
    """Where the stores live: SQLite files in a data directory, or PostgreSQL (and Redis)."""

    model_config = ConfigDict(title="Storage")

    data_dir: Path = Field(
        Path("data"), description="Directory for the SQLite databases (created if missing)."
    )
    database_url: SecretStr | None = Field(
        None,
        description="Where every store lives. Unset (or `sqlite:///DIR`): SQLite files in "
        "DATA_DIR (or DIR). `postgresql://user:password@host:5432/db`: PostgreSQL with "
        "pgvector for everything, shared by any number of replicas (docs/deployment.md); "
        "needs the `postgres` extra (`pip install 'almanac[postgres]'`). Another scheme "
        "selects the knowledge index of an installed index backend plugin "
        "(docs/extending.md), the other stores staying in SQLite files in DATA_DIR.",
    )
    redis_url: SecretStr | None = Field(
        None,
        description="Keep the per-caller rate-limit buckets in this Redis "
        "(`redis://[:password@]host:6379/0`, `rediss://` for TLS, or `unix:///path/redis.sock`) "
        "instead of the server process (SQLite) or the PostgreSQL database, so that every "
        "replica shares them. Unset: in the process, or in PostgreSQL with a postgresql:// "
        "DATABASE_URL. Needs the `redis` extra (`pip install 'almanac[redis]'`).",
    )
    database_pooled: bool = Field(
        False,
        description="PostgreSQL only: DATABASE_URL goes through a transaction-mode pooler "
        "(PgBouncer `pool_mode = transaction`, a managed service's pooler). Turns psycopg's "
        "server-side prepared statements off: a statement prepared on one server connection "
        "does not exist on the next (PgBouncer before 1.21). Locks are transaction-scoped "
        "either way.",
    )
    database_pool_size: int = Field(
        10,
        ge=1,
        le=200,
        description="PostgreSQL only: most connections one process keeps open (a pool).",
    )
    database_pool_timeout_seconds: float = Field(
        30.0,
        ge=0.5,
        le=600,
        description="PostgreSQL only: how long a request or job step waits for a pooled "
        "connection (all in use, or the database or pooler unreachable) before it gives up "
        "with 503 `database_unavailable`; a background job then runs the step again "
        "(JOB_OUTAGE_BUDGET_SECONDS).",
    )
    knowledge_db: Path | None = Field(
        None,
        description="Knowledge DB file (documents, chunks, FTS5, vectors). "
        "Default: DATA_DIR/knowledge.db.",
    )
    app_db: Path | None = Field(
        None,
        description="App DB file (users, chats, messages, API keys, audit log, prompt versions, "
        "default models, response log and feedback, calibration). Default: DATA_DIR/app.db.",
    )
    tables_db: Path | None = Field(
        None, description="Structured tables DB for SQL lookups. Default: DATA_DIR/tables.db."
    )
    sentence_vectors_db: Path | None = Field(
        None,
        description="The local embedder's vector cache: a vector per sentence text (the "
        "offline model's) and per chunk text (ingestion's), the same vector whichever data "
        "directory asks. Default: DATA_DIR/sentence_vectors.db. Several data directories may "
        "share one file, e.g. the fresh ones `almanac eval answers --corpus` builds, so a "
        "corpus ingested or evaluated again embeds no text twice.",
    )

    @field_validator("database_url", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("database_url")
    @classmethod
    def _known_database_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.match(DATABASE_URL_FORM, value.get_secret_value()):
            raise ValueError(
                "DATABASE_URL must start with a scheme: postgresql:// (or postgres://), "
                "sqlite:/// or an installed index backend's (docs/extending.md); leave it "
                "unset for the SQLite files in DATA_DIR."
            )
        url = value.get_secret_value() if value is not None else ""
        if url.lower().startswith("sqlite:") and not url.startswith("sqlite:///"):
            raise ValueError("A SQLite DATABASE_URL is sqlite:///DIR (three slashes).")
        return value

    @field_validator("redis_url")
    @classmethod
    def _known_redis_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            return None
        if value is not None and not value.get_secret_value().startswith(REDIS_SCHEMES):
            raise ValueError(
                "REDIS_URL must start with redis://, rediss:// or unix://; leave it unset to "
                "keep the rate limits in the process (SQLite) or in PostgreSQL."
            )
        return value

    @property
    def database_backend(self) -> Literal["sqlite", "postgresql"]:
        """Which storage backend DATABASE_URL selects."""
        url = self.database_url.get_secret_value() if self.database_url else ""
        return "postgresql" if url.startswith(("postgresql://", "postgres://")) else "sqlite"

    @property
    def postgres_url(self) -> str:
        """The PostgreSQL connection string (only with a postgresql:// DATABASE_URL)."""
        if self.database_backend != "postgresql" or self.database_url is None:
            raise ValueError("DATABASE_URL does not name a PostgreSQL database.")
        return self.database_url.get_secret_value()

    @cached_property
    def sqlite_dir(self) -> Path:
        """The directory of the SQLite files: DATA_DIR, or DIR from a `sqlite:///DIR` DATABASE_URL
        (as in SQLAlchemy: `sqlite:///data` is relative, `sqlite:////srv/almanac` absolute)."""
        url = self.database_url.get_secret_value() if self.database_url else ""
        if url.startswith("sqlite:///") and url != "sqlite:///":
            return Path(url.removeprefix("sqlite:///"))
        return self.data_dir

    @cached_property
    def knowledge_db_path(self) -> Path:
        return self.knowledge_db or self.sqlite_dir / "knowledge.db"

    @cached_property
    def sentence_vectors_path(self) -> Path:
        """The offline model's sentence vectors (`services/offline/sentence_store.py`)."""
        return self.sentence_vectors_db or self.sqlite_dir / "sentence_vectors.db"

    @cached_property
    def app_db_path(self) -> Path:
        return self.app_db or self.sqlite_dir / "app.db"

    @cached_property
    def tables_db_path(self) -> Path:
        return self.tables_db or self.sqlite_dir / "tables.db"
