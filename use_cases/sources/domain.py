"""What a synced source is, and what one sync of it did.

A source is named by an admin (`handbook`, `policies-bucket`); the name is the first part of
every document key it brings (`handbook/travel/expenses.md`), so two sources never collide,
and it is how its documents are found again (their origin is `source:NAME/KEY`, never shown).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase

from use_cases.shared.errors import InvalidRequest

#: A source's name: what the CLI and the API address it by, and its documents' key prefix.
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
#: The origin prefix of a source's documents (`source:handbook/`): no path starts with it.
ORIGIN_PREFIX = "source:"

#: How one sync ended.
RUNNING, DONE, FAILED = "running", "done", "failed"


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise InvalidRequest(
            f"'{name}' is not a source name: use 1 to 63 lower-case letters, digits, '-' or "
            "'_', starting with a letter or digit (it prefixes its documents' keys)."
        )
    return name


def document_key(source: str, key: str) -> str:
    """The knowledge base key of item `key` of source `source`: what citations show."""
    return f"{source}/{key}"


def origin_of(source: str, key: str) -> str:
    """The stored origin of item `key` of source `source` (how a sync finds its documents)."""
    return f"{ORIGIN_PREFIX}{source}/{key}"


def origin_prefix(source: str) -> str:
    return f"{ORIGIN_PREFIX}{source}/"


#: Temporary and lock files of editors and file managers (an open Word file's `~$report.docx`,
#: LibreOffice's `.~lock.report.odt#`): never read by a folder ingest or a folder source.
IGNORED_NAMES = ("~$*", ".~lock.*#", "*.tmp", ".DS_Store", "Thumbs.db")


def is_ignored(name: str) -> bool:
    """Whether a file of this name is a temporary or lock file (`IGNORED_NAMES`)."""
    return any(fnmatchcase(name, pattern) for pattern in IGNORED_NAMES)


@dataclass(frozen=True)
class SourceSpec:
    """A source as an admin declared it: a reader `kind` (`folder`, `s3`, `url`, or a
    plugin's) and its `location` (a path, `s3://bucket/prefix`, a URL); synced every
    `every_s` seconds (None: only when asked); `collection` kept for the collections feature."""

    name: str
    kind: str
    location: str
    every_s: int | None = None
    collection: str | None = None


@dataclass(frozen=True)
class SyncCounts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: int = 0

    def line(self) -> str:
        """The one line a sync ends with (the CLI prints it as it is)."""
        return (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.removed} removed, {self.failed} failed"
        )


@dataclass(frozen=True)
class ItemError:
    key: str
    reason: str


@dataclass(frozen=True)
class SyncRun:
    """One sync of a source, as its history keeps it. `error` says why the listing failed
    (then nothing was removed); `errors` are the items that failed (at most `MAX_ERRORS`)."""

    id: int
    source: str
    status: str  # running | done | failed
    started_at: datetime
    finished_at: datetime | None = None
    counts: SyncCounts = field(default_factory=SyncCounts)
    error: str | None = None
    errors: tuple[ItemError, ...] = ()
    trigger: str = "manual"  # manual | schedule


#: Item errors a run keeps (the counts keep the rest).
MAX_ERRORS = 50


@dataclass(frozen=True)
class SourceView:
    """A source with its last sync and when the next is due (None: not scheduled)."""

    spec: SourceSpec
    created_at: datetime
    next_sync_at: datetime | None
    last_run: SyncRun | None
    documents: int
