"""Who may read which documents, as a value the retrieval ports are handed.

Rules:
- A document belongs to at most one collection; one without (`collection_id` NULL) is in the
  default collection, which every user reads, so a knowledge base from before collections
  reads as it did.
- An admin's scope is `EVERYTHING` (every collection). A user's is the default collection and
  the collections granted to them or to one of their groups, resolved again on every request
  (`use_cases/knowledge/collections.py`), so a revoke acts on the next request.
- Filters (`DocumentFilter`) narrow a scope, never widen it: a `collection` filter naming a
  collection the reader may not read, or none at all, leaves nothing to find; so does a filter
  on a metadata key no document has.
- The scope is applied inside each retrieval leg and each SQL statement (the adapters turn it
  into the set of readable documents), never to the results afterwards: a page of hits is
  a page of readable hits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

__all__ = [
    "DEFAULT_COLLECTION",
    "EVERYTHING",
    "NAME_PATTERN",
    "DocumentFilter",
    "ReadScope",
]

#: The name by which the default collection (documents without one) is shown and filtered.
DEFAULT_COLLECTION = "default"

#: A collection's name: a lower-case letter or digit, then letters, digits, `-` or `_`.
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

#: Metadata keys a filter may name: front-matter style keys.
METADATA_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class DocumentFilter:
    """What a reader narrows a search or a listing to. Empty: no narrowing."""

    collection: str | None = None
    category: str | None = None
    source_prefix: str | None = None
    updated_after: date | None = None
    updated_before: date | None = None
    metadata: tuple[tuple[str, str], ...] = ()
    """(key, value) pairs a document's metadata must all equal."""

    @property
    def empty(self) -> bool:
        return self == DocumentFilter()

    def merged(self, other: DocumentFilter) -> DocumentFilter | None:
        """Both filters at once (a chat request's and its agent's search tool call's): what
        each keeps. None when no document can pass both (two collections or categories, two
        source prefixes neither of which starts the other)."""
        if other.empty or self.empty:
            return other if self.empty else self
        try:
            return DocumentFilter(
                collection=_same(self.collection, other.collection),
                category=_same(self.category, other.category),
                source_prefix=_longer_prefix(self.source_prefix, other.source_prefix),
                updated_after=_bound(max, self.updated_after, other.updated_after),
                updated_before=_bound(min, self.updated_before, other.updated_before),
                metadata=tuple(sorted(set(self.metadata) | set(other.metadata))),
            )
        except _Clash:
            return None


class _Clash(Exception):
    """Two values of one filter that no document can both match."""


def _same(a: str | None, b: str | None) -> str | None:
    if a is None or b is None or a.strip() == b.strip():
        return a if a is not None else b
    raise _Clash


def _longer_prefix(a: str | None, b: str | None) -> str | None:
    if not a or not b:
        return a or b or None
    if a.startswith(b) or b.startswith(a):
        return a if len(a) >= len(b) else b
    raise _Clash


def _bound(pick: Callable[[date, date], date], a: date | None, b: date | None) -> date | None:
    return pick(a, b) if a is not None and b is not None else (a or b)


@dataclass(frozen=True)
class ReadScope:
    """The documents a reader may see. `collections`: None for every collection (an admin),
    else the readable collections' ids, `None` among them standing for the default collection.
    `filters` narrow that further; `collection_ids` of a `collection` filter are resolved by the
    use case (`narrowed_to`)."""

    collections: frozenset[int | None] | None = None
    filters: DocumentFilter = field(default_factory=DocumentFilter)

    @property
    def unrestricted(self) -> bool:
        """Reads every document: no collection limit and no filter."""
        return self.collections is None and self.filters.empty

    def may_read(self, collection_id: int | None) -> bool:
        """Whether a document of this collection is readable (filters aside)."""
        return self.collections is None or collection_id in self.collections

    def narrowed_to(self, collection_id: int | None, *, known: bool = True) -> ReadScope:
        """This scope limited to one collection (an unknown name: to none)."""
        wanted: frozenset[int | None] = frozenset({collection_id}) if known else frozenset()
        allowed = wanted if self.collections is None else self.collections & wanted
        return ReadScope(allowed, self.filters)

    def filtered(self, filters: DocumentFilter) -> ReadScope:
        return ReadScope(self.collections, filters)

    def within(self, other: ReadScope) -> ReadScope:
        """What both scopes read: the collections both read, under both scopes' filters (a
        scope bound to a reader narrowed by what a search asks, never widened by it)."""
        if other == EVERYTHING:
            return self
        collections: frozenset[int | None] | None
        if self.collections is None or other.collections is None:
            collections = other.collections if self.collections is None else self.collections
        else:
            collections = self.collections & other.collections
        filters = self.filters.merged(other.filters)
        if filters is None:
            return ReadScope(frozenset(), self.filters)
        return ReadScope(collections, filters)


EVERYTHING = ReadScope()
