"""Documents that contradict each other, listed for admins (`GET /api/documents/conflicts`).

Two current documents (neither supersedes the other) conflict when a sentence of each says the
same thing with a different value ("Passwords must have a minimum length of 4 characters" /
"Minimum length — Requirement: 14 characters"). Answers already say so when they meet such a
pair; this report finds them before anyone asks.

Rules:
- Admins only: the report quotes documents' sentences side by side.
- A scan reads the whole knowledge base (one search per section: ~9 s for the sample on two
  cores), so it never runs in a request: a request answers at once with the latest report
  and its status, `current` (the knowledge base has not changed since) or `scanning` (it
  has, or no scan ran yet: one scan starts in the background, and the previous report, if
  any, comes with it). A failed scan is logged and the next request starts another.
- Where it runs: with shared `reports` (PostgreSQL: replicas), a scan is a background job
  (`CONFLICT_SCAN`, queued once however many replicas ask: `ScanConflicts` runs it on a
  worker) and its report is stored, so every replica answers the same report and the
  cluster scans once per change. Without (SQLite: one process), one scan at a time runs on
  a thread of this process and its report is kept in memory.
- Bounded work: a scan checks at most `MAX_SECTIONS` sections and keeps at most
  `MAX_CONFLICTS` conflicts, and says whether it checked everything (`complete`); each pair
  of documents is reported once per unit. A request's `limit` cuts the list it shows.
- The finder (a port) decides what "the same thing" and "a value" are; the offline answerer's
  own rules implement it (`services/offline/conflicts.py`), so the report and the answers agree.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, Protocol

from use_cases.access.domain import Caller, require_admin
from use_cases.shared.clock import Clock
from use_cases.shared.errors import InvalidRequest

#: Sections one scan checks at most (each costs one search and its comparisons).
MAX_SECTIONS = 2_000
#: Conflicts one scan keeps at most (the most a request may list).
MAX_CONFLICTS = 500
#: The background job kind of a scan (shared reports).
CONFLICT_SCAN = "conflict_scan"


@dataclass(frozen=True)
class ConflictSide:
    document_id: int
    title: str
    source: str
    sentence: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class DocumentConflict:
    unit: str
    first: ConflictSide
    second: ConflictSide


@dataclass(frozen=True)
class ConflictReport:
    conflicts: tuple[DocumentConflict, ...]
    sections_checked: int
    complete: bool


class ConflictFinder(Protocol):
    def find(
        self, limit: int, max_sections: int, stop: Callable[[], bool] = lambda: False
    ) -> ConflictReport:
        """Up to `limit` conflicts among current documents, checking at most `max_sections`
        sections (blocking, CPU-heavy); ends early, incomplete, once `stop()` is true."""
        ...


@dataclass(frozen=True)
class ConflictListing:
    """What a request gets: the latest report (None before the first scan ends) and whether
    it is `current` or a scan is under way."""

    status: Literal["current", "scanning"]
    report: ConflictReport | None
    scanned_at: datetime | None


@dataclass(frozen=True)
class StoredScan:
    """A finished scan: the knowledge base's generation it read, its report, when it ended."""

    generation: int
    report: ConflictReport
    finished_at: datetime


class ConflictReports(Protocol):
    """The latest scan, stored where every replica reads it (blocking calls)."""

    def latest(self) -> StoredScan | None: ...

    def save(self, scan: StoredScan) -> None:
        """Keep `scan` unless a scan of a later generation is stored already."""
        ...


class ScanConflicts:
    """`execute()`: scan the knowledge base now and store the report (the `CONFLICT_SCAN`
    job's handler is `run_job`); `close()` stops a scan under way, storing nothing."""

    def __init__(
        self,
        finder: ConflictFinder,
        generation: Callable[[], int],
        clock: Clock,
        reports: ConflictReports,
    ) -> None:
        self._finder = finder
        self._generation = generation
        self._clock = clock
        self._reports = reports
        self._closed = False

    async def execute(self) -> StoredScan | None:
        return await asyncio.to_thread(self.run)

    def run(self) -> StoredScan | None:
        generation = self._generation()  # read first: a change during the scan rescans
        report = self._finder.find(MAX_CONFLICTS, MAX_SECTIONS, lambda: self._closed)
        if self._closed:
            return None
        scan = StoredScan(generation, report, self._clock.now())
        self._reports.save(scan)
        return scan

    async def run_job(self, job: object) -> dict[str, int]:
        """The `CONFLICT_SCAN` job: one scan, stored; its result says what it found."""
        scan = await self.execute()
        if scan is None:
            return {}
        return {"generation": scan.generation, "conflicts": len(scan.report.conflicts)}

    def close(self) -> None:
        self._closed = True


class ListConflicts:
    """`execute(admin, limit)`: the listing; starts a scan in the background when the knowledge
    base changed since the last one (see the module's rules)."""

    def __init__(
        self,
        finder: ConflictFinder,
        generation: Callable[[], int],
        clock: Clock,
        on_error: Callable[[BaseException], None] = lambda _: None,
        *,
        reports: ConflictReports | None = None,
        request_scan: Callable[[], object] | None = None,
    ) -> None:
        if (reports is None) != (request_scan is None):
            raise ValueError("shared reports need a way to request a scan, and the reverse")
        self._reports = reports
        self._request_scan = request_scan
        self._finder = finder
        self._generation = generation
        self._clock = clock
        self._on_error = on_error
        self._lock = threading.Lock()
        self._ended = threading.Condition(self._lock)
        self._latest: StoredScan | None = None
        self._scanning = False
        self._closed = False

    async def execute(self, caller: Caller, limit: int = 50) -> ConflictListing:
        require_admin(caller, "Listing conflicting documents")
        if not 1 <= limit <= MAX_CONFLICTS:
            raise InvalidRequest(f"limit must be between 1 and {MAX_CONFLICTS}.")
        generation = await asyncio.to_thread(self._generation)
        if self._reports is not None and self._request_scan is not None:
            return await self._shared(generation, limit)
        with self._lock:
            latest = self._latest
            current = latest is not None and latest.generation == generation
            if not current and not self._scanning and not self._closed:
                self._scanning = True
                threading.Thread(
                    target=self._scan, args=(generation,), name="conflict-scan", daemon=True
                ).start()
        return _listing(latest, current, limit)

    async def _shared(self, generation: int, limit: int) -> ConflictListing:
        assert self._reports is not None and self._request_scan is not None
        latest = await asyncio.to_thread(self._reports.latest)
        current = latest is not None and latest.generation >= generation
        if not current:
            await asyncio.to_thread(self._request_scan)  # queued once, whoever asks
        return _listing(latest, current, limit)

    def wait(self, timeout_s: float) -> bool:
        """Wait for a scan under way to end (tests, scripts); whether none is running."""
        with self._ended:
            return self._ended.wait_for(lambda: not self._scanning, timeout_s)

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop a scan under way (before the stores it reads are closed) and start no other."""
        with self._lock:
            self._closed = True
        self.wait(timeout_s)

    def _scan(self, generation: int) -> None:
        try:
            report = self._finder.find(MAX_CONFLICTS, MAX_SECTIONS, lambda: self._closed)
            with self._lock:
                if not self._closed:
                    self._latest = StoredScan(generation, report, self._clock.now())
        except Exception as exc:  # reported; the next request starts another scan
            self._on_error(exc)
        finally:
            with self._lock:
                self._scanning = False
                self._ended.notify_all()


def _listing(latest: StoredScan | None, current: bool, limit: int) -> ConflictListing:
    """The listing of the latest scan (its first `limit` conflicts), `current` or not."""
    report = None
    if latest is not None:
        report = replace(latest.report, conflicts=latest.report.conflicts[:limit])
    return ConflictListing(
        "current" if current else "scanning",
        report,
        latest.finished_at if latest is not None else None,
    )
