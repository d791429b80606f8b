"""The one registry of knowledge index backends: which adapters hold the documents, chunks and
vectors and search them, chosen by the scheme of DATABASE_URL.

A backend is registered under the entry-point group `almanac.index_backends`
(`ENTRY_POINT_GROUP`): the entry point names a zero-argument callable (a class, or a function)
that returns an `IndexBackend`, whose `schemes` are the URL schemes it serves and whose
`open(context)` returns the `KnowledgeIndex` (the store and its retriever). The built-ins are
listed here (`BUILTIN_INDEX_BACKENDS`) in the same "module:attribute" form and resolved by the
same code, so a separately installed package adds a backend exactly as the built-ins are
added; docs/extending.md shows one.

Rules (those of the other registries: loaders, sources, model providers):
- Built-ins come first and keep their schemes: a plugin that claims a scheme already served is
  logged and not used for it, so installing a package never moves an existing knowledge base.
- A plugin that cannot be imported, or whose object is no backend, is logged and skipped.
- No URL (DATABASE_URL unset) is the SQLite backend's. A scheme no backend serves is refused
  at start-up with a `ConfigurationError` naming the installed backends and their schemes.
- The entry points are looked for once per `sys.path` of a process: a plugin installed while
  the server runs is used after a restart.

Only the knowledge index is chosen here. The other store families (chats, tables, jobs) live in
PostgreSQL with a postgresql:// URL and in SQLite files otherwise, a plugin's scheme included.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from loguru import logger

from services.knowledge.hybrid import RetrieverOptions
from services.knowledge.sql_store import StoreState
from services.presence import Presence
from use_cases.knowledge.ports import Embedder, KnowledgeStore, Retriever
from use_cases.shared.errors import ConfigurationError

if TYPE_CHECKING:  # PostgreSQL's modules need the `postgres` extra: imported when chosen
    from services.postgres import PgDatabase

__all__ = [
    "BUILTIN_INDEX_BACKENDS",
    "ENTRY_POINT_GROUP",
    "IndexBackend",
    "IndexContext",
    "IndexRetriever",
    "IndexStore",
    "KnowledgeIndex",
    "RegisteredBackend",
    "backend_for",
    "index_backends",
    "url_scheme",
]

ENTRY_POINT_GROUP = "almanac.index_backends"

#: The backends Almanac ships with: (name, "module:attribute"), resolved as entry points are.
BUILTIN_INDEX_BACKENDS: tuple[tuple[str, str], ...] = (
    ("sqlite", "services.knowledge.index_backends:SqliteIndexBackend"),
    ("postgresql", "services.knowledge.index_backends:PostgresIndexBackend"),
)


class IndexStore(KnowledgeStore, Protocol):
    """The `KnowledgeStore` port and what the composition root asks of it besides: the state
    caches compare (`state().generation` changes with every write), the words, defining
    sentences and repeated lines (boilerplate) the offline model reads, and `close`."""

    def state(self) -> StoreState: ...

    def vocabulary(self) -> tuple[int, list[str]]: ...

    def defining_texts(self) -> tuple[int, list[str]]: ...

    def repeated_lines(self, least: int) -> tuple[int, int, list[tuple[str, int]]]: ...

    def close(self) -> None: ...


class IndexRetriever(Retriever, Protocol):
    """The `Retriever` port, warmed up at start-up (resident indexes) and closed at the end."""

    def warm_up(self, *, wait: bool = True) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class KnowledgeIndex:
    """What a backend opens: the store ingestion writes and the retriever that searches it
    (the retriever is closed before the store)."""

    store: IndexStore
    retriever: IndexRetriever


@dataclass(frozen=True)
class IndexContext:
    """What a backend opens an index with: DATABASE_URL (empty when unset), the SQLite file
    the default backend uses, the PostgreSQL pool every store shares (None unless the URL is
    postgresql://), the embedder, the retriever's settings (`RetrieverOptions`: limits,
    fusion, reranker), and this process's presence (who holds a staged ingest)."""

    url: str = field(repr=False)  # may hold a password: never in logs or error messages
    sqlite_path: Path
    embedder: Embedder
    options: RetrieverOptions
    resident_min_sections: int | None = 5_000
    database: PgDatabase | None = None
    presence: Presence | None = None

    @property
    def location(self) -> str:
        """The URL after its scheme (`memory://notes` -> "notes"), for a backend's own use."""
        return self.url.partition("://")[2]


@runtime_checkable
class IndexBackend(Protocol):
    """A knowledge index backend: `schemes` are the DATABASE_URL schemes it serves
    (`"memory"` for `memory://...`); `open` returns its store and retriever, and raises
    `ConfigurationError` with a message a person can act on when it cannot."""

    @property
    def schemes(self) -> tuple[str, ...]: ...

    def open(self, context: IndexContext) -> KnowledgeIndex: ...


class SqliteIndexBackend:
    """One SQLite file: FTS5 and sqlite-vec, with resident BM25 and vector indexes
    (`services/knowledge/retrieval.py`). Also the backend of an unset DATABASE_URL."""

    schemes = ("sqlite",)

    def open(self, context: IndexContext) -> KnowledgeIndex:
        from services.knowledge.retrieval import SqliteHybridRetriever
        from services.knowledge.store import SqliteKnowledgeStore

        store = SqliteKnowledgeStore(context.sqlite_path, presence=context.presence)
        retriever = SqliteHybridRetriever(
            store,
            context.embedder,
            resident_min_sections=context.resident_min_sections,
            **context.options,
        )
        return KnowledgeIndex(store, retriever)


class PostgresIndexBackend:
    """PostgreSQL: tsvector and pgvector HNSW (`services/knowledge/pg_retrieval.py`), on the
    pool every store shares."""

    schemes = ("postgresql", "postgres")

    def open(self, context: IndexContext) -> KnowledgeIndex:
        if context.database is None:
            raise ConfigurationError("The PostgreSQL index needs the database pool: none is open.")
        from services.knowledge.pg_retrieval import PgHybridRetriever
        from services.knowledge.pg_store import PgKnowledgeStore

        store = PgKnowledgeStore(context.database, presence=context.presence)
        return KnowledgeIndex(store, PgHybridRetriever(store, context.embedder, **context.options))


@dataclass(frozen=True)
class RegisteredBackend:
    """One backend of the registry and where it came from ("almanac" for a built-in, else the
    distribution that declared the entry point); `schemes` are those it serves here (a
    scheme a built-in serves first is not a plugin's)."""

    name: str
    origin: str
    schemes: tuple[str, ...]
    backend: IndexBackend


def url_scheme(url: str) -> str:
    """The scheme of a DATABASE_URL, lower case; "sqlite" when the URL is empty."""
    scheme, separator, _ = url.partition("://")
    return scheme.lower() if separator else "sqlite"


def index_backends() -> dict[str, RegisteredBackend]:
    """The built-ins, then every usable plugin of `ENTRY_POINT_GROUP`, by backend name."""
    return dict(_registered(tuple(sys.path)))


def backend_for(url: str) -> RegisteredBackend:
    """The backend serving `url`'s scheme; `ConfigurationError` naming every installed
    backend and its schemes when none does."""
    scheme = url_scheme(url)
    # A built-in scheme is served by its built-in whatever is installed: the entry points
    # (~0.1 s to read at every start-up) are read only for another scheme.
    for entry in _builtins():
        if scheme in entry.schemes:
            return entry
    registered = _registered(tuple(sys.path))
    for entry in registered.values():
        if scheme in entry.schemes:
            return entry
    installed = "; ".join(
        f"{entry.name} ({', '.join(f'{s}://' for s in entry.schemes)})"
        for entry in registered.values()
    )
    raise ConfigurationError(
        f"DATABASE_URL's scheme {scheme}:// names no installed index backend. "
        f"The installed backends are: {installed}. A plugin's backend is used once its "
        "package is installed in Almanac's environment."
    )


@cache
def _builtins() -> tuple[RegisteredBackend, ...]:
    found = []
    for name, target in BUILTIN_INDEX_BACKENDS:
        backend = _checked(name, _resolve(target)())
        found.append(RegisteredBackend(name, "almanac", backend.schemes, backend))
    return tuple(found)


@cache
def _registered(path: tuple[str, ...]) -> dict[str, RegisteredBackend]:
    found = {entry.name: entry for entry in _builtins()}
    for point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        origin = point.dist.name if point.dist is not None else "unknown"
        try:
            backend = _checked(point.name, point.load()())
        except Exception as exc:  # a plugin's bug must not stop the server
            logger.warning(
                "Index backend plugin {} ({}) is not used: {}: {}",
                point.name,
                origin,
                type(exc).__name__,
                exc,
            )
            continue
        served = {scheme for entry in found.values() for scheme in entry.schemes}
        taken = [scheme for scheme in backend.schemes if scheme.lower() in served]
        if point.name in found or taken:
            logger.warning(
                "Index backend plugin {} ({}) is not used: {} already registered",
                point.name,
                origin,
                f"scheme {', '.join(taken)}" if taken else "its name is",
            )
            continue
        schemes = tuple(scheme.lower() for scheme in backend.schemes)
        found[point.name] = RegisteredBackend(point.name, origin, schemes, backend)
    return found


def _resolve(target: str) -> Callable[[], Any]:
    module, _, attribute = target.partition(":")
    factory: Callable[[], Any] = getattr(importlib.import_module(module), attribute)
    return factory


def _checked(entry: str, backend: Any) -> IndexBackend:
    if not isinstance(backend, IndexBackend):
        raise TypeError(f"{entry} is no index backend (schemes, open)")
    schemes = backend.schemes
    if not schemes or any(not s or "://" in s or ":" in s for s in schemes):
        raise TypeError(f'{entry} names no usable URL scheme ("memory" for memory://...)')
    return backend
