"""The knowledge DB's schema, as named migrations (append-only: never edit a released one).

`knowledge_0001_base` lays out documents, sections, chunks, FTS5 and the tombstones (see
services/knowledge/store.py). Later steps:

* `0003_document_trust`: what a document is and where it came from, recorded instead of
  inferred. `origin` is the absolute path of the file a document was ingested from (NULL for
  uploads; never shown to clients, it only lets a re-run of `almanac ingest` recognise its
  files); `raw_hash` is the SHA-256 of the bytes, for duplicate detection; `supersedes_key`
  is the `supersedes:` front-matter value as written and `supersedes_id` the document it
  resolved to (NULL until that document exists; a later ingest of it links it). Two
  staging tables hold the chunks of a large document while it is embedded batch by batch,
  so that it becomes visible in one short transaction at the end. The title index goes:
  versions are no longer matched by title.
* `0004_relative_sources`: stored sources become relative. Absolute file paths (what
  ingestion stored until now) move to `origin`, and `source` becomes the path relative to
  the deepest folder holding all of them (for the bundled sample, `policies/...`);
  `upload:NAME` becomes `NAME` where that is free.
* `0005_section_fts`: a second FTS5 index, `sections_fts`, over (title, heading, text) of
  every *section* (same tokenizer), so the BM25 leg can score a section's whole text rather
  than its best chunk (SciFact train, hybrid nDCG@10 0.736 -> see docs/notes/benchmarks.md). Rows
  are written by `document_writes.commit_staged` and removed by a trigger when a section is
  deleted (directly or by cascade from its document); existing sections are backfilled.
* `0006_document_id_counter`: document ids are never reused (see below).
* `0007_section_tombstones`: the section delete trigger also records the section's id and
  the deleting generation in `section_tombstones`, so the resident BM25 index drops deleted
  sections without reloading (pruned with the chunk tombstones).
* `0008_collections`: named collections, their grants (a user or a group) and each document's
  collection (`collection_id`, NULL: the default collection every user reads, so every
  document stored before it stays readable as it was; use_cases/knowledge/scope.py). A
  collection that still holds documents cannot be deleted (`RESTRICT`).
* `0009_document_lines`: each document's distinct lines (`repeated_lines.line_key`), so that
  the lines many documents repeat word for word (a footer, a navigation bar) are known as
  boilerplate (services/knowledge/repeated_lines.py). They go with their document (cascade);
  the lines of the documents stored before are filled in from their sections.
"""

from __future__ import annotations

import posixpath

from services.knowledge.repeated_lines import document_lines
from services.sqlite.connection import Connection
from services.sqlite.migrations import Migration

__all__ = [
    "FTS_TABLE",
    "FTS_TOKENIZER",
    "FTS_VOCAB_TABLE",
    "MIGRATIONS",
    "SECTION_FTS_TABLE",
    "SECTION_FTS_VOCAB_TABLE",
    "VECTOR_TABLE",
]

FTS_TABLE = "chunks_fts"
FTS_VOCAB_TABLE = "chunks_fts_vocab"
VECTOR_TABLE = "chunk_vectors"
SECTION_FTS_TABLE = "sections_fts"
SECTION_FTS_VOCAB_TABLE = "sections_fts_vocab"
#: Shared with the retriever's scratch tables so query terms are tokenised exactly alike.
FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"

_BASE = f"""
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

_DOCUMENT_TRUST = """
ALTER TABLE documents ADD COLUMN origin TEXT;
ALTER TABLE documents ADD COLUMN raw_hash TEXT;
ALTER TABLE documents ADD COLUMN supersedes_key TEXT;
ALTER TABLE documents ADD COLUMN supersedes_id INTEGER
    REFERENCES documents(id) ON DELETE SET NULL;
CREATE INDEX documents_origin ON documents(origin);
CREATE INDEX documents_raw_hash ON documents(raw_hash);
CREATE INDEX documents_supersedes ON documents(supersedes_id);
CREATE INDEX documents_awaiting_version ON documents(supersedes_key)
    WHERE supersedes_key IS NOT NULL AND supersedes_id IS NULL;
DROP INDEX IF EXISTS documents_title;

CREATE TABLE staged_sections (
    stage_id     TEXT NOT NULL,
    ordinal      INTEGER NOT NULL,
    heading_path TEXT NOT NULL,
    heading      TEXT NOT NULL,
    text         TEXT NOT NULL,
    staged_at    TEXT NOT NULL,
    PRIMARY KEY (stage_id, ordinal)
);
CREATE TABLE staged_chunks (
    stage_id        TEXT NOT NULL,
    section_ordinal INTEGER NOT NULL,
    ordinal         INTEGER NOT NULL,
    text            TEXT NOT NULL,
    embedding       BLOB,
    staged_at       TEXT NOT NULL,
    PRIMARY KEY (stage_id, section_ordinal, ordinal)
);
"""

_SECTION_FTS = f"""
CREATE VIRTUAL TABLE {SECTION_FTS_TABLE} USING fts5(
    title, heading, text,
    tokenize = '{FTS_TOKENIZER}',
    content = '', contentless_delete = 1
);
CREATE VIRTUAL TABLE {SECTION_FTS_VOCAB_TABLE} USING fts5vocab({SECTION_FTS_TABLE}, 'row');

CREATE TRIGGER sections_after_delete AFTER DELETE ON sections BEGIN
    DELETE FROM {SECTION_FTS_TABLE} WHERE rowid = old.id;
END;

INSERT INTO {SECTION_FTS_TABLE} (rowid, title, heading, text)
    SELECT s.id, d.title,
        coalesce((SELECT group_concat(j.value, ' > ') FROM json_each(s.heading_path) j
                  WHERE j.value <> ''), ''),
        s.text
    FROM sections s JOIN documents d ON d.id = s.document_id ORDER BY s.id;
"""


def _relative_sources(conn: Connection) -> None:
    rows = conn.execute("SELECT id, source FROM documents").fetchall()
    absolute = [(int(i), s) for i, s in rows if _is_absolute(s)]
    if absolute:
        root = _common_folder([s for _, s in absolute])
        for document_id, source in absolute:
            relative = posixpath.relpath(source.replace("\\", "/"), root) if root else source
            if relative in (".", "") or relative.startswith(".."):
                relative = posixpath.basename(source.replace("\\", "/"))
            conn.execute(
                "UPDATE documents SET origin = source, source = ? WHERE id = ?",
                (relative, document_id),
            )
    for document_id, source in rows:
        if isinstance(source, str) and source.startswith("upload:"):
            name = source.removeprefix("upload:")
            taken = conn.execute("SELECT 1 FROM documents WHERE source = ?", (name,)).fetchone()
            if name and not taken:
                conn.execute("UPDATE documents SET source = ? WHERE id = ?", (name, document_id))


def _is_absolute(source: object) -> bool:
    if not isinstance(source, str):
        return False
    return source.startswith("/") or (len(source) > 2 and source[1] == ":" and source[2] in "/\\")


def _common_folder(paths: list[str]) -> str:
    """The deepest folder holding every path (the folder of the file when there is one)."""
    folders = [posixpath.dirname(p.replace("\\", "/")) for p in paths]
    return posixpath.commonpath(folders) if folders else ""


#: Document ids are never reused (a citation or an audit entry naming id 51 must not come to
#: mean another document): `meta.last_document_id` is the highest id ever given, kept by a
#: trigger whatever inserts the row, and a new document takes the next one
#: (`document_writes.next_document_id`). A rowid alone would give a deleted highest id again;
#: `AUTOINCREMENT` would mean rebuilding `documents` under its foreign keys.
_DOCUMENT_ID_COUNTER = """
INSERT INTO meta(key, value) SELECT 'last_document_id', coalesce(max(id), 0) FROM documents;
CREATE TRIGGER documents_last_id AFTER INSERT ON documents BEGIN
    UPDATE meta SET value = max(CAST(value AS INTEGER), NEW.id) WHERE key = 'last_document_id';
END;
"""

#: Deleted sections and the generation that deleted them, as `chunk_tombstones` does for chunks:
#: the resident BM25 index (services/knowledge/resident_bm25.py) drops them without a reload.
_SECTION_TOMBSTONES = f"""
CREATE TABLE section_tombstones (
    section_id INTEGER PRIMARY KEY,
    generation INTEGER NOT NULL
);
CREATE INDEX section_tombstones_generation ON section_tombstones(generation);

DROP TRIGGER sections_after_delete;
CREATE TRIGGER sections_after_delete AFTER DELETE ON sections BEGIN
    DELETE FROM {SECTION_FTS_TABLE} WHERE rowid = old.id;
    INSERT OR REPLACE INTO section_tombstones(section_id, generation)
        VALUES (old.id, (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'generation'));
END;
"""

_COLLECTIONS = """
CREATE TABLE collections (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);
CREATE TABLE collection_grants (
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('user', 'group')),
    principal     TEXT NOT NULL,
    granted_at    TEXT NOT NULL,
    PRIMARY KEY (collection_id, kind, principal)
);
CREATE INDEX collection_grants_principal ON collection_grants(kind, principal);
CREATE TABLE user_groups (
    user_id    TEXT NOT NULL,
    group_name TEXT NOT NULL,
    PRIMARY KEY (user_id, group_name)
);
CREATE INDEX user_groups_group ON user_groups(group_name);
ALTER TABLE documents ADD COLUMN collection_id INTEGER
    REFERENCES collections(id) ON DELETE RESTRICT;
CREATE INDEX documents_collection ON documents(collection_id);
"""

_DOCUMENT_LINES = """
CREATE TABLE document_lines (
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    line        TEXT NOT NULL,
    PRIMARY KEY (document_id, line)
);
CREATE INDEX document_lines_line ON document_lines(line);
"""


def _fill_document_lines(conn: Connection) -> None:
    """The lines of the documents stored before `document_lines` existed."""
    ids = [int(row[0]) for row in conn.execute("SELECT id FROM documents").fetchall()]
    for document_id in ids:
        texts = conn.execute("SELECT text FROM sections WHERE document_id = ?", (document_id,))
        lines = document_lines(str(text) for (text,) in texts.fetchall())
        conn.executemany(
            "INSERT INTO document_lines (document_id, line) VALUES (?, ?)",
            [(document_id, line) for line in sorted(lines)],
        )


MIGRATIONS: tuple[Migration, ...] = (
    Migration("knowledge_0001_base", _BASE),
    # Retrieval looked up other versions of a hit's document by exact title (until 0003).
    Migration(
        "knowledge_0002_documents_by_title", "CREATE INDEX documents_title ON documents(title);"
    ),
    Migration("knowledge_0003_document_trust", _DOCUMENT_TRUST),
    Migration("knowledge_0004_relative_sources", function=_relative_sources),
    Migration("knowledge_0005_section_fts", _SECTION_FTS),
    Migration("knowledge_0006_document_id_counter", _DOCUMENT_ID_COUNTER),
    Migration("knowledge_0007_section_tombstones", _SECTION_TOMBSTONES),
    Migration("knowledge_0008_collections", _COLLECTIONS),
    Migration("knowledge_0009_document_lines", _DOCUMENT_LINES, _fill_document_lines),
)
