"""Older versions among the hits, dropped before answering: read from the hits, not guessed.

Rule: retrieval says which version is current (services/knowledge/versions.py); each hit carries
`superseded_by` (the current version that replaces it) and `supersedes`. A hit is dropped
when the current version that replaces it is among the hits too; a superseded hit whose
current version was not retrieved is kept (the Sources line then says it is superseded).
Titles and the words in a passage decide nothing here; dates only say which version was in
force on a past date that the question names.
"""

from __future__ import annotations

from datetime import date
from typing import Any


def family(hit: dict[str, Any]) -> Any:
    """The document id of the current version of the hit's document (its own when current)."""
    return (hit.get("superseded_by") or {}).get("document_id") or hit.get("document_id")


def _in_force_on(hits: list[dict[str, Any]], as_of: date) -> list[dict[str, Any]]:
    """The hits without the versions not in force on `as_of`, for each document with several
    versions among the hits of which one was in force then (its dates read from the hits and
    the versions they name: in force from its date until the next version's)."""
    dates: dict[Any, set[str]] = {}
    for hit in hits:
        group = dates.setdefault(family(hit), set())
        refs = [hit, hit.get("superseded_by") or {}, *(hit.get("supersedes") or [])]
        group.update(str(ref["updated_at"]) for ref in refs if ref.get("updated_at"))
    current = {
        key: max((d for d in known if d <= as_of.isoformat()), default=None)
        for key, known in dates.items()
    }
    holding = {family(hit) for hit in hits if str(hit.get("updated_at")) == current[family(hit)]}
    return [
        hit
        for hit in hits
        if family(hit) not in holding or str(hit.get("updated_at")) == current[family(hit)]
    ]


def resolve_versions(
    hits: list[dict[str, Any]], *, keep_history: bool = False, as_of: date | None = None
) -> tuple[list[dict[str, Any]], dict[int, list[dict[str, Any]]]]:
    """The hits to answer from, and {current document id: the older hits it replaced}.

    `keep_history`: a question about the past ("when did we stop accepting SMS codes?") is
    answered from every version; the Sources line still marks the superseded ones. `as_of`:
    a past date asked about ("back in 2022"): answered from the versions in force then.
    """
    if as_of is not None:
        return _in_force_on(list(hits), as_of), {}
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
