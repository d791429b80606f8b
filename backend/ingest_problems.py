"""What the folder ingests could not read: kept for `GET /api/documents/problems` (and
`almanac docs problems`), and so that a failing file is reported once per change of it.

Rules:
- After an ingest of folders (`almanac ingest DIR`, the start of `almanac serve --knowledge`)
  its problems (files failed, refused as duplicates or conflicts, or skipped as types Almanac
  does not read) replace those recorded under the same folders: a file fixed or removed drops
  out; problems under other folders stay.
- Each problem keeps the file's fingerprint (size and modification time). A failure of a file
  whose fingerprint is the one recorded was reported already: the ingest counts it but names
  it no more (`known`); once the file changes, its failure is named again.
- The list is `DATA_DIR/ingest-problems.json`, written by the process that ingested (replaced
  whole, never half-written); a missing or unreadable list is an empty one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from backend.sources import SourceScan
from use_cases.knowledge.domain import IngestReport

PROBLEMS_FILE = "ingest-problems.json"
#: The statuses of an ingest item that keep its file out of the knowledge base.
PROBLEM_STATUSES = ("failed", "duplicate", "conflict")


@dataclass(frozen=True)
class IngestProblem:
    """A file of an ingested folder that is not in the knowledge base, and why."""

    source: str
    origin: str
    status: str
    """failed | duplicate | conflict | skipped"""
    reason: str
    size: int | None
    mtime_ns: int | None
    reported_at: str


def load_problems(data_dir: Path) -> list[IngestProblem]:
    """The problems recorded in `data_dir` (none when there is no readable list)."""
    try:
        rows = json.loads((data_dir / PROBLEMS_FILE).read_text(encoding="utf-8"))
        return [IngestProblem(**row) for row in rows]
    except (OSError, ValueError, TypeError):
        return []


def record_problems(
    data_dir: Path, prefixes: Iterable[str], report: IngestReport, scan: SourceScan
) -> set[str]:
    """Record this ingest's problems for the folders `prefixes` (origin prefixes, module
    rules); returns the sources of its failures reported before (unchanged files)."""
    prefixes = tuple(prefixes)
    origins = {source.source: source.origin for source in scan.sources if source.origin}
    before = {(p.origin, p.status, p.size, p.mtime_ns): p for p in load_problems(data_dir)}
    now = datetime.now(UTC).isoformat(timespec="seconds")
    found = [
        (item.source, origins[item.source], item.status, item.error or "")
        for item in report.items
        if item.status in PROBLEM_STATUSES and item.source in origins
    ] + [(s.source, s.origin, "skipped", s.reason) for s in scan.skipped]
    known: set[str] = set()
    fresh: list[IngestProblem] = []
    for source, origin, status, reason in found:
        size, mtime_ns = _fingerprint(origin)
        earlier = before.get((origin, status, size, mtime_ns))
        if earlier is not None and status != "skipped":
            known.add(source)
        reported_at = earlier.reported_at if earlier is not None else now
        fresh.append(IngestProblem(source, origin, status, reason, size, mtime_ns, reported_at))
    kept = [p for p in before.values() if not p.origin.startswith(prefixes)]
    _write(data_dir, [*kept, *fresh])
    return known


def _fingerprint(origin: str) -> tuple[int | None, int | None]:
    try:
        stat = os.stat(origin)
    except OSError:
        return None, None
    return stat.st_size, stat.st_mtime_ns


def _write(data_dir: Path, problems: list[IngestProblem]) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / PROBLEMS_FILE
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps([asdict(p) for p in problems], indent=1), encoding="utf-8")
    partial.replace(path)
