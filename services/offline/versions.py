"""Older versions among the hits, dropped before answering: read from the hits, not guessed.

Rule: retrieval says which version is current (services/knowledge/versions.py); each hit carries
`superseded_by` (the current version that replaces it) and `supersedes`. A hit is dropped
when the current version that replaces it is among the hits too; a superseded hit whose
current version was not retrieved is kept (the Sources line then says it is superseded).
Titles, dates and the words in a passage decide nothing here.
"""

from __future__ import annotations

from typing import Any


def resolve_versions(
    hits: list[dict[str, Any]], *, keep_history: bool = False
) -> tuple[list[dict[str, Any]], dict[int, list[dict[str, Any]]]]:
    """The hits to answer from, and {current document id: the older hits it replaced}.

    `keep_history`: a question about the past ("when did we stop accepting SMS codes?") is
    answered from every version; the Sources line still marks the superseded ones.
    """
    if keep_history:
        return list(hits), {}
    present = {hit.get("document_id") for hit in hits}
    kept: list[dict[str, Any]] = []
    replaced: dict[int, list[dict[str, Any]]] = {}
    for hit in hits:
        current = (hit.get("superseded_by") or {}).get("document_id")
        if current is not None and current in present:
            replaced.setdefault(current, []).append(hit)
        else:
            kept.append(hit)
    return kept, replaced
