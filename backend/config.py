"""Settings, declared once: read from the environment and `.env`, passed down from here.

The settings are grouped by feature (`settings.auth.auth_enabled`, `settings.retrieval.rrf_k`):
a group is a model of its own, and a feature's `build()` is given the groups it reads. Each
field keeps its flat environment name (AUTH_ENABLED, RRF_K; case-insensitive, from the
environment or `.env`), so a group's name never appears in the environment. Each field's
description, and each group's title and docstring, feed `.env.example` and
docs/configuration.md (a test keeps the three in step). The core never reads the environment
itself.

Why this module is over 800 lines: it is the one list of every setting, each with the
description its documentation is rendered from; split, the list would be in several places.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from services.budgets import BUDGET

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: A DATABASE_URL starts with a scheme; which index backend serves it is the registry's
#: (services/knowledge/index_backends.py), which a plugin can add to.
DATABASE_URL_FORM = r"^[A-Za-z][A-Za-z0-9+.-]*://"
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
#: The host names a development server (AUTH_ENABLED=false) answers to unless ALLOWED_HOSTS.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def _default_models_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "almanac" / "models"


class SettingsGroup(BaseModel):
    """One feature's settings. Its `title` heads its section of `.env.example` and
    docs/configuration.md, its docstring introduces the section; each field is read from the
    environment by its own name (upper-cased), as it was before the settings were grouped."""

    model_config = ConfigDict(validate_default=True, extra="forbid")


class ServerSettings(SettingsGroup):
    """Where the API server listens and what it serves."""

    model_config = ConfigDict(title="Server")

    host: str = Field("127.0.0.1", description="Interface the API server binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port the API server listens on.")
    log_level: Literal["TRACE", "DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level (loguru); stdlib loggers are routed into it."
    )
    compat_routes: bool = Field(
        True,
        description="Serve the five source documents' APIs (backend/api/compat/, docs/seeds.md) "
        "beside Almanac's own; false leaves Almanac's own API, the web app and the docs.",
    )


class AuthSettings(SettingsGroup):
    """Who may call the server: API keys, sign-in, OpenID Connect, host names, origin."""

    model_config = ConfigDict(title="Authentication")

    auth_enabled: bool = Field(
        False,
        description="Require an API key (`Authorization: Bearer KEY` or `X-API-Key`) on every "
        "endpoint but /health and the API docs; create keys with `almanac keys create`. When "
        "false (development), every request acts as DEFAULT_USER_ID with the admin role, and "
        "`almanac serve` binds to loopback only.",
    )
    default_user_id: str = Field(
        "default",
        min_length=1,
        max_length=64,
        description="The one local user of development mode (AUTH_ENABLED=false), who is "
        "admin, and the user of CLI chat commands without --user, so both see the same chats.",
    )
    session_hours: int = Field(
        12,
        ge=1,
        le=720,
        description="How long a web app sign-in lasts, in hours (1 to 720): the browser "
        "exchanges the key once for an HttpOnly session cookie, valid in every tab until it "
        "expires, the user signs out, or the key is revoked.",
    )
    oidc_client_id: str | None = Field(
        None,
        description="Turns on signing in with an OpenID Connect provider (Google by default; "
        "see OIDC_ISSUER) at GET /api/auth/login: this server's client id there. Needs "
        "AUTH_ENABLED=true, OIDC_CLIENT_SECRET and OIDC_ALLOWED_DOMAINS.",
    )
    oidc_client_secret: SecretStr | None = Field(
        None, description="The client secret that goes with OIDC_CLIENT_ID."
    )
    oidc_issuer: str = Field(
        "https://accounts.google.com",
        pattern=r"^https?://",
        description="The OpenID Connect provider (its issuer URL; its discovery document is "
        "ISSUER/.well-known/openid-configuration).",
    )
    oidc_redirect_uri: str | None = Field(
        None,
        pattern=r"^https?://",
        description="Where the provider sends the browser back, as registered with it, e.g. "
        "https://almanac.example.org/api/auth/callback. Unset: this server's own URL as the "
        "request reached it, plus /api/auth/callback (set it behind a proxy).",
    )
    oidc_allowed_domains: str = Field(
        "",
        description="Comma-separated email domains whose verified accounts may sign in with "
        "the provider (e.g. example.org); `*` allows any verified email. Required with "
        "OIDC_CLIENT_ID.",
    )
    oidc_admin_emails: str = Field(
        "",
        description="Comma-separated emails that sign in with the provider as admins; every "
        "other allowed account signs in as a user.",
    )
    oidc_groups_claim: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_:./-]{1,100}$",
        description="The ID token claim (e.g. `groups`) whose values become the person's "
        "Almanac groups at each sign-in, which collections can be granted to "
        "(docs/collections.md). A list of names, or one name. Unset: sign-in sets no groups.",
    )
    allow_unauthenticated_network: bool = Field(
        False,
        description="Let `almanac serve` bind to a non-loopback address while AUTH_ENABLED is "
        "false (anyone who can reach the port is then admin). Same as `--insecure-bind`.",
    )
    allowed_hosts: str = Field(
        "",
        description="Comma-separated host names this server answers to (the request's Host, "
        "any port), e.g. almanac.example.org; `*.example.org` for its subdomains, `*` for any. "
        "Another Host is answered 421. Unset: localhost, 127.0.0.1 and [::1] while "
        "AUTH_ENABLED=false (so another site's page cannot reach a development server through "
        "DNS rebinding), any host with AUTH_ENABLED=true (keys and cookies protect it).",
    )
    public_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="This server's address as browsers reach it, e.g. "
        "https://almanac.example.org behind a proxy: a signed-in browser's change (by its "
        "session cookie) must come from this origin (scheme, host and port), and the OpenID "
        "Connect callback defaults to PUBLIC_URL/api/auth/callback. Unset: the origin of "
        "OIDC_REDIRECT_URI if set, else the scheme and Host the request reached the server "
        "with (never X-Forwarded-Host).",
    )

    @model_validator(mode="after")
    def _complete_oidc(self) -> AuthSettings:
        if self.oidc_client_id is None:
            return self
        missing = [
            name
            for name, value in (
                ("OIDC_CLIENT_SECRET", self.oidc_client_secret),
                ("OIDC_ALLOWED_DOMAINS", self.oidc_allowed_domain_set),
            )
            if not value
        ]
        if missing:
            raise ValueError(f"OIDC_CLIENT_ID is set, and so must {' and '.join(missing)} be.")
        return self

    @property
    def oidc_allowed_domain_set(self) -> frozenset[str]:
        return frozenset(
            d.strip().lower().lstrip("@") for d in self.oidc_allowed_domains.split(",") if d.strip()
        )

    @property
    def oidc_admin_email_set(self) -> frozenset[str]:
        return frozenset(e.strip().lower() for e in self.oidc_admin_emails.split(",") if e.strip())

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names_without_ports(cls, value: str) -> str:
        for entry in (h.strip() for h in value.split(",")):
            if entry.count(":") == 1 or (entry.startswith("[") and not entry.endswith("]")):
                raise ValueError(
                    f"ALLOWED_HOSTS lists host names without a port ({entry!r}): any port of "
                    "a listed name is answered."
                )
        return value

    @property
    def allowed_host_list(self) -> tuple[str, ...]:
        """The host names the server answers to (ALLOWED_HOSTS, lower-case, IPv6 addresses in
        brackets); unset, `LOOPBACK_HOSTS` with authentication off and any (`*`) with it on."""
        listed = tuple(
            f"[{name}]" if name.count(":") > 1 and not name.startswith("[") else name
            for name in (h.strip().lower().rstrip(".") for h in self.allowed_hosts.split(","))
            if name
        )
        if listed:
            return listed
        return ("*",) if self.auth_enabled else LOOPBACK_HOSTS


class HttpSettings(SettingsGroup):
    """Limits on requests (heads, bodies, connections, rates) and which other origins browsers
    may call from. The head and connection limits are kept by the HTTP server `almanac serve`
    runs (backend/http_server.py), before any authentication."""

    model_config = ConfigDict(title="HTTP limits and security")

    max_json_body_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="Largest request body that is not a multipart upload (chat, rename), in "
        "bytes. A larger Content-Length is refused with 413 before the body is read; a body "
        "that grows past it while streaming in is cut off with 413.",
    )
    request_body_timeout_s: float = Field(
        60.0,
        ge=0,
        le=3600,
        description="Seconds a request body may go without a byte arriving (from the first "
        "read, between two reads, as nginx's client_body_timeout) before the request is "
        "answered 408 and its connection closed. 0 disables.",
    )
    max_header_line_bytes: int = Field(
        16 * 1024,
        ge=0,
        le=1024 * 1024,
        description="Longest line of a request head (the request line or one header, as "
        "nginx's large_client_header_buffers), in bytes, counted as it arrives and before "
        "any authentication: past it the request is answered 431 and its connection closed. "
        "0 disables.",
    )
    max_header_bytes: int = Field(
        64 * 1024,
        ge=0,
        le=16 * 1024 * 1024,
        description="Largest request head in all (request line and every header), in bytes: "
        "past it, 431 and the connection closed. 0 disables.",
    )
    header_timeout_s: float = Field(
        10.0,
        ge=0,
        le=3600,
        description="Seconds the whole request head may take to arrive, from the connection "
        "(or a kept-alive request's first byte) to its blank line, however slowly it is sent "
        "(nginx's client_header_timeout): past it, 408 and the connection closed. A "
        "connection that sends nothing is closed then, without an answer. 0 disables.",
    )
    max_connections: int = Field(
        1000,
        ge=0,
        le=1_000_000,
        description="Connections one server process holds open at once; one more is answered "
        "503 and closed. 0 disables.",
    )
    max_connections_per_client: int = Field(
        100,
        ge=0,
        le=1_000_000,
        description="Connections one client address may hold open at once (nginx's "
        "limit_conn); one more is answered 503 and closed. Behind a reverse proxy every "
        "connection comes from the proxy's address: raise it, or set 0 and limit at the "
        "proxy (docs/deployment.md). 0 disables.",
    )
    keep_alive_timeout_s: float = Field(
        5.0,
        gt=0,
        le=3600,
        description="Seconds an idle kept-alive connection stays open for its next request.",
    )
    rate_limit_per_minute: int = Field(
        60,
        ge=0,
        le=100_000,
        description="Chat, advice, playground and evaluation-run requests (POST /chat, "
        "/chat/stream, /api/chat, /v1/chat/completions, /advice, /advice-non-streaming, "
        "/api/playground/run, /api/v1/benchmark-runs, /api/v1/eval-runs, /api/cleaning/runs, "
        "/api/benchmark/run, and the MCP tools ask and get_advice) one caller may make per "
        "minute: a token bucket, this many at once, refilled at this rate. The caller is the "
        "API key, else (AUTH_ENABLED=false) the client address. Over it: 429 with "
        "Retry-After. 0 disables. Counted in the server process on SQLite, and shared by every "
        "replica on PostgreSQL or with REDIS_URL.",
    )
    cors_origins: str = Field(
        "",
        description="Comma-separated origins browsers may call the API from, e.g. "
        "https://chat.example.com; `*` for any (refused with AUTH_ENABLED=false: every "
        "request would act as the admin for any web site). Empty: no CORS headers "
        "(same-origin only).",
    )
    cors_allow_credentials: bool = Field(
        False,
        description="Let browsers send cookies and HTTP auth cross-origin; needs explicit "
        "CORS_ORIGINS (refused together with `*`).",
    )

    @model_validator(mode="after")
    def _no_credentials_for_any_origin(self) -> HttpSettings:
        if self.cors_allow_credentials and "*" in self.cors_origin_list:
            raise ValueError(
                "CORS_ORIGINS='*' together with CORS_ALLOW_CREDENTIALS=true would let any web "
                "site act with a visitor's credentials; list the allowed origins explicitly "
                "or turn credentials off."
            )
        return self

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        return tuple(o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip())


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


class JobSettings(SettingsGroup):
    """Background jobs (uploads, evaluation and cleaning runs, imports, the conflict scan): which
    of them a process runs, and how processes tell a live worker from a dead one
    (docs/deployment.md)."""

    model_config = ConfigDict(title="Background jobs and workers")

    run_jobs: bool = Field(
        True,
        description="Whether this server process also runs background jobs. `almanac serve "
        "--no-jobs` sets it false (HTTP only: the jobs it queues are run by `almanac worker` "
        "processes); PostgreSQL only.",
    )
    job_kinds: str = Field(
        "",
        max_length=500,
        description="Job kinds this process runs, comma-separated (`ingest_upload`, "
        "`eval_run`, `cleaning_run`, `conversation_import`, `conflict_scan`); empty: every "
        "kind. `almanac worker --kinds` says the same for one worker.",
    )
    job_concurrency: int | None = Field(
        None,
        ge=1,
        le=64,
        description="Jobs of each kind one process runs at once. Unset: each kind's own "
        "(one upload, one import, a few evaluation and cleaning runs). `almanac worker "
        "--concurrency` says the same for one worker.",
    )
    job_lease_seconds: float = Field(
        30.0,
        ge=1,
        le=3600,
        description="A running job whose worker renewed it no longer ago than this is left "
        "to it; after that any worker takes it over (the worker renews it every third of "
        "this).",
    )
    process_heartbeat_seconds: float = Field(
        5.0,
        gt=0,
        le=600,
        description="PostgreSQL: how often each process renews its row in `processes`, by "
        "which the others know it is alive.",
    )
    process_timeout_seconds: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="PostgreSQL: a process whose row was not renewed for this long is dead: "
        "its jobs are taken over, its streaming answers marked interrupted, its staged "
        "rows removed. Keep it several heartbeats long.",
    )
    conflict_scan_interval_seconds: float = Field(
        0.0,
        ge=0,
        le=7 * 24 * 3600,
        description="Run the conflict scan as a job this often, once per cluster (the workers "
        "take turns); 0: only when an admin asks (GET /api/documents/conflicts) and the "
        "knowledge base changed since the last scan.",
    )

    @field_validator("process_timeout_seconds")
    @classmethod
    def _longer_than_a_heartbeat(cls, value: float, info: Any) -> float:
        heartbeat = info.data.get("process_heartbeat_seconds")
        if heartbeat is not None and value <= heartbeat:
            raise ValueError(
                "PROCESS_TIMEOUT_SECONDS must be longer than PROCESS_HEARTBEAT_SECONDS "
                "(several heartbeats: one late renewal must not look like a death)."
            )
        return value

    @property
    def kinds(self) -> frozenset[str] | None:
        """The kinds JOB_KINDS names, or None for every kind."""
        names = {name.strip() for name in self.job_kinds.split(",") if name.strip()}
        return frozenset(names) or None


class SourceSyncSettings(SettingsGroup):
    """Synced sources (folders, S3 buckets; docs/sources.md): how often the cluster looks for
    sources whose sync is due, where folder sources may be, and what one item may weigh."""

    model_config = ConfigDict(title="Synced sources")

    @property
    def folder_roots(self) -> tuple[str, ...]:
        """SOURCE_FOLDER_ROOTS as a list."""
        return tuple(p.strip() for p in self.source_folder_roots.split(",") if p.strip())

    source_schedule_check_seconds: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="How often one process of the cluster looks for sources whose sync is "
        "due (`almanac sources add ... --every`) and queues their syncs as jobs; syncs that "
        "fell due while no server ran are queued at the first look. 0: no scheduled syncs "
        "(`almanac sources sync` and `POST /api/sources/{name}/sync` still run them).",
    )
    source_folder_roots: str = Field(
        "",
        max_length=4000,
        description="Folders (absolute paths, comma-separated) under which folder sources "
        "may be declared; over an API key a folder source must be under one of them. Empty: "
        "any folder from the server's own machine (`almanac sources add`, development "
        "mode), none over an API key (an API key must not turn the server's files into "
        "documents).",
    )
    source_max_item_bytes: int = Field(
        50 * 1024 * 1024,
        ge=1024,
        le=1024 * 1024 * 1024,
        description="The most bytes one file or object of a synced source may have: a bigger "
        "one is reported as a failed item and never downloaded (its document, if any, "
        "stays).",
    )


class DocumentSettings(SettingsGroup):
    """Limits on the documents an upload or `almanac ingest` brings in, and on parsing them."""

    model_config = ConfigDict(title="Documents and parsing")

    max_upload_bytes: int = Field(
        20 * 1024 * 1024,
        ge=1,
        description="Largest document accepted by POST /api/documents and PUT "
        "/api/documents/ID, in bytes. The multipart body may be 64 KiB larger (boundaries, "
        "form fields); it is counted while it streams in, and a larger Content-Length is "
        "refused with 413 at once.",
    )
    upload_job_bytes: int = Field(
        1024 * 1024,
        ge=0,
        description="Uploads larger than this are ingested as a background job: POST "
        "/api/documents answers 202 with a job to poll at GET /api/jobs/{id}.",
    )
    parse_cpu_seconds: int = Field(
        round(BUDGET.parse_cpu_s),
        ge=1,
        le=3600,
        description="CPU seconds one document's parse may take: an admin's upload, a chat "
        "attachment and each file of `almanac ingest` are parsed in a child process stopped "
        "past it (413 `input_too_costly`; in the CLI a failed file, the others ingested). A "
        "share page of a conversation import is read on a worker thread that stops past it "
        "(413).",
    )
    parse_memory_mb: int = Field(
        BUDGET.parse_memory_bytes // (1024 * 1024),
        ge=256,
        le=1024 * 1024,
        description="MiB of memory (address space) one document's parse may take, in the same "
        "child process as PARSE_CPU_SECONDS: an allocation past it fails and the parse is "
        "refused (413 `input_too_costly`; in the CLI a failed file, the others ingested). At "
        "most two parses run at once.",
    )
    ocr_dpi: int = Field(
        300,
        ge=72,
        le=600,
        description="Dots per inch a page is read at by OCR: a scanned PDF page is rasterised "
        "so, an image recording a lower resolution (a 150-dpi scan) is scaled up to it "
        "(Tesseract's English model reads about 300 dpi best; more costs CPU). A page too "
        "large for the image pixel budget at this resolution is read at less.",
    )
    ocr_workers: int = Field(
        2,
        ge=1,
        le=64,
        description="Pages of one scan OCR reads at once, one single-threaded `tesseract` "
        "each: one per core.",
    )
    ocr_min_confidence: float = Field(
        30.0,
        ge=0,
        le=100,
        description="Lines OCR is less sure of than this (Tesseract's confidence, 0-100, "
        "averaged over the line's words) are left out of a scan's text: speckles, the edges "
        "of pictures, smudged lines.",
    )
    ocr_max_pages: int = Field(
        BUDGET.max_ocr_pages,
        ge=1,
        le=BUDGET.max_pdf_pages,
        description="Pages without a text layer that OCR reads in one document (a scanned PDF, "
        "a multi-page TIFF); a document with more is refused (413 `input_too_costly`). Each "
        "page costs a few CPU seconds, and the parse's time budget grows by "
        "PARSE_CPU_SECONDS for each.",
    )
    ocr_language: str = Field(
        "eng",
        pattern=r"^[a-z_]{3,}(\+[a-z_]{3,})*$",
        description="Tesseract's language data for OCR: `eng` (Debian's tesseract-ocr "
        "includes it), or several joined by `+` (`eng+deu` once tesseract-ocr-deu is "
        "installed).",
    )
    max_document_chunks: int = Field(
        5000,
        ge=1,
        description="Most retrieval chunks one document may have; a bigger document is "
        "refused (413) before anything is embedded.",
    )
    future_date_tolerance_days: int = Field(
        1,
        ge=0,
        le=366,
        description="Documents dated (updated, date, effective, ...) later than today plus "
        "this many days are refused (422).",
    )


class KnowledgeBaseSettings(SettingsGroup):
    """The bundled sample knowledge base and tables, and your knowledge base's lexicon."""

    model_config = ConfigDict(title="Sample data and lexicon")

    load_sample_data: bool = Field(
        True, description="Ingest the bundled sample knowledge base when the knowledge DB is empty."
    )
    sample_data_dir: Path = Field(
        PROJECT_ROOT / "sample_data" / "knowledge_base",
        description="Bundled sample knowledge base, ingested on first start when enabled.",
    )
    sample_tables_dir: Path = Field(
        PROJECT_ROOT / "sample_data" / "tables",
        description="Bundled sample tables (CSV), loaded on first start when enabled.",
    )
    lexicon_file: Path | None = Field(
        None,
        description="Your knowledge base's lexicon (JSON): the words its people use for the "
        "words its documents and tables use (synonyms, acronyms, phrases, column hints; see "
        "docs/configuration.md#lexicon). Unset: the bundled sample's lexicon while "
        "LOAD_SAMPLE_DATA is on, else none (English alone).",
    )
    sample_lexicon_file: Path = Field(
        PROJECT_ROOT / "sample_data" / "lexicon.json",
        description="The bundled sample's lexicon, used while LOAD_SAMPLE_DATA is on and "
        "LEXICON_FILE is unset.",
    )

    @property
    def effective_lexicon_file(self) -> Path | None:
        """`LEXICON_FILE`, else the sample's while the sample is loaded (if it exists)."""
        if self.lexicon_file is not None:
            return self.lexicon_file
        sample = self.sample_lexicon_file
        return sample if self.load_sample_data and sample.is_file() else None


class EmbeddingSettings(SettingsGroup):
    """Which model turns text into vectors."""

    model_config = ConfigDict(title="Embeddings")

    embedding_provider: Literal["local", "openai", "cohere"] = Field(
        "local",
        description="`local` = bundled all-MiniLM-L6-v2 (int8 ONNX, offline); "
        "`openai` or `cohere` need an API key.",
    )
    embedding_model: str | None = Field(
        None,
        description="Provider model name. Defaults: all-MiniLM-L6-v2 (local), "
        "text-embedding-3-small (openai), embed-english-v3.0 (cohere).",
    )
    embedding_batch_size: int = Field(
        64,
        ge=1,
        le=2048,
        description="Texts per embedding call to OpenAI or Cohere, and (x16) chunks an "
        "ingest embeds and writes at a time. The local model embeds each text on its own.",
    )
    models_dir: Path = Field(
        default_factory=_default_models_dir,
        description="Where `almanac model install` puts the local embedding model.",
    )

    @property
    def effective_embedding_model(self) -> str:
        defaults = {
            "local": "all-MiniLM-L6-v2",
            "openai": "text-embedding-3-small",
            "cohere": "embed-english-v3.0",
        }
        return self.embedding_model or defaults[self.embedding_provider]


class ChunkingSettings(SettingsGroup):
    """How documents are cut into retrieval chunks."""

    model_config = ConfigDict(title="Chunking")

    chunk_tokens: int = Field(
        160, ge=32, le=1024, description="Target size of a retrieval chunk, in tokens."
    )
    chunk_overlap: int = Field(32, ge=0, le=512, description="Tokens shared by consecutive chunks.")


class RetrievalSettings(SettingsGroup):
    """Hybrid search: candidates, fusion and the optional reranker."""

    model_config = ConfigDict(title="Retrieval")

    vector_search_limit: int = Field(
        50, ge=1, le=1000, description="Candidates from vector search."
    )
    bm25_search_limit: int = Field(50, ge=1, le=1000, description="Candidates from BM25 (FTS5).")
    bm25_resident_min_sections: int = Field(
        5_000,
        ge=0,
        description="SQLite: from this many sections on, BM25 is scored from a resident copy of "
        "the full-text index (same scores as FTS5; hybrid p50 4.6 instead of 16.4 ms at 100k "
        "chunks; at 100k ~250 MB of memory and ~8 s to build, on a background thread). "
        "0: always.",
    )
    final_results_limit: int = Field(5, ge=1, le=100, description="Hits returned by default.")
    rrf_k: int | None = Field(
        None,
        ge=1,
        description="Unset: fuse BM25 and vector hits by a convex combination of min-max scaled "
        "scores (SciFact train nDCG@10 0.741). Set: Reciprocal Rank Fusion with this constant k "
        "instead (k=60: 0.723).",
    )
    reranker_enabled: bool = Field(False, description="Re-order fused hits with Cohere rerank.")
    reranker_model: str = Field("rerank-v3.5", description="Cohere rerank model.")
    reranker_top_n: int = Field(
        20, ge=1, le=1000, description="Fused candidates sent to the reranker."
    )
    reranker_timeout: float = Field(
        5.0, gt=0, description="Seconds to wait for the reranker before keeping the fused order."
    )

    @field_validator("rrf_k", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value


class TableSettings(SettingsGroup):
    """The read-only SQL lookups over the structured tables."""

    model_config = ConfigDict(title="Table lookups")

    sql_timeout: float = Field(1.0, gt=0, le=30, description="Seconds one SQL lookup may run.")
    sql_max_rows: int = Field(200, ge=1, le=10000, description="Rows one SQL lookup returns.")


class ModelSettings(SettingsGroup):
    """Which language models answer, and how each is called."""

    model_config = ConfigDict(title="Models")

    default_model: str | None = Field(
        None,
        description="Model for requests that name none, e.g. openai:gpt-4.1-mini (a bare "
        "gpt-..., claude-... or gemini-... name gets its provider), unless an "
        "admin set a default for the prompt type (`PUT /api/llm-defaults/chat`, `almanac models "
        "defaults`). Unset: OPENAI_DEFAULT_MODEL if set, else openai:gpt-4.1-mini when "
        "OPENAI_API_KEY is set, else offline-extractive.",
    )
    openai_default_model: str | None = Field(
        None,
        description="An OpenAI model (`gpt-4.1` or `openai:gpt-4.1`) for requests that name "
        "none, below DEFAULT_MODEL and an admin's default for the prompt type, above the "
        "built-in default. Needs OPENAI_API_KEY or OPENAI_BASE_URL to answer.",
    )
    allowed_models: str = Field(
        "",
        description="Comma-separated models a request may choose, and an admin may make a "
        "prompt type's default (bare gpt-..., claude-..., gemini-... names get their "
        "provider). Default: the default model and offline-extractive.",
    )
    model_options: str = Field("", max_length=20_000, description="How Almanac calls each model: a JSON object of model (or `*`) -> options (token limit, streaming, structured output and its temperature, who runs a required search, timeouts). Defaults and examples: docs/local-models.md.")  # noqa: E501  # fmt: skip
    agent_request_limit: int = Field(
        8, ge=1, le=50, description="Model requests allowed in one chat turn."
    )
    agent_tool_retries: int = Field(2, ge=0, le=10, description="Retries of a rejected tool call.")
    agent_timeout: float = Field(60.0, gt=0, description="Seconds one chat turn may take.")

    @property
    def allowed_model_list(self) -> tuple[str, ...]:
        return tuple(m.strip() for m in self.allowed_models.split(",") if m.strip())


class ProviderSettings(SettingsGroup):
    """Keys and addresses of the model, embedding and web search providers."""

    model_config = ConfigDict(title="Providers")

    openai_api_key: SecretStr | None = Field(None, description="OpenAI API key.")
    openai_base_url: str | None = Field(
        None, description="OpenAI-compatible base URL (Azure OpenAI, Ollama, vLLM, llama.cpp)."
    )
    cohere_api_key: SecretStr | None = Field(
        None, description="Cohere API key (embeddings, rerank)."
    )
    cohere_base_url: str | None = Field(None, description="Cohere API base URL override.")
    provider_timeout: float = Field(30.0, gt=0, description="Seconds per provider HTTP call.")
    provider_max_retries: int = Field(2, ge=0, le=10, description="Retries per provider call.")
    web_search_provider: str = Field(
        "none",
        max_length=64,
        description="Web search provider for requests with enable_web_search (see "
        "docs/search-discipline.md). `none` turns web search off; requests that ask for it are "
        "answered from the knowledge base and told it is unavailable. An unknown name stops "
        "start-up with a configuration error.",
    )

    @field_validator("openai_api_key", "cohere_api_key", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value


class ChatSettings(SettingsGroup):
    """Chat and advice turns: prompts, history and message limits, streaming."""

    model_config = ConfigDict(title="Chat and advice")

    system_prompt: str | None = Field(
        None,
        description="Replaces the built-in defaults of the chat and advice system prompts. A "
        "prompt version an admin activated (`/api/llm-prompts/{type}`, `almanac prompts`) takes "
        "precedence.",
    )
    history_window: int = Field(
        20, ge=0, le=200, description="Earlier messages of a chat sent to the model."
    )
    max_message_chars: int = Field(
        8000,
        ge=1,
        le=1_000_000,
        description="Longest chat message (POST /chat, /chat/stream, the last user message of "
        "POST /api/chat, each user and assistant message of POST /v1/chat/completions, "
        "`almanac ask`) and advice question (the last message of POST /advice, "
        "/advice-non-streaming, `almanac advise`), in characters after stripping.",
    )
    max_conversation_messages: int = Field(
        500,
        ge=1,
        description="Most messages one POST /api/chat, /v1/chat/completions or advice request "
        "may carry (they send the whole conversation).",
    )
    max_conversation_chars: int = Field(
        400_000,
        ge=1,
        description="Most text characters, summed over the messages, one POST /api/chat, "
        "/v1/chat/completions or advice request may carry.",
    )
    stream_word_delay_ms: int = Field(
        12,
        ge=0,
        le=200,
        description="Milliseconds between the words of a text delta that holds several (as the "
        "offline model sends a sentence at once), in the streams of chat and advice, so an answer "
        "is seen being written; at most 2 s per answer, and a provider streaming a word at a time "
        "is not slowed. 0 sends text as it comes.",
    )


class McpServerConfig(BaseModel):
    """One MCP server of MCP_SERVERS: a local command (stdio) or a streamable-HTTP URL."""

    model_config = ConfigDict(extra="forbid")

    command: str | None = Field(None, min_length=1, description="The program to start (stdio).")
    args: list[str] = Field(default_factory=list, description="Its arguments.")
    env: dict[str, str] = Field(
        default_factory=dict, description="Variables set for it (not secrets: see env_from_env)."
    )
    env_from_env: dict[str, str] = Field(
        default_factory=dict,
        description="Its variables taken from Almanac's environment: its name -> the variable.",
    )
    url: str | None = Field(None, pattern=r"^https?://", description="Its streamable-HTTP URL.")
    headers_from_env: dict[str, str] = Field(
        default_factory=dict,
        description="HTTP headers taken from Almanac's environment: header -> the variable "
        "holding its value (e.g. Authorization -> LINEAR_MCP_AUTH), so no secret is written "
        "in MCP_SERVERS.",
    )

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError("give either `command` (stdio) or `url` (streamable HTTP)")
        if self.url is None and self.headers_from_env:
            raise ValueError("`headers_from_env` is for a `url` server")
        if self.command is None and (self.args or self.env or self.env_from_env):
            raise ValueError("`args`, `env` and `env_from_env` are for a `command` server")
        return self


#: An MCP server's name in MCP_SERVERS: it prefixes its tools' names (`server__tool`).
MCP_SERVER_NAME = r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$"


class McpToolSettings(SettingsGroup):
    """Tools of other MCP servers offered to the agent's models beside search and SQL
    (docs/mcp.md). The offline model never calls them."""

    model_config = ConfigDict(title="MCP tools for the agent")

    mcp_servers: str = Field("", max_length=20_000, description='MCP servers whose tools the agent may call: a JSON object of name -> {"command", "args", "env", "env_from_env"} (stdio) or {"url", "headers_from_env"} (streamable HTTP, each header\'s value read from the variable named). Names are letters, digits and hyphens; their tools are offered as NAME__TOOL. Empty: none.')  # noqa: E501  # fmt: skip
    mcp_tools_allowed: str = Field(
        "",
        max_length=20_000,
        description="Comma-separated tools of MCP_SERVERS the agent may call, as SERVER__TOOL, "
        "or SERVER__* for all of one server's tools. A tool not listed is never offered. "
        "Empty: none.",
    )
    mcp_tool_timeout: float = Field(
        10.0,
        gt=0,
        le=600,
        description="Seconds one MCP tool call may take, connecting included (and listing a "
        "server's tools); past it the call is abandoned and the model told so.",
    )
    mcp_tool_max_chars: int = Field(
        20_000,
        ge=100,
        le=1_000_000,
        description="Characters of one MCP tool result the model reads; the rest is cut, and "
        "the model told how much.",
    )

    @field_validator("mcp_servers")
    @classmethod
    def _servers_parse(cls, value: str) -> str:
        if value.strip():
            cls.parse_servers(value)
        return value

    @model_validator(mode="after")
    def _allowed_tools_name_servers(self) -> McpToolSettings:
        servers = self.server_configs
        for name in self.allowed_tool_list:
            server, sep, tool = name.partition("__")
            if not sep or not tool:
                raise ValueError(f"MCP_TOOLS_ALLOWED: {name!r} is not SERVER__TOOL")
            if server not in servers:
                raise ValueError(f"MCP_TOOLS_ALLOWED: {name!r} names no server of MCP_SERVERS")
        return self

    @staticmethod
    def parse_servers(value: str) -> dict[str, McpServerConfig]:
        try:
            raw = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"MCP_SERVERS is not JSON: {exc.msg} at character {exc.pos}") from None
        if not isinstance(raw, dict):
            raise ValueError("MCP_SERVERS must be a JSON object of name -> server")
        servers = {}
        for name, config in raw.items():
            if not re.fullmatch(MCP_SERVER_NAME, name):
                raise ValueError(
                    f"MCP_SERVERS: {name[:40]!r} is not a server name (letters, digits and "
                    "hyphens, at most 32)"
                )
            try:
                servers[name] = McpServerConfig.model_validate(config)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(part) for part in first["loc"])
                message = str(first["msg"]).removeprefix("Value error, ")
                raise ValueError(
                    f"MCP_SERVERS[{name!r}]: {where + ': ' if where else ''}{message}"
                ) from None
        return servers

    @property
    def server_configs(self) -> dict[str, McpServerConfig]:
        return self.parse_servers(self.mcp_servers) if self.mcp_servers.strip() else {}

    @property
    def allowed_tool_list(self) -> tuple[str, ...]:
        return tuple(t.strip() for t in self.mcp_tools_allowed.split(",") if t.strip())


class OfflineSettings(SettingsGroup):
    """The embedded offline answerer (offline-extractive): its workers and what it reads."""

    model_config = ConfigDict(title="Offline model")

    answer_workers: int = Field(
        2,
        ge=1,
        le=64,
        description="Worker threads the embedded offline model plans and composes answers on "
        "(never the server's event loop; each hands its work to a process with "
        "ANSWER_PROCESSES). About one per CPU core.",
    )
    answer_processes: bool = Field(
        True,
        description="A server plans and composes offline answers in worker processes, one per "
        "answer worker (spawned at start, or at the first offline answer when another model is "
        "the default; 300-400 MB each), so a long message cannot slow other requests down; "
        "false keeps them on threads of the server's process. CLI commands use threads.",
    )
    answer_queue: int = Field(
        64,
        ge=0,
        le=1000,
        description="Offline answers that may wait for a worker; one more is refused at once "
        "with 503 and `Retry-After` rather than slowing every request down.",
    )
    offline_reader: bool = Field(
        True,
        description="With the local embedder: the offline answerer's confidence also reads the "
        "trained reader's belief that the chosen sentences state the answer (a cross-encoder "
        "assembled by `almanac model install`; docs/reader.md). It changes no answer and reads "
        "1-3 sentences an answer; false: the confidence of the hand-made features alone.",
    )
    prepare_sentences: bool = Field(
        True,
        description="With the local embedder: once an ingest has stored its documents (they are "
        "searchable), a background job (`prepare_answers`, shown at /api/jobs/{id}) embeds "
        "their sentences for offline answers (~12 ms a sentence, on all cores) into "
        "SENTENCE_VECTORS_DB, so no question waits for them (answer-ready); questions asked "
        "before get the same answers, embedding what they need. false leaves that to the first "
        "question that retrieves them (vectors are kept there too). The file is a cache, safe "
        "to delete.",
    )
    not_found_hint: str = Field(
        "Could you rephrase the question, or say which document or topic you mean?",
        min_length=1,
        max_length=300,
        description="What the offline model asks after \"I can't find this in the knowledge "
        'base." (one clarifying question; word it for what your knowledge base holds).',
    )


class WebAppSettings(SettingsGroup):
    """Texts of the web app."""

    model_config = ConfigDict(title="Web app")

    ui_chat_placeholder: str = Field(
        "Ask a question about your documents…",
        max_length=200,
        description="The web app's question box before anything is typed.",
    )
    ui_advice_placeholder: str = Field(
        "Describe the decision you need advice on…",
        max_length=200,
        description="The web app's advice box before anything is typed.",
    )


class ChatFileSettings(SettingsGroup):
    """Files attached to chats: limits, where their bytes are kept, which models read images."""

    model_config = ConfigDict(title="Files attached to chats")

    chat_file_max_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1,
        description="Largest file accepted by POST /api/conversations/ID/files (a file "
        "attached to a chat), in bytes. The multipart body may be 64 KiB larger; a larger "
        "Content-Length is refused with 413 before the body is read.",
    )
    chat_file_parse_memory_mb: int = Field(
        256,
        ge=128,
        le=1024 * 1024,
        description="MiB of memory (address space) one chat attachment's parse may take, in "
        "its child process: lower than an admin's upload (PARSE_MEMORY_MB), since any user "
        "may attach files; the child with the loaders maps ~90 MiB, a 10 MB attachment of "
        "Markdown or HTML reads within 256. Past it, 413 `input_too_costly`.",
    )
    chat_file_user_concurrency: int = Field(
        1,
        ge=1,
        le=64,
        description="Files of one user attached (parsed and embedded) at once; the user's "
        "others wait their turn, in order, while other users' go ahead. On PostgreSQL counted "
        "over every replica (a ledger in the database); on SQLite in the one process.",
    )
    chat_file_user_in_flight_bytes: int = Field(
        32 * 1024 * 1024,
        ge=1,
        description="Bytes of one user's attached files in flight (being read or waiting their "
        "turn); one more past it is refused with 429 `too_much_in_flight` and Retry-After. A "
        "user with nothing in flight may always send one file (up to CHAT_FILE_MAX_BYTES). "
        "On PostgreSQL counted over every replica; on SQLite in the one process.",
    )
    chat_files_dir: Path | None = Field(
        None,
        description="Where the bytes of files attached to chats are kept (one directory per "
        "chat). Unset: DATA_DIR/chat_files. Replicas sharing a PostgreSQL database must share "
        "this directory, or keep the files in S3 (CHAT_FILES_S3_BUCKET).",
    )
    chat_files_s3_bucket: str | None = Field(
        None,
        min_length=3,
        max_length=63,
        description="Keep the bytes of files attached to chats in this S3 bucket instead of "
        "CHAT_FILES_DIR (AWS S3 or any S3-compatible store; see S3_ENDPOINT_URL). The bucket "
        "must exist; the start stops if it cannot be reached. Credentials come from the AWS "
        "SDK's usual chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, an "
        "instance role). Needs the `s3` extra (`pip install 'almanac[s3]'`).",
    )
    chat_files_s3_prefix: str = Field(
        "chat_files/",
        max_length=512,
        description="The key prefix of attached files in CHAT_FILES_S3_BUCKET: each file is "
        "the object PREFIX + chat id + '/' + file id.",
    )
    s3_endpoint_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="The endpoint of an S3-compatible store (MinIO, Ceph, Cloudflare R2 ...), "
        "e.g. http://127.0.0.1:9000. Unset: AWS S3 itself.",
    )
    s3_region: str | None = Field(
        None,
        description="The S3 region (e.g. eu-west-1). Unset: the AWS SDK's own "
        "(AWS_DEFAULT_REGION, the profile).",
    )
    vision_models: str = Field(
        "openai:gpt-4o,openai:gpt-4o-mini,openai:gpt-4-turbo,openai:gpt-4.1,openai:gpt-4.1-mini",
        description="Comma-separated models that read images (bare gpt-..., claude-..., "
        "gemini-... names get their provider). An image attached to a chat whose model is "
        "one of them is described by it, and the description is what the chat's search finds; "
        "with any other model (the offline one included) it is stored undescribed. Empty: no "
        "image is described.",
    )
    image_description_timeout: float = Field(
        60.0, gt=0, description="Seconds a model may take to describe an attached image."
    )

    @property
    def vision_model_list(self) -> tuple[str, ...]:
        return tuple(m.strip() for m in self.vision_models.split(",") if m.strip())


class ConversationSearchSettings(SettingsGroup):
    """Summaries of conversations and the search across a user's chats."""

    model_config = ConfigDict(title="Conversation summaries and search")

    summary_chunk_tokens: int = Field(
        3000,
        ge=200,
        le=200_000,
        description="Estimated tokens (characters / 4) per chunk when a model summarises a "
        "conversation: longer ones are summarised chunk by chunk, then the partial summaries "
        "together (map-reduce).",
    )
    summary_max_chars: int = Field(
        1200,
        ge=100,
        le=20_000,
        description="Longest generated conversation summary, in characters.",
    )
    summary_timeout: float = Field(
        120.0, gt=0, description="Seconds one summary (every map and reduce call) may take."
    )
    chat_search_embed_batch: int = Field(
        64,
        ge=0,
        le=10_000,
        description="Chat search: items (titles, summaries, messages) embedded at most per "
        "query for those without a vector yet; the rest are found by BM25 until a later "
        "query catches them up (0: lexical chat search only).",
    )
    chat_search_min_similarity: float = Field(
        0.25,
        ge=-1,
        le=1,
        description="Chat search: the least cosine similarity for a vector match to count.",
    )


class ProjectDraftSettings(SettingsGroup):
    """Project drafts made from a conversation (docs/conversation-drafts.md)."""

    model_config = ConfigDict(title="Conversation project drafts")

    project_draft_max_conversation_chars: int = Field(
        60_000,
        ge=1_000,
        le=1_000_000,
        description="Characters of a conversation a project draft is made from: its first "
        "message, then as many of its latest as fit (docs/conversation-drafts.md).",
    )
    project_draft_max_versions: int = Field(
        500,
        ge=1,
        le=100_000,
        description="Versions a conversation's project draft may have; a change past it is "
        "refused (409).",
    )
    mem0_score_threshold: float = Field(
        0.38,
        ge=0,
        le=1,
        description="Semantic memory (the conversation backend's Mem0): the least score a "
        "recalled memory needs to be given to project drafting as context. No memory service "
        "ships with Almanac (a port only): this applies once one is wired in.",
    )


class ConversationImportSettings(SettingsGroup):
    """Which share links POST /api/conversations/import fetches, and how."""

    model_config = ConfigDict(title="Conversation import")

    import_allowed_hosts: str = Field(
        "chatgpt.com,chat.openai.com,claude.ai,grok.com,x.com",
        description="Comma-separated hosts whose share links POST /api/conversations/import "
        "fetches (each host and its subdomains), as `host` (the scheme's default port only) "
        "or `host:port`; a redirect to any other host or port is refused.",
    )
    import_allow_http: bool = Field(
        False, description="Also fetch plain http:// share links (https only by default)."
    )
    import_allow_private_hosts: bool = Field(
        False,
        description="Fetch share links whose host has a private, loopback or link-local "
        "address (a local test server); refused by default.",
    )
    import_max_page_bytes: int = Field(
        5 * 1024 * 1024, ge=1024, description="Largest share page fetched, in bytes (413)."
    )
    import_timeout_s: float = Field(
        15.0,
        gt=0,
        le=120,
        description="Seconds to fetch a share page, from connecting to its last byte, "
        "redirects and slow headers included (504 after).",
    )

    @property
    def import_allowed_host_list(self) -> tuple[str, ...]:
        return tuple(h.strip().lower() for h in self.import_allowed_hosts.split(",") if h.strip())


class WebsiteSourceSettings(SettingsGroup):
    """How a synced source reads a website (`--url`; docs/websites.md): which addresses it may
    reach, and what one page and one sync may cost. The address check is made after DNS
    resolution, on every request and redirect, and the connection goes to the address
    checked."""

    model_config = ConfigDict(title="Website sources")

    source_allowed_hosts: str = Field(
        "",
        description="Comma-separated hosts (names as written in the source's URL, or IP "
        "addresses; a port given is ignored) that website sources may reach although they "
        "resolve to a loopback, private, link-local or otherwise non-public address: an "
        "intranet's sites. Every other such address is refused. Empty: public addresses only.",
    )
    source_page_max_bytes: int = Field(
        20 * 1024 * 1024,
        ge=1024,
        description="Largest page or file a website source reads, in bytes (inflated, when "
        "sent compressed); a larger one is reported failed and its document kept.",
    )
    source_page_timeout_s: float = Field(
        30.0,
        gt=0,
        le=600,
        description="Seconds one request of a website source may take, from connecting to "
        "its last byte (a slow server, a page that never ends); past it the page is reported "
        "failed and its document kept.",
    )
    source_max_pages: int = Field(
        1000,
        ge=1,
        le=1_000_000,
        description="Most pages one sync of a website source requests. A site (or sitemap) "
        "with more is read up to the limit and the sync reported incomplete: nothing is "
        "removed.",
    )
    source_max_depth: int = Field(
        10,
        ge=0,
        le=100,
        description="Most links followed from a website source's start page to reach a page "
        "(0: the start page alone). Pages of a sitemap are not followed further.",
    )
    source_request_delay_s: float = Field(
        1.0,
        ge=0,
        le=600,
        description="Seconds between two requests to the same site (requests to a site are "
        "made one at a time); a longer robots.txt `Crawl-delay` wins, up to 60 s.",
    )
    source_sitemap_max_bytes: int = Field(
        50 * 1024 * 1024,
        ge=1024,
        description="Largest sitemap a website source reads, in bytes (inflated): the "
        "sitemap protocol's own limit is 50 MB. Reading stops earlier once the sitemap has "
        "listed more pages than SOURCE_MAX_PAGES.",
    )

    @property
    def source_allowed_host_list(self) -> tuple[str, ...]:
        return tuple(h.strip() for h in self.source_allowed_hosts.split(",") if h.strip())


class CalibrationSettings(SettingsGroup):
    """Recalibrating the answers' confidence from users' feedback."""

    model_config = ConfigDict(title="Calibration")

    recalibration_min_feedback: int = Field(
        50,
        ge=2,
        le=1_000_000,
        description="Answers with feedback needed before the confidence is recalibrated "
        "(a monotone map from raw confidence to observed accuracy). Automatic refits happen at "
        "this count and each time it has grown by as much again.",
    )
    recalibration_method: Literal["isotonic", "platt"] = Field(
        "isotonic",
        description="How raw confidence is mapped to observed accuracy: `isotonic` "
        "(pool-adjacent-violators isotonic regression) or `platt` (logistic regression on the "
        "logit).",
    )
    recalibration_auto: bool = Field(
        True,
        description="Refit the recalibration map automatically as feedback arrives; when "
        "false only `POST /confidence/recalibrate` and `almanac calibration recalibrate` do.",
    )
    recalibration_holdout: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="Share of the feedback held out (seeded split) to measure ECE before and "
        "after a recalibration; a map that makes the held-out ECE worse is not activated.",
    )


class EvaluationSettings(SettingsGroup):
    """Evaluation and benchmark runs: concurrency, the judge, provider rate limits and retries."""

    model_config = ConfigDict(title="Evaluation runs")

    eval_judge_model: str = Field(
        "",
        max_length=200,
        description="Model that judges answers for the `llm_judge` assertion of evaluation "
        "runs, e.g. openai:gpt-4.1-mini (any PydanticAI `provider:model`). Empty: no judge; "
        "`llm_judge` checks are reported as skipped.",
    )
    eval_concurrency: int = Field(
        4,
        ge=1,
        le=32,
        description="Cases an evaluation run executes at once when the run does not say "
        "(`concurrency`, 1 to 32).",
    )
    eval_rate_limit_per_minute: int = Field(
        60,
        ge=0,
        le=100_000,
        description="Model calls per minute per provider across evaluation runs (a token "
        "bucket per provider); 0 disables it. The offline model is never limited. Shared by "
        "every worker: in Redis with REDIS_URL, else in PostgreSQL; per process on SQLite.",
    )
    eval_max_attempts: int = Field(
        4,
        ge=1,
        le=10,
        description="Attempts per evaluation case on a 429, 5xx or timeout from the provider, "
        "with exponential backoff and full jitter between them.",
    )
    eval_backoff_seconds: float = Field(
        1.0,
        gt=0,
        le=60,
        description="Base of the evaluation retry backoff: the wait before attempt n+1 is "
        "random between 0 and min(EVAL_BACKOFF_MAX_SECONDS, base x 2^n) seconds.",
    )
    eval_backoff_max_seconds: float = Field(
        30.0, gt=0, le=600, description="Longest wait between two attempts of an evaluation case."
    )


class CleaningSettings(SettingsGroup):
    """Data-cleaning runs (docs/cleaning.md)."""

    model_config = ConfigDict(title="Cleaning runs")

    cleaning_concurrency: int = Field(
        4,
        ge=1,
        le=32,
        description="Tasks a cleaning run cleans at once when the run does not say "
        "(`concurrency`, 1 to 32; see docs/cleaning.md).",
    )
    cleaning_sample_rows: int = Field(
        200,
        ge=10,
        le=5000,
        description="Rows of a cleaning task's table sent to a model in its prompt; a larger "
        "table is sent as its first rows, the model reads the rest with its SQL tool.",
    )
    cleaning_timeout: float = Field(
        300.0,
        gt=0,
        le=3600,
        description="Seconds a cleaner may take on one cleaning task before it is scored as "
        "failed.",
    )


class _FlatNames(PydanticBaseSettingsSource):
    """Each group's fields from a source of environment variables (the environment, or the
    `.env` file) by their flat names: AUTH_ENABLED is `auth.auth_enabled`. The group names
    themselves are never read from it, so an unrelated variable named AUTH or SERVER is
    ignored."""

    def __init__(self, settings_cls: type[BaseSettings], variables: EnvSettingsSource) -> None:
        super().__init__(settings_cls)
        self._variables = variables

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ reads every group at once

    def __call__(self) -> dict[str, Any]:
        found: dict[str, dict[str, Any]] = {}
        names = self._variables.env_vars
        for name, group in GROUP_OF.items():
            key = name if not self._variables.case_sensitive else name.upper()
            if key in names:
                found.setdefault(group, {})[name] = names[key]
        return dict(found)


class Settings(BaseSettings):
    """Every setting, one group per feature (see `SettingsGroup`). `Settings(auth_enabled=True)`
    and `Settings(auth=AuthSettings(...))` both work: a keyword named after a field goes to its
    group, above what the environment says."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    server: ServerSettings = Field(default_factory=ServerSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    documents: DocumentSettings = Field(default_factory=DocumentSettings)
    source_sync: SourceSyncSettings = Field(default_factory=SourceSyncSettings)
    knowledge_base: KnowledgeBaseSettings = Field(default_factory=KnowledgeBaseSettings)
    embeddings: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    tables: TableSettings = Field(default_factory=TableSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    providers: ProviderSettings = Field(default_factory=ProviderSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    mcp_tools: McpToolSettings = Field(default_factory=McpToolSettings)
    offline: OfflineSettings = Field(default_factory=OfflineSettings)
    web: WebAppSettings = Field(default_factory=WebAppSettings)
    chat_files: ChatFileSettings = Field(default_factory=ChatFileSettings)
    conversation_search: ConversationSearchSettings = Field(
        default_factory=ConversationSearchSettings
    )
    drafts: ProjectDraftSettings = Field(default_factory=ProjectDraftSettings)
    conversation_import: ConversationImportSettings = Field(
        default_factory=ConversationImportSettings
    )
    website_sources: WebsiteSourceSettings = Field(default_factory=WebsiteSourceSettings)
    calibration: CalibrationSettings = Field(default_factory=CalibrationSettings)
    evaluation: EvaluationSettings = Field(default_factory=EvaluationSettings)
    cleaning: CleaningSettings = Field(default_factory=CleaningSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keywords, then the environment, then `.env`, each by the fields' flat names."""
        assert isinstance(env_settings, EnvSettingsSource)
        assert isinstance(dotenv_settings, EnvSettingsSource)
        return (
            init_settings,
            _FlatNames(settings_cls, env_settings),
            _FlatNames(settings_cls, dotenv_settings),
        )

    @model_validator(mode="before")
    @classmethod
    def _route_flat_names(cls, data: Any) -> Any:
        """`auth_enabled=...` becomes `auth={"auth_enabled": ...}`, over the group's other
        values (a keyword outranks the environment)."""
        if not isinstance(data, dict):
            return data
        rest: dict[str, Any] = {}
        routed: dict[str, dict[str, Any]] = {}
        for key, value in data.items():
            group = GROUP_OF.get(key.lower()) if isinstance(key, str) else None
            if group is None:
                rest[key] = value
            else:
                routed.setdefault(group, {})[key.lower()] = value
        for group, values in routed.items():
            current = rest.get(group) or {}
            rest[group] = {**(_values(current) if isinstance(current, BaseModel) else current)}
            rest[group].update(values)
        return rest

    @property
    def chat_files_path(self) -> Path:
        """Where attached files' bytes are kept: CHAT_FILES_DIR, else DATA_DIR/chat_files."""
        return self.chat_files.chat_files_dir or self.storage.data_dir / "chat_files"

    def updated(self, **values: Any) -> Settings:
        """A copy with `values` (flat field names) changed; each group changed is validated
        again (so paths derived from it, like `storage.app_db_path`, follow)."""
        changed: dict[str, dict[str, Any]] = {}
        for name, value in values.items():
            changed.setdefault(GROUP_OF[name], {})[name] = value
        groups = {
            group: type(getattr(self, group)).model_validate(
                {**_values(getattr(self, group)), **new}
            )
            for group, new in changed.items()
        }
        return self.model_copy(update=groups)


def _values(group: BaseModel) -> dict[str, Any]:
    """A group's field values (not what its cached properties hold)."""
    return {name: getattr(group, name) for name in type(group).model_fields}


#: The group of each setting, by field name (the environment name, lower-case).
GROUP_OF: dict[str, str] = {
    name: group
    for group, field in Settings.model_fields.items()
    for name in field.annotation.model_fields  # type: ignore[union-attr]  # every group's annotation is its settings model
}
assert not set(GROUP_OF) & set(Settings.model_fields), "a setting is named like a group"


def environment_name(loc: tuple[int | str, ...]) -> str:
    """The environment name of the setting a validation error of `Settings` is about (its
    location is group, field), or "" for a check across a group's fields (OIDC_CLIENT_ID
    without its secret)."""
    return str(loc[1]).upper() if len(loc) > 1 else ""


def setting_groups() -> Iterator[tuple[str, type[SettingsGroup]]]:
    """(attribute on `Settings`, group model) of each group, in declaration order."""
    for group, field in Settings.model_fields.items():
        assert isinstance(field.annotation, type) and issubclass(field.annotation, SettingsGroup)
        yield group, field.annotation
