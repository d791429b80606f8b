"""SQLite adapter for the `KnowledgeStore` port: documents, sections, chunks, FTS5 and vectors.

Layout (one file, one writer at a time, any number of readers thanks to WAL):

* `documents` 1-n `sections` 1-n `chunks`, with `ON DELETE CASCADE` foreign keys;
* `chunks_fts`: FTS5 over (title, heading, text) of every chunk, `porter unicode61`,
  *contentless* with `contentless_delete=1` (the text already lives in `chunks`; storing it
  twice would cost ~80 MB per 100k chunks) and kept in step by an `AFTER DELETE` trigger on
  `chunks`, which also fires for cascaded deletes;
* `chunks_fts_vocab`: the `fts5vocab` view of its terms; the retriever reads document
  frequencies from it to keep very common terms out of expensive OR queries;
* `sections_fts` / `sections_fts_vocab`: the same over each section's whole text (title,
  heading path, section text), which the hybrid retriever's BM25 leg searches; written with
  the chunks' rows, removed by an `AFTER DELETE` trigger on `sections`;
* `chunk_vectors`: a sqlite-vec `vec0` table (`float[dim]`, cosine, `category` metadata
  column) created once the embedding dimension is known, cleaned by its own trigger. It is
  the durable copy of the vectors and answers exact KNN in SQL; hybrid search reads it into
  a resident NumPy index instead (services/knowledge/vector_index.py explains why);
* `meta`: embedding model and dimension, plus two counters readers use to keep in-memory
  indexes current: `generation` (bumped by every write transaction) and `vector_epoch`
  (bumped when the vector table is rebuilt);
* `chunk_tombstones` / `section_tombstones`: ids of deleted chunks / sections and the
  generation that deleted them, so the in-memory vector and BM25 indexes can drop them
  without a full reload (pruned after a while).

Chunk and section ids come from `AUTOINCREMENT`, so they only grow: "chunks newer than the
last one I loaded" is `id > max_loaded_id`.

Every write is one `BEGIN IMMEDIATE` transaction: a process killed mid-save leaves the
document entirely old or entirely new. Large documents are staged batch by batch first and
become visible in one commit (services/knowledge/document_writes.py has the rules, including the
explicit replace and the `supersedes` relation); the schema and its migrations are in
services/knowledge/schema.py.

Space: the file uses `auto_vacuum = INCREMENTAL` (an older file is converted with one
`VACUUM` when a store first opens it) and runs `PRAGMA incremental_vacuum` after deletes and
replacements, so removing a document gives its pages back to the file system instead of
leaving them on the free list.

Threads: one connection per thread (`services/sqlite/thread_connections.py`). A connection
must not run two statements at once, and a single shared connection behind a lock would
serialise every search; per-thread connections let FastAPI's worker threads read in parallel
(SQLite releases the GIL while it works, and WAL readers never wait for the writer). Writers
serialise on the database's write lock with a busy timeout.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger

from services.knowledge import document_writes as writes
from services.knowledge.document_writes import NO_CATEGORY, as_matrix
from services.knowledge.schema import (
    FTS_TABLE,
    FTS_TOKENIZER,
    FTS_VOCAB_TABLE,
    MIGRATIONS,
    VECTOR_TABLE,
)
from services.presence import Presence, orphaned, owned_id
from services.sqlite.connection import Connection, immediate_transaction
from services.sqlite.migrations import apply_migrations
from services.sqlite.thread_connections import ThreadConnections
from use_cases.knowledge.domain import (
    DocumentDetail,
    DocumentDraft,
    DocumentRecord,
    EmbeddingInfo,
    KnowledgeStats,
    SectionRecord,
    StagedChunk,
    Vector,
    embedding_text,
)
from use_cases.knowledge.instructions import METADATA_KEY, withheld_of
from use_cases.shared.errors import ConfigurationError, EmbeddingModelMismatch, InvalidRequest

__all__ = [
    "FTS_TABLE",
    "FTS_TOKENIZER",
    "FTS_VOCAB_TABLE",
    "MIGRATIONS",
    "NO_CATEGORY",
    "VECTOR_TABLE",
    "SqliteKnowledgeStore",
    "StoreState",
]

#: Generations of tombstones kept; an in-memory index older than that reloads in full.
TOMBSTONE_GENERATIONS = 5_000
#: Staged chunks of a document nobody has added to for this long belong to a dead process.
STALE_STAGING = timedelta(hours=1)
#: `PRAGMA auto_vacuum` value for INCREMENTAL.
_INCREMENTAL = 2

_DOCUMENT_COLUMNS = """
    d.id, d.source, d.title, d.category, d.updated_at, d.media_type, d.content_hash,
    d.size_bytes, d.ingested_at,
    (SELECT count(*) FROM sections s WHERE s.document_id = d.id) AS section_count,
    (SELECT count(*) FROM chunks c WHERE c.document_id = d.id) AS chunk_count,
    d.supersedes_id,
    (SELECT n.id FROM documents n WHERE n.supersedes_id = d.id
        ORDER BY n.updated_at DESC, n.id DESC LIMIT 1) AS superseded_by_id,
    d.origin, d.raw_hash, json_extract(d.metadata, '$.withheld_instructions') AS withheld
"""


@dataclass(frozen=True)
class StoreState:
    """The counters an in-memory index compares to know whether it is stale."""

    generation: int
    vector_epoch: int
    tombstone_floor: int
    dimension: int | None


class SqliteKnowledgeStore:
    """`KnowledgeStore` on one SQLite file (see the module docstring for the layout).

    `readonly=True` opens the file read-only (`mode=ro`) and skips migrations; every write
    method then fails. Use it for processes that only search.
    """

    def __init__(
        self, path: str | Path, *, readonly: bool = False, presence: Presence | None = None
    ) -> None:
        self._path = Path(path)
        self._readonly = readonly
        self._presence = presence
        self._connections = ThreadConnections(self._path, readonly=readonly)
        if not readonly:
            conn = self.connection()
            _use_incremental_vacuum(conn)
            apply_migrations(conn, MIGRATIONS)
            self._discard_stale_staging(conn)

    # -- connections ---------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self._path

    @property
    def readonly(self) -> bool:
        return self._readonly

    def connection(self) -> Connection:
        """This thread's connection, opened on first use (and again after a fork).

        Public for the retriever in this package, which reads the same file.
        """
        return self._connections.get()

    def close(self) -> None:
        """Close every connection this store opened, in any thread (call at shutdown)."""
        self._connections.close()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One `BEGIN IMMEDIATE` transaction that also bumps `generation`."""
        if self._readonly:
            raise ConfigurationError("The knowledge store was opened read-only.")
        with immediate_transaction(self.connection()) as conn:
            conn.execute(
                "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
            )
            yield conn
            self._prune_tombstones(conn)

    # -- meta ----------------------------------------------------------------------------------

    def state(self) -> StoreState:
        """Counters for cache invalidation, read in one statement (one snapshot)."""
        return read_state(self.connection())

    def vocabulary(self) -> tuple[int, list[str]]:
        """(generation, every indexed term): the full-text index's terms (Porter stems of the
        titles, headings and texts). The generation is read first, so the terms are never
        older than it: a cache keyed by it may be refreshed once too often, never too rarely."""
        conn = self.connection()
        generation = _meta_int(conn, "generation")
        terms = [row[0] for row in conn.execute(f"SELECT term FROM {FTS_VOCAB_TABLE}")]
        return generation, terms

    def embedding_info(self) -> EmbeddingInfo | None:
        return _embedding_info(self.connection())

    def check_embedding(self, info: EmbeddingInfo) -> None:
        """Record `info` on a store without one; raise `EmbeddingModelMismatch` if it differs."""
        if info.dimension < 1:
            raise InvalidRequest("The embedding dimension must be positive.")
        current = self.embedding_info()
        if current is None:
            with self._write() as conn:
                current = _embedding_info(conn)  # re-check under the write lock
                if current is None:
                    _set_meta(conn, "embedding_model", info.model)
                    _set_meta(conn, "embedding_dimension", str(info.dimension))
                    _create_vector_table(conn, info.dimension)
                    logger.info(
                        "Knowledge base now indexed with {} ({} dims)", info.model, info.dimension
                    )
                    return
        if current != info:
            raise EmbeddingModelMismatch(
                indexed=f"{current.model} ({current.dimension} dimensions)",
                configured=f"{info.model} ({info.dimension} dimensions)",
            )

    # -- documents -----------------------------------------------------------------------------

    def get_by_source(self, source: str) -> DocumentRecord | None:
        return self._one("d.source = ?", source)

    def get_by_origin(self, origin: str) -> DocumentRecord | None:
        """The document ingested from this file (absolute path), if any."""
        return self._one("d.origin = ?", origin)

    def get_by_raw_hash(self, raw_hash: str) -> DocumentRecord | None:
        """The oldest document whose file had exactly these bytes, if any."""
        return self._one("d.raw_hash = ? ORDER BY d.id LIMIT 1", raw_hash)

    def get_record(self, document_id: int) -> DocumentRecord | None:
        return self._one("d.id = ?", document_id)

    def find_by_title(self, title: str) -> list[DocumentRecord]:
        """Documents with this title, compared without regard to case and spacing."""
        wanted = " ".join(title.split()).casefold()
        rows = self.connection().execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM documents d WHERE lower(d.title) = lower(?) "
            "ORDER BY d.id",
            (" ".join(title.split()),),
        )
        return [r for r in map(_record, rows) if " ".join(r.title.split()).casefold() == wanted]

    def resolve_key(self, key: str) -> DocumentRecord | None:
        """The document a `supersedes:` value names (source, unique `/`-suffix, or id)."""
        document_id = writes.resolve_key(self.connection(), key)
        return self.get_record(document_id) if document_id is not None else None

    def _one(self, where: str, value: object) -> DocumentRecord | None:
        row = (
            self.connection()
            .execute(f"SELECT {_DOCUMENT_COLUMNS} FROM documents d WHERE {where}", (value,))
            .fetchone()
        )
        return _record(row) if row else None

    def record_raw_hash(self, document_id: int, raw_hash: str) -> None:
        """Fill in the bytes hash of a document stored before hashes were kept."""
        with immediate_transaction(self.connection()) as conn:
            conn.execute(
                "UPDATE documents SET raw_hash = ? WHERE id = ? AND raw_hash IS NULL",
                (raw_hash, document_id),
            )

    def save_document(
        self,
        draft: DocumentDraft,
        vectors: Sequence[Vector],
        *,
        replace_id: int | None = None,
    ) -> DocumentRecord:
        """Insert `draft`, or replace document `replace_id` with it (keeping its id), in one
        transaction: document row, sections, chunks, full-text rows and vectors.

        `vectors[i]` belongs to `draft.chunk_texts[i]`. Without `replace_id`, a source that is
        taken raises `DocumentExists`; nothing is ever replaced by matching a name.
        """
        chunks = writes.draft_chunks(draft)
        matrix = as_matrix(vectors, len(chunks))
        stage_id = uuid.uuid4().hex
        with self._write() as conn:
            self._check_vectors(conn, matrix)
            writes.stage_sections(conn, stage_id, draft)
            writes.stage_chunks(conn, stage_id, chunks, matrix)
            document_id = writes.commit_staged(conn, stage_id, draft, replace_id)
            record = self._record_in(conn, document_id)
        if replace_id is not None:
            self.reclaim_space()
        return record

    # -- large documents: staged batch by batch, then committed at once ------------------------

    def begin_staging(self, draft: DocumentDraft) -> str:
        """Stage `draft`'s sections; returns the stage id its chunks are added under."""
        stage_id = owned_id(self._presence, uuid.uuid4().hex)
        with self._staging() as conn:
            writes.stage_sections(conn, stage_id, draft)
        return stage_id

    def stage_chunks(
        self, stage_id: str, chunks: Sequence[StagedChunk], vectors: Sequence[Vector]
    ) -> None:
        """Add one batch of chunks with their vectors (a short transaction of its own)."""
        matrix = as_matrix(vectors, len(chunks))
        with self._staging() as conn:
            self._check_vectors(conn, matrix)
            writes.stage_chunks(conn, stage_id, chunks, matrix)

    def commit_staged(
        self, stage_id: str, draft: DocumentDraft, *, replace_id: int | None = None
    ) -> DocumentRecord:
        """Make a staged document visible, all at once (see `save_document` for the rules)."""
        with self._write() as conn:
            document_id = writes.commit_staged(conn, stage_id, draft, replace_id)
            record = self._record_in(conn, document_id)
        self.reclaim_space()
        return record

    def discard_staged(self, stage_id: str) -> None:
        with self._staging() as conn:
            writes.discard_staged(conn, stage_id)
        self.reclaim_space()

    @contextmanager
    def _staging(self) -> Iterator[Connection]:
        """A write to the staging tables only: readers cannot see it, so the generation
        counter (which makes them refresh their indexes) is left alone."""
        if self._readonly:
            raise ConfigurationError("The knowledge store was opened read-only.")
        with immediate_transaction(self.connection()) as conn:
            yield conn

    def _discard_stale_staging(self, conn: Connection) -> None:
        cutoff = (datetime.now(UTC) - STALE_STAGING).isoformat(timespec="seconds")
        staged = [row[0] for row in conn.execute("SELECT DISTINCT stage_id FROM staged_sections")]
        dead = orphaned(self._presence, staged)  # checked before the write lock is taken
        with immediate_transaction(conn):
            removed = writes.discard_stale(conn, cutoff)
            for stage_id in dead:
                writes.discard_staged(conn, stage_id)
            removed += len(dead)
        if removed:
            logger.info("Removed {} unfinished staged document(s)", removed)
            self.reclaim_space()

    def _check_vectors(self, conn: Connection, matrix: np.ndarray) -> None:
        if matrix.shape[0] == 0:
            return
        info = _embedding_info(conn)
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

    def _record_in(self, conn: Connection, document_id: int) -> DocumentRecord:
        row = conn.execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM documents d WHERE d.id = ?", (document_id,)
        ).fetchone()
        return _record(row)

    def reclaim_space(self) -> int:
        """Give free pages back to the file system; returns how many were freed."""
        if self._readonly:
            return 0
        conn = self.connection()
        (free,) = conn.execute("PRAGMA freelist_count").fetchone()
        if free:
            conn.execute("PRAGMA incremental_vacuum").fetchall()
        return int(free)

    def _prune_tombstones(self, conn: Connection) -> None:
        """Forget tombstones older than `TOMBSTONE_GENERATIONS` writes (last step of a write).

        `tombstone_floor` tells readers whose index is older than that to reload in full.
        """
        floor = _meta_int(conn, "generation") - TOMBSTONE_GENERATIONS
        if floor > _meta_int(conn, "tombstone_floor"):
            conn.execute("DELETE FROM chunk_tombstones WHERE generation <= ?", (floor,))
            conn.execute("DELETE FROM section_tombstones WHERE generation <= ?", (floor,))
            _set_meta(conn, "tombstone_floor", str(floor))

    def list_documents(
        self, *, limit: int = 100, offset: int = 0, category: str | None = None
    ) -> tuple[list[DocumentRecord], int]:
        """One page of documents, by source, and the total count (with the same filter)."""
        where, params = ("WHERE d.category = ?", [category]) if category is not None else ("", [])
        conn = self.connection()
        rows = conn.execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM documents d {where} "
            "ORDER BY d.source LIMIT ? OFFSET ?",
            (*params, max(0, limit), max(0, offset)),
        ).fetchall()
        (total,) = conn.execute(f"SELECT count(*) FROM documents d {where}", params).fetchone()
        return [_record(row) for row in rows], int(total)

    def get_document(self, document_id: int) -> DocumentDetail | None:
        conn = self.connection()
        row = conn.execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM documents d WHERE d.id = ?", (document_id,)
        ).fetchone()
        if row is None:
            return None
        sections = conn.execute(
            "SELECT s.id, s.ordinal, s.heading_path, s.text, "
            "(SELECT count(*) FROM chunks c WHERE c.section_id = s.id) "
            "FROM sections s WHERE s.document_id = ? ORDER BY s.ordinal",
            (document_id,),
        ).fetchall()
        return DocumentDetail(
            document=_record(row),
            sections=tuple(
                SectionRecord(
                    id=int(s[0]),
                    ordinal=int(s[1]),
                    heading_path=tuple(json.loads(s[2])),
                    text=s[3],
                    chunk_count=int(s[4]),
                )
                for s in sections
            ),
        )

    def delete_document(self, document_id: int) -> bool:
        """Delete a document with its sections, chunks, FTS rows and vectors (cascade)."""
        with self._write() as conn:
            cursor = conn.execute("DELETE FROM documents WHERE id = ?", (document_id,))
            deleted = cursor.rowcount > 0
        if deleted:
            self.reclaim_space()
        return deleted

    def list_sources(self) -> list[tuple[int, str]]:
        rows = self.connection().execute("SELECT id, source FROM documents ORDER BY source")
        return [(int(row[0]), row[1]) for row in rows]

    def list_origins(self) -> list[tuple[int, str, str]]:
        """(id, source, origin) of the documents ingested from files."""
        rows = self.connection().execute(
            "SELECT id, source, origin FROM documents WHERE origin IS NOT NULL ORDER BY origin"
        )
        return [(int(row[0]), row[1], row[2]) for row in rows]

    def stats(self) -> KnowledgeStats:
        conn = self.connection()
        documents, sections, chunks = conn.execute(
            "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM sections), "
            "(SELECT count(*) FROM chunks)"
        ).fetchone()
        categories = dict(
            conn.execute(
                "SELECT category, count(*) FROM documents WHERE category IS NOT NULL "
                "GROUP BY category ORDER BY category"
            ).fetchall()
        )
        return KnowledgeStats(
            documents=int(documents),
            sections=int(sections),
            chunks=int(chunks),
            embedding=_embedding_info(conn),
            categories={str(k): int(v) for k, v in categories.items()},
        )

    # -- embeddings ----------------------------------------------------------------------------

    def iter_chunk_texts(self, batch_size: int = 256) -> Iterator[list[tuple[int, str]]]:
        """All (chunk_id, embedding text) pairs in id order, in batches, for re-embedding.

        Keyset pagination with `fetchall` per batch: no cursor stays open between batches,
        so the caller may write (e.g. `replace_embeddings`) while iterating.
        """
        last_id = 0
        conn = self.connection()
        while True:
            rows = conn.execute(
                "SELECT c.id, d.title, s.heading_path, c.text FROM chunks c "
                "JOIN sections s ON s.id = c.section_id "
                "JOIN documents d ON d.id = c.document_id "
                "WHERE c.id > ? ORDER BY c.id LIMIT ?",
                (last_id, max(1, batch_size)),
            ).fetchall()
            if not rows:
                return
            last_id = int(rows[-1][0])
            yield [
                (int(cid), embedding_text(title, tuple(json.loads(heading)), text))
                for cid, title, heading, text in rows
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
        with self._write() as conn:
            conn.execute(f"DROP TABLE IF EXISTS {VECTOR_TABLE}")
            _create_vector_table(conn, info.dimension)
            categories = dict(
                conn.execute(
                    "SELECT c.id, coalesce(d.category, '') FROM chunks c "
                    "JOIN documents d ON d.id = c.document_id"
                ).fetchall()
            )
            written = 0
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
                rows = []
                for chunk_id, vector in zip(ids, matrix, strict=True):
                    if chunk_id not in categories:
                        raise InvalidRequest(f"No chunk with id {chunk_id}.")
                    rows.append((chunk_id, vector.tobytes(), categories[chunk_id]))
                conn.executemany(
                    f"INSERT INTO {VECTOR_TABLE} (chunk_id, embedding, category) VALUES (?, ?, ?)",
                    rows,
                )
                written += len(rows)
            if written != len(categories):
                raise InvalidRequest(
                    f"Re-embedding produced {written} vectors for {len(categories)} chunks; "
                    "the old index was kept."
                )
            _set_meta(conn, "embedding_model", info.model)
            _set_meta(conn, "embedding_dimension", str(info.dimension))
            conn.execute(
                "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'vector_epoch'"
            )
        logger.info("Re-indexed {} chunks with {} ({} dims)", written, info.model, info.dimension)
        return written


# -- helpers -----------------------------------------------------------------------------------


def _create_vector_table(conn: Connection, dimension: int) -> None:
    conn.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {VECTOR_TABLE} USING vec0("
        f"chunk_id INTEGER PRIMARY KEY, embedding float[{int(dimension)}] "
        "distance_metric=cosine, category TEXT)"
    )
    conn.execute(
        "CREATE TRIGGER IF NOT EXISTS chunks_after_delete_vector AFTER DELETE ON chunks BEGIN "
        f"DELETE FROM {VECTOR_TABLE} WHERE chunk_id = old.id; END"
    )


def read_state(conn: Connection) -> StoreState:
    """The counters in-memory indexes compare (`StoreState`), read in one statement."""
    rows = dict(
        conn.execute(
            "SELECT key, value FROM meta WHERE key IN "
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


def _meta_int(conn: Connection, key: str) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return int(row[0]) if row else 0


def _set_meta(conn: Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def _embedding_info(conn: Connection) -> EmbeddingInfo | None:
    rows = dict(
        conn.execute(
            "SELECT key, value FROM meta WHERE key IN ('embedding_model', 'embedding_dimension')"
        ).fetchall()
    )
    if "embedding_model" not in rows or "embedding_dimension" not in rows:
        return None
    return EmbeddingInfo(model=rows["embedding_model"], dimension=int(rows["embedding_dimension"]))


def _parse_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _record(row: Any) -> DocumentRecord:
    ingested = datetime.fromisoformat(row[8])
    if ingested.tzinfo is None:
        ingested = ingested.replace(tzinfo=UTC)
    return DocumentRecord(
        id=int(row[0]),
        source=row[1],
        title=row[2],
        category=row[3],
        updated_at=_parse_date(row[4]),
        media_type=row[5],
        content_hash=row[6],
        size_bytes=int(row[7]),
        section_count=int(row[9]),
        chunk_count=int(row[10]),
        ingested_at=ingested,
        supersedes_id=row[11],
        superseded_by_id=row[12],
        origin=row[13],
        raw_hash=row[14],
        withheld_instructions=tuple(withheld_of({METADATA_KEY: row[15] or ""})),
    )


def _use_incremental_vacuum(conn: Connection) -> None:
    """Deleted documents should give their space back: switch the file to incremental
    auto-vacuum. The setting only takes effect through a VACUUM (a WAL file already has its
    header when we get here): instant on a new file, one full copy of an older one, once."""
    (mode,) = conn.execute("PRAGMA auto_vacuum").fetchone()
    if mode == _INCREMENTAL:
        return
    conn.execute(f"PRAGMA auto_vacuum = {_INCREMENTAL}")
    (tables,) = conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
    if tables:
        logger.info("Converting the knowledge DB to incremental auto-vacuum (one VACUUM)")
    conn.execute("VACUUM")
