"""PostgreSQL adapter for the `KnowledgeStore` port: documents, sections, chunks, full-text
index and pgvector vectors, with the same behaviour as `SqliteKnowledgeStore`.

Layout (one database shared with the other stores; tables named as in the SQLite file so
`almanac db copy` maps table to table):

* `documents` 1-n `sections` 1-n `chunks`, `ON DELETE CASCADE` foreign keys; the version
  relation `documents.supersedes_key` / `supersedes_id` as in SQLite (document_writes.py has
  the rules, and writes both databases with the same statements);
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

Documents, sections, chunks, staging, versions, listings and counts are the same SQL as on
SQLite, written once in services/knowledge/sql_store.py (`SqlKnowledgeStore`) and
document_writes.py. What is PostgreSQL's own and stays here: the schema (its own migrations:
types, `BIGSERIAL`, the `tsvector` trigger and the BM25 statistics); pooled connections with
pgvector's types registered for writes; the writers' lock (the `generation` row, where SQLite
has `BEGIN IMMEDIATE`); the vocabulary read from `lexeme_stats` in one `REPEATABLE READ`
snapshot; and the vector table with its HNSW index, which a rebuild fills under another name
and swaps in at the commit (SQLite's `vec0` table is rebuilt in place). There are no
tombstones (`state().tombstone_floor` is 0) and nothing to give back after a removal.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pgvector.psycopg.vector import register_vector_info
from psycopg import sql
from psycopg.types import TypeInfo

from services.knowledge.pg_session import PgSession
from services.knowledge.repeated_lines import document_lines
from services.knowledge.sql_store import SqlKnowledgeStore, StoreState, state_of
from services.postgres import Migration, PgDatabase, apply_migrations
from services.presence import Presence

if TYPE_CHECKING:
    from services.postgres.database import Connection

__all__ = ["MIGRATIONS", "PgKnowledgeStore"]

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

#: Collections, their grants, users' groups and each document's collection (NULL: the
#: default collection), as SQLite's `knowledge_0008_collections` (services/knowledge/schema.py).
_COLLECTIONS = """
CREATE TABLE collections (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE TABLE collection_grants (
    collection_id BIGINT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('user', 'group')),
    principal     TEXT NOT NULL,
    granted_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (collection_id, kind, principal)
);
CREATE INDEX collection_grants_principal ON collection_grants(kind, principal);
CREATE TABLE user_groups (
    user_id    TEXT NOT NULL,
    group_name TEXT NOT NULL,
    PRIMARY KEY (user_id, group_name)
);
CREATE INDEX user_groups_group ON user_groups(group_name);
ALTER TABLE documents ADD COLUMN collection_id BIGINT
    REFERENCES collections(id) ON DELETE RESTRICT;
CREATE INDEX documents_collection ON documents(collection_id);
"""

_DOCUMENT_LINES = """
CREATE TABLE document_lines (
    document_id BIGINT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    line        TEXT NOT NULL,
    PRIMARY KEY (document_id, line)
);
CREATE INDEX document_lines_line ON document_lines(line);
"""


def _fill_document_lines(conn: Connection) -> None:
    """The lines of the documents stored before `document_lines` existed."""
    ids = [int(row["id"]) for row in conn.execute("SELECT id FROM documents").fetchall()]
    for document_id in ids:
        texts = conn.execute("SELECT text FROM sections WHERE document_id = %s", (document_id,))
        lines = document_lines(str(row["text"]) for row in texts.fetchall())
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO document_lines (document_id, line) VALUES (%s, %s)",
                [(document_id, line) for line in sorted(lines)],
            )


MIGRATIONS: list[Migration] = [
    Migration("knowledge_pg_0001_base", _BASE),
    Migration("knowledge_pg_0002_bm25_statistics", _BM25_STATISTICS),
    Migration("knowledge_pg_0003_collections", _COLLECTIONS),
    Migration("knowledge_pg_0004_document_lines", _DOCUMENT_LINES, _fill_document_lines),
]


class PgKnowledgeStore(SqlKnowledgeStore[PgSession]):
    """`KnowledgeStore` on PostgreSQL + pgvector (see the module docstring for the layout)."""

    _META = "knowledge_meta"

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
    def _session(self) -> Iterator[PgSession]:
        with self._db.connection() as conn:
            yield PgSession(conn)

    @contextmanager
    def _writing(self) -> Iterator[PgSession]:
        """One transaction that first bumps `generation` (and so takes the writers' lock)."""
        with self._staging() as s:
            self._bump(s, "generation")
            yield s

    @contextmanager
    def _staging(self) -> Iterator[PgSession]:
        with self.transaction() as conn:
            yield PgSession(conn)

    # -- meta ----------------------------------------------------------------------------------

    def state(self) -> StoreState:
        with self._session() as s:
            return state_of(s, self._META)

    def vocabulary(self) -> tuple[int, list[str]]:
        """(generation, every indexed term): the lexemes of the sections' full-text index
        (Snowball English stems). The generation is read first, in the same snapshot."""
        return self._at_generation("SELECT lexeme FROM lexeme_stats")

    def defining_texts(self) -> tuple[int, list[str]]:
        """(generation, the text of every section holding a parenthesis), in one snapshot (see
        `SqliteKnowledgeStore.defining_texts`)."""
        return self._at_generation("SELECT text FROM sections WHERE strpos(text, '(') > 0")

    def _at_generation(self, sql: str) -> tuple[int, list[str]]:
        """(generation, the first column of `sql`'s rows), read in one snapshot."""
        with self._db.transaction() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            s = PgSession(conn)
            generation = self._meta_int(s, "generation")
            rows = s.rows(sql)
        return generation, [value for (value,) in rows]

    # -- vectors -------------------------------------------------------------------------------

    def _create_vectors(self, s: PgSession, dimension: int) -> None:
        create_vector_table(s.conn, dimension)
        create_vector_index(s.conn)

    def _new_vector_table(self, s: PgSession, dimension: int) -> str:
        """A new table, swapped in at the end: searches keep reading the old one until the
        commit, and nothing here locks `chunks` while the new vectors may still be read."""
        s.conn.execute("DROP TABLE IF EXISTS chunk_vectors_next")
        create_vector_table(s.conn, dimension, "chunk_vectors_next", linked=False)
        return "chunk_vectors_next"

    def _swap_vector_table(self, s: PgSession) -> None:
        """Put the filled table in place, then link and index it: the HNSW index is built
        once, after the rows are in (much faster than growing it row by row)."""
        conn = s.conn
        conn.execute("DROP TABLE IF EXISTS chunk_vectors")
        conn.execute("ALTER TABLE chunk_vectors_next RENAME TO chunk_vectors")
        conn.execute("ALTER INDEX chunk_vectors_next_pkey RENAME TO chunk_vectors_pkey")
        conn.execute(
            "ALTER TABLE chunk_vectors ADD CONSTRAINT chunk_vectors_chunk_id_fkey "
            "FOREIGN KEY (chunk_id) REFERENCES chunks(id) ON DELETE CASCADE"
        )
        conn.execute("CREATE INDEX chunk_vectors_category ON chunk_vectors(category)")
        create_vector_index(conn)


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
