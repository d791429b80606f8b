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
  without activity (`discard_stale`).
- Replacing is explicit: `replace_id` names the document whose content is replaced (its id
  is kept). Without it a new document is inserted, and a source that is already taken is a
  `DocumentExists` conflict, never a silent replacement.
- Versions are an explicit relation: `supersedes` (a source, a unique `/`-suffix of one, or
  an id) is recorded as written and resolved to `supersedes_id` when that document exists;
  documents that named this one before it existed are linked when it arrives. A document
  cannot supersede itself, and a chain that loops back is refused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from services.knowledge.schema import FTS_TABLE, SECTION_FTS_TABLE, VECTOR_TABLE
from services.sqlite.connection import Connection, IntegrityError
from use_cases.knowledge.domain import DocumentDraft, StagedChunk, Vector
from use_cases.shared.errors import DocumentExists, InvalidDocument, InvalidRequest, NotFound

#: vec0 metadata columns cannot hold NULL; "no category" is stored as ''.
NO_CATEGORY = ""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def draft_chunks(draft: DocumentDraft) -> list[StagedChunk]:
    return [
        StagedChunk(section_ordinal, ordinal, text)
        for section_ordinal, section in enumerate(draft.sections)
        for ordinal, text in enumerate(section.chunks)
    ]


def stage_sections(conn: Connection, stage_id: str, draft: DocumentDraft) -> None:
    stamp = now_iso()
    conn.executemany(
        "INSERT INTO staged_sections (stage_id, ordinal, heading_path, heading, text, staged_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                stage_id,
                ordinal,
                json.dumps(list(section.heading_path), ensure_ascii=False),
                " > ".join(part for part in section.heading_path if part),
                section.text,
                stamp,
            )
            for ordinal, section in enumerate(draft.sections)
        ],
    )


def stage_chunks(
    conn: Connection, stage_id: str, chunks: Sequence[StagedChunk], matrix: np.ndarray
) -> None:
    """Stage `chunks` with their vectors (`matrix` rows, already checked and normalised)."""
    stamp = now_iso()
    conn.executemany(
        "INSERT INTO staged_chunks (stage_id, section_ordinal, ordinal, text, embedding, "
        "staged_at) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (stage_id, chunk.section, chunk.ordinal, chunk.text, matrix[i].tobytes(), stamp)
            for i, chunk in enumerate(chunks)
        ],
    )


def discard_staged(conn: Connection, stage_id: str) -> None:
    conn.execute("DELETE FROM staged_chunks WHERE stage_id = ?", (stage_id,))
    conn.execute("DELETE FROM staged_sections WHERE stage_id = ?", (stage_id,))


def discard_stale(conn: Connection, cutoff: str) -> int:
    """Remove staging rows of stages with no activity since `cutoff`; returns how many."""
    stale = [
        row[0]
        for row in conn.execute(
            "SELECT stage_id FROM (SELECT stage_id, staged_at FROM staged_sections "
            "UNION ALL SELECT stage_id, staged_at FROM staged_chunks) "
            "GROUP BY stage_id HAVING max(staged_at) < ?",
            (cutoff,),
        )
    ]
    for stage_id in stale:
        discard_staged(conn, stage_id)
    return len(stale)


def commit_staged(
    conn: Connection, stage_id: str, draft: DocumentDraft, replace_id: int | None
) -> int:
    """Make the staged document visible (inside the caller's transaction); returns its id."""
    staged, embedded = conn.execute(
        "SELECT count(*), count(embedding) FROM staged_chunks WHERE stage_id = ?", (stage_id,)
    ).fetchone()
    expected = draft.chunk_count
    if staged != expected or embedded != staged:
        raise InvalidRequest(
            f"{staged} chunks ({embedded} with vectors) were staged for a document of "
            f"{expected}; nothing was written."
        )
    document_id = _write_document_row(conn, draft, replace_id)
    conn.execute(
        "INSERT INTO sections (document_id, ordinal, heading_path, text) "
        "SELECT ?, ordinal, heading_path, text FROM staged_sections WHERE stage_id = ? "
        "ORDER BY ordinal",
        (document_id, stage_id),
    )
    conn.execute(
        "INSERT INTO chunks (document_id, section_id, ordinal, text) "
        "SELECT ?, s.id, c.ordinal, c.text FROM staged_chunks c "
        "JOIN sections s ON s.document_id = ? AND s.ordinal = c.section_ordinal "
        "WHERE c.stage_id = ? ORDER BY c.section_ordinal, c.ordinal",
        (document_id, document_id, stage_id),
    )
    conn.execute(
        f"INSERT INTO {FTS_TABLE} (rowid, title, heading, text) "
        "SELECT ch.id, ?, ss.heading, ch.text FROM chunks ch "
        "JOIN sections s ON s.id = ch.section_id "
        "JOIN staged_sections ss ON ss.stage_id = ? AND ss.ordinal = s.ordinal "
        "WHERE ch.document_id = ? ORDER BY ch.id",
        (draft.title, stage_id, document_id),
    )
    conn.execute(
        f"INSERT INTO {SECTION_FTS_TABLE} (rowid, title, heading, text) "
        "SELECT s.id, ?, ss.heading, s.text FROM sections s "
        "JOIN staged_sections ss ON ss.stage_id = ? AND ss.ordinal = s.ordinal "
        "WHERE s.document_id = ? ORDER BY s.id",
        (draft.title, stage_id, document_id),
    )
    if staged:
        conn.execute(
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
    discard_staged(conn, stage_id)
    link_versions(conn, document_id, draft.supersedes)
    return document_id


def _write_document_row(conn: Connection, draft: DocumentDraft, replace_id: int | None) -> int:
    values = (
        draft.source,
        draft.title,
        draft.category,
        draft.updated_at.isoformat() if draft.updated_at else None,
        draft.media_type,
        draft.content_hash,
        draft.size_bytes,
        json.dumps(draft.metadata, ensure_ascii=False, sort_keys=True),
        now_iso(),
        draft.origin,
        draft.raw_hash,
    )
    try:
        if replace_id is None:
            document_id = next_document_id(conn)
            conn.execute(
                "INSERT INTO documents (id, source, title, category, updated_at, media_type, "
                "content_hash, size_bytes, metadata, ingested_at, origin, raw_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (document_id, *values),
            )
            return document_id
        if conn.execute("SELECT 1 FROM documents WHERE id = ?", (replace_id,)).fetchone() is None:
            raise NotFound(f"No document with id {replace_id}.")
        # Cascades to chunks; the triggers clear their FTS rows and vectors.
        conn.execute("DELETE FROM sections WHERE document_id = ?", (replace_id,))
        conn.execute(
            "UPDATE documents SET source = ?, title = ?, category = ?, updated_at = ?, "
            "media_type = ?, content_hash = ?, size_bytes = ?, metadata = ?, ingested_at = ?, "
            "origin = ?, raw_hash = ? WHERE id = ?",
            (*values, replace_id),
        )
        return replace_id
    except IntegrityError:
        row = conn.execute("SELECT id FROM documents WHERE source = ?", (draft.source,)).fetchone()
        taken_by = int(row[0]) if row else 0
        raise DocumentExists(
            f"A document with source '{draft.source}' already exists (id {taken_by}).", taken_by
        ) from None


def next_document_id(conn: Connection) -> int:
    """One more than any id ever given, deleted ones included (schema: `last_document_id`)."""
    row = conn.execute(
        "SELECT max((SELECT coalesce(max(id), 0) FROM documents), "
        "coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'last_document_id'), 0))"
    ).fetchone()
    return int(row[0]) + 1


def resolve_key(conn: Connection, key: str) -> int | None:
    """The document a `supersedes:` key names: an id, a source, or the one source ending in
    `/key` (so `policies/a.md` finds `handbook/policies/a.md`)."""
    key = key.strip().removeprefix("./")
    if not key:
        return None
    if key.isdigit():
        row = conn.execute("SELECT id FROM documents WHERE id = ?", (int(key),)).fetchone()
        return int(row[0]) if row else None
    row = conn.execute("SELECT id FROM documents WHERE source = ?", (key,)).fetchone()
    if row:
        return int(row[0])
    rows = conn.execute(
        "SELECT id FROM documents WHERE substr(source, -(length(?) + 1)) = '/' || ? LIMIT 2",
        (key, key),
    ).fetchall()
    return int(rows[0][0]) if len(rows) == 1 else None


def link_versions(conn: Connection, document_id: int, supersedes: str | None) -> None:
    """Record what `document_id` supersedes, and link documents that were waiting for it."""
    target = resolve_key(conn, supersedes) if supersedes else None
    if target == document_id:
        raise InvalidDocument(f"A document cannot supersede itself (supersedes: {supersedes}).")
    conn.execute(
        "UPDATE documents SET supersedes_key = ?, supersedes_id = ? WHERE id = ?",
        (supersedes, target, document_id),
    )
    (source,) = conn.execute("SELECT source FROM documents WHERE id = ?", (document_id,)).fetchone()
    # Only documents whose key is still unresolved (a partial index holds just those).
    linked = conn.execute(
        "UPDATE documents INDEXED BY documents_awaiting_version SET supersedes_id = ? "
        "WHERE supersedes_key IS NOT NULL "
        "AND supersedes_id IS NULL AND id != ? AND (supersedes_key = ? "
        "OR substr(?, -(length(supersedes_key) + 1)) = '/' || supersedes_key)",
        (document_id, document_id, source, source),
    ).rowcount
    if target is None and not linked:
        return  # no new edge: no new loop
    looped = conn.execute(
        "WITH RECURSIVE chain(id, depth) AS ("
        " SELECT supersedes_id, 1 FROM documents WHERE id = ?"
        " UNION ALL SELECT d.supersedes_id, chain.depth + 1 FROM documents d"
        " JOIN chain ON d.id = chain.id WHERE chain.depth < 10000)"
        " SELECT 1 FROM chain WHERE id = ? LIMIT 1",
        (document_id, document_id),
    ).fetchone()
    if looped:
        raise InvalidDocument(
            f"supersedes: {supersedes} would make a loop: that document already supersedes "
            "this one, directly or through other versions."
        )


def as_matrix(vectors: Sequence[Vector], expected_rows: int) -> np.ndarray:
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
