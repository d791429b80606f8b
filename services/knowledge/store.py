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

What is SQLite's own and stays here (the rest, the same SQL on both databases, is
services/knowledge/sql_store.py's `SqlKnowledgeStore`, which `PgKnowledgeStore` shares):
the per-thread connections, `BEGIN IMMEDIATE` writes and the read-only mode; FTS5 and its
vocabulary; the sqlite-vec table (rebuilt in place by `replace_embeddings`); the tombstones
and their pruning; and giving space back after removals.

Threads: one connection per thread (`services/sqlite/thread_connections.py`). A connection
must not run two statements at once, and a single shared connection behind a lock would
serialise every search; per-thread connections let FastAPI's worker threads read in parallel
(SQLite releases the GIL while it works, and WAL readers never wait for the writer). Writers
serialise on the database's write lock with a busy timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from loguru import logger

from services.knowledge.dialect import SqliteSession
from services.knowledge.document_writes import NO_CATEGORY
from services.knowledge.schema import (
    FTS_TABLE,
    FTS_TOKENIZER,
    FTS_VOCAB_TABLE,
    MIGRATIONS,
    VECTOR_TABLE,
)
from services.knowledge.sql_store import SqlKnowledgeStore, StoreState, state_of
from services.presence import Presence
from services.sqlite.connection import Connection, immediate_transaction
from services.sqlite.migrations import apply_migrations
from services.sqlite.thread_connections import ThreadConnections
from use_cases.shared.errors import ConfigurationError

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
#: `PRAGMA auto_vacuum` value for INCREMENTAL.
_INCREMENTAL = 2


class SqliteKnowledgeStore(SqlKnowledgeStore[SqliteSession]):
    """`KnowledgeStore` on one SQLite file (see the module docstring for the layout).

    `readonly=True` opens the file read-only (`mode=ro`) and skips migrations; every write
    method then fails. Use it for processes that only search.
    """

    _META = "meta"

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
            self._discard_stale_staging()

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
    def _session(self) -> Iterator[SqliteSession]:
        yield SqliteSession(self.connection())

    @contextmanager
    def _writing(self) -> Iterator[SqliteSession]:
        """One `BEGIN IMMEDIATE` transaction that also bumps `generation`."""
        with self._staging() as s:
            self._bump(s, "generation")
            yield s
            self._prune_tombstones(s)

    @contextmanager
    def _staging(self) -> Iterator[SqliteSession]:
        if self._readonly:
            raise ConfigurationError("The knowledge store was opened read-only.")
        with immediate_transaction(self.connection()) as conn:
            yield SqliteSession(conn)

    def _after_removal(self) -> None:
        self.reclaim_space()

    # -- meta ----------------------------------------------------------------------------------

    def state(self) -> StoreState:
        """Counters for cache invalidation, read in one statement (one snapshot)."""
        return read_state(self.connection())

    def vocabulary(self) -> tuple[int, list[str]]:
        """(generation, every indexed term): the full-text index's terms (Porter stems of the
        titles, headings and texts). The generation is read first, so the terms are never
        older than it: a cache keyed by it may be refreshed once too often, never too rarely."""
        return self._at_generation(f"SELECT term FROM {FTS_VOCAB_TABLE}")

    def defining_texts(self) -> tuple[int, list[str]]:
        """(generation, the text of every section holding a parenthesis): where the knowledge
        base may define its abbreviations ("a write-ahead log (WAL)"). The generation is read
        first, as `vocabulary` does."""
        return self._at_generation("SELECT text FROM sections WHERE instr(text, '(')")

    def _at_generation(self, sql: str) -> tuple[int, list[str]]:
        """(generation, the first column of `sql`'s rows), the generation read first."""
        with self._session() as s:
            generation = self._meta_int(s, "generation")
            return generation, [row[0] for row in s.rows(sql)]

    def reclaim_space(self) -> int:
        """Give free pages back to the file system; returns how many were freed."""
        if self._readonly:
            return 0
        conn = self.connection()
        (free,) = conn.execute("PRAGMA freelist_count").fetchone()
        if free:
            conn.execute("PRAGMA incremental_vacuum").fetchall()
        return int(free)

    def _prune_tombstones(self, s: SqliteSession) -> None:
        """Forget tombstones older than `TOMBSTONE_GENERATIONS` writes (last step of a write).

        `tombstone_floor` tells readers whose index is older than that to reload in full.
        """
        floor = self._meta_int(s, "generation") - TOMBSTONE_GENERATIONS
        if floor > self._meta_int(s, "tombstone_floor"):
            s.run("DELETE FROM chunk_tombstones WHERE generation <= ?", (floor,))
            s.run("DELETE FROM section_tombstones WHERE generation <= ?", (floor,))
            self._set_meta(s, "tombstone_floor", str(floor))

    # -- vectors -------------------------------------------------------------------------------

    def _create_vectors(self, s: SqliteSession, dimension: int) -> None:
        _create_vector_table(s.conn, dimension)

    def _new_vector_table(self, s: SqliteSession, dimension: int) -> str:
        """The vector table, emptied: the rebuild's transaction hides it until the commit."""
        s.run(f"DROP TABLE IF EXISTS {VECTOR_TABLE}")
        _create_vector_table(s.conn, dimension)
        return VECTOR_TABLE


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
    return state_of(SqliteSession(conn), "meta")


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
