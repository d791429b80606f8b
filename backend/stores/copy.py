"""`almanac db copy`: move an SQLite installation into an empty PostgreSQL database.

What is copied, table to table (the PostgreSQL stores keep the SQLite column names):

* knowledge.db: `documents` (metadata, the `supersedes` relation), `sections`, `chunks`, the
  sqlite-vec `chunk_vectors` into pgvector (the HNSW index is built once the rows are in) and
  the embedding model and dimension. The sections' full-text vectors are not copied: the
  PostgreSQL store's `sections_fill_fts` trigger derives them from each inserted row;
* app.db: users, chats, messages and their previous versions, advice threads and their
  advice, API keys, the audit log, prompt versions and the active ones, model defaults, the
  response log and feedback, calibration versions, evaluation datasets, runs and rows, the
  prompt library's projects, use cases and prompts (the target's own default ones, stored by
  its migrations, make way for the source's), conversations' project drafts and versions;
* tables.db: every user table, created in the tables schema with the PostgreSQL column type
  of its loader type (as `TableLoader` creates it), readable by the SQL tool's role.

Not copied (per process or transient): jobs and their blobs, rate-limit buckets, staged
chunks of unfinished uploads, the web app's sign-in sessions (people sign in again), SQLite's
tombstones and FTS5/vec0 internals, and the chat search's vectors (the next searches make
them again).

Ids and order are kept: rows are read in SQLite rowid order and written with their ids; the
PostgreSQL-only `rowid` identity columns (GENERATED ALWAYS) are left out and so number the
rows in that same order; every sequence is moved past the copied ids (and past SQLite's
AUTOINCREMENT high-water mark, so ids are never reused). Booleans stored as 0/1 become
BOOLEAN; timestamps, dates and JSON go in as the text SQLite holds (the session time zone is
UTC, so a naive time is read as UTC, as the SQLite stores read it).

Safety: the sources are opened read-only, each inside one read transaction (a consistent
snapshot even while a server is using them). The target must be empty: the copy refuses a
database that holds any document, chat, user, key, audit entry, prompt, logged response,
calibration, evaluation or user table. Its schema migrations are applied first (each in its
own transaction, as `almanac db migrate` does: they only create empty tables); then every row
is written in ONE transaction, and the row counts are compared with the source before it
commits: a failure or a count that differs leaves the target without a single copied row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import psycopg
from pgvector.psycopg.vector import register_vector_info
from psycopg import sql
from psycopg.types import TypeInfo

from backend.stores.registry import postgres_migrations
from services.admin import prompt_library_store
from services.conversations import draft_chat_store, draft_store
from services.conversations import file_store as chat_file_store
from services.knowledge import pg_store
from services.knowledge.pg_retrieval import PgHybridRetriever
from services.knowledge.pg_store import PgKnowledgeStore
from services.knowledge.retrieval import SqliteHybridRetriever
from services.knowledge.store import SqliteKnowledgeStore
from services.postgres import PgDatabase, apply_migrations, redacted_url
from services.sqlite.connection import Connection as SqliteConnection
from services.sqlite.connection import connect
from services.tables.loader import PG_TYPES, READER_ROLE, TABLES_SCHEMA, user_table_names
from use_cases.shared.errors import AlmanacError, ConfigurationError, Conflict, InvalidRequest

if TYPE_CHECKING:
    from services.postgres.database import Connection

__all__ = [
    "APP_TABLES",
    "KNOWLEDGE_TABLES",
    "CopyReport",
    "SearchCheck",
    "copy_sqlite_to_postgres",
]

#: knowledge.db tables copied row for row, parents first.
KNOWLEDGE_TABLES = ("documents", "sections", "chunks")
#: app.db tables copied row for row, parents first (foreign keys hold at every step).
APP_TABLES = (
    "users",
    "chats",
    "messages",
    "message_versions",
    "api_keys",
    "audit_log",
    "prompt_versions",
    "active_prompts",
    "model_defaults",
    "response_log",
    "response_feedback",
    "confidence_phrase_versions",
    "confidence_calibrations",
    "eval_datasets",
    "eval_runs",
    "eval_run_rows",
    "advice_threads",
    "advice_entries",
    *prompt_library_store.TABLES,
    "cleaning_tasks",
    "cleaning_runs",
    "cleaning_results",
    *draft_store.TABLES,
    *draft_chat_store.TABLES,
    *chat_file_store.TABLES,
    "conversation_summaries",
)
#: Rows a migration of the target stores itself (the prompt library's default project, use
#: cases and built-in prompts): they do not make the target "not empty", and they make way
#: for the source's own copies of them (children first).
_SEEDED = prompt_library_store.SEEDED_ROWS
#: SQLite tables that are not data to move: per process, transient, or derived (the chat
#: search's vectors are made again by the next searches).
_NOT_DATA = re.compile(
    r"^(sqlite_.*|schema_migrations|meta|chunk_tombstones|section_tombstones|staged_sections"
    r"|staged_chunks|jobs|job_blobs"
    r"|web_sessions|conversation_search_vectors"
    r"|chunks_fts.*|sections_fts.*|chunk_vectors.*|_almanac_.*)$",
    re.IGNORECASE,
)
VECTOR_TABLE = "chunk_vectors"
#: Target columns triggers derive from the row (the sections' full-text vector and its length;
#: the BM25 statistics tables are kept by triggers too).
_DERIVED = {("sections", "fts"), ("sections", "fts_length")}
#: Rows per progress line.
PROGRESS_EVERY = 10_000

#: The search check passes when the top document agrees for at least this share of the
#: queries. Both sides rank differently by design (BM25 vs ts_rank_cd, exact vs HNSW), so
#: the lower ranks may differ; the document a query came from should still come first.
MIN_TOP1_AGREEMENT = 0.8

Progress = Callable[[str, int], None]


@dataclass
class TableCount:
    table: str
    source: int
    target: int

    @property
    def equal(self) -> bool:
        return self.source == self.target


@dataclass
class SearchCheck:
    queries: int = 0
    top1_agreement: float = 1.0
    mean_overlap_at_5: float = 1.0
    passed: bool = True
    note: str = ""
    samples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CopyReport:
    source: str
    target: str
    migrations_applied: list[str]
    counts: list[TableCount]
    search: SearchCheck
    not_copied: list[str]

    @property
    def ok(self) -> bool:
        return all(c.equal for c in self.counts) and self.search.passed

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "source": self.source,
            "target": self.target,
            "migrations_applied": self.migrations_applied,
            "counts": [
                {"table": c.table, "source": c.source, "target": c.target, "equal": c.equal}
                for c in self.counts
            ],
            "search": {
                "queries": self.search.queries,
                "top1_agreement": self.search.top1_agreement,
                "mean_overlap_at_5": self.search.mean_overlap_at_5,
                "required_top1_agreement": MIN_TOP1_AGREEMENT,
                "passed": self.search.passed,
                "note": self.search.note,
                "samples": self.search.samples,
            },
            "not_copied": self.not_copied,
        }


class CopyFailed(AlmanacError):
    """The copy stopped; the target holds none of the rows (the transaction rolled back)."""

    type = "copy_failed"


# -- the source ----------------------------------------------------------------------------------


@dataclass
class _Source:
    directory: Path
    knowledge: SqliteConnection
    app: SqliteConnection
    tables: SqliteConnection | None


@contextmanager
def _open_source(directory: Path) -> Iterator[_Source]:
    """The three files, read-only, each inside one read transaction (one snapshot)."""
    knowledge_path, app_path = directory / "knowledge.db", directory / "app.db"
    for path in (knowledge_path, app_path):
        if not path.exists():
            raise ConfigurationError(
                f"{path} does not exist: --from must name the directory of an Almanac "
                "installation (its knowledge.db and app.db)."
            )
    tables_path = directory / "tables.db"
    with ExitStack() as stack:
        conns: list[SqliteConnection] = []
        for path in (knowledge_path, app_path, tables_path):
            if not path.exists():
                continue
            conn = connect(path, readonly=True)
            stack.callback(conn.close)
            conn.execute("BEGIN")
            conns.append(conn)
        yield _Source(directory, conns[0], conns[1], conns[2] if len(conns) > 2 else None)


def _sqlite_tables(conn: SqliteConnection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
    return [row[0] for row in rows]


def _sqlite_columns(conn: SqliteConnection, table: str) -> list[tuple[str, str]]:
    """(name, declared type) of each column, in order."""
    rows = conn.execute("SELECT name, type FROM pragma_table_info(?) ORDER BY cid", (table,))
    return [(row[0], str(row[1] or "").upper()) for row in rows]


def _sqlite_count(conn: SqliteConnection, table: str) -> int:
    (n,) = conn.execute(f"SELECT count(*) FROM {_quote(table)}").fetchone()
    return int(n)


def _autoincrement_floor(conn: SqliteConnection, table: str) -> int:
    """The highest id SQLite ever gave in `table` (0 when it keeps none): its AUTOINCREMENT
    high-water mark, or for documents the knowledge base's own counter (`last_document_id`,
    ids of deleted documents included)."""
    floor = 0
    if _has_table(conn, "sqlite_sequence"):
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
        floor = int(row[0]) if row else 0
    if table == "documents" and _has_table(conn, "meta"):
        row = conn.execute("SELECT value FROM meta WHERE key = 'last_document_id'").fetchone()
        floor = max(floor, int(row[0])) if row else floor
    return floor


def _has_table(conn: SqliteConnection, name: str) -> bool:
    found = conn.execute(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return found is not None


def _quote(name: str) -> str:
    """An SQLite identifier (the names come from the file's own catalogue)."""
    return '"' + name.replace('"', '""') + '"'


# -- the target ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PgColumn:
    name: str
    type: str  # pg_type.typname: bool, jsonb, timestamptz, vector, ...
    identity: str  # '' | 'a' (ALWAYS) | 'd' (BY DEFAULT)
    has_default: bool


def _pg_columns(conn: Connection, qualified: str) -> list[_PgColumn]:
    rows = conn.execute(
        "SELECT a.attname AS name, t.typname AS type, a.attidentity AS identity, "
        "a.atthasdef AS has_default FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum",
        (qualified,),
    ).fetchall()
    return [
        _PgColumn(r["name"], r["type"], str(r["identity"] or ""), bool(r["has_default"]))
        for r in rows
    ]


def _holding_data(conn: Connection) -> list[str]:
    """The target's tables (of those the copy writes) that already hold a row."""
    full: list[str] = []
    for table in (*KNOWLEDGE_TABLES, *APP_TABLES):
        exists = conn.execute("SELECT to_regclass(%s) AS t", (table,)).fetchone()
        if exists and exists["t"] is not None:
            seeded = _SEEDED.get(table, ())
            row = conn.execute(
                sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE NOT id = ANY(%s)) AS full").format(
                    sql.Identifier(table)
                )
                if seeded
                else sql.SQL("SELECT EXISTS (SELECT 1 FROM {}) AS full").format(
                    sql.Identifier(table)
                ),
                (list(seeded),) if seeded else None,
            ).fetchone()
            if row and row["full"]:
                full.append(table)
    user_tables = conn.execute(
        "SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND c.relname NOT LIKE '\\_almanac\\_%%' "
        "ORDER BY c.relname",
        (TABLES_SCHEMA,),
    ).fetchall()
    full.extend(f"{TABLES_SCHEMA}.{r['name']}" for r in user_tables)
    return full


def _refuse_if_not_empty(conn: Connection, target: str) -> None:
    full = _holding_data(conn)
    if full:
        raise Conflict(
            f"The target {target} already holds data ({', '.join(full)}); nothing was "
            "written. `almanac db copy` only fills an empty database: copy into a new one "
            "(CREATE DATABASE ...; CREATE EXTENSION vector;)."
        )


def _reset_sequences(conn: Connection, table: str, columns: list[str], floor: int) -> None:
    """Move each sequence of `table`'s copied columns past the largest copied id (and past
    SQLite's AUTOINCREMENT mark `floor`), so the next insert gets a fresh id."""
    for column in columns:
        row = conn.execute(
            "SELECT pg_get_serial_sequence(%s, %s) AS seq", (table, column)
        ).fetchone()
        if not row or not row["seq"]:
            continue
        top = conn.execute(
            sql.SQL("SELECT max({}) AS top FROM {}").format(
                sql.Identifier(column), sql.Identifier(table)
            )
        ).fetchone()
        highest = max(int(top["top"]) if top and top["top"] is not None else 0, floor)
        if highest > 0:
            conn.execute("SELECT setval(%s, %s, true)", (row["seq"], highest))


# -- copying -------------------------------------------------------------------------------------


def _converter(pg_type: str) -> Callable[[Any], Any]:
    if pg_type == "bool":
        return lambda v: None if v is None else bool(v)
    return lambda v: v  # numbers, text; JSON, dates and times as the text SQLite holds


def _copy_table(
    sqlite: SqliteConnection,
    conn: Connection,
    table: str,
    progress: Progress,
) -> int:
    """Copy `table` row for row (rowid order); returns the rows written."""
    source_columns = [name for name, _ in _sqlite_columns(sqlite, table)]
    if not source_columns:
        return 0  # this store never opened this file: nothing to copy
    target_columns = _pg_columns(conn, table)
    if not target_columns:
        raise ConfigurationError(f"The target has no table {table}: its migrations did not run.")
    by_name = {c.name: c for c in target_columns}
    lost = [c for c in source_columns if c not in by_name]
    if lost:
        raise ConfigurationError(
            f"The PostgreSQL table {table} has no column {', '.join(lost)}: this Almanac "
            "does not know that installation's schema (is the installation newer?)."
        )
    missing = [
        c.name
        for c in target_columns
        if c.name not in source_columns
        and c.identity != "a"
        and not c.has_default
        and (table, c.name) not in _DERIVED
    ]
    if missing:
        raise ConfigurationError(
            f"The SQLite table {table} has no column {', '.join(missing)}: the installation "
            "is older than this Almanac. Start it once with this version (or run `almanac db "
            "migrate` with DATABASE_URL=sqlite:///DIR) to migrate it, then copy."
        )
    columns = [c.name for c in target_columns if c.name in source_columns]
    converters = [_converter(by_name[c].type) for c in columns]
    select = f"SELECT {', '.join(_quote(c) for c in columns)} FROM {_quote(table)} ORDER BY rowid"
    copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    written = 0
    with conn.cursor().copy(copy) as pipe:
        for row in sqlite.execute(select):
            pipe.write_row([convert(v) for convert, v in zip(converters, row, strict=True)])
            written += 1
            if written % PROGRESS_EVERY == 0:
                progress(table, written)
    progress(table, written)
    _reset_sequences(conn, table, columns, _autoincrement_floor(sqlite, table))
    return written


def _copy_knowledge_meta(sqlite: SqliteConnection, conn: Connection) -> int | None:
    """The embedding model and dimension; returns the dimension (None: no vectors yet)."""
    meta = dict(
        sqlite.execute(
            "SELECT key, value FROM meta WHERE key IN ('embedding_model', 'embedding_dimension')"
        ).fetchall()
    )
    for key, value in sorted(meta.items()):
        conn.execute(
            "INSERT INTO knowledge_meta(key, value) VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, str(value)),
        )
    conn.execute(  # readers' caches keyed on the generation see a new knowledge base
        "UPDATE knowledge_meta SET value = (value::bigint + 1)::text WHERE key = 'generation'"
    )
    dimension = meta.get("embedding_dimension")
    return int(dimension) if dimension is not None else None


def _copy_vectors(
    sqlite: SqliteConnection, conn: Connection, dimension: int, progress: Progress
) -> int:
    """sqlite-vec's float32 vectors into pgvector; the HNSW index is built after the rows."""
    pg_store.create_vector_table(conn, dimension)
    has_table = sqlite.execute(
        "SELECT 1 FROM sqlite_schema WHERE name = ?", (VECTOR_TABLE,)
    ).fetchone()
    written = 0
    if has_table:
        register_vector_info(conn, TypeInfo.fetch(conn, "vector"))
        copy = sql.SQL("COPY {} (chunk_id, embedding, category) FROM STDIN").format(
            sql.Identifier(VECTOR_TABLE)
        )
        rows = sqlite.execute(
            f"SELECT chunk_id, embedding, category FROM {VECTOR_TABLE} ORDER BY chunk_id"
        )
        with conn.cursor().copy(copy) as pipe:
            for chunk_id, blob, category in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape[0] != dimension:
                    raise InvalidRequest(
                        f"Chunk {chunk_id}'s vector has {vector.shape[0]} dimensions; the "
                        f"knowledge base records {dimension}."
                    )
                pipe.write_row((int(chunk_id), vector, category or ""))
                written += 1
                if written % PROGRESS_EVERY == 0:
                    progress(VECTOR_TABLE, written)
    progress(VECTOR_TABLE, written)
    pg_store.create_vector_index(conn)
    return written


def _pg_table_rows(conn: Connection, schema: str, table: str) -> int:
    row = conn.execute(
        sql.SQL("SELECT count(*) AS n FROM {}.{}").format(
            sql.Identifier(schema), sql.Identifier(table)
        )
    ).fetchone()
    return int(row["n"]) if row else 0


def _to_datetime(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value).strip())
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _user_value(value: Any, loader_type: str) -> Any:
    if value is None:
        return None
    if loader_type == "DATE":
        return date.fromisoformat(str(value).strip())
    if loader_type == "DATETIME":
        return _to_datetime(value)
    return value


def _copy_user_tables(
    sqlite: SqliteConnection, conn: Connection, progress: Progress
) -> list[TableCount]:
    """Each user table into TABLES_SCHEMA with its loader types as PostgreSQL types, its
    original headers in `_almanac_columns`, and SELECT granted to the SQL tool's role."""
    counts: list[TableCount] = []
    has_meta = sqlite.execute(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = '_almanac_columns'"
    ).fetchone()
    meta_table = sql.SQL("{}.{}").format(
        sql.Identifier(TABLES_SCHEMA), sql.Identifier("_almanac_columns")
    )
    for name in user_table_names(sqlite):
        table = name.lower()
        columns = _sqlite_columns(sqlite, name)
        types = [t if t in PG_TYPES else "TEXT" for _, t in columns]
        headers = {c: c for c, _ in columns}
        if has_meta:
            headers.update(
                sqlite.execute(
                    "SELECT name, source_name FROM _almanac_columns WHERE table_name = ?",
                    (table,),
                ).fetchall()
            )
        qualified = sql.SQL("{}.{}").format(sql.Identifier(TABLES_SCHEMA), sql.Identifier(table))
        definition = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(PG_TYPES[t]))
            for (c, _), t in zip(columns, types, strict=True)
        )
        conn.execute(sql.SQL("CREATE TABLE {} ({})").format(qualified, definition))
        select = (
            f"SELECT {', '.join(_quote(c) for c, _ in columns)} FROM {_quote(name)} ORDER BY rowid"
        )
        written = 0
        label = f"{TABLES_SCHEMA}.{table}"
        with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(qualified)) as pipe:
            for row in sqlite.execute(select):
                pipe.write_row([_user_value(v, t) for v, t in zip(row, types, strict=True)])
                written += 1
                if written % PROGRESS_EVERY == 0:
                    progress(label, written)
        progress(label, written)
        conn.execute(
            sql.SQL("GRANT SELECT ON {} TO {}").format(qualified, sql.Identifier(READER_ROLE))
        )
        conn.cursor().executemany(
            sql.SQL(
                "INSERT INTO {} (table_name, position, name, source_name, type) "
                "VALUES (%s, %s, %s, %s, %s)"
            ).format(meta_table),
            [
                (table, position, column, headers.get(column, column), loader_type)
                for position, ((column, _), loader_type) in enumerate(
                    zip(columns, types, strict=True)
                )
            ],
        )
        counts.append(
            TableCount(
                label, _sqlite_count(sqlite, name), _pg_table_rows(conn, TABLES_SCHEMA, table)
            )
        )
    return counts


def _not_copied(source: _Source) -> list[str]:
    """Source tables the copy does not know (a newer installation's, or foreign ones)."""
    known = {*KNOWLEDGE_TABLES, *APP_TABLES}
    left: list[str] = []
    for label, conn in (("knowledge.db", source.knowledge), ("app.db", source.app)):
        for table in _sqlite_tables(conn):
            if table not in known and not _NOT_DATA.match(table):
                left.append(f"{label}:{table}")
    return left


def _copy_all(source: _Source, conn: Connection, progress: Progress) -> list[TableCount]:
    conn.execute("SET LOCAL TIME ZONE 'UTC'")
    counts: list[TableCount] = []
    # Documents first, all in one COPY: a document may supersede one with a larger id, and a
    # foreign key is checked at the end of the statement, when every row is in.
    for table in KNOWLEDGE_TABLES:
        written = _copy_table(source.knowledge, conn, table, progress)
        counts.append(TableCount(table, _sqlite_count(source.knowledge, table), written))
    dimension = _copy_knowledge_meta(source.knowledge, conn)
    if dimension is not None:
        _copy_vectors(source.knowledge, conn, dimension, progress)
        has_vectors = source.knowledge.execute(
            "SELECT 1 FROM sqlite_schema WHERE name = ?", (VECTOR_TABLE,)
        ).fetchone()
        source_vectors = _sqlite_count(source.knowledge, VECTOR_TABLE) if has_vectors else 0
        counts.append(
            TableCount(VECTOR_TABLE, source_vectors, _pg_table_rows(conn, "public", VECTOR_TABLE))
        )
    for table in reversed(_SEEDED):
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(sql.Identifier(table)),
            (list(_SEEDED[table]),),
        )
    for table in APP_TABLES:
        if not _sqlite_columns(source.app, table):
            continue  # that store never opened this file
        _copy_table(source.app, conn, table, progress)
        counts.append(TableCount(table, _sqlite_count(source.app, table), 0))
    if source.tables is not None:
        counts.extend(_copy_user_tables(source.tables, conn, progress))
    # Count what the target holds now, in this transaction, before anything is committed.
    for count in counts:
        if "." not in count.table:
            count.target = _pg_table_rows(conn, "public", count.table)
    return counts


# -- the search check ----------------------------------------------------------------------------


def _first_sentence(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    match = re.search(r"(?<=[.!?])\s", line)
    sentence = line[: match.start()] if match else line
    return sentence[:limit]


def _sample_queries(conn: SqliteConnection, n: int) -> list[tuple[str, np.ndarray | None, int]]:
    """(query, query vector, its document) for `n` sections spread evenly over the ids: the
    query is the section's first sentence, the vector is its first chunk's stored vector (so
    the check needs no embedding model and compares the copied vectors themselves)."""
    ids = [int(r[0]) for r in conn.execute("SELECT id FROM sections ORDER BY id")]
    if not ids or n <= 0:
        return []
    step = max(1, len(ids) // n)
    picked = ids[::step][:n]
    has_vectors = conn.execute(
        "SELECT 1 FROM sqlite_schema WHERE name = ?", (VECTOR_TABLE,)
    ).fetchone()
    samples: list[tuple[str, np.ndarray | None, int]] = []
    for section_id in picked:
        text, document_id = conn.execute(
            "SELECT text, document_id FROM sections WHERE id = ?", (section_id,)
        ).fetchone()
        vector: np.ndarray | None = None
        if has_vectors:
            row = conn.execute(
                f"SELECT v.embedding FROM chunks c JOIN {VECTOR_TABLE} v ON v.chunk_id = c.id "
                "WHERE c.section_id = ? ORDER BY c.ordinal LIMIT 1",
                (section_id,),
            ).fetchone()
            if row:
                vector = np.frombuffer(row[0], dtype=np.float32).copy()
        query = _first_sentence(text)
        if query:
            samples.append((query, vector, int(document_id)))
    return samples


def _documents(hits: list[Any]) -> list[int]:
    seen: list[int] = []
    for hit in hits:
        if hit.document_id not in seen:
            seen.append(hit.document_id)
    return seen


def _search_check(
    directory: Path, db: PgDatabase, queries: int, limits: dict[str, Any]
) -> SearchCheck:
    if queries <= 0:
        return SearchCheck(note="skipped (--queries 0)")
    sqlite_store = SqliteKnowledgeStore(directory / "knowledge.db", readonly=True)
    sqlite_search = SqliteHybridRetriever(sqlite_store, None, **limits)
    pg_search = PgHybridRetriever(PgKnowledgeStore(db), None, **limits)
    try:
        samples = _sample_queries(sqlite_store.connection(), queries)
        if not samples:
            return SearchCheck(note="no sections to search")
        agree, overlaps, rows = 0, [], []
        for query, vector, document_id in samples:
            left = _documents(sqlite_search.search_with_vector(query, vector, k=5))
            right = _documents(pg_search.search_with_vector(query, vector, k=5))
            same_top = bool(left) and bool(right) and left[0] == right[0]
            agree += same_top or (not left and not right)
            union = max(len(set(left)), len(set(right)))
            overlap = len(set(left) & set(right)) / union if union else 1.0
            overlaps.append(overlap)
            rows.append(
                {
                    "query": query,
                    "from_document": document_id,
                    "sqlite_top5": left,
                    "postgresql_top5": right,
                    "same_top1": same_top,
                    "overlap": round(overlap, 3),
                }
            )
        top1 = agree / len(samples)
        return SearchCheck(
            queries=len(samples),
            top1_agreement=round(top1, 3),
            mean_overlap_at_5=round(sum(overlaps) / len(overlaps), 3),
            passed=top1 >= MIN_TOP1_AGREEMENT,
            note="hybrid search with each section's first sentence and its first chunk's "
            "stored vector, on both databases",
            samples=rows,
        )
    finally:
        sqlite_search.close()
        sqlite_store.close()


# -- the command ---------------------------------------------------------------------------------


def copy_sqlite_to_postgres(
    directory: Path,
    target_url: str,
    *,
    queries: int = 20,
    retrieval: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> CopyReport:
    """Copy the installation in `directory` into the empty PostgreSQL database `target_url`
    (see the module docstring); `retrieval`: the retrievers' limits for the search check."""
    report_progress = progress or (lambda _table, _rows: None)
    target = redacted_url(target_url)
    db = PgDatabase(target_url, max_size=2)
    try:
        with _open_source(directory) as source:
            with db.connection() as conn:
                _refuse_if_not_empty(conn, target)
            applied = apply_migrations(db, postgres_migrations())
            try:
                with db.transaction() as conn:
                    _refuse_if_not_empty(conn, target)  # again, now inside the transaction
                    counts = _copy_all(source, conn, report_progress)
                    differ = [c for c in counts if not c.equal]
                    if differ:
                        raise CopyFailed(
                            "Row counts differ after the copy ("
                            + ", ".join(f"{c.table}: {c.source} vs {c.target}" for c in differ)
                            + "); the transaction was rolled back, nothing was written."
                        )
            except psycopg.Error as exc:
                message = exc.diag.message_primary or str(exc)
                where = f"; {' '.join(exc.diag.context.split())}" if exc.diag.context else ""
                raise CopyFailed(
                    f"The copy failed ({message}{where}); the transaction was rolled back: the "
                    "target holds none of the rows."
                ) from exc
            not_copied = _not_copied(source)
        search = _search_check(directory, db, queries, retrieval or {})
    finally:
        db.close()
    return CopyReport(
        source=str(directory),
        target=target,
        migrations_applied=applied,
        counts=counts,
        search=search,
        not_copied=not_copied,
    )
