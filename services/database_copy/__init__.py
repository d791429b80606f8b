"""`almanac db copy`: move an SQLite installation into an empty PostgreSQL database.

What is copied, table to table (the PostgreSQL stores keep the SQLite column names):

* knowledge.db: `collections`, `documents` (metadata, the `supersedes` relation, the
  collection), `sections`, `chunks`, `collection_grants`, `user_groups`, the
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

The package, by concern: `sqlite_source` reads the three files, `postgres_target` inspects and
prepares the target, `rows` copies the rows, `search_check` compares searches on both sides,
`report` holds what the copy returns and `copy` runs the whole in order. The schema migrations
to apply are passed in by the caller (`backend/stores/registry.py` lists them).
"""

from services.database_copy.copy import copy_sqlite_to_postgres
from services.database_copy.report import (
    MIN_TOP1_AGREEMENT,
    CopyFailed,
    CopyReport,
    SearchCheck,
    TableCount,
)
from services.database_copy.rows import APP_TABLES, KNOWLEDGE_TABLES

__all__ = [
    "APP_TABLES",
    "KNOWLEDGE_TABLES",
    "MIN_TOP1_AGREEMENT",
    "CopyFailed",
    "CopyReport",
    "SearchCheck",
    "TableCount",
    "copy_sqlite_to_postgres",
]
