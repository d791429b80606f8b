"""What a synced source's reader gives the sync: one event per item it finds.

A reader lists its origin and, for each item, compares the origin's cheap change token
(`version`: an ETag and size, a file's size and modification time, a page's HTTP validators)
with the one stored at the last sync. It yields `Unchanged` when they match (nothing is read
or embedded), `Fetched` with the bytes when they differ or the item is new, and `ItemFailed`
when one item cannot be read (the sync goes on and keeps that item's document).

Keys the reader does not yield in a listing it completed are removed from the knowledge base;
a listing it cannot complete raises `ListingFailed`, and then nothing is removed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Fetched:
    """An item that is new or whose version changed, with its content.

    `key` is its stable document key (a path relative to the folder, an object key under the
    prefix, a page's URL after redirects); `name` is the file name the loaders pick a type by
    (`guide.pdf`, `index.html`); `link` is where a citation points a reader (a page's URL),
    None where the origin has no address a reader can follow.
    """

    key: str
    name: str
    content: bytes
    version: str
    link: str | None = None


@dataclass(frozen=True)
class Unchanged:
    """An item found with the version stored at the last sync: skipped, never re-embedded."""

    key: str


@dataclass(frozen=True)
class ItemFailed:
    """An item found but not read (too big, timed out, refused): its document is kept."""

    key: str
    reason: str


SourceEvent = Fetched | Unchanged | ItemFailed


class ListingFailed(Exception):
    """The origin could not be listed to the end: the sync removes nothing and says why."""


class SourceReader(Protocol):
    """Reads one origin; `previous` maps each key stored at the last sync to its version."""

    def read(self, previous: Mapping[str, str]) -> Iterator[SourceEvent]: ...
