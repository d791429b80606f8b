"""SQLite adapter for the `KnowledgeStore` port: documents, sections, chunks, FTS5 and vectors.

Layout (one file, one writer at a time, any number of readers thanks to WAL):

* `documents` 1-n `sections` 1-n `chunks`, with `ON DELETE CASCADE` foreign keys;
* `chunks_fts`: FTS5 over (title, heading, text) of every chunk, `porter unicode61`,
  *contentless* with `contentless_delete=1` (the text already lives in `chunks`; storing it
  twice would cost ~80 MB per 100k chunks) and kept in step by an `AFTER DELETE` trigger on
  `chunks`, which also fires for cascaded deletes;
* `chunks_fts_vocab`: the `fts5vocab` view of its terms; the retriever reads document
  frequencies from it to keep very common terms out of expensive OR queries;
* `chunk_vectors`: a sqlite-vec `vec0` table (`float[dim]`, cosine, `category` metadata
  column) created once the embedding dimension is known, cleaned by its own trigger. It is
  the durable copy of the vectors and answers exact KNN in SQL; hybrid search reads it into
  a resident NumPy index instead (services/vector_index.py explains why);
* `meta`: embedding model and dimension, plus two counters readers use to keep in-memory
  indexes current: `generation` (bumped by every write transaction) and `vector_epoch`
  (bumped when the vector table is rebuilt);
* `chunk_tombstones`: ids of deleted chunks and the generation that deleted them, so an
  in-memory vector index can drop them without a full reload (pruned after a while).

Chunk ids come from `AUTOINCREMENT`, so they only grow: "chunks newer than the last one I
loaded" is `id > max_loaded_id`.

Every write is one `BEGIN IMMEDIATE` transaction: a process killed mid-save leaves the
document entirely old or entirely new.

Threads: one connection per thread (`threading.local`). A connection must not run two
statements at once, and a single shared connection behind a lock would serialise every
search; per-thread connections let FastAPI's worker threads read in parallel (SQLite releases
the GIL while it works, and WAL readers never wait for the writer). Writers serialise on the
database's write lock with a busy timeout.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger

from services.migrations import Migration, apply_migrations
from services.sqlite import Connection, connect, immediate_transaction
from use_cases.domain import (
    DocumentDetail,
    DocumentDraft,
    DocumentRecord,
    EmbeddingInfo,
    KnowledgeStats,
    SectionRecord,
    Vector,
    embedding_text,
)
from use_cases.errors import (
    ConfigurationError,
    EmbeddingModelMismatch,
    InvalidRequest,
)

__all__ = [
    "FTS_TABLE",
    "FTS_TOKENIZER",
    "FTS_VOCAB_TABLE",
    "MIGRATIONS",
    "VECTOR_TABLE",
    "SqliteKnowledgeStore",
    "StoreState",
]

FTS_TABLE = "chunks_fts"
FTS_VOCAB_TABLE = "chunks_fts_vocab"
VECTOR_TABLE = "chunk_vectors"
#: Shared with the retriever's scratch tables so query terms are tokenised exactly alike.
FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"
#: Generations of tombstones kept; an in-memory index older than that reloads in full.
TOMBSTONE_GENERATIONS = 5_000
#: vec0 metadata columns cannot hold NULL; "no category" is stored as ''.
NO_CATEGORY = ""

_SCHEMA = f"""
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO meta(key, value) VALUES ('generation', '0'), ('vector_epoch', '0'),
    ('tombstone_floor', '0');

CREATE TABLE documents (
    id           INTEGER PRIMARY KEY,
    source       TEXT NOT NULL UNIQUE,
    title        TEXT NOT NULL,
    category     TEXT,
    updated_at   TEXT,
    media_type   TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    size_bytes   INTEGER NOT NULL,
    metadata     TEXT NOT NULL DEFAULT '{{}}' CHECK (json_valid(metadata)),
    ingested_at  TEXT NOT NULL
);
CREATE INDEX documents_category ON documents(category);

CREATE TABLE sections (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id  INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal      INTEGER NOT NULL,
    heading_path TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(heading_path)),
    text         TEXT NOT NULL,
    UNIQUE (document_id, ordinal)
);

CREATE TABLE chunks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    section_id  INTEGER NOT NULL REFERENCES sections(id) ON DELETE CASCADE,
    ordinal     INTEGER NOT NULL,
    text        TEXT NOT NULL
);
CREATE INDEX chunks_document ON chunks(document_id);
CREATE INDEX chunks_section ON chunks(section_id);

CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(
    title, heading, text,
    tokenize = '{FTS_TOKENIZER}',
    content = '', contentless_delete = 1
);
CREATE VIRTUAL TABLE {FTS_VOCAB_TABLE} USING fts5vocab({FTS_TABLE}, 'row');

CREATE TABLE chunk_tombstones (
    chunk_id   INTEGER PRIMARY KEY,
    generation INTEGER NOT NULL
);
CREATE INDEX chunk_tombstones_generation ON chunk_tombstones(generation);

CREATE TRIGGER chunks_after_delete AFTER DELETE ON chunks BEGIN
    DELETE FROM {FTS_TABLE} WHERE rowid = old.id;
    INSERT OR REPLACE INTO chunk_tombstones(chunk_id, generation)
        VALUES (old.id, (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'generation'));
END;
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration("knowledge_0001_base", _SCHEMA),
    # Retrieval looks up other versions of a hit's document by exact title.
    Migration(
        "knowledge_0002_documents_by_title", "CREATE INDEX documents_title ON documents(title);"
    ),
)

_DOCUMENT_COLUMNS = """
    d.id, d.source, d.title, d.category, d.updated_at, d.media_type, d.content_hash,
    d.size_bytes, d.ingested_at,
    (SELECT count(*) FROM sections s WHERE s.document_id = d.id) AS section_count,
    (SELECT count(*) FROM chunks c WHERE c.document_id = d.id) AS chunk_count
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

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self._path = Path(path)
        self._readonly = readonly
        self._local = threading.local()
        self._registry_lock = threading.Lock()
        self._connections: list[Connection] = []
        if not readonly:
            apply_migrations(self.connection(), MIGRATIONS)

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
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            # check_same_thread=False only so close() can close every thread's connection;
            # each connection is still used by the thread that opened it.
            conn = connect(self._path, readonly=self._readonly, check_same_thread=False)
            self._local.conn, self._local.pid = conn, os.getpid()
            with self._registry_lock:
                self._connections.append(conn)
        return conn

    def close(self) -> None:
        """Close every connection this store opened, in any thread (call at shutdown)."""
        with self._registry_lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()

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
        rows = dict(
            self.connection().execute(
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
        row = (
            self.connection()
            .execute(f"SELECT {_DOCUMENT_COLUMNS} FROM documents d WHERE d.source = ?", (source,))
            .fetchone()
        )
        return _record(row) if row else None

    def save_document(self, draft: DocumentDraft, vectors: Sequence[Vector]) -> DocumentRecord:
        """Insert or atomically replace the document with `draft.source`, keeping its id.

        Sections, chunks, full-text rows and vectors are all written in one transaction;
        `vectors[i]` belongs to `draft.chunk_texts[i]`.
        """
        chunk_count = sum(len(section.chunks) for section in draft.sections)
        matrix = _as_matrix(vectors, chunk_count)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._write() as conn:
            info = _embedding_info(conn)
            if chunk_count:
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
            values = (
                draft.title,
                draft.category,
                draft.updated_at.isoformat() if draft.updated_at else None,
                draft.media_type,
                draft.content_hash,
                draft.size_bytes,
                json.dumps(draft.metadata, ensure_ascii=False, sort_keys=True),
                now,
            )
            row = conn.execute("SELECT id FROM documents WHERE source = ?", (draft.source,))
            existing = row.fetchone()
            if existing:
                document_id = int(existing[0])
                # Cascades to chunks; the triggers clear their FTS rows and vectors.
                conn.execute("DELETE FROM sections WHERE document_id = ?", (document_id,))
                conn.execute(
                    "UPDATE documents SET title = ?, category = ?, updated_at = ?, "
                    "media_type = ?, content_hash = ?, size_bytes = ?, metadata = ?, "
                    "ingested_at = ? WHERE id = ?",
                    (*values, document_id),
                )
            else:
                cursor = conn.execute(
                    "INSERT INTO documents (source, title, category, updated_at, media_type, "
                    "content_hash, size_bytes, metadata, ingested_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (draft.source, *values),
                )
                document_id = int(cursor.lastrowid or 0)
            self._insert_sections(conn, document_id, draft, matrix)
            record = conn.execute(
                f"SELECT {_DOCUMENT_COLUMNS} FROM documents d WHERE d.id = ?", (document_id,)
            ).fetchone()
        return _record(record)

    def _insert_sections(
        self, conn: Connection, document_id: int, draft: DocumentDraft, matrix: np.ndarray
    ) -> None:
        category = draft.category if draft.category is not None else NO_CATEGORY
        has_vectors = matrix.shape[0] > 0
        index = 0
        for ordinal, section in enumerate(draft.sections):
            cursor = conn.execute(
                "INSERT INTO sections (document_id, ordinal, heading_path, text) "
                "VALUES (?, ?, ?, ?)",
                (
                    document_id,
                    ordinal,
                    json.dumps(list(section.heading_path), ensure_ascii=False),
                    section.text,
                ),
            )
            section_id = cursor.lastrowid
            heading = " > ".join(part for part in section.heading_path if part)
            for chunk_ordinal, text in enumerate(section.chunks):
                cursor = conn.execute(
                    "INSERT INTO chunks (document_id, section_id, ordinal, text) "
                    "VALUES (?, ?, ?, ?)",
                    (document_id, section_id, chunk_ordinal, text),
                )
                chunk_id = cursor.lastrowid
                conn.execute(
                    f"INSERT INTO {FTS_TABLE} (rowid, title, heading, text) VALUES (?, ?, ?, ?)",
                    (chunk_id, draft.title, heading, text),
                )
                if has_vectors:
                    conn.execute(
                        f"INSERT INTO {VECTOR_TABLE} (chunk_id, embedding, category) "
                        "VALUES (?, ?, ?)",
                        (chunk_id, matrix[index].tobytes(), category),
                    )
                index += 1

    def _prune_tombstones(self, conn: Connection) -> None:
        """Forget tombstones older than `TOMBSTONE_GENERATIONS` writes (last step of a write).

        `tombstone_floor` tells readers whose index is older than that to reload in full.
        """
        floor = _meta_int(conn, "generation") - TOMBSTONE_GENERATIONS
        if floor > _meta_int(conn, "tombstone_floor"):
            conn.execute("DELETE FROM chunk_tombstones WHERE generation <= ?", (floor,))
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
        return deleted

    def list_sources(self) -> list[tuple[int, str]]:
        rows = self.connection().execute("SELECT id, source FROM documents ORDER BY source")
        return [(int(row[0]), row[1]) for row in rows]

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
                matrix = _as_matrix([vector for _, vector in batch], len(batch))
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


def _as_matrix(vectors: Sequence[Vector], expected_rows: int) -> np.ndarray:
    """Vectors as a C-contiguous float32 matrix of unit rows; checks count and finiteness."""
    if len(vectors) != expected_rows:
        raise InvalidRequest(f"Got {len(vectors)} vectors for {expected_rows} chunks.")
    if expected_rows == 0:
        return np.zeros((0, 0), dtype=np.float32)
    try:
        matrix = np.asarray(vectors, dtype=np.float32)
    except ValueError as exc:
        raise InvalidRequest(f"Vectors are not a rectangular array of numbers: {exc}") from exc
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise InvalidRequest("Vectors must be a non-empty list of equal-length sequences.")
    if not np.isfinite(matrix).all():
        raise InvalidRequest("Vectors contain NaN or infinite values.")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(matrix / norms, dtype=np.float32)


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
    )
