"""The `KnowledgeStore` port written once for SQLite and PostgreSQL: `SqlKnowledgeStore`,
the base of `store.SqliteKnowledgeStore` and `pg_store.PgKnowledgeStore`.

Documents, sections, chunks, staging, versions, listings, counts and the embedding
bookkeeping follow the same rules with the same SQL on both databases (statements written
with `?`, rows read by position: services/knowledge/dialect.py's `Session`; the writes are
services/knowledge/document_writes.py). Each subclass supplies what really differs:

* connections and locking: SQLite keeps one connection per thread and writes in
  `BEGIN IMMEDIATE` transactions (one writer at a time, taken up front), can be opened
  read-only, and prunes its tombstones at the end of every write; PostgreSQL borrows pooled
  connections, and its writers queue on the `generation` row they all bump first
  (`_writing`, `_staging`, `_session`);
* the meta table's name (`meta` in the SQLite file, `knowledge_meta` in the shared
  PostgreSQL database);
* vectors: a sqlite-vec `vec0` table rebuilt in place, or a pgvector table with an HNSW
  index that a rebuild fills under another name and swaps in at the commit
  (`_create_vectors`, `_new_vector_table`, `_swap_vector_table`);
* the full-text index and what is read from it (`state`, `vocabulary`): FTS5 with
  tombstones for the resident indexes, or `tsvector` with BM25 statistics kept by triggers;
* space: SQLite gives the pages of removed rows back to the file system after a removal
  (`_after_removal`); PostgreSQL's autovacuum does that itself.

Two spellings differ and are chosen with `s.dialect` where the statement is built: sorting
by bytes (`COLLATE "C"` on PostgreSQL, whose default collation sorts by locale; SQLite
compares bytes already) and reading one key of the metadata JSON (`json_extract` or `->>`).
One check is PostgreSQL's only because it was written there: a chunk given two vectors in a
rebuild is refused with `InvalidRequest`; on SQLite the `vec0` primary key refuses it (an
`OperationalError`). Either way the rebuild is rolled back; the errors are kept as they were.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
from loguru import logger

from services.knowledge import document_writes as writes
from services.knowledge.dialect import Dialect, Session, as_date, as_path, as_time
from services.knowledge.document_writes import as_matrix
from services.knowledge.scope_sql import scope_where
from services.presence import Presence, orphaned, owned_id
from use_cases.knowledge.domain import (
    DocumentDetail,
    DocumentDraft,
    DocumentRecord,
    EmbeddingInfo,
    KnowledgeStats,
    SectionRecord,
    StagedChunk,
    Vector,
    Vectors,
    embedding_text,
)
from use_cases.knowledge.instructions import METADATA_KEY, withheld_of
from use_cases.knowledge.scope import EVERYTHING, ReadScope
from use_cases.shared.errors import ConfigurationError, EmbeddingModelMismatch, InvalidRequest
from use_cases.shared.leases import JobLease, LeaseLost

__all__ = ["STALE_STAGING", "SqlKnowledgeStore", "StoreState", "state_of"]

#: Staged chunks of a document nobody has added to for this long belong to a dead process.
STALE_STAGING = timedelta(hours=1)

S = TypeVar("S", bound=Session)

#: Sort by bytes, as SQLite does by default (PostgreSQL's default collation follows a locale).
_BINARY_ORDER: dict[Dialect, str] = {"sqlite": "", "postgresql": ' COLLATE "C"'}
_WITHHELD: dict[Dialect, str] = {
    "sqlite": "json_extract(d.metadata, '$.withheld_instructions')",
    "postgresql": "d.metadata ->> 'withheld_instructions'",
}
_EXTRACTION: dict[Dialect, str] = {
    "sqlite": "json_extract(d.metadata, '$.extraction')",
    "postgresql": "d.metadata ->> 'extraction'",
}
_UPDATED_FROM: dict[Dialect, str] = {
    "sqlite": "json_extract(d.metadata, '$.updated_from')",
    "postgresql": "d.metadata ->> 'updated_from'",
}
_COLUMNS = """
    d.id, d.source, d.title, d.category, d.updated_at, d.media_type, d.content_hash,
    d.size_bytes, d.ingested_at,
    (SELECT count(*) FROM sections s WHERE s.document_id = d.id) AS section_count,
    (SELECT count(*) FROM chunks c WHERE c.document_id = d.id) AS chunk_count,
    d.supersedes_id,
    (SELECT n.id FROM documents n WHERE n.supersedes_id = d.id
        ORDER BY n.updated_at DESC NULLS LAST, n.id DESC LIMIT 1) AS superseded_by_id,
    d.origin, d.raw_hash, {withheld} AS withheld, {extraction} AS extraction,
    (SELECT k.name FROM collections k WHERE k.id = d.collection_id) AS collection,
    d.collection_id, {updated_from} AS updated_from
"""
#: What a `DocumentRecord` is read from (`FROM documents d`), in each dialect.
_DOCUMENT_COLUMNS = {
    dialect: _COLUMNS.format(
        withheld=w, extraction=_EXTRACTION[dialect], updated_from=_UPDATED_FROM[dialect]
    )
    for dialect, w in _WITHHELD.items()
}


@dataclass(frozen=True)
class StoreState:
    """The counters an in-memory index or a cache compares to know whether it is stale
    (`tombstone_floor` is always 0 on PostgreSQL, which keeps no tombstones)."""

    generation: int
    vector_epoch: int
    tombstone_floor: int
    dimension: int | None


class SqlKnowledgeStore(ABC, Generic[S]):
    """`KnowledgeStore` over a database session `S` (see the module docstring for what a
    subclass supplies)."""

    #: The table of counters and embedding settings.
    _META: ClassVar[str]
    _presence: Presence | None

    # -- what the dialect decides --------------------------------------------------------------

    @abstractmethod
    def _session(self) -> AbstractContextManager[S]:
        """A connection in autocommit mode, for reads and single statements."""

    @abstractmethod
    def _writing(self) -> AbstractContextManager[S]:
        """One transaction that first bumps `generation` (readers then refresh)."""

    @abstractmethod
    def _staging(self) -> AbstractContextManager[S]:
        """A transaction that readers cannot see the effect of (staging tables only), so
        `generation` is left alone."""

    @abstractmethod
    def _create_vectors(self, s: S, dimension: int) -> None:
        """Create the vector table for `dimension` (the embedding is being recorded)."""

    @abstractmethod
    def _new_vector_table(self, s: S, dimension: int) -> str:
        """An empty vector table for a rebuild; returns its name."""

    def _swap_vector_table(self, s: S) -> None:
        """Make the table `_new_vector_table` filled the vector table."""

    def _after_removal(self) -> None:
        """Called after rows were removed (a delete, a replacement, a discarded stage)."""

    # -- meta ----------------------------------------------------------------------------------

    def embedding_info(self) -> EmbeddingInfo | None:
        with self._session() as s:
            return self._embedding_info(s)

    def check_embedding(self, info: EmbeddingInfo) -> None:
        """Record `info` on a store without one; raise `EmbeddingModelMismatch` if it differs."""
        if info.dimension < 1:
            raise InvalidRequest("The embedding dimension must be positive.")
        current = self.embedding_info()
        if current is None:
            with self._writing() as s:
                current = self._embedding_info(s)  # re-check under the writers' lock
                if current is None:
                    self._set_meta(s, "embedding_model", info.model)
                    self._set_meta(s, "embedding_dimension", str(info.dimension))
                    self._create_vectors(s, info.dimension)
                    logger.info(
                        "Knowledge base now indexed with {} ({} dims)", info.model, info.dimension
                    )
                    return
        if current != info:
            raise EmbeddingModelMismatch(
                indexed=f"{current.model} ({current.dimension} dimensions)",
                configured=f"{info.model} ({info.dimension} dimensions)",
            )

    def _meta_int(self, s: Session, key: str) -> int:
        row = s.one(f"SELECT value FROM {self._META} WHERE key = ?", (key,))
        return int(row[0]) if row else 0

    def _set_meta(self, s: Session, key: str, value: str) -> None:
        s.run(
            f"INSERT INTO {self._META}(key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def _bump(self, s: Session, key: str) -> None:
        """Add one to counter `key` (on PostgreSQL this locks its row until the commit)."""
        s.run(
            f"UPDATE {self._META} SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) "
            "WHERE key = ?",
            (key,),
        )

    def _embedding_info(self, s: Session) -> EmbeddingInfo | None:
        rows: dict[str, Any] = dict(
            s.rows(
                f"SELECT key, value FROM {self._META} "
                "WHERE key IN ('embedding_model', 'embedding_dimension')"
            )
        )
        if "embedding_model" not in rows or "embedding_dimension" not in rows:
            return None
        return EmbeddingInfo(
            model=rows["embedding_model"], dimension=int(rows["embedding_dimension"])
        )

    # -- documents -----------------------------------------------------------------------------

    def get_by_source(self, source: str) -> DocumentRecord | None:
        return self._one("d.source = ?", source)

    def get_by_origin(self, origin: str) -> DocumentRecord | None:
        """The document ingested from this file (absolute path), if any."""
        return self._one("d.origin = ? ORDER BY d.id LIMIT 1", origin)

    def get_by_raw_hash(self, raw_hash: str) -> DocumentRecord | None:
        """The oldest document whose file had exactly these bytes, if any."""
        return self._one("d.raw_hash = ? ORDER BY d.id LIMIT 1", raw_hash)

    def get_record(self, document_id: int) -> DocumentRecord | None:
        return self._one("d.id = ?", document_id)

    def find_by_title(self, title: str) -> list[DocumentRecord]:
        """Documents with this title, compared without regard to case and spacing."""
        wanted = " ".join(title.split()).casefold()
        with self._session() as s:
            rows = s.rows(
                _select_documents(s, "WHERE lower(d.title) = lower(?) ORDER BY d.id"),
                (" ".join(title.split()),),
            )
        return [r for r in map(_record, rows) if " ".join(r.title.split()).casefold() == wanted]

    def resolve_key(self, key: str) -> DocumentRecord | None:
        """The document a `supersedes:` value names (source, unique `/`-suffix, or id)."""
        with self._session() as s:
            document_id = writes.resolve_key(s, key)
        return self.get_record(document_id) if document_id is not None else None

    def _one(self, where: str, value: object) -> DocumentRecord | None:
        with self._session() as s:
            row = s.one(_select_documents(s, f"WHERE {where}"), (value,))
        return _record(row) if row else None

    def record_raw_hash(self, document_id: int, raw_hash: str) -> None:
        """Fill in the bytes hash of a document stored before hashes were kept."""
        with self._session() as s:
            s.run(
                "UPDATE documents SET raw_hash = ? WHERE id = ? AND raw_hash IS NULL",
                (raw_hash, document_id),
            )

    def save_document(
        self,
        draft: DocumentDraft,
        vectors: Vectors,
        *,
        replace_id: int | None = None,
        lease: JobLease | None = None,
    ) -> DocumentRecord:
        """Insert `draft`, or replace document `replace_id` with it (keeping its id), in one
        transaction: document row, sections, chunks, full-text rows and vectors (and, with a
        job's `lease`, the check that the job is still this worker's: `_check_lease`).

        `vectors[i]` belongs to `draft.chunk_texts[i]`. Without `replace_id`, a source that is
        taken raises `DocumentExists`; nothing is ever replaced by matching a name.
        """
        chunks = writes.draft_chunks(draft)
        matrix = as_matrix(vectors, len(chunks))
        stage_id = uuid.uuid4().hex
        with self._writing() as s:
            _check_lease(s, lease)
            self._check_vectors(s, matrix)
            writes.stage_sections(s, stage_id, draft)
            writes.stage_chunks(s, stage_id, chunks, matrix)
            document_id = writes.commit_staged(s, stage_id, draft, replace_id)
            record = _record_in(s, document_id)
        if replace_id is not None:
            self._after_removal()
        return record

    # -- large documents: staged batch by batch, then committed at once ------------------------

    def begin_staging(self, draft: DocumentDraft, *, job: str | None = None) -> str:
        """Stage `draft`'s sections; returns the stage id its chunks are added under:
        `<process>/<job>.<random>` for a job's (`discard_job_stages`), else
        `<process>/<random>`."""
        local = uuid.uuid4().hex
        stage_id = owned_id(self._presence, f"{job}.{local}" if job else local)
        with self._staging() as s:
            writes.stage_sections(s, stage_id, draft)
        return stage_id

    def stage_chunks(self, stage_id: str, chunks: Sequence[StagedChunk], vectors: Vectors) -> None:
        """Add one batch of chunks with their vectors (a short transaction of its own)."""
        matrix = as_matrix(vectors, len(chunks))
        with self._staging() as s:
            self._check_vectors(s, matrix)
            writes.stage_chunks(s, stage_id, chunks, matrix)

    def commit_staged(
        self,
        stage_id: str,
        draft: DocumentDraft,
        *,
        replace_id: int | None = None,
        lease: JobLease | None = None,
    ) -> DocumentRecord:
        """Make a staged document visible, all at once (see `save_document` for the rules)."""
        with self._writing() as s:
            _check_lease(s, lease)
            document_id = writes.commit_staged(s, stage_id, draft, replace_id)
            record = _record_in(s, document_id)
        self._after_removal()
        return record

    def discard_staged(self, stage_id: str) -> None:
        with self._staging() as s:
            writes.discard_staged(s, stage_id)
        self._after_removal()

    def discard_job_stages(self, job_id: str) -> int:
        """Remove the stages made for job `job_id`, by whichever process (`begin_staging`)."""
        with self._session() as s:
            staged = [row[0] for row in s.rows(writes.STAGE_IDS)]
        mine = sorted(i for i in staged if i.rsplit("/", 1)[-1].startswith(f"{job_id}."))
        if mine:
            with self._staging() as s:
                for stage_id in mine:
                    writes.discard_staged(s, stage_id)
            logger.info("Removed {} staged document(s) of job {}", len(mine), job_id)
            self._after_removal()
        return len(mine)

    def _discard_stale_staging(self) -> None:
        """Remove the stages of dead processes, and those idle for `STALE_STAGING`."""
        with self._session() as s:
            staged = [row[0] for row in s.rows("SELECT DISTINCT stage_id FROM staged_sections")]
        dead = orphaned(self._presence, staged)  # checked before the write lock is taken
        with self._staging() as s:
            gone = set(writes.stale_stages(s, datetime.now(UTC) - STALE_STAGING)) | set(dead)
            for stage_id in sorted(gone):
                writes.discard_staged(s, stage_id)
        if gone:
            logger.info("Removed {} unfinished staged document(s)", len(gone))
            self._after_removal()

    def _check_vectors(self, s: Session, matrix: np.ndarray) -> None:
        if matrix.shape[0] == 0:
            return
        info = self._embedding_info(s)
        if info is None:
            raise ConfigurationError(
                "No embedding model is recorded for this knowledge base; call "
                "check_embedding() before saving documents."
            )
        if matrix.shape[1] != info.dimension:
            raise InvalidRequest(
                f"Vectors have {matrix.shape[1]} dimensions; the knowledge base "
                f"uses {info.dimension} ({info.model})."
            )

    def list_documents(
        self,
        *,
        limit: int = 100,
        offset: int = 0,
        category: str | None = None,
        scope: ReadScope = EVERYTHING,
    ) -> tuple[list[DocumentRecord], int]:
        """One page of the documents `scope` may read, by source, and the total count (with
        the same filter)."""
        with self._session() as s:
            if category is not None:
                scope = scope.filtered(replace(scope.filters, category=category))
            where, params = ("", []) if scope.unrestricted else scope_where(s, scope)
            where = f"WHERE {where}" if where else ""
            rows = s.rows(
                _select_documents(
                    s, f"{where} ORDER BY d.source{_BINARY_ORDER[s.dialect]} LIMIT ? OFFSET ?"
                ),
                (*params, max(0, limit), max(0, offset)),
            )
            total = s.one(f"SELECT count(*) FROM documents d {where}", params)
        return [_record(row) for row in rows], int(total[0] if total else 0)

    def get_document(
        self, document_id: int, *, scope: ReadScope = EVERYTHING
    ) -> DocumentDetail | None:
        """The document with its sections; None when absent or outside `scope`."""
        with self._session() as s:
            where, params = scope_where(s, scope)
            row = s.one(_select_documents(s, f"WHERE d.id = ? AND {where}"), (document_id, *params))
            if row is None:
                return None
            sections = s.rows(
                "SELECT s.id, s.ordinal, s.heading_path, s.text, "
                "(SELECT count(*) FROM chunks c WHERE c.section_id = s.id) "
                "FROM sections s WHERE s.document_id = ? ORDER BY s.ordinal",
                (document_id,),
            )
        return DocumentDetail(
            document=_record(row),
            sections=tuple(
                SectionRecord(
                    id=int(section_id),
                    ordinal=int(ordinal),
                    heading_path=as_path(heading_path),
                    text=text,
                    chunk_count=int(chunk_count),
                )
                for section_id, ordinal, heading_path, text, chunk_count in sections
            ),
        )

    def delete_document(self, document_id: int) -> bool:
        """Delete a document with its sections, chunks, full-text rows and vectors (cascade)."""
        with self._writing() as s:
            deleted = s.run("DELETE FROM documents WHERE id = ?", (document_id,)) > 0
        if deleted:
            self._after_removal()
        return deleted

    def list_sources(self) -> list[tuple[int, str]]:
        with self._session() as s:
            rows = s.rows(
                f"SELECT id, source FROM documents ORDER BY source{_BINARY_ORDER[s.dialect]}"
            )
        return [(int(document_id), source) for document_id, source in rows]

    def list_origins(self) -> list[tuple[int, str, str]]:
        """(id, source, origin) of the documents ingested from files."""
        with self._session() as s:
            rows = s.rows(
                "SELECT id, source, origin FROM documents WHERE origin IS NOT NULL "
                f"ORDER BY origin{_BINARY_ORDER[s.dialect]}"
            )
        return [(int(document_id), source, origin) for document_id, source, origin in rows]

    def stats(self) -> KnowledgeStats:
        with self._session() as s:
            counts = s.one(
                "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM sections), "
                "(SELECT count(*) FROM chunks)"
            )
            categories = s.rows(
                "SELECT category, count(*) FROM documents WHERE category IS NOT NULL "
                f"GROUP BY category ORDER BY category{_BINARY_ORDER[s.dialect]}"
            )
            info = self._embedding_info(s)
        assert counts is not None
        documents, sections, chunks = counts
        return KnowledgeStats(
            documents=int(documents),
            sections=int(sections),
            chunks=int(chunks),
            embedding=info,
            categories={str(category): int(n) for category, n in categories},
        )

    def repeated_lines(self, least: int) -> tuple[int, int, list[tuple[str, int]]]:
        """(generation, documents stored, each line that at least `least` documents hold
        with how many do; services/knowledge/repeated_lines.py): what the offline answerer
        recognises boilerplate by. The generation is read first, as `vocabulary` does."""
        with self._session() as s:
            generation = self._meta_int(s, "generation")
            row = s.one("SELECT count(*) FROM documents")
            rows = s.rows(
                "SELECT line, count(*) FROM document_lines GROUP BY line HAVING count(*) >= ?",
                (least,),
            )
        documents = int(row[0]) if row else 0
        return generation, documents, [(str(line), int(n)) for line, n in rows]

    # -- embeddings ----------------------------------------------------------------------------

    def iter_chunk_texts(self, batch_size: int = 256) -> Iterator[list[tuple[int, str]]]:
        """All (chunk_id, embedding text) pairs in id order, in batches, for re-embedding.

        Keyset pagination, each batch read whole: no cursor stays open between batches, so
        the caller may write (e.g. `replace_embeddings`) while iterating.
        """
        last_id = 0
        while True:
            with self._session() as s:
                rows = s.rows(
                    "SELECT c.id, d.title, s.heading_path, c.text FROM chunks c "
                    "JOIN sections s ON s.id = c.section_id "
                    "JOIN documents d ON d.id = c.document_id "
                    "WHERE c.id > ? ORDER BY c.id LIMIT ?",
                    (last_id, max(1, batch_size)),
                )
            if not rows:
                return
            last_id = int(rows[-1][0])
            yield [
                (int(chunk_id), embedding_text(title, as_path(heading), text))
                for chunk_id, title, heading, text in rows
            ]

    def replace_embeddings(
        self, info: EmbeddingInfo, batches: Iterator[list[tuple[int, Vector]]]
    ) -> int:
        """Rebuild the vector table for `info` from `batches`, in one transaction.

        Every chunk must receive exactly one vector, or nothing changes. Readers keep
        seeing the old index until the commit.
        """
        if info.dimension < 1:
            raise InvalidRequest("The embedding dimension must be positive.")
        with self._writing() as s:
            table = self._new_vector_table(s, info.dimension)
            categories: dict[int, str] = {
                int(chunk_id): category
                for chunk_id, category in s.rows(
                    "SELECT c.id, coalesce(d.category, '') FROM chunks c "
                    "JOIN documents d ON d.id = c.document_id"
                )
            }
            written = 0
            seen: set[int] = set()
            for batch in batches:
                if not batch:
                    continue
                ids = [int(chunk_id) for chunk_id, _ in batch]
                matrix = as_matrix([vector for _, vector in batch], len(batch))
                if matrix.shape[1] != info.dimension:
                    raise InvalidRequest(
                        f"Got {matrix.shape[1]}-dimensional vectors for a "
                        f"{info.dimension}-dimensional index."
                    )
                rows: list[tuple[int, Any, str]] = []
                for chunk_id, vector in zip(ids, matrix, strict=True):
                    if chunk_id not in categories:
                        raise InvalidRequest(f"No chunk with id {chunk_id}.")
                    if chunk_id in seen and s.dialect == "postgresql":  # SQLite: vec0 refuses it
                        raise InvalidRequest(f"Chunk {chunk_id} received two vectors.")
                    seen.add(chunk_id)
                    rows.append((chunk_id, s.put_vector(vector), categories[chunk_id]))
                s.run_many(
                    f"INSERT INTO {table} (chunk_id, embedding, category) VALUES (?, ?, ?)", rows
                )
                written += len(rows)
            if written != len(categories):
                raise InvalidRequest(
                    f"Re-embedding produced {written} vectors for {len(categories)} chunks; "
                    "the old index was kept."
                )
            self._swap_vector_table(s)
            self._set_meta(s, "embedding_model", info.model)
            self._set_meta(s, "embedding_dimension", str(info.dimension))
            self._bump(s, "vector_epoch")
        logger.info("Re-indexed {} chunks with {} ({} dims)", written, info.model, info.dimension)
        return written


# -- helpers -----------------------------------------------------------------------------------


def state_of(s: Session, meta: str) -> StoreState:
    """The counters in-memory indexes and caches compare (`StoreState`), in one statement."""
    rows: dict[str, Any] = dict(
        s.rows(
            f"SELECT key, value FROM {meta} WHERE key IN "
            "('generation', 'vector_epoch', 'tombstone_floor', 'embedding_dimension')"
        )
    )
    dimension = rows.get("embedding_dimension")
    return StoreState(
        generation=int(rows.get("generation", 0)),
        vector_epoch=int(rows.get("vector_epoch", 0)),
        tombstone_floor=int(rows.get("tombstone_floor", 0)),
        dimension=int(dimension) if dimension is not None else None,
    )


def _check_lease(s: Session, lease: JobLease | None) -> None:
    """The fencing check of a write made for a background job: on PostgreSQL the jobs table
    is in this database, so the job's row is locked and its lease compared in the write's own
    transaction; a job taken over (another lease number, or another worker) raises
    `LeaseLost` and the write rolls back. A claim of the job waits for this transaction, so
    the job's next worker finds the document written (an upload run again reads
    `unchanged`). On SQLite the jobs are in another file (app.db) and one machine runs them:
    the worker's own checks (its heartbeat, each progress report) stop it instead."""
    if lease is None or s.dialect != "postgresql":
        return
    held = s.one(
        "SELECT 1 FROM jobs WHERE id = ? AND worker = ? AND lease = ? AND status = 'running' "
        "FOR UPDATE",
        (lease.job_id, lease.worker, lease.number),
    )
    if held is None:
        raise LeaseLost(
            "This job was taken over by another worker while this one was stalled; its "
            "result was not stored here."
        )


def _select_documents(s: Session, rest: str) -> str:
    """`SELECT` every `DocumentRecord` column `FROM documents d` followed by `rest`."""
    return f"SELECT {_DOCUMENT_COLUMNS[s.dialect]} FROM documents d {rest}"


def _record_in(s: Session, document_id: int) -> DocumentRecord:
    row = s.one(_select_documents(s, "WHERE d.id = ?"), (document_id,))
    assert row is not None
    return _record(row)


def _record(row: Sequence[Any]) -> DocumentRecord:
    return DocumentRecord(
        id=int(row[0]),
        source=row[1],
        title=row[2],
        category=row[3],
        updated_at=as_date(row[4]),
        media_type=row[5],
        content_hash=row[6],
        size_bytes=int(row[7]),
        section_count=int(row[9]),
        chunk_count=int(row[10]),
        ingested_at=as_time(row[8]),
        supersedes_id=row[11],
        superseded_by_id=row[12],
        origin=row[13],
        raw_hash=row[14],
        withheld_instructions=tuple(withheld_of({METADATA_KEY: row[15] or ""})),
        extraction=row[16],
        collection=row[17],
        collection_id=row[18],
        updated_from=row[19] or ("property" if row[4] else "ingest"),
    )
