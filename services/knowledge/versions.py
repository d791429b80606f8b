"""Which version of a document is current: read from the recorded `supersedes` relation.

Rules (the only place they are decided; retrieval applies them, the answer composers and the
agent's prompt read the result from the hits):
- A document is superseded when another document's `supersedes:` names it (recorded at
  ingestion as `documents.supersedes_id`). Titles, file names and dates decide nothing: a
  newer document with the same title is just another document.
- `superseded_by` is the current version: the end of the chain of documents superseding
  each other (2022 <- 2023 <- 2025 gives 2025 for both older ones). When two documents
  supersede the same one, the one updated last (then the one stored last) continues it.
- `supersedes` lists the documents a document directly supersedes.
- `replaced_on` is the date of the newest document directly superseding it: the version was in
  force from its own `updated_at` until then (`in_force`, for questions about the past).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from services.sqlite.connection import Connection
from use_cases.knowledge.domain import DocumentRef

__all__ = ["Versions", "in_force", "versions_of"]

#: Longest chain of versions followed (a guard; loops are refused at ingestion).
MAX_CHAIN = 100


@dataclass(frozen=True)
class Versions:
    superseded_by: DocumentRef | None = None
    supersedes: tuple[DocumentRef, ...] = ()
    replaced_on: date | None = None

    @property
    def versioned(self) -> bool:
        """Whether the document is one of several recorded versions."""
        return self.superseded_by is not None or bool(self.supersedes)


def in_force(updated_at: date | None, versions: Versions, as_of: date) -> bool:
    """Whether a version was the one in force on `as_of`: issued by then and not yet replaced
    (an undated version counts as in force; so does any document with a single version)."""
    if not versions.versioned:
        return True
    if updated_at is not None and updated_at > as_of:
        return False
    return versions.superseded_by is None or (
        versions.replaced_on is not None and versions.replaced_on > as_of
    )


def versions_of(
    conn: Connection, document_ids: Collection[int], *, replaced_on: bool = False
) -> dict[int, Versions]:
    """The versions of each document in `document_ids` (every id gets an entry); with
    `replaced_on`, also the date each superseded one was replaced (a question about the past
    needs it; a search for the present does not, so it pays no extra query)."""
    ids = sorted(set(document_ids))
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    heads = _current_versions(conn, ids, marks)
    previous: dict[int, list[int]] = {}
    for document_id, older in conn.execute(
        f"SELECT id, supersedes_id FROM documents WHERE id IN ({marks}) "
        "AND supersedes_id IS NOT NULL",
        ids,
    ):
        previous.setdefault(int(document_id), []).append(int(older))
    refs = _refs(conn, set(heads.values()) | {p for ps in previous.values() for p in ps})
    replaced = (
        {
            int(older): date.fromisoformat(newest)
            for older, newest in conn.execute(
                f"SELECT supersedes_id, MAX(updated_at) FROM documents WHERE supersedes_id IN "
                f"({marks}) AND updated_at IS NOT NULL GROUP BY supersedes_id",
                ids,
            )
            if newest
        }
        if replaced_on
        else {}
    )
    return {
        document_id: Versions(
            superseded_by=refs.get(heads[document_id]) if document_id in heads else None,
            supersedes=tuple(refs[p] for p in previous.get(document_id, ()) if p in refs),
            replaced_on=replaced.get(document_id),
        )
        for document_id in ids
    }


def _current_versions(conn: Connection, ids: list[int], marks: str) -> dict[int, int]:
    """{superseded document id: the id of its current version} for the superseded ones."""
    rows = conn.execute(
        "WITH RECURSIVE newer(start, id, depth) AS ("
        f" SELECT id, id, 0 FROM documents WHERE id IN ({marks})"
        " UNION ALL"
        " SELECT newer.start, ("
        "   SELECT n.id FROM documents n WHERE n.supersedes_id = newer.id"
        "   ORDER BY n.updated_at DESC, n.id DESC LIMIT 1"
        " ), newer.depth + 1 FROM newer"
        f" WHERE newer.id IS NOT NULL AND newer.depth < {MAX_CHAIN})"
        " SELECT start, id FROM newer WHERE id IS NOT NULL AND depth > 0"
        " ORDER BY start, depth",
        ids,
    ).fetchall()
    return {int(start): int(head) for start, head in rows}  # the deepest row wins


def _refs(conn: Connection, ids: set[int]) -> dict[int, DocumentRef]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = conn.execute(
        f"SELECT id, title, source, updated_at FROM documents WHERE id IN ({marks})",
        sorted(ids),
    ).fetchall()
    return {
        int(i): DocumentRef(int(i), title, source, date.fromisoformat(u) if u else None)
        for i, title, source, u in rows
    }
