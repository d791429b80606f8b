"""Which version of a document is current: read from the recorded `supersedes` relation.

Rules (the only place they are decided; retrieval reads them with one SQL for both databases,
`search_catalog.CatalogReader.versions_of`, and applies them; the answer composers and the
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

from dataclasses import dataclass
from datetime import date

from use_cases.knowledge.domain import DocumentRef

__all__ = ["MAX_CHAIN", "Versions", "in_force"]

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
