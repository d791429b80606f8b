"""How a document is written to the knowledge DB: staged, then committed in one transaction.

Rules:
- A document's sections and chunks (with their vectors) are first written to the staging
  tables under a random stage id. Small documents are staged and committed in the same
  transaction; a large one is staged batch by batch as it is embedded (each batch its own
  short transaction, so memory stays bounded and the write lock is never held while
  embedding), and is invisible until the commit.
- The commit is one transaction that copies the staged rows into `sections`, `chunks`, FTS5
  and `vec0` with set-based statements (chunk ids are allocated then, so they keep growing
  with the generation counter the resident vector index relies on), records the document
  row, and deletes the staged rows. A crash before it leaves the knowledge base as it was;
  the orphaned staged rows are removed when a store next opens: at once when the stage id
  names a process that is dead (services/presence.py `owned_id`), else after `STALE_STAGING`
  without activity (`stale_stages`).
- Replacing is explicit: `replace_id` names the document whose content is replaced (its id
  is kept). Without it a new document is inserted, and a source that is already taken is a
  `DocumentExists` conflict, never a silent replacement.
- Versions are an explicit relation: `supersedes` (a source, a unique `/`-suffix of one, or
  an id) is recorded as written and resolved to `supersedes_id` when that document exists;
  documents that named this one before it existed are linked when it arrives. A document
  cannot supersede itself, and a chain that loops back is refused.

The same functions write both databases through a `dialect.Session` (`?` placeholders,
values converted by `put_*`). What the dialects make different is branched on
`session.dialect` where it happens, and only there:
- full-text rows: SQLite's FTS5 tables (`chunks_fts`, `sections_fts`) are written here with
  the chunks; PostgreSQL computes `sections.fts` in a trigger, so it has nothing to write;
- document ids: SQLite takes one more than any id ever given (`next_document_id`, since a
  rowid would reuse a deleted highest id); PostgreSQL's `BIGSERIAL` never reuses one, and its
  insert says `ON CONFLICT (source) DO NOTHING` instead of failing on a taken source;
- a taken source on replace: PostgreSQL runs the `UPDATE` in a savepoint, or the unique
  violation would abort the whole transaction before the conflict could be reported;
- "the source ends in `/key`": `substr(source, -n)` on SQLite, `right(source, n)` on
  PostgreSQL (whose `substr` does not count from the end);
- linking waiting documents: SQLite is told to use the partial index
  `documents_awaiting_version` (`INDEXED BY`); PostgreSQL's planner finds it by itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from services.knowledge.dialect import Session
from services.knowledge.repeated_lines import document_lines
from services.knowledge.schema import FTS_TABLE, SECTION_FTS_TABLE, VECTOR_TABLE
from use_cases.knowledge.domain import DocumentDraft, StagedChunk, Vectors
from use_cases.shared.errors import DocumentExists, InvalidDocument, InvalidRequest, NotFound

#: vec0 metadata columns cannot hold NULL; "no category" is stored as ''.
NO_CATEGORY = ""

_DOCUMENT_FIELDS = (
    "source, title, category, updated_at, media_type, content_hash, size_bytes, metadata, "
    "ingested_at, origin, raw_hash, collection_id"
)


def now() -> datetime:
    """The time staged and ingested rows are stamped with (to the second)."""
    return datetime.now(UTC).replace(microsecond=0)


def draft_chunks(draft: DocumentDraft) -> list[StagedChunk]:
    return [
        StagedChunk(section_ordinal, ordinal, text)
        for section_ordinal, section in enumerate(draft.sections)
        for ordinal, text in enumerate(section.chunks)
    ]


def stage_sections(s: Session, stage_id: str, draft: DocumentDraft) -> None:
    stamp = s.put_time(now())
    s.run_many(
        "INSERT INTO staged_sections (stage_id, ordinal, heading_path, heading, text, staged_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                stage_id,
                ordinal,
                s.put_json(list(section.heading_path)),
                " > ".join(part for part in section.heading_path if part),
                section.text,
                stamp,
            )
            for ordinal, section in enumerate(draft.sections)
        ],
    )


def stage_chunks(
    s: Session, stage_id: str, chunks: Sequence[StagedChunk], matrix: np.ndarray
) -> None:
    """Stage `chunks` with their vectors (`matrix` rows, already checked and normalised)."""
    stamp = s.put_time(now())
    s.run_many(
        "INSERT INTO staged_chunks (stage_id, section_ordinal, ordinal, text, embedding, "
        "staged_at) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (stage_id, chunk.section, chunk.ordinal, chunk.text, s.put_vector(matrix[i]), stamp)
            for i, chunk in enumerate(chunks)
        ],
    )


#: Every stage with a row (sections or chunks).
STAGE_IDS = "SELECT stage_id FROM staged_sections UNION SELECT stage_id FROM staged_chunks"


def discard_staged(s: Session, stage_id: str) -> None:
    s.run("DELETE FROM staged_chunks WHERE stage_id = ?", (stage_id,))
    s.run("DELETE FROM staged_sections WHERE stage_id = ?", (stage_id,))


def stale_stages(s: Session, cutoff: datetime) -> list[str]:
    """The stages with no activity since `cutoff`."""
    return [
        row[0]
        for row in s.rows(
            "SELECT stage_id FROM (SELECT stage_id, staged_at FROM staged_sections "
            "UNION ALL SELECT stage_id, staged_at FROM staged_chunks) AS staged "
            "GROUP BY stage_id HAVING max(staged_at) < ?",
            (s.put_time(cutoff),),
        )
    ]


def commit_staged(s: Session, stage_id: str, draft: DocumentDraft, replace_id: int | None) -> int:
    """Make the staged document visible (inside the caller's transaction); returns its id."""
    counts = s.one(
        "SELECT count(*), count(embedding) FROM staged_chunks WHERE stage_id = ?", (stage_id,)
    )
    assert counts is not None
    staged, embedded = int(counts[0]), int(counts[1])
    expected = draft.chunk_count
    if staged != expected or embedded != staged:
        raise InvalidRequest(
            f"{staged} chunks ({embedded} with vectors) were staged for a document of "
            f"{expected}; nothing was written."
        )
    document_id = _write_document_row(s, draft, replace_id)
    s.run(  # on PostgreSQL, `fts` is filled by the sections_fill_fts trigger
        "INSERT INTO sections (document_id, ordinal, heading_path, text) "
        "SELECT ?, ordinal, heading_path, text FROM staged_sections WHERE stage_id = ? "
        "ORDER BY ordinal",
        (document_id, stage_id),
    )
    s.run(
        "INSERT INTO chunks (document_id, section_id, ordinal, text) "
        "SELECT ?, s.id, c.ordinal, c.text FROM staged_chunks c "
        "JOIN sections s ON s.document_id = ? AND s.ordinal = c.section_ordinal "
        "WHERE c.stage_id = ? ORDER BY c.section_ordinal, c.ordinal",
        (document_id, document_id, stage_id),
    )
    if s.dialect == "sqlite":  # FTS5 rows; PostgreSQL's come from the trigger above
        s.run(
            f"INSERT INTO {FTS_TABLE} (rowid, title, heading, text) "
            "SELECT ch.id, ?, ss.heading, ch.text FROM chunks ch "
            "JOIN sections s ON s.id = ch.section_id "
            "JOIN staged_sections ss ON ss.stage_id = ? AND ss.ordinal = s.ordinal "
            "WHERE ch.document_id = ? ORDER BY ch.id",
            (draft.title, stage_id, document_id),
        )
        s.run(
            f"INSERT INTO {SECTION_FTS_TABLE} (rowid, title, heading, text) "
            "SELECT s.id, ?, ss.heading, s.text FROM sections s "
            "JOIN staged_sections ss ON ss.stage_id = ? AND ss.ordinal = s.ordinal "
            "WHERE s.document_id = ? ORDER BY s.id",
            (draft.title, stage_id, document_id),
        )
    if staged:
        s.run(
            f"INSERT INTO {VECTOR_TABLE} (chunk_id, embedding, category) "
            "SELECT ch.id, c.embedding, ? FROM chunks ch "
            "JOIN sections s ON s.id = ch.section_id "
            "JOIN staged_chunks c ON c.stage_id = ? AND c.section_ordinal = s.ordinal "
            "AND c.ordinal = ch.ordinal WHERE ch.document_id = ? ORDER BY ch.id",
            (
                draft.category if draft.category is not None else NO_CATEGORY,
                stage_id,
                document_id,
            ),
        )
    _write_lines(s, document_id, draft)
    discard_staged(s, stage_id)
    link_versions(s, document_id, draft.supersedes)
    return document_id


def _write_lines(s: Session, document_id: int, draft: DocumentDraft) -> None:
    """Record the document's distinct lines (`repeated_lines`), replacing a replaced
    document's."""
    s.run("DELETE FROM document_lines WHERE document_id = ?", (document_id,))
    lines = document_lines(section.text for section in draft.sections)
    if lines:
        s.run_many(
            "INSERT INTO document_lines (document_id, line) VALUES (?, ?)",
            [(document_id, line) for line in sorted(lines)],
        )


def _write_document_row(s: Session, draft: DocumentDraft, replace_id: int | None) -> int:
    values = (
        draft.source,
        draft.title,
        draft.category,
        s.put_date(draft.updated_at),
        draft.media_type,
        draft.content_hash,
        draft.size_bytes,
        s.put_json(draft.metadata),
        s.put_time(now()),
        draft.origin,
        draft.raw_hash,
        draft.collection_id,
    )
    if replace_id is None:
        if s.dialect == "postgresql":  # BIGSERIAL never gives an id twice
            row = s.one(
                f"INSERT INTO documents ({_DOCUMENT_FIELDS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (source) DO NOTHING RETURNING id",
                values,
            )
            if row is None:
                raise _taken(s, draft.source)
            return int(row[0])
        document_id = next_document_id(s)
        try:
            s.run(
                f"INSERT INTO documents (id, {_DOCUMENT_FIELDS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (document_id, *values),
            )
        except s.unique_violation:
            raise _taken(s, draft.source) from None
        return document_id
    if s.one("SELECT 1 FROM documents WHERE id = ?", (replace_id,)) is None:
        raise NotFound(f"No document with id {replace_id}.")
    # Cascades to chunks; their FTS rows and vectors go with them (triggers, foreign keys).
    s.run("DELETE FROM sections WHERE document_id = ?", (replace_id,))
    try:
        with s.savepoint():  # PostgreSQL: the conflict below must not abort the rest
            s.run(
                "UPDATE documents SET source = ?, title = ?, category = ?, updated_at = ?, "
                "media_type = ?, content_hash = ?, size_bytes = ?, metadata = ?, "
                "ingested_at = ?, origin = ?, raw_hash = ?, collection_id = ? WHERE id = ?",
                (*values, replace_id),
            )
    except s.unique_violation:
        raise _taken(s, draft.source) from None
    return replace_id


def _taken(s: Session, source: str) -> DocumentExists:
    row = s.one("SELECT id FROM documents WHERE source = ?", (source,))
    taken_by = int(row[0]) if row else 0
    return DocumentExists(
        f"A document with source '{source}' already exists (id {taken_by}).", taken_by
    )


def next_document_id(s: Session) -> int:
    """SQLite: one more than any id ever given, deleted ones included (schema:
    `last_document_id`)."""
    row = s.one(
        "SELECT max((SELECT coalesce(max(id), 0) FROM documents), "
        "coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'last_document_id'), 0))"
    )
    assert row is not None
    return int(row[0]) + 1


def _ends_with_key(s: Session, text: str, key: str) -> str:
    """SQL: `text` (an expression) ends in '/' followed by `key` (an expression)."""
    if s.dialect == "sqlite":
        return f"substr({text}, -(length({key}) + 1)) = '/' || {key}"
    return f"right({text}, length({key}) + 1) = '/' || {key}"


def resolve_key(s: Session, key: str) -> int | None:
    """The document a `supersedes:` key names: an id, a source, or the one source ending in
    `/key` (so `policies/a.md` finds `handbook/policies/a.md`)."""
    key = key.strip().removeprefix("./")
    if not key:
        return None
    if key.isdigit():
        row = s.one("SELECT id FROM documents WHERE id = ?", (int(key),))
        return int(row[0]) if row else None
    row = s.one("SELECT id FROM documents WHERE source = ?", (key,))
    if row:
        return int(row[0])
    rows = s.rows(
        f"SELECT id FROM documents WHERE {_ends_with_key(s, 'source', '?')} LIMIT 2", (key, key)
    )
    return int(rows[0][0]) if len(rows) == 1 else None


def link_versions(s: Session, document_id: int, supersedes: str | None) -> None:
    """Record what `document_id` supersedes, and link documents that were waiting for it."""
    target = resolve_key(s, supersedes) if supersedes else None
    if target == document_id:
        raise InvalidDocument(f"A document cannot supersede itself (supersedes: {supersedes}).")
    s.run(
        "UPDATE documents SET supersedes_key = ?, supersedes_id = ? WHERE id = ?",
        (supersedes, target, document_id),
    )
    row = s.one("SELECT source FROM documents WHERE id = ?", (document_id,))
    assert row is not None
    (source,) = row
    # Only documents whose key is still unresolved (a partial index holds just those).
    index = " INDEXED BY documents_awaiting_version" if s.dialect == "sqlite" else ""
    linked = s.run(
        f"UPDATE documents{index} SET supersedes_id = ? "
        "WHERE supersedes_key IS NOT NULL AND supersedes_id IS NULL AND id != ? "
        f"AND (supersedes_key = ? OR {_ends_with_key(s, '?', 'supersedes_key')})",
        (document_id, document_id, source, source),
    )
    if target is None and not linked:
        return  # no new edge: no new loop
    looped = s.one(
        "WITH RECURSIVE chain(id, depth) AS ("
        " SELECT supersedes_id, 1 FROM documents WHERE id = ?"
        " UNION ALL SELECT d.supersedes_id, chain.depth + 1 FROM documents d"
        " JOIN chain ON d.id = chain.id WHERE chain.depth < 10000)"
        " SELECT 1 FROM chain WHERE id = ? LIMIT 1",
        (document_id, document_id),
    )
    if looped:
        raise InvalidDocument(
            f"supersedes: {supersedes} would make a loop: that document already supersedes "
            "this one, directly or through other versions."
        )


def as_matrix(vectors: Vectors, expected_rows: int) -> np.ndarray:
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
