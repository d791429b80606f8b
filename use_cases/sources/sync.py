"""One sync of a source: what its reader finds, carried into the knowledge base.

Rules:
- The reader is given the version of each item stored at the last sync, for the items whose
  document is still in the knowledge base (a document an admin removed by hand is read
  again). It yields one event per item it finds (`use_cases/sources/ports.py`).
- `Fetched` items go through the ingest use case, as `almanac ingest` files do (the same
  loaders, checks, chunking and content hash): `added` (new), `updated` (the content hash
  changed), `unchanged` (a new version token with the same content: nothing re-embedded),
  `failed` (unreadable, refused, a conflict with a document from elsewhere, a duplicate of
  another document). `Unchanged` items are counted and never read. `ItemFailed` items are
  counted as failed and keep their document; `ItemRefused` items (a file linking out of its
  folder) are counted as failed and their document is removed as a vanished item's is.
- A document's key is `SOURCE/KEY` and its origin `source:SOURCE/KEY`, so two sources never
  collide and a sync finds its own documents; a key under a folder (`policies/a.md`, not a
  page's URL) gets that folder as its default category, as `almanac ingest` gives it;
  `Fetched.link` is kept as the document's `link` (where a citation points).
- Only a listing that completed removes anything: the documents of the source whose key it
  did not yield are deleted (`removed`). A listing that fails (`ListingFailed`) removes
  nothing; the items read before it are kept, and the run is `failed` with the reason.
- A failing item never stops the sync; what was written is kept when the sync is stopped
  (the job was cancelled or taken over): versions are stored batch by batch, so the next
  sync starts where this one ended and re-embeds nothing it wrote.
- At most one sync of a source runs at a time (`SourceStore.start_run`); each run is kept in
  the source's history with its counts and errors, and the source's next sync is due
  `every_s` after this one started.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta

from loguru import logger

from use_cases.knowledge.domain import IngestItem
from use_cases.knowledge.ingest import IngestDocuments, IngestRequest, IngestSource
from use_cases.knowledge.ports import KnowledgeStore
from use_cases.shared.clock import Clock, utc
from use_cases.shared.errors import AlmanacError, NotFound
from use_cases.shared.leases import JobLease
from use_cases.sources.domain import (
    DONE,
    FAILED,
    MAX_ERRORS,
    ItemError,
    SourceSpec,
    SyncCounts,
    SyncRun,
    document_key,
    origin_of,
    origin_prefix,
)
from use_cases.sources.ports import (
    Fetched,
    ItemFailed,
    ItemRefused,
    ListingFailed,
    SourceKinds,
    SourceStore,
    Unchanged,
)

#: (item key, outcome) as each item is decided: added | updated | unchanged | removed | failed.
ItemProgress = Callable[[str, str], None]
#: Items between two progress reports to the job, and between two heartbeats of the run
#: while only unchanged items are listed (a long idle listing is not a dead sync).
PROGRESS_EVERY = 25
HEARTBEAT_EVERY = 500


@dataclass(frozen=True)
class SyncRequest:
    name: str
    trigger: str = "manual"
    on_item: ItemProgress | None = None
    on_progress: Callable[[int, int], None] | None = None
    """(items decided, items expected: those stored at the last sync, or more) for a job."""
    lease: JobLease | None = None


@dataclass(frozen=True)
class SyncLimits:
    batch_items: int = 16
    """Fetched items ingested together (their chunks embedded in one batch)."""
    batch_bytes: int = 32 * 1024 * 1024
    """Fetched bytes held before they are ingested."""
    stale_after: timedelta = timedelta(minutes=15)
    """A running sync not heard of for this long is taken to be dead (its process died)."""


@dataclass
class _Tally:
    request: SyncRequest
    expected: int
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: int = 0
    errors: list[ItemError] = field(default_factory=list)

    def count(self, key: str, outcome: str, reason: str | None = None) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        if outcome == "failed" and len(self.errors) < MAX_ERRORS:
            self.errors.append(ItemError(key, reason or "failed"))
        if self.request.on_item:
            self.request.on_item(key, outcome)
        if self.decided % PROGRESS_EVERY == 0:
            self.report()

    @property
    def decided(self) -> int:
        return self.added + self.updated + self.unchanged + self.removed + self.failed

    def report(self) -> None:
        """Tell the job how far the sync is (every `PROGRESS_EVERY` items: each is a write)."""
        if self.request.on_progress:
            self.request.on_progress(self.decided, max(self.decided, self.expected))

    def counts(self) -> SyncCounts:
        return SyncCounts(self.added, self.updated, self.unchanged, self.removed, self.failed)


class SyncSource:
    """Sync one source now (the module docstring has the rules)."""

    def __init__(
        self,
        store: SourceStore,
        kinds: SourceKinds,
        ingest: IngestDocuments,
        knowledge: KnowledgeStore,
        clock: Clock,
        limits: SyncLimits | None = None,
    ) -> None:
        self._store = store
        self._kinds = kinds
        self._ingest = ingest
        self._knowledge = knowledge
        self._clock = clock
        self._limits = limits or SyncLimits()

    async def execute(self, request: SyncRequest) -> SyncRun:
        return await asyncio.to_thread(self.run, request)

    def run(self, request: SyncRequest) -> SyncRun:
        """Synchronous body (the CLI and the sync job call it from their own thread)."""
        stored = self._store.get(request.name)
        if stored is None:
            raise NotFound(f"No source named '{request.name}'.")
        spec = stored.spec
        now = utc(self._clock.now())
        run = self._store.start_run(spec.name, request.trigger, now, now - self._limits.stale_after)
        prefix = origin_prefix(spec.name)
        documents = {
            origin.removeprefix(prefix): document_id
            for document_id, _, origin in self._knowledge.list_origins()
            if origin.startswith(prefix)
        }
        stored_versions = self._store.versions(spec.name)
        previous = {k: v for k, v in stored_versions.items() if k in documents}
        tally = _Tally(request, len(previous))
        error: str | None = None
        try:
            error, seen = self._read(spec, previous, tally, run)
            if error is None:
                known = documents.keys() | stored_versions.keys()
                self._remove(spec.name, known, seen, documents, tally)
        except BaseException as exc:  # stopped (cancelled, taken over) or a bug: say so
            stopped = replace(
                run,
                status=FAILED,
                counts=tally.counts(),
                error=f"the sync stopped: {_reason(exc)}",
                errors=tuple(tally.errors),
            )
            self._finish(stopped, spec.every_s)
            raise
        tally.report()
        ended = replace(
            run,
            status=FAILED if error else DONE,
            counts=tally.counts(),
            error=error,
            errors=tuple(tally.errors),
        )
        return self._finish(ended, spec.every_s)

    def _finish(self, run: SyncRun, every_s: int | None) -> SyncRun:
        finished = utc(self._clock.now())
        ended = replace(run, finished_at=finished)
        due = run.started_at + timedelta(seconds=every_s) if every_s else None
        if due is not None and due < finished:
            due = finished  # a sync longer than its period: the next one starts at once
        self._store.finish_run(ended, finished, due)
        return ended

    def _read(
        self, spec: SourceSpec, previous: dict[str, str], tally: _Tally, run: SyncRun
    ) -> tuple[str | None, set[str]]:
        """Apply the reader's events; answers why the listing failed (None: it completed)
        and the keys it yielded."""
        name = spec.name
        batch: list[Fetched] = []
        held = 0
        seen: set[str] = set()
        refused: set[str] = set()
        try:
            reader = self._kinds.reader(spec)
            for event in reader.read(previous):
                if event.key in seen:
                    continue  # a reader that lists an item twice: the first one counts
                seen.add(event.key)
                if len(seen) % HEARTBEAT_EVERY == 0:
                    self._store.progress_run(run.id, tally.counts(), utc(self._clock.now()))
                if isinstance(event, Unchanged):
                    tally.count(event.key, "unchanged")
                elif isinstance(event, ItemFailed):
                    tally.count(event.key, "failed", event.reason)
                elif isinstance(event, ItemRefused):
                    tally.count(event.key, "failed", event.reason)
                    refused.add(event.key)
                else:
                    batch.append(event)
                    held += len(event.content)
                    if len(batch) >= self._limits.batch_items or held >= self._limits.batch_bytes:
                        self._apply(name, batch, tally, run)
                        batch, held = [], 0
        except ListingFailed as exc:
            self._apply(name, batch, tally, run)
            logger.warning("Source {}: listing failed: {}", name, exc)
            return str(exc) or "the listing failed", seen
        self._apply(name, batch, tally, run)
        return None, seen - refused

    def _apply(self, name: str, batch: list[Fetched], tally: _Tally, run: SyncRun) -> None:
        """Ingest `batch`; store the versions of what is now in the knowledge base."""
        if not batch:
            return
        by_source = {document_key(name, item.key): item for item in batch}
        inputs = [_input(name, item) for item in batch]
        decided: dict[str, IngestItem] = {}

        def note(item: IngestItem) -> None:
            decided[item.source] = item

        report = self._ingest.run(
            IngestRequest(sources=inputs, on_progress=note, lease=tally.request.lease)
        )
        versions: dict[str, str] = {}
        for outcome in report.items:
            decided.setdefault(outcome.source, outcome)
        for source, item in by_source.items():
            found = decided.get(source)
            if found is None:
                tally.count(item.key, "failed", "not ingested")
            elif found.status in ("added", "updated", "unchanged"):
                versions[item.key] = item.version
                tally.count(item.key, found.status)
            else:
                tally.count(item.key, "failed", found.error or found.status)
        self._store.put_versions(name, versions)
        self._store.progress_run(run.id, tally.counts(), utc(self._clock.now()))

    def _remove(
        self,
        name: str,
        known: set[str],
        seen: set[str],
        documents: dict[str, int],
        tally: _Tally,
    ) -> None:
        """After a completed listing: delete the documents of keys it did not yield."""
        gone = sorted(known - seen)
        for key in gone:
            document_id = documents.get(key)
            if document_id is not None and self._knowledge.delete_document(document_id):
                tally.count(key, "removed")
        self._store.drop_versions(name, gone)


def _input(name: str, item: Fetched) -> IngestSource:
    content = item.content
    # A key under a folder (not a URL's scheme) takes the folder as its default category.
    folder = item.key.split("/", 1)[0] if "/" in item.key and "://" not in item.key else None
    return IngestSource(
        source=document_key(name, item.key),
        name=item.name,
        read=lambda: content,
        default_category=folder,
        origin=origin_of(name, item.key),
        link=item.link,
        modified=item.modified,
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, AlmanacError):
        return exc.detail
    return type(exc).__name__
