"""Declaring sources, listing them with their last and next sync, removing them, and running
their syncs as background jobs, now or when they fall due.

Rules:
- A source's name is checked (`check_name`) and unique; its location is checked and
  normalised by its kind (`SourceKinds.check`): a folder that does not exist (or, over an API
  key, is not under SOURCE_FOLDER_ROOTS), a malformed `s3://` location or a kind this
  installation cannot read is refused and nothing is stored.
- A scheduled source (`every_s`) is due at once when added, then `every_s` after each sync
  started. Its due time is stored, so syncs that fell due while no server ran are run after
  a restart (the first schedule check finds them due).
- The schedule's look for due sources claims them (`SourceStore.claim_due`: the due check
  and the move of the due time one period on are one transaction), then queues their syncs.
  A source whose scheduled sync is queued or running, or has just ended, is not due, so no
  look queues it twice, on any replica; a job of the same key would otherwise be queued
  again the moment a sync that ended between the look and the queueing freed it. A claim
  whose sync could not be queued (the queue full or closing) is given back: due at once.
  (The job queue is another store: a sync asked for by hand that ends in the instant between
  a claim and its queueing is still followed by the scheduled one, which embeds nothing.)
- A sync is a job (`SOURCE_SYNC`) keyed by the source's name: asking again while one is queued
  or running answers the same job, on any replica; and the sync itself refuses to start
  while another run of the source is running (`SourceStore.start_run`), so a source is never
  synced twice at once. Due sources are looked for by one process of the cluster at a time
  (`SOURCE_SCHEDULE`, on the schedules of services/schedules.py).
- Removing a source removes its documents from the knowledge base too, unless
  `keep_documents`: then they stay, as documents no source syncs any more. A source whose
  sync is running is not removed (`Conflict`): the sync would bring documents back.
- `collection` is kept as given, for the collections feature to read.
- Adding and removing a source are audited as the admin's actions (`source.add`,
  `source.remove`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from use_cases.access.audit import RecordAudit
from use_cases.access.domain import Caller
from use_cases.jobs.queue import JobQueue, JobRun, JobView, run_blocking
from use_cases.knowledge.ports import KnowledgeStore
from use_cases.shared.clock import Clock, utc
from use_cases.shared.errors import Conflict, InvalidRequest, NotFound
from use_cases.sources.domain import (
    RUNNING,
    SourceSpec,
    SourceView,
    SyncRun,
    check_name,
    origin_prefix,
)
from use_cases.sources.ports import SourceKinds, SourceStore, StoredSource
from use_cases.sources.sync import SyncLimits, SyncRequest, SyncSource

#: The job kind of a source's sync, and the schedule that looks for due sources.
SOURCE_SYNC = "source_sync"
SOURCE_SCHEDULE = "source_syncs_due"
#: The trigger of a sync the schedule queued (`SyncRun.trigger`).
SCHEDULED = "schedule"
#: The shortest and the longest period a source may be synced at.
MIN_EVERY_S = 60
MAX_EVERY_S = 366 * 86400


@dataclass(frozen=True)
class AddSourceRequest:
    name: str
    kind: str
    location: str
    every_s: int | None = None
    collection: str | None = None

    @classmethod
    def of_options(
        cls,
        name: str,
        *,
        folder: str | None = None,
        s3: str | None = None,
        url: str | None = None,
        every: str | None = None,
        collection: str | None = None,
    ) -> AddSourceRequest:
        """The request the CLI's `--folder | --s3 | --url` and the API's fields say: exactly
        one place, and a period written `30m` (`parse_every`)."""
        places = {"folder": folder, "s3": s3, "url": url}
        chosen = [(kind, where) for kind, where in places.items() if where]
        if len(chosen) != 1:
            raise InvalidRequest(
                "Give exactly one of folder, s3 (s3://BUCKET/PREFIX) or url for a source."
            )
        kind, location = chosen[0]
        every_s = parse_every(every) if every else None
        return cls(name, kind, location, every_s, collection)


class ManageSources:
    """Add, list, show, remove sources and read their history (the module rules)."""

    def __init__(
        self,
        store: SourceStore,
        kinds: SourceKinds,
        knowledge: KnowledgeStore,
        clock: Clock,
        audit: RecordAudit,
    ) -> None:
        self._store = store
        self._kinds = kinds
        self._knowledge = knowledge
        self._clock = clock
        self._audit = audit

    async def add(self, caller: Caller, request: AddSourceRequest) -> SourceView:
        return await asyncio.to_thread(self._add, caller, request)

    def _add(self, caller: Caller, request: AddSourceRequest) -> SourceView:
        name = check_name(request.name)
        if request.every_s is not None and request.every_s < MIN_EVERY_S:
            raise InvalidRequest(
                f"A source is synced at most every {MIN_EVERY_S} s (asked: every "
                f"{request.every_s} s)."
            )
        if request.every_s is not None and request.every_s > MAX_EVERY_S:
            raise InvalidRequest("A source is synced at least once a year (at most --every 366d).")
        collection = (request.collection or "").strip() or None
        # A caller without a key is on the server's machine: the CLI, development mode.
        location = self._kinds.check(request.kind, request.location, local=caller.key_id is None)
        spec = SourceSpec(name, request.kind, location, request.every_s, collection)
        now = utc(self._clock.now())
        self._store.add(spec, now, now if spec.every_s else None)
        self._audit.record(caller, "source.add", f"source:{name}", after=_snapshot(spec))
        return self._show(name)

    async def list_sources(self) -> list[SourceView]:
        return await asyncio.to_thread(self._list_sources)

    def _list_sources(self) -> list[SourceView]:
        counts = self._document_counts()
        return [_view(s, counts.get(s.spec.name, 0)) for s in self._store.list_all()]

    async def show(self, name: str) -> SourceView:
        return await asyncio.to_thread(self._show, name)

    def _show(self, name: str) -> SourceView:
        stored = self._get(name)
        return _view(stored, self._document_counts().get(name, 0))

    async def sync_history(self, name: str, limit: int = 20) -> list[SyncRun]:
        return await asyncio.to_thread(self._sync_history, name, limit)

    def _sync_history(self, name: str, limit: int = 20) -> list[SyncRun]:
        self._get(name)
        return self._store.history(name, limit)

    async def remove(self, caller: Caller, name: str, *, keep_documents: bool = False) -> int:
        return await asyncio.to_thread(self._remove, caller, name, keep_documents)

    def _remove(self, caller: Caller, name: str, keep_documents: bool) -> int:
        """Forget the source; answers how many of its documents were removed."""
        stored = self._get(name)
        last = stored.last_run
        if last is not None and last.status == RUNNING and self._recent(last.started_at):
            raise Conflict(f"A sync of '{name}' is running; remove the source once it has ended.")
        removed = 0
        if not keep_documents:
            prefix = origin_prefix(name)
            for document_id, _, origin in self._knowledge.list_origins():
                if origin.startswith(prefix) and self._knowledge.delete_document(document_id):
                    removed += 1
        self._store.remove(name)
        self._audit.record(
            caller,
            "source.remove",
            f"source:{name}",
            before=_snapshot(stored.spec),
            after={"documents_removed": removed, "keep_documents": keep_documents},
        )
        return removed

    def _recent(self, started_at: datetime) -> bool:
        """A run started this recently is taken to be alive (`SyncLimits.stale_after`)."""
        return utc(self._clock.now()) - started_at < SyncLimits().stale_after

    def _get(self, name: str) -> StoredSource:
        stored = self._store.get(name)
        if stored is None:
            raise NotFound(f"No source named '{name}'.")
        return stored

    def _document_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, _, origin in self._knowledge.list_origins():
            if origin.startswith("source:"):
                name = origin.removeprefix("source:").split("/", 1)[0]
                counts[name] = counts.get(name, 0) + 1
        return counts


class QueueSourceSync:
    """A source's sync as a background job (the module rules)."""

    def __init__(self, jobs: JobQueue, sync: SyncSource, store: SourceStore) -> None:
        self._jobs = jobs
        self._sync = sync
        self._store = store

    async def execute(
        self, name: str, *, trigger: str = "manual", created_by: str | None = None
    ) -> JobView:
        return await asyncio.to_thread(self.run, name, trigger=trigger, created_by=created_by)

    def run(self, name: str, *, trigger: str = "manual", created_by: str | None = None) -> JobView:
        if self._store.get(name) is None:
            raise NotFound(f"No source named '{name}'.")
        return self._jobs.submit(
            SOURCE_SYNC,
            sync_job_name(name),
            {"name": name, "trigger": trigger},
            created_by=created_by,
            unique_key=f"{SOURCE_SYNC}:{name}",
        )

    async def run_job(self, job: JobRun) -> Mapping[str, Any]:
        """The job's handler: one sync, its progress counted in items."""
        request = SyncRequest(
            name=str(job.payload["name"]),
            trigger=str(job.payload.get("trigger", "manual")),
            on_progress=job.progress,
            lease=job.lease,
        )
        run = await run_blocking(lambda: self._sync.run(request))
        return {"run_id": run.id, "status": run.status, "summary": run.counts.line()}


def sync_job_name(name: str) -> str:
    return f"Sync of source {name}"


class GetSyncJob:
    """A sync job of source `name`, for its progress (admins only, at the edge)."""

    def __init__(self, jobs: JobQueue) -> None:
        self._jobs = jobs

    async def execute(self, name: str, job_id: str) -> JobView:
        job = await asyncio.to_thread(self._jobs.get, job_id)
        if job is None or job.kind != SOURCE_SYNC or job.name != sync_job_name(name):
            raise NotFound(f"No sync job {job_id} of source '{name}'.")
        return job


class QueueDueSyncs:
    """Queue a sync of every source due now: the schedule's action, run by one process of
    the cluster at a time (the module rules: each due source is claimed before it is queued,
    and a claim whose sync could not be queued is given back)."""

    def __init__(self, queue: QueueSourceSync, store: SourceStore, clock: Clock) -> None:
        self._queue = queue
        self._store = store
        self._clock = clock

    def run(self) -> list[str]:
        """Answers the names of the sources whose sync was queued."""
        now = utc(self._clock.now())
        claimed = self._store.claim_due(now)
        queued = []
        for at, name in enumerate(claimed):
            try:
                self._queue.run(name, trigger=SCHEDULED)
            except NotFound:
                continue  # removed since the look: nothing to sync
            except BaseException:
                for unqueued in claimed[at:]:
                    self._store.release_due(unqueued, now)
                raise
            queued.append(name)
        return queued


def _snapshot(spec: SourceSpec) -> dict[str, Any]:
    return {
        "kind": spec.kind,
        "location": spec.location,
        "every_s": spec.every_s,
        "collection": spec.collection,
    }


def _view(stored: StoredSource, documents: int) -> SourceView:
    return SourceView(
        spec=stored.spec,
        created_at=stored.created_at,
        next_sync_at=stored.next_sync_at,
        last_run=stored.last_run,
        documents=documents,
    )


def parse_every(text: str) -> int:
    """`30m`, `2h`, `1d`, `90s` (or plain seconds) as seconds; `InvalidRequest` otherwise."""
    value = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = (value[:-1], value[-1]) if value[-1:] in units else (value, "s")
    if not number.isdigit() or len(number) > 9 or int(number) <= 0:
        raise InvalidRequest(
            f"'{text}' is not a period: write a number and a unit, e.g. 90s, 30m, 2h or 1d."
        )
    return int(number) * units[unit]


__all__ = [
    "MIN_EVERY_S",
    "SCHEDULED",
    "SOURCE_SCHEDULE",
    "SOURCE_SYNC",
    "AddSourceRequest",
    "GetSyncJob",
    "ManageSources",
    "QueueDueSyncs",
    "QueueSourceSync",
    "parse_every",
]
