"""PostgreSQL adapter for the `KnowledgeStore` port: documents, sections, chunks, full-text
index and pgvector vectors, with the same behaviour as `SqliteKnowledgeStore`.

Layout (one database shared with the other stores; tables named as in the SQLite file so
`almanac db copy` maps table to table):

* `documents` 1-n `sections` 1-n `chunks`, `ON DELETE CASCADE` foreign keys; the version
  relation `documents.supersedes_key` / `supersedes_id` as in SQLite (document_writes.py has
  the rules; they are applied here with the same statements in PostgreSQL's dialect);
* `sections.fts`: a `tsvector` of each section's whole text with weights (title A, heading
  path B, text D; `english` configuration), GIN-indexed, computed by a `BEFORE INSERT`
  trigger from the document's title and the section's heading path and text (so rows copied
  from another installation get it too). The
  lexical leg of `pg_retrieval.PgHybridRetriever` ranks sections by BM25 over it (the
  SQLite store's `sections_fts`), with statistics kept by triggers in the same transaction
  (knowledge_pg_0002: `sections.fts_length`, `lexeme_stats`, `lexical_totals`,
  `lexeme_postings`). There is no chunk-level full-text index: the hybrid retriever scores
  sections, and highlighting runs `ts_headline` on the few hits shown;
* `chunk_vectors(chunk_id, embedding vector(dim), category)`: created once the embedding
  dimension is known (`check_embedding`), with an HNSW index (`vector_cosine_ops`) and a
  category index; rows go with their chunk (`ON DELETE CASCADE`);
* `knowledge_meta`: embedding model and dimension, and the `generation` counter every write
  transaction bumps (`vector_epoch` when the vectors are rebuilt). Bumping it takes that
  row's lock first, so knowledge writes are serialised as they are on SQLite's one writer,
  and the supersedes links and document ids are decided by one writer at a time;
* `staged_sections` / `staged_chunks` (UNLOGGED: they are scratch space): a large document's
  batches, invisible until `commit_staged` copies them in one transaction. A crash before
  that leaves the knowledge base as it was; stages idle for an hour are removed when a store
  opens (as on SQLite).

Every write is one transaction (`PgDatabase.transaction`): a failure or a killed process
leaves a document entirely old or entirely new.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from loguru import logger
from pgvector.psycopg.vector import register_vector_info
from psycopg import sql
from psycopg.types import TypeInfo
from psycopg.types.json import Jsonb

from services.knowledge.document_writes import NO_CATEGORY, as_matrix, draft_chunks
from services.postgres import Migration, PgDatabase, apply_migrations
from services.postgres.database import Connection, UniqueViolation
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
    embedding_text,
)
from use_cases.knowledge.instructions import METADATA_KEY, withheld_of
from use_cases.shared.errors import (
    ConfigurationError,
    DocumentExists,
    EmbeddingModelMismatch,
    InvalidDocument,
    InvalidRequest,
    NotFound,
)

__all__ = ["MIGRATIONS", "PgKnowledgeStore", "PgStoreState"]

#: Staged chunks of a document nobody has added to for this long belong to a dead process.
STALE_STAGING = timedelta(hours=1)
#: HNSW build parameters (pgvector's defaults, written down so a rebuild uses the same).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64

_BASE = """
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE knowledge_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO knowledge_meta(key, value) VALUES ('generation', '0'), ('vector_epoch', '0');

CREATE TABLE documents (
    id             BIGSERIAL PRIMARY KEY,
    source         TEXT NOT NULL UNIQUE,
    title          TEXT NOT NULL,
    category       TEXT,
    updated_at     DATE,
    media_type     TEXT NOT NULL,
    content_hash   TEXT NOT NULL,
    size_bytes     BIGINT NOT NULL,
    metadata       JSONB NOT NULL DEFAULT '{}',
    ingested_at    TIMESTAMPTZ NOT NULL,
    origin         TEXT,
    raw_hash       TEXT,
    supersedes_key TEXT,
    supersedes_id  BIGINT REFERENCES documents(id) ON DELETE SET NULL
);
CREATE INDEX documents_category ON documents(category);
CREATE INDEX documents_origin ON documents(origin);
CREATE INDEX documents_raw_hash ON documents(raw_hash);
CREATE INDEX documents_supersedes ON documents(supersedes_id);
CREATE INDEX documents_awaiting_version ON documents(supersedes_key)
    WHERE supersedes_key IS NOT NULL AND supersedes_id IS NULL;
CREATE INDEX documents_lower_title ON documents(lower(title));

CREATE TABLE sections (
    id           BIGSERIAL PRIMARY KEY,
    document_id  BIGINT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal      INTEGER NOT NULL,
    heading_path JSONB NOT NULL DEFAULT '[]',
    text         TEXT NOT NULL,
    fts          TSVECTOR NOT NULL,
    UNIQUE (document_id, ordinal)
);
CREATE INDEX sections_fts ON sections USING gin(fts);

-- A section's full-text vector, from its document's title, its heading path and its text:
-- computed when a section row arrives without one (every insert of this store, and rows
-- copied from another installation), so the rule lives in one place.
CREATE FUNCTION sections_fill_fts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.fts IS NULL THEN
        NEW.fts :=
            setweight(to_tsvector('english', coalesce(
                (SELECT title FROM documents WHERE id = NEW.document_id), '')), 'A') ||
            setweight(to_tsvector('english', coalesce(
                (SELECT string_agg(part, ' > ') FROM jsonb_array_elements_text(NEW.heading_path)
                    AS heading(part) WHERE part <> ''), '')), 'B') ||
            setweight(to_tsvector('english', NEW.text), 'D');
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER sections_fill_fts BEFORE INSERT ON sections
    FOR EACH ROW EXECUTE FUNCTION sections_fill_fts();

CREATE TABLE chunks (
    id          BIGSERIAL PRIMARY KEY,
    document_id BIGINT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    section_id  BIGINT NOT NULL REFERENCES sections(id) ON DELETE CASCADE,
    ordinal     INTEGER NOT NULL,
    text        TEXT NOT NULL
);
CREATE INDEX chunks_document ON chunks(document_id);
CREATE INDEX chunks_section ON chunks(section_id);

CREATE UNLOGGED TABLE staged_sections (
    stage_id     TEXT NOT NULL,
    ordinal      INTEGER NOT NULL,
    heading_path JSONB NOT NULL,
    heading      TEXT NOT NULL,
    text         TEXT NOT NULL,
    staged_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (stage_id, ordinal)
);
CREATE UNLOGGED TABLE staged_chunks (
    stage_id        TEXT NOT NULL,
    section_ordinal INTEGER NOT NULL,
    ordinal         INTEGER NOT NULL,
    text            TEXT NOT NULL,
    embedding       vector,
    staged_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (stage_id, section_ordinal, ordinal)
);
"""

#: BM25 statistics for the lexical leg (pg_retrieval.py), kept exact by triggers on
#: `sections` in the writing transaction itself: `sections.fts_length` (tokens of the
#: section's vector: title, heading path and text, stopwords not counted), `lexeme_stats`
#: (lexeme -> sections holding it), `lexical_totals` (one row: sections, total length) and
#: `lexeme_postings` (lexeme, section, occurrences in title / heading / text, length).
#: Statement-level triggers with transition tables: one upsert per statement, not per row.
#: Existing rows are backfilled.
_BM25_STATISTICS = """
CREATE FUNCTION tsvector_token_count(v tsvector) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(sum(coalesce(array_length(positions, 1), 1)), 0)::integer FROM unnest(v)
$$;

ALTER TABLE sections ADD COLUMN fts_length INTEGER;
UPDATE sections SET fts_length = tsvector_token_count(fts);
ALTER TABLE sections ALTER COLUMN fts_length SET NOT NULL;

-- Fires after sections_fill_fts (triggers of one event run in name order).
CREATE FUNCTION sections_fill_fts_length() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.fts_length := tsvector_token_count(NEW.fts);
    RETURN NEW;
END
$$;
CREATE TRIGGER sections_fts_length BEFORE INSERT OR UPDATE ON sections
    FOR EACH ROW EXECUTE FUNCTION sections_fill_fts_length();

CREATE TABLE lexeme_stats (
    lexeme TEXT PRIMARY KEY,
    df     BIGINT NOT NULL CHECK (df > 0)
);
INSERT INTO lexeme_stats (lexeme, df) SELECT word, ndoc FROM ts_stat('SELECT fts FROM sections');

CREATE TABLE lexical_totals (
    id       BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    sections BIGINT NOT NULL,
    length   BIGINT NOT NULL
);
INSERT INTO lexical_totals (id, sections, length)
    SELECT TRUE, count(*), coalesce(sum(fts_length), 0) FROM sections;

-- One row per (lexeme, section): the lexeme's occurrences in the section's title (weight A),
-- heading path (B) and text (C/D), and the section's length, so BM25 over a lexeme's
-- postings is an index-only scan of the primary key (no visit to the sections' heap).
CREATE TABLE lexeme_postings (
    lexeme     TEXT NOT NULL,
    section_id BIGINT NOT NULL,
    tf_a       SMALLINT NOT NULL,
    tf_b       SMALLINT NOT NULL,
    tf_d       SMALLINT NOT NULL,
    length     INTEGER NOT NULL,
    PRIMARY KEY (lexeme, section_id) INCLUDE (tf_a, tf_b, tf_d, length)
);

-- (occurrences with weight A, B, and C or D) of one lexeme of a tsvector; a lexeme stored
-- without positions counts once in the text.
CREATE FUNCTION tsvector_weight_counts(weights text[], OUT a smallint, OUT b smallint,
    OUT d smallint) LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT count(*) FILTER (WHERE w = 'A')::smallint, count(*) FILTER (WHERE w = 'B')::smallint,
        greatest(count(*) FILTER (WHERE w IN ('C', 'D')),
                 CASE WHEN count(*) = 0 THEN 1 ELSE 0 END)::smallint
    FROM unnest(weights) w
$$;

INSERT INTO lexeme_postings (lexeme, section_id, tf_a, tf_b, tf_d, length)
    SELECT u.lexeme, s.id, c.a, c.b, c.d, s.fts_length
    FROM sections s, unnest(s.fts) u, tsvector_weight_counts(u.weights) c;

CREATE FUNCTION lexical_stats_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lexeme_postings (lexeme, section_id, tf_a, tf_b, tf_d, length)
        SELECT u.lexeme, r.id, c.a, c.b, c.d, r.fts_length
        FROM added_rows r, unnest(r.fts) u, tsvector_weight_counts(u.weights) c;
    INSERT INTO lexeme_stats AS s (lexeme, df)
        SELECT u.lexeme, count(*) FROM added_rows r, unnest(r.fts) u
        GROUP BY u.lexeme ORDER BY u.lexeme
        ON CONFLICT (lexeme) DO UPDATE SET df = s.df + excluded.df;
    UPDATE lexical_totals SET sections = sections + a.n, length = length + a.l
        FROM (SELECT count(*) AS n, coalesce(sum(fts_length), 0) AS l FROM added_rows) a;
    RETURN NULL;
END
$$;

CREATE FUNCTION lexical_stats_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM lexeme_postings p USING (
        SELECT u.lexeme, r.id FROM removed_rows r, unnest(r.fts) u
    ) g WHERE p.lexeme = g.lexeme AND p.section_id = g.id;
    WITH gone AS (
        SELECT u.lexeme, count(*) AS n FROM removed_rows r, unnest(r.fts) u GROUP BY u.lexeme
    ), emptied AS (
        DELETE FROM lexeme_stats s USING gone g WHERE s.lexeme = g.lexeme AND s.df <= g.n
    )
    UPDATE lexeme_stats s SET df = s.df - g.n FROM gone g
        WHERE s.lexeme = g.lexeme AND s.df > g.n;
    UPDATE lexical_totals SET sections = sections - a.n, length = length - a.l
        FROM (SELECT count(*) AS n, coalesce(sum(fts_length), 0) AS l FROM removed_rows) a;
    RETURN NULL;
END
$$;

CREATE FUNCTION lexical_stats_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM lexeme_stats;
    DELETE FROM lexeme_postings;
    UPDATE lexical_totals SET sections = 0, length = 0;
    RETURN NULL;
END
$$;

CREATE TRIGGER sections_stats_insert AFTER INSERT ON sections
    REFERENCING NEW TABLE AS added_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lexical_stats_add();
CREATE TRIGGER sections_stats_delete AFTER DELETE ON sections
    REFERENCING OLD TABLE AS removed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lexical_stats_remove();
-- An update is a removal of the old rows and an addition of the new ones (two triggers:
-- `removed_rows` runs first by name order).
CREATE TRIGGER sections_stats_update_0 AFTER UPDATE ON sections
    REFERENCING OLD TABLE AS removed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lexical_stats_remove();
CREATE TRIGGER sections_stats_update_1 AFTER UPDATE ON sections
    REFERENCING NEW TABLE AS added_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lexical_stats_add();
CREATE TRIGGER sections_stats_truncate AFTER TRUNCATE ON sections
    FOR EACH STATEMENT EXECUTE FUNCTION lexical_stats_clear();
"""

MIGRATIONS: list[Migration] = [
    Migration("knowledge_pg_0001_base", _BASE),
    Migration("knowledge_pg_0002_bm25_statistics", _BM25_STATISTICS),
]

_DOCUMENT_COLUMNS = """
    d.id, d.source, d.title, d.category, d.updated_at, d.media_type, d.content_hash,
    d.size_bytes, d.ingested_at,
    (SELECT count(*) FROM sections s WHERE s.document_id = d.id) AS section_count,
    (SELECT count(*) FROM chunks c WHERE c.document_id = d.id) AS chunk_count,
    d.supersedes_id,
    (SELECT n.id FROM documents n WHERE n.supersedes_id = d.id
        ORDER BY n.updated_at DESC NULLS LAST, n.id DESC LIMIT 1) AS superseded_by_id,
    d.origin, d.raw_hash, d.metadata ->> 'withheld_instructions' AS withheld
"""


@dataclass(frozen=True)
class PgStoreState:
    """The counters a cache compares to know whether it is stale (as `StoreState`)."""

    generation: int
    vector_epoch: int
    tombstone_floor: int
    dimension: int | None


class PgKnowledgeStore:
    """`KnowledgeStore` on PostgreSQL + pgvector (see the module docstring for the layout)."""

    def __init__(self, db: PgDatabase, *, presence: Presence | None = None) -> None:
        self._db = db
        self._presence = presence
        apply_migrations(db, MIGRATIONS)
        self._vector_type: TypeInfo | None = None
        self._discard_stale_staging()

    # -- connections ---------------------------------------------------------------------------

    @property
    def db(self) -> PgDatabase:
        return self._db

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A pooled autocommit connection that can send and read pgvector values."""
        with self._db.connection() as conn:
            self._register_vector(conn)
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self._db.transaction() as conn:
            self._register_vector(conn)
            yield conn

    def _register_vector(self, conn: Connection) -> None:
        if self._vector_type is None:
            self._vector_type = TypeInfo.fetch(conn, "vector")
        register_vector_info(conn, self._vector_type)

    def close(self) -> None:
        """Nothing to release: the pool is shared and closed by the composition root."""

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One transaction that first bumps `generation` (and so takes the writers' lock)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE knowledge_meta SET value = (value::bigint + 1)::text "
                "WHERE key = 'generation'"
            )
            yield conn

    # -- meta ----------------------------------------------------------------------------------

    def state(self) -> PgStoreState:
        with self._db.connection() as conn:
            rows = {
                r["key"]: r["value"]
                for r in conn.execute(
                    "SELECT key, value FROM knowledge_meta WHERE key IN "
                    "('generation', 'vector_epoch', 'embedding_dimension')"
                )
            }
        dimension = rows.get("embedding_dimension")
        return PgStoreState(
            generation=int(rows.get("generation", 0)),
            vector_epoch=int(rows.get("vector_epoch", 0)),
            tombstone_floor=0,
            dimension=int(dimension) if dimension is not None else None,
        )

    def vocabulary(self) -> tuple[int, list[str]]:
        """(generation, every indexed term): the lexemes of the sections' full-text index
        (Snowball English stems). The generation is read first, in the same snapshot."""
        with self._db.transaction() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            generation = _meta_int(conn, "generation")
            rows = conn.execute("SELECT lexeme FROM lexeme_stats").fetchall()
        return generation, [r["lexeme"] for r in rows]

    def embedding_info(self) -> EmbeddingInfo | None:
        with self._db.connection() as conn:
            return _embedding_info(conn)

    def check_embedding(self, info: EmbeddingInfo) -> None:
        """Record `info` on a store without one; raise `EmbeddingModelMismatch` if it differs."""
        if info.dimension < 1:
            raise InvalidRequest("The embedding dimension must be positive.")
        current = self.embedding_info()
        if current is None:
            with self._write() as conn:
                current = _embedding_info(conn)  # re-check under the writers' lock
                if current is None:
                    _set_meta(conn, "embedding_model", info.model)
                    _set_meta(conn, "embedding_dimension", str(info.dimension))
                    create_vector_table(conn, info.dimension)
                    create_vector_index(conn)
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
        return self._one(sql.SQL("d.source = %s"), source)

    def get_by_origin(self, origin: str) -> DocumentRecord | None:
        return self._one(sql.SQL("d.origin = %s ORDER BY d.id LIMIT 1"), origin)

    def get_by_raw_hash(self, raw_hash: str) -> DocumentRecord | None:
        return self._one(sql.SQL("d.raw_hash = %s ORDER BY d.id LIMIT 1"), raw_hash)

    def get_record(self, document_id: int) -> DocumentRecord | None:
        return self._one(sql.SQL("d.id = %s"), document_id)

    def find_by_title(self, title: str) -> list[DocumentRecord]:
        """Documents with this title, compared without regard to case and spacing."""
        wanted = " ".join(title.split()).casefold()
        with self._db.connection() as conn:
            rows = conn.execute(
                _select_documents(sql.SQL("lower(d.title) = lower(%s) ORDER BY d.id")),
                (" ".join(title.split()),),
            ).fetchall()
        return [r for r in map(_record, rows) if " ".join(r.title.split()).casefold() == wanted]

    def resolve_key(self, key: str) -> DocumentRecord | None:
        with self._db.connection() as conn:
            document_id = _resolve_key(conn, key)
        return self.get_record(document_id) if document_id is not None else None

    def _one(self, where: sql.Composable, value: object) -> DocumentRecord | None:
        with self._db.connection() as conn:
            row = conn.execute(_select_documents(where), (value,)).fetchone()
        return _record(row) if row else None

    def record_raw_hash(self, document_id: int, raw_hash: str) -> None:
        with self._db.connection() as conn:
            conn.execute(
                "UPDATE documents SET raw_hash = %s WHERE id = %s AND raw_hash IS NULL",
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
        transaction (see `SqliteKnowledgeStore.save_document` for the rules)."""
        chunks = draft_chunks(draft)
        matrix = as_matrix(vectors, len(chunks))
        stage_id = uuid.uuid4().hex
        with self._write() as conn:
            self._check_vectors(conn, matrix)
            _stage_sections(conn, stage_id, draft)
            _stage_chunks(conn, stage_id, chunks, matrix)
            document_id = _commit_staged(conn, stage_id, draft, replace_id)
            return _record_in(conn, document_id)

    # -- large documents: staged batch by batch, then committed at once ------------------------

    def begin_staging(self, draft: DocumentDraft) -> str:
        stage_id = owned_id(self._presence, uuid.uuid4().hex)
        with self.transaction() as conn:
            _stage_sections(conn, stage_id, draft)
        return stage_id

    def stage_chunks(
        self, stage_id: str, chunks: Sequence[StagedChunk], vectors: Sequence[Vector]
    ) -> None:
        matrix = as_matrix(vectors, len(chunks))
        with self.transaction() as conn:
            self._check_vectors(conn, matrix)
            _stage_chunks(conn, stage_id, chunks, matrix)

    def commit_staged(
        self, stage_id: str, draft: DocumentDraft, *, replace_id: int | None = None
    ) -> DocumentRecord:
        with self._write() as conn:
            document_id = _commit_staged(conn, stage_id, draft, replace_id)
            return _record_in(conn, document_id)

    def discard_staged(self, stage_id: str) -> None:
        with self.transaction() as conn:
            _discard_staged(conn, stage_id)

    def _discard_stale_staging(self) -> None:
        cutoff = datetime.now(UTC) - STALE_STAGING
        with self.transaction() as conn:
            stale = [
                r["stage_id"]
                for r in conn.execute(
                    "SELECT stage_id FROM (SELECT stage_id, staged_at FROM staged_sections "
                    "UNION ALL SELECT stage_id, staged_at FROM staged_chunks) AS staged "
                    "GROUP BY stage_id HAVING max(staged_at) < %s",
                    (cutoff,),
                )
            ]
            staged = [
                r["stage_id"] for r in conn.execute("SELECT DISTINCT stage_id FROM staged_sections")
            ]
            stale = sorted(set(stale) | set(orphaned(self._presence, staged)))
            for stage_id in stale:
                _discard_staged(conn, stage_id)
        if stale:
            logger.info("Removed {} unfinished staged document(s)", len(stale))

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

    def list_documents(
        self, *, limit: int = 100, offset: int = 0, category: str | None = None
    ) -> tuple[list[DocumentRecord], int]:
        """One page of documents, by source, and the total count (with the same filter)."""
        where = sql.SQL("d.category = %s") if category is not None else sql.SQL("TRUE")
        params: list[Any] = [category] if category is not None else []
        with self._db.connection() as conn:
            rows = conn.execute(
                _select_documents(
                    sql.SQL('{} ORDER BY d.source COLLATE "C" LIMIT %s OFFSET %s').format(where)
                ),
                (*params, max(0, limit), max(0, offset)),
            ).fetchall()
            total = conn.execute(
                sql.SQL("SELECT count(*) AS n FROM documents d WHERE {}").format(where), params
            ).fetchone()
        return [_record(row) for row in rows], int(total["n"] if total else 0)

    def get_document(self, document_id: int) -> DocumentDetail | None:
        with self._db.connection() as conn:
            row = conn.execute(_select_documents(sql.SQL("d.id = %s")), (document_id,)).fetchone()
            if row is None:
                return None
            sections = conn.execute(
                "SELECT s.id, s.ordinal, s.heading_path, s.text, "
                "(SELECT count(*) FROM chunks c WHERE c.section_id = s.id) AS chunk_count "
                "FROM sections s WHERE s.document_id = %s ORDER BY s.ordinal",
                (document_id,),
            ).fetchall()
        return DocumentDetail(
            document=_record(row),
            sections=tuple(
                SectionRecord(
                    id=int(s["id"]),
                    ordinal=int(s["ordinal"]),
                    heading_path=tuple(s["heading_path"]),
                    text=s["text"],
                    chunk_count=int(s["chunk_count"]),
                )
                for s in sections
            ),
        )

    def delete_document(self, document_id: int) -> bool:
        """Delete a document with its sections, chunks and vectors (cascade)."""
        with self._write() as conn:
            cursor = conn.execute("DELETE FROM documents WHERE id = %s", (document_id,))
            return cursor.rowcount > 0

    def list_sources(self) -> list[tuple[int, str]]:
        with self._db.connection() as conn:
            rows = conn.execute('SELECT id, source FROM documents ORDER BY source COLLATE "C"')
            return [(int(r["id"]), r["source"]) for r in rows]

    def list_origins(self) -> list[tuple[int, str, str]]:
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT id, source, origin FROM documents WHERE origin IS NOT NULL "
                'ORDER BY origin COLLATE "C"'
            )
            return [(int(r["id"]), r["source"], r["origin"]) for r in rows]

    def stats(self) -> KnowledgeStats:
        with self._db.connection() as conn:
            counts = conn.execute(
                "SELECT (SELECT count(*) FROM documents) AS documents, "
                "(SELECT count(*) FROM sections) AS sections, "
                "(SELECT count(*) FROM chunks) AS chunks"
            ).fetchone()
            categories = {
                str(r["category"]): int(r["n"])
                for r in conn.execute(
                    "SELECT category, count(*) AS n FROM documents WHERE category IS NOT NULL "
                    'GROUP BY category ORDER BY category COLLATE "C"'
                )
            }
            info = _embedding_info(conn)
        assert counts is not None
        return KnowledgeStats(
            documents=int(counts["documents"]),
            sections=int(counts["sections"]),
            chunks=int(counts["chunks"]),
            embedding=info,
            categories=categories,
        )

    # -- embeddings ----------------------------------------------------------------------------

    def iter_chunk_texts(self, batch_size: int = 256) -> Iterator[list[tuple[int, str]]]:
        """All (chunk_id, embedding text) pairs in id order, in batches (keyset pagination:
        no cursor stays open between batches, so the caller may write while iterating)."""
        last_id = 0
        while True:
            with self._db.connection() as conn:
                rows = conn.execute(
                    "SELECT c.id, d.title, s.heading_path, c.text FROM chunks c "
                    "JOIN sections s ON s.id = c.section_id "
                    "JOIN documents d ON d.id = c.document_id "
                    "WHERE c.id > %s ORDER BY c.id LIMIT %s",
                    (last_id, max(1, batch_size)),
                ).fetchall()
            if not rows:
                return
            last_id = int(rows[-1]["id"])
            yield [
                (int(r["id"]), embedding_text(r["title"], tuple(r["heading_path"]), r["text"]))
                for r in rows
            ]

    def replace_embeddings(
        self, info: EmbeddingInfo, batches: Iterator[list[tuple[int, Vector]]]
    ) -> int:
        """Rebuild the vector table for `info` from `batches`, in one transaction: every
        chunk must receive exactly one vector, or nothing changes. The HNSW index is built
        once, after the rows are in (much faster than growing it row by row)."""
        if info.dimension < 1:
            raise InvalidRequest("The embedding dimension must be positive.")
        with self._write() as conn:
            # A new table, swapped in at the end: searches keep reading the old one until the
            # commit, and nothing here locks `chunks` while `batches` may still be reading it.
            conn.execute("DROP TABLE IF EXISTS chunk_vectors_next")
            create_vector_table(conn, info.dimension, "chunk_vectors_next", linked=False)
            categories = {
                int(r["id"]): r["category"]
                for r in conn.execute(
                    "SELECT c.id, coalesce(d.category, '') AS category FROM chunks c "
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
                rows = []
                for chunk_id, vector in zip(ids, matrix, strict=True):
                    if chunk_id not in categories:
                        raise InvalidRequest(f"No chunk with id {chunk_id}.")
                    if chunk_id in seen:
                        raise InvalidRequest(f"Chunk {chunk_id} received two vectors.")
                    seen.add(chunk_id)
                    rows.append((chunk_id, vector, categories[chunk_id]))
                with conn.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO chunk_vectors_next (chunk_id, embedding, category) "
                        "VALUES (%s, %s, %s)",
                        rows,
                    )
                written += len(rows)
            if written != len(categories):
                raise InvalidRequest(
                    f"Re-embedding produced {written} vectors for {len(categories)} chunks; "
                    "the old index was kept."
                )
            conn.execute("DROP TABLE IF EXISTS chunk_vectors")
            conn.execute("ALTER TABLE chunk_vectors_next RENAME TO chunk_vectors")
            conn.execute("ALTER INDEX chunk_vectors_next_pkey RENAME TO chunk_vectors_pkey")
            conn.execute(
                "ALTER TABLE chunk_vectors ADD CONSTRAINT chunk_vectors_chunk_id_fkey "
                "FOREIGN KEY (chunk_id) REFERENCES chunks(id) ON DELETE CASCADE"
            )
            conn.execute("CREATE INDEX chunk_vectors_category ON chunk_vectors(category)")
            create_vector_index(conn)
            _set_meta(conn, "embedding_model", info.model)
            _set_meta(conn, "embedding_dimension", str(info.dimension))
            conn.execute(
                "UPDATE knowledge_meta SET value = (value::bigint + 1)::text "
                "WHERE key = 'vector_epoch'"
            )
        logger.info("Re-indexed {} chunks with {} ({} dims)", written, info.model, info.dimension)
        return written


# -- writes ------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _stage_sections(conn: Connection, stage_id: str, draft: DocumentDraft) -> None:
    stamp = _now()
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO staged_sections (stage_id, ordinal, heading_path, heading, text, "
            "staged_at) VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (
                    stage_id,
                    ordinal,
                    Jsonb(list(section.heading_path)),
                    " > ".join(part for part in section.heading_path if part),
                    section.text,
                    stamp,
                )
                for ordinal, section in enumerate(draft.sections)
            ],
        )


def _stage_chunks(
    conn: Connection, stage_id: str, chunks: Sequence[StagedChunk], matrix: np.ndarray
) -> None:
    stamp = _now()
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO staged_chunks (stage_id, section_ordinal, ordinal, text, embedding, "
            "staged_at) VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (stage_id, chunk.section, chunk.ordinal, chunk.text, matrix[i], stamp)
                for i, chunk in enumerate(chunks)
            ],
        )


def _discard_staged(conn: Connection, stage_id: str) -> None:
    conn.execute("DELETE FROM staged_chunks WHERE stage_id = %s", (stage_id,))
    conn.execute("DELETE FROM staged_sections WHERE stage_id = %s", (stage_id,))


def _commit_staged(
    conn: Connection, stage_id: str, draft: DocumentDraft, replace_id: int | None
) -> int:
    """Make the staged document visible (inside the caller's transaction); returns its id."""
    counts = conn.execute(
        "SELECT count(*) AS staged, count(embedding) AS embedded FROM staged_chunks "
        "WHERE stage_id = %s",
        (stage_id,),
    ).fetchone()
    assert counts is not None
    staged, embedded = int(counts["staged"]), int(counts["embedded"])
    expected = draft.chunk_count
    if staged != expected or embedded != staged:
        raise InvalidRequest(
            f"{staged} chunks ({embedded} with vectors) were staged for a document of "
            f"{expected}; nothing was written."
        )
    document_id = _write_document_row(conn, draft, replace_id)
    conn.execute(  # `fts` is filled by the sections_fill_fts trigger
        "INSERT INTO sections (document_id, ordinal, heading_path, text) "
        "SELECT %s, ordinal, heading_path, text FROM staged_sections WHERE stage_id = %s "
        "ORDER BY ordinal",
        (document_id, stage_id),
    )
    conn.execute(
        "INSERT INTO chunks (document_id, section_id, ordinal, text) "
        "SELECT %s, s.id, c.ordinal, c.text FROM staged_chunks c "
        "JOIN sections s ON s.document_id = %s AND s.ordinal = c.section_ordinal "
        "WHERE c.stage_id = %s ORDER BY c.section_ordinal, c.ordinal",
        (document_id, document_id, stage_id),
    )
    if staged:
        conn.execute(
            "INSERT INTO chunk_vectors (chunk_id, embedding, category) "
            "SELECT ch.id, c.embedding, %s FROM chunks ch "
            "JOIN sections s ON s.id = ch.section_id "
            "JOIN staged_chunks c ON c.stage_id = %s AND c.section_ordinal = s.ordinal "
            "AND c.ordinal = ch.ordinal WHERE ch.document_id = %s ORDER BY ch.id",
            (
                draft.category if draft.category is not None else NO_CATEGORY,
                stage_id,
                document_id,
            ),
        )
    _discard_staged(conn, stage_id)
    _link_versions(conn, document_id, draft.supersedes)
    return document_id


def _write_document_row(conn: Connection, draft: DocumentDraft, replace_id: int | None) -> int:
    values = (
        draft.source,
        draft.title,
        draft.category,
        draft.updated_at,
        draft.media_type,
        draft.content_hash,
        draft.size_bytes,
        Jsonb(draft.metadata),
        _now(),
        draft.origin,
        draft.raw_hash,
    )
    if replace_id is None:
        row = conn.execute(
            "INSERT INTO documents (source, title, category, updated_at, media_type, "
            "content_hash, size_bytes, metadata, ingested_at, origin, raw_hash) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (source) DO NOTHING RETURNING id",
            values,
        ).fetchone()
        if row is None:
            raise _taken(conn, draft.source)
        return int(row["id"])
    if conn.execute("SELECT 1 FROM documents WHERE id = %s", (replace_id,)).fetchone() is None:
        raise NotFound(f"No document with id {replace_id}.")
    # Cascades to chunks and their vectors.
    conn.execute("DELETE FROM sections WHERE document_id = %s", (replace_id,))
    try:
        with conn.transaction():  # a savepoint: the conflict below must not abort the rest
            conn.execute(
                "UPDATE documents SET source = %s, title = %s, category = %s, updated_at = %s, "
                "media_type = %s, content_hash = %s, size_bytes = %s, metadata = %s, "
                "ingested_at = %s, origin = %s, raw_hash = %s WHERE id = %s",
                (*values, replace_id),
            )
    except UniqueViolation:
        raise _taken(conn, draft.source) from None
    return replace_id


def _taken(conn: Connection, source: str) -> DocumentExists:
    row = conn.execute("SELECT id FROM documents WHERE source = %s", (source,)).fetchone()
    taken_by = int(row["id"]) if row else 0
    return DocumentExists(
        f"A document with source '{source}' already exists (id {taken_by}).", taken_by
    )


def _resolve_key(conn: Connection, key: str) -> int | None:
    """`document_writes.resolve_key` on PostgreSQL: an id, a source, or the one source
    ending in `/key`."""
    key = key.strip().removeprefix("./")
    if not key:
        return None
    if key.isdigit():
        row = conn.execute("SELECT id FROM documents WHERE id = %s", (int(key),)).fetchone()
        return int(row["id"]) if row else None
    row = conn.execute("SELECT id FROM documents WHERE source = %s", (key,)).fetchone()
    if row:
        return int(row["id"])
    rows = conn.execute(
        "SELECT id FROM documents WHERE right(source, length(%s) + 1) = '/' || %s LIMIT 2",
        (key, key),
    ).fetchall()
    return int(rows[0]["id"]) if len(rows) == 1 else None


def _link_versions(conn: Connection, document_id: int, supersedes: str | None) -> None:
    """`document_writes.link_versions` on PostgreSQL (same rules, same errors)."""
    target = _resolve_key(conn, supersedes) if supersedes else None
    if target == document_id:
        raise InvalidDocument(f"A document cannot supersede itself (supersedes: {supersedes}).")
    conn.execute(
        "UPDATE documents SET supersedes_key = %s, supersedes_id = %s WHERE id = %s",
        (supersedes, target, document_id),
    )
    row = conn.execute("SELECT source FROM documents WHERE id = %s", (document_id,)).fetchone()
    assert row is not None
    source = row["source"]
    linked = conn.execute(
        "UPDATE documents SET supersedes_id = %s "
        "WHERE supersedes_key IS NOT NULL AND supersedes_id IS NULL AND id != %s "
        "AND (supersedes_key = %s "
        "OR right(%s, length(supersedes_key) + 1) = '/' || supersedes_key)",
        (document_id, document_id, source, source),
    ).rowcount
    if target is None and not linked:
        return  # no new edge: no new loop
    looped = conn.execute(
        "WITH RECURSIVE chain(id, depth) AS ("
        " SELECT supersedes_id, 1 FROM documents WHERE id = %s"
        " UNION ALL SELECT d.supersedes_id, chain.depth + 1 FROM documents d"
        " JOIN chain ON d.id = chain.id WHERE chain.depth < 10000)"
        " SELECT 1 FROM chain WHERE id = %s LIMIT 1",
        (document_id, document_id),
    ).fetchone()
    if looped:
        raise InvalidDocument(
            f"supersedes: {supersedes} would make a loop: that document already supersedes "
            "this one, directly or through other versions."
        )


# -- helpers -----------------------------------------------------------------------------------


def create_vector_table(
    conn: Connection, dimension: int, name: str = "chunk_vectors", *, linked: bool = True
) -> None:
    """The vector table for `dimension`; `linked`: with its foreign key to `chunks` and its
    category index (a table being filled for a swap gets them after the rows are in)."""
    reference = " REFERENCES chunks(id) ON DELETE CASCADE" if linked else ""
    conn.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (chunk_id BIGINT PRIMARY KEY{}, "
            "embedding vector({}) NOT NULL, category TEXT NOT NULL DEFAULT '')"
        ).format(sql.Identifier(name), sql.SQL(reference), sql.Literal(int(dimension)))
    )
    if linked:
        conn.execute(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {}(category)").format(
                sql.Identifier(f"{name}_category"), sql.Identifier(name)
            )
        )


def create_vector_index(conn: Connection) -> None:
    conn.execute(
        sql.SQL(
            "CREATE INDEX IF NOT EXISTS chunk_vectors_embedding ON chunk_vectors "
            "USING hnsw (embedding vector_cosine_ops) WITH (m = {}, ef_construction = {})"
        ).format(sql.Literal(HNSW_M), sql.Literal(HNSW_EF_CONSTRUCTION))
    )


def _select_documents(where: sql.Composable) -> sql.Composed:
    return sql.SQL("SELECT {} FROM documents d WHERE {}").format(sql.SQL(_DOCUMENT_COLUMNS), where)


def _record_in(conn: Connection, document_id: int) -> DocumentRecord:
    row = conn.execute(_select_documents(sql.SQL("d.id = %s")), (document_id,)).fetchone()
    assert row is not None
    return _record(row)


def _meta_int(conn: Connection, key: str) -> int:
    row = conn.execute("SELECT value FROM knowledge_meta WHERE key = %s", (key,)).fetchone()
    return int(row["value"]) if row else 0


def _set_meta(conn: Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO knowledge_meta(key, value) VALUES (%s, %s) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def _embedding_info(conn: Connection) -> EmbeddingInfo | None:
    rows = {
        r["key"]: r["value"]
        for r in conn.execute(
            "SELECT key, value FROM knowledge_meta "
            "WHERE key IN ('embedding_model', 'embedding_dimension')"
        )
    }
    if "embedding_model" not in rows or "embedding_dimension" not in rows:
        return None
    return EmbeddingInfo(model=rows["embedding_model"], dimension=int(rows["embedding_dimension"]))


def _record(row: dict[str, Any]) -> DocumentRecord:
    updated: date | None = row["updated_at"]
    return DocumentRecord(
        id=int(row["id"]),
        source=row["source"],
        title=row["title"],
        category=row["category"],
        updated_at=updated,
        media_type=row["media_type"],
        content_hash=row["content_hash"],
        size_bytes=int(row["size_bytes"]),
        section_count=int(row["section_count"]),
        chunk_count=int(row["chunk_count"]),
        ingested_at=row["ingested_at"],
        supersedes_id=row["supersedes_id"],
        superseded_by_id=row["superseded_by_id"],
        origin=row["origin"],
        raw_hash=row["raw_hash"],
        withheld_instructions=tuple(withheld_of({METADATA_KEY: row["withheld"] or ""})),
    )
