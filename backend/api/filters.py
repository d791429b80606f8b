"""The document filters a search or a listing takes as query parameters (docs/collections.md).

`collection`, `category`, `source_prefix`, `updated_after` and `updated_before` (dates, both
bounds included) and `meta=KEY:VALUE` (repeatable: every pair must equal the document's
metadata). A malformed value is a 422; a well-formed filter that matches nothing (an unknown
metadata key, a collection the caller may not read) finds nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Query

from use_cases.knowledge.scope import METADATA_KEY, DocumentFilter
from use_cases.shared.errors import InvalidRequest

__all__ = ["FiltersDep", "document_filter"]

MAX_META_FILTERS = 10


def document_filter(
    collection: Annotated[
        str | None,
        Query(
            max_length=100, description="Only this collection (`default`: documents without one)."
        ),
    ] = None,
    source_prefix: Annotated[
        str | None,
        Query(max_length=500, description="Only documents whose source starts with this."),
    ] = None,
    updated_after: Annotated[
        date | None, Query(description="Only documents updated on or after this date.")
    ] = None,
    updated_before: Annotated[
        date | None, Query(description="Only documents updated on or before this date.")
    ] = None,
    meta: Annotated[
        list[str] | None,
        Query(
            max_length=MAX_META_FILTERS,
            description="`KEY:VALUE`, repeatable: documents whose metadata (front matter, "
            "upload fields) has each KEY equal to VALUE.",
            examples=[["owner:people-team"]],
        ),
    ] = None,
) -> DocumentFilter:
    pairs: list[tuple[str, str]] = []
    for item in meta or ():
        key, sep, value = item.partition(":")
        key = key.strip()
        if not sep or not METADATA_KEY.fullmatch(key) or len(value) > 500:
            raise InvalidRequest(
                f"meta={item!r} is not KEY:VALUE (a key of letters, digits, '_', '.', '-')."
            )
        pairs.append((key, value.strip()))
    if updated_after and updated_before and updated_after > updated_before:
        raise InvalidRequest("updated_after is later than updated_before.")
    return DocumentFilter(
        collection=(collection or "").strip() or None,
        source_prefix=source_prefix or None,
        updated_after=updated_after,
        updated_before=updated_before,
        metadata=tuple(pairs),
    )


FiltersDep = Annotated[DocumentFilter, Depends(document_filter)]
