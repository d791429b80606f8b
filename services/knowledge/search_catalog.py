"""What hybrid retrieval reads from the store besides its two indexes, written once for
SQLite and PostgreSQL: the `SearchCatalog` port of `hybrid.HybridRetriever`.

After the lexical and vector legs have ranked their ids, the retriever asks the catalog
(through one `CatalogReader`, so one connection serves the whole step):

* `places`: in one statement, each section's first chunk (a section-level lexical hit
  stands for it) and each chunk's section (fusion collapses the legs to sections) and
  document (the versions rule reads it), for every candidate of both legs;
* `document_dates`: the documents' own dates, for a search about a past date only;
* `details`: the rows a hit is built from (chunk, section, document), for the final hits
  only;
* `first_chunks`, `sections_of`: the first two of those alone (the lexical leg alone, tests);
* `versions_of`: the recorded versions of each document (services/knowledge/versions.py).

The SQL is the same in both dialects apart from two things, which `Reads` hides (it is
the store's `dialect.Session`, services/knowledge/dialect.py): the placeholder (`?` on
SQLite, `%s` on PostgreSQL; the statements here are written with `?`) and a list parameter
(`col IN (?, ?, ...)` on SQLite, `col = ANY(?)` on PostgreSQL). Values that the two
databases store differently (dates as ISO text or as `date`, heading paths as JSON text or
as an array) are normalised when read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from services.knowledge.dialect import SqliteSession, as_date, as_path
from services.knowledge.scope_sql import readable_documents
from services.knowledge.versions import MAX_CHAIN, Versions
from use_cases.knowledge.domain import DocumentRef, EmbeddingInfo, web_link
from use_cases.knowledge.scope import ReadScope

if TYPE_CHECKING:
    from services.knowledge.pg_store import PgKnowledgeStore
    from services.knowledge.store import SqliteKnowledgeStore

__all__ = [
    "CatalogReader",
    "ChunkDetails",
    "ChunkPlaces",
    "Reads",
    "SqlSearchCatalog",
    "pg_catalog",
    "sqlite_catalog",
]


@dataclass
class ChunkDetails:
    """What a search hit shows of one chunk: its text, its section's and its document's."""

    chunk_text: str
    section_text: str
    section_path: tuple[str, ...]
    document_id: int
    source: str
    title: str
    category: str
    updated_at: date | None
    document_version: str
    versions: Versions = field(default_factory=Versions)
    extraction: str | None = None
    link: str | None = None


@dataclass(frozen=True)
class ChunkPlaces:
    """Where a search's candidates lie: `first_chunk` (section id -> its first chunk's id, for
    the sections asked for), `section_of` and `document_of` (chunk id -> id, for those chunks
    and the first chunks); a section or chunk deleted since the search is absent. `updated`
    (document id -> its stored date) is filled in only for a search about a past date."""

    first_chunk: dict[int, int]
    section_of: dict[int, int]
    document_of: dict[int, int]
    updated: dict[int, Any] = field(default_factory=dict)

    def updated_on(self, document_id: int) -> date | None:
        """The document's `updated` date (read only by a search about a past date)."""
        return as_date(self.updated.get(document_id))


class Reads(Protocol):
    """One open connection, as the catalog's statements need it (the dialect's only say)."""

    def rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """The rows of `sql` (written with `?` placeholders) as tuples."""
        ...

    def any_of(self, column: str, values: Collection[Any]) -> tuple[str, list[Any]]:
        """(`column` is one of `values` as SQL, its parameters)."""
        ...


class CatalogReader:
    """The catalog's reads over one connection."""

    def __init__(self, reads: Reads) -> None:
        self._reads = reads

    def first_chunks(self, section_ids: Collection[int]) -> dict[int, int]:
        """{section id: its first chunk's id} (sections deleted since the search are absent)."""
        if not section_ids:
            return {}
        where, params = self._reads.any_of("section_id", section_ids)
        rows = self._reads.rows(
            f"SELECT section_id, min(id) FROM chunks WHERE {where} GROUP BY section_id", params
        )
        return {int(sid): int(cid) for sid, cid in rows}

    def sections_of(self, chunk_ids: Collection[int]) -> dict[int, int]:
        """{chunk id: its section's id} (chunks deleted since the search are absent)."""
        if not chunk_ids:
            return {}
        where, params = self._reads.any_of("id", chunk_ids)
        rows = self._reads.rows(f"SELECT id, section_id FROM chunks WHERE {where}", params)
        return {int(cid): int(sid) for cid, sid in rows}

    def places(self, section_ids: Collection[int], chunk_ids: Collection[int]) -> ChunkPlaces:
        """`ChunkPlaces` of the sections `section_ids` (their first chunks) and the chunks
        `chunk_ids`, in one statement over `chunks` alone (the documents' dates, which only a
        search about a past date reads, come from `document_dates`)."""
        picked: list[str] = []
        params: list[Any] = []
        columns = "SELECT id, section_id, document_id FROM chunks WHERE"
        if section_ids:
            where, section_params = self._reads.any_of("section_id", section_ids)
            picked.append(
                f"{columns} id IN (SELECT min(id) FROM chunks WHERE {where} GROUP BY section_id)"
            )
            params += section_params
        if chunk_ids:
            where, chunk_params = self._reads.any_of("id", chunk_ids)
            picked.append(f"{columns} {where}")
            params += chunk_params
        if not picked:
            return ChunkPlaces({}, {}, {})
        wanted = set(section_ids)
        first: dict[int, int] = {}
        section_of: dict[int, int] = {}
        document_of: dict[int, int] = {}
        for cid, sid, doc_id in self._reads.rows(" UNION ALL ".join(picked), params):
            cid, sid = int(cid), int(sid)
            section_of[cid] = sid
            document_of[cid] = int(doc_id)
            if sid in wanted and (sid not in first or cid < first[sid]):
                first[sid] = cid  # the section's first chunk is among its rows: the least
        return ChunkPlaces(first, section_of, document_of)

    def document_dates(self, document_ids: Collection[int]) -> dict[int, Any]:
        """Each document's `updated` value as stored (`ChunkPlaces.updated`)."""
        if not document_ids:
            return {}
        where, params = self._reads.any_of("id", document_ids)
        rows = self._reads.rows(f"SELECT id, updated_at FROM documents WHERE {where}", params)
        return {int(doc_id): updated for doc_id, updated in rows}

    def details(self, chunk_ids: Collection[int]) -> dict[int, ChunkDetails]:
        if not chunk_ids:
            return {}
        where, params = self._reads.any_of("c.id", chunk_ids)
        rows = self._reads.rows(
            "SELECT c.id, c.text, s.text, s.heading_path, d.id, d.source, d.title, d.category, "
            "d.updated_at, d.content_hash, d.metadata FROM chunks c "
            "JOIN sections s ON s.id = c.section_id "
            f"JOIN documents d ON d.id = c.document_id WHERE {where}",
            params,
        )
        details: dict[int, ChunkDetails] = {}
        for (
            cid,
            chunk,
            section,
            heading,
            doc_id,
            source,
            title,
            category,
            updated,
            hash_,
            metadata,
        ) in rows:
            meta = _metadata(metadata)
            details[int(cid)] = ChunkDetails(
                chunk_text=chunk,
                section_text=section,
                section_path=as_path(heading),
                document_id=int(doc_id),
                source=source,
                title=title,
                category=category,
                updated_at=as_date(updated),
                document_version=hash_ or "",
                extraction=_extraction(meta),
                link=web_link(meta.get("link")),  # only http(s): it is shown as a link
            )
        return details

    def versions_of(
        self, document_ids: Iterable[int], *, replaced_on: bool = False
    ) -> dict[int, Versions]:
        """The versions of each document in `document_ids` (every id gets an entry), by the
        rules of services/knowledge/versions.py; with `replaced_on`, also the date each
        superseded one was replaced (a question about the past needs it; a search for the
        present does not, so it pays no extra query)."""
        ids = sorted(set(document_ids))
        if not ids:
            return {}
        where, params = self._reads.any_of("id", ids)
        heads: dict[int, int] = {}  # the deepest row wins
        previous: dict[int, list[int]] = {}
        for kind, document_id, other, _ in self._reads.rows(  # both relations, one statement
            "WITH RECURSIVE newer(start, id, depth) AS ("
            f" SELECT id, id, 0 FROM documents WHERE {where}"
            " UNION ALL"
            " SELECT newer.start, ("
            "   SELECT n.id FROM documents n WHERE n.supersedes_id = newer.id"
            "   ORDER BY n.updated_at DESC NULLS LAST, n.id DESC LIMIT 1"
            " ), newer.depth + 1 FROM newer"
            f" WHERE newer.id IS NOT NULL AND newer.depth < {MAX_CHAIN})"
            " SELECT 0 AS kind, start, id, depth FROM newer WHERE id IS NOT NULL AND depth > 0"
            " UNION ALL"
            " SELECT 1 AS kind, id, supersedes_id, 0 FROM documents"
            f" WHERE {where} AND supersedes_id IS NOT NULL"
            " ORDER BY 1, 2, 4",
            [*params, *params],
        ):
            if kind == 0:
                heads[int(document_id)] = int(other)
            else:
                previous.setdefault(int(document_id), []).append(int(other))
        refs = self._refs(set(heads.values()) | {p for ps in previous.values() for p in ps})
        replaced: dict[int, date] = {}
        if replaced_on:
            older_where, older_params = self._reads.any_of("supersedes_id", ids)
            for older, newest in self._reads.rows(
                f"SELECT supersedes_id, MAX(updated_at) FROM documents WHERE {older_where} "
                "AND updated_at IS NOT NULL GROUP BY supersedes_id",
                older_params,
            ):
                if (day := as_date(newest)) is not None:
                    replaced[int(older)] = day
        return {
            document_id: Versions(
                superseded_by=refs.get(heads[document_id]) if document_id in heads else None,
                supersedes=tuple(refs[p] for p in previous.get(document_id, ()) if p in refs),
                replaced_on=replaced.get(document_id),
            )
            for document_id in ids
        }

    def readable(self, scope: ReadScope) -> frozenset[int]:
        """The ids of the documents a restricted `scope` may read (scope_sql.py)."""
        return readable_documents(self._reads, scope)

    def _refs(self, ids: set[int]) -> dict[int, DocumentRef]:
        if not ids:
            return {}
        where, params = self._reads.any_of("id", sorted(ids))
        rows = self._reads.rows(
            f"SELECT id, title, source, updated_at FROM documents WHERE {where}", params
        )
        return {
            int(i): DocumentRef(int(i), title, source, as_date(u)) for i, title, source, u in rows
        }


class SqlSearchCatalog:
    """`SearchCatalog` over a store: `open_reads` lends a connection for one search's reads."""

    def __init__(
        self,
        open_reads: Callable[[], AbstractContextManager[Reads]],
        embedding_info: Callable[[], EmbeddingInfo | None],
    ) -> None:
        self._open_reads = open_reads
        self._embedding_info = embedding_info

    def embedding_info(self) -> EmbeddingInfo | None:
        return self._embedding_info()

    @contextmanager
    def reading(self) -> Iterator[CatalogReader]:
        with self._open_reads() as reads:
            yield CatalogReader(reads)


def sqlite_catalog(store: SqliteKnowledgeStore) -> SqlSearchCatalog:
    """The catalog of a SQLite store (this thread's connection; nothing to give back)."""

    @contextmanager
    def open_reads() -> Iterator[Reads]:
        yield SqliteSession(store.connection())

    return SqlSearchCatalog(open_reads, store.embedding_info)


def pg_catalog(store: PgKnowledgeStore) -> SqlSearchCatalog:
    """The catalog of a PostgreSQL store (a pooled connection for each search's reads)."""
    from services.knowledge.pg_session import PgSession  # the `postgres` extra's psycopg

    @contextmanager
    def open_reads() -> Iterator[Reads]:
        with store.connection() as conn:
            yield PgSession(conn)

    return SqlSearchCatalog(open_reads, store.embedding_info)


def _metadata(metadata: Any) -> dict[str, Any]:
    """A document's metadata from SQLite's JSON text or PostgreSQL's JSONB (a dict)."""
    if isinstance(metadata, str | bytes):
        try:
            metadata = json.loads(metadata or "{}")
        except ValueError:
            return {}
    return metadata if isinstance(metadata, dict) else {}


def _extraction(metadata: dict[str, Any]) -> str | None:
    """The document metadata's `extraction` ("ocr")."""
    value = metadata.get("extraction")
    return str(value) if value else None
