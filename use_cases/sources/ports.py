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

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from use_cases.sources.domain import SourceSpec, SyncCounts, SyncRun


@dataclass(frozen=True)
class Fetched:
    """An item that is new or whose version changed, with its content.

    `key` is its stable document key (a path relative to the folder, an object key under the
    prefix, a page's URL after redirects); `name` is the file name the loaders pick a type by
    (`guide.pdf`, `index.html`); `link` is where a citation points a reader (a page's URL),
    None where the origin has no address a reader can follow; `modified` the day the item
    was last modified where the origin says (a folder's file), the document's date when the
    item holds none of its own.
    """

    key: str
    name: str
    content: bytes
    version: str
    link: str | None = None
    modified: date | None = None


@dataclass(frozen=True)
class Unchanged:
    """An item found with the version stored at the last sync: skipped, never re-embedded."""

    key: str


@dataclass(frozen=True)
class ItemFailed:
    """An item found but not read (too big, timed out, refused): its document is kept."""

    key: str
    reason: str


@dataclass(frozen=True)
class ItemRefused:
    """An item found but refused for good (a file that links out of its folder): counted as
    failed with the reason, and a document made of it earlier is removed, as if the item had
    vanished."""

    key: str
    reason: str


SourceEvent = Fetched | Unchanged | ItemFailed | ItemRefused


class ListingFailed(Exception):
    """The origin could not be listed to the end: the sync removes nothing and says why."""


class SourceReader(Protocol):
    """Reads one origin; `previous` maps each key stored at the last sync to its version."""

    def read(self, previous: Mapping[str, str]) -> Iterator[SourceEvent]: ...


# -- what the sync and the source management use besides a reader --------------------------------


class SourceKinds(Protocol):
    """The registry of reader kinds (`folder`, `s3`, and those packages add)."""

    def kinds(self) -> list[str]: ...

    def check(self, kind: str, location: str, *, local: bool = False) -> str:
        """`location` as stored for a new source of `kind` (normalised), or `InvalidRequest`
        (an unknown kind, a kind this installation cannot read, a location of the wrong form
        or out of bounds). `local`: asked from the server's own machine (the CLI,
        development mode), not over an API key."""
        ...

    def reader(self, spec: SourceSpec) -> SourceReader:
        """A reader for one sync of `spec` (may raise `ListingFailed` when it cannot start)."""
        ...


@dataclass(frozen=True)
class StoredSource:
    spec: SourceSpec
    created_at: datetime
    next_sync_at: datetime | None
    last_run: SyncRun | None


class SourceStore(Protocol):
    """Sources, the version of each item at its last sync, and the history of syncs.

    Rules: `start_run` refuses (`Conflict`) while another run of the source is running and
    was heard of after `stale_before` (at most one sync per source at a time, across
    processes); a run not heard of since is taken to be dead and closed as failed."""

    def add(self, spec: SourceSpec, now: datetime, next_sync_at: datetime | None) -> None:
        """Store a new source (`Conflict` when the name is taken)."""
        ...

    def get(self, name: str) -> StoredSource | None: ...

    def list_all(self) -> list[StoredSource]: ...

    def remove(self, name: str) -> bool:
        """Forget the source, its versions and its history."""
        ...

    def versions(self, name: str) -> dict[str, str]: ...

    def put_versions(self, name: str, versions: Mapping[str, str]) -> None: ...

    def drop_versions(self, name: str, keys: Iterable[str]) -> None: ...

    def start_run(
        self, name: str, trigger: str, now: datetime, stale_before: datetime
    ) -> SyncRun: ...

    def progress_run(self, run_id: int, counts: SyncCounts, now: datetime) -> None: ...

    def finish_run(
        self,
        run: SyncRun,
        now: datetime,
        next_sync_at: datetime | None,
    ) -> None:
        """Record `run` (its status, counts and errors) as ended, and the next due time."""
        ...

    def history(self, name: str, limit: int) -> list[SyncRun]: ...

    def claim_due(self, now: datetime) -> list[str]:
        """Names of the scheduled sources whose next sync is due at `now`, each claimed in the
        same transaction: now due `every_s` after `now` (a sync's end sets it from its start),
        so a second look, here or in another process, does not find it due again."""
        ...

    def release_due(self, name: str, due_at: datetime) -> None:
        """A claim given back: `name` is due at `due_at` (its sync could not be queued)."""
        ...
