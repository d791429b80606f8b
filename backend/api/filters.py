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
from pydantic import BaseModel, ConfigDict, Field, model_validator

from use_cases.knowledge.scope import METADATA_KEY, DocumentFilter
from use_cases.shared.errors import InvalidRequest

__all__ = ["FiltersDep", "FiltersIn", "document_filter"]

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


class FiltersIn(BaseModel):
    """The same filters in a JSON body (a chat turn's `filters`): what its searches may find
    within what the caller may read."""

    model_config = ConfigDict(extra="forbid")

    collection: str | None = Field(None, min_length=1, max_length=100, examples=["hr"])
    category: str | None = Field(None, min_length=1, max_length=100)
    source_prefix: str | None = Field(None, min_length=1, max_length=500)
    updated_after: date | None = None
    updated_before: date | None = None
    meta: dict[str, str] = Field(
        default_factory=dict,
        max_length=MAX_META_FILTERS,
        description="KEY: VALUE pairs every one of which a document's metadata must equal.",
        examples=[{"owner": "people-team"}],
    )

    @model_validator(mode="after")
    def _checked(self) -> FiltersIn:
        for key, value in self.meta.items():
            if not METADATA_KEY.fullmatch(key) or len(value) > 500:
                raise ValueError(f"meta key {key!r} is not a metadata key (letters, digits, _.-)")
        if self.updated_after and self.updated_before and self.updated_after > self.updated_before:
            raise ValueError("updated_after is later than updated_before.")
        return self

    def to_filter(self) -> DocumentFilter:
        return DocumentFilter(
            collection=self.collection,
            category=self.category,
            source_prefix=self.source_prefix,
            updated_after=self.updated_after,
            updated_before=self.updated_before,
            metadata=tuple(sorted(self.meta.items())),
        )
