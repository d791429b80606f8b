"""What every source kind is given, and what it must offer (the registry builds them).

A kind is a class: built with the `SourceContext` once per process, it checks a location an
admin gives (`check`) and opens a reader for one sync (`reader`). `check` is told whether
the caller is on the server's own machine (`local`: the CLI, development mode) or holds an
API key: only a kind that reads the server's own disk (a folder) tells them apart. Readers
list their origin and yield one event per item (`use_cases/sources/ports.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from services.crawler import CrawlLimits
from use_cases.sources.domain import SourceSpec
from use_cases.sources.ports import SourceReader


@dataclass(frozen=True)
class SourceContext:
    """What the installation tells every kind: which file names the loaders read (other
    files are not listed), the most bytes one item may have (a bigger one is a failed
    item, never read), where an S3-compatible store is, and the whole settings object for
    a plugin's own settings."""

    supports: Callable[[str], bool]
    max_item_bytes: int
    folder_roots: tuple[str, ...] = ()
    """Folders under which a folder source may be declared over the API (SOURCE_FOLDER_ROOTS);
    none: folder sources only from the server's own machine (the CLI, development mode)."""
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    crawl_limits: CrawlLimits | None = None
    """A website's page, depth, size, time and delay limits (SOURCE_*); None: the defaults."""
    allowed_hosts: tuple[str, ...] = ()
    """Hosts whose private or loopback addresses a website source may read
    (SOURCE_ALLOWED_HOSTS)."""
    settings: Any = None


class SourceKind(Protocol):
    name: str

    def check(self, location: str, *, local: bool) -> str:
        """The location as stored (normalised), or `InvalidRequest` saying what is wrong."""
        ...

    def reader(self, spec: SourceSpec) -> SourceReader: ...


def hidden(key: str) -> bool:
    """A key with a part starting with a dot (`.git/...`, `.DS_Store`): never listed, as
    `almanac ingest` skips such files."""
    return any(part.startswith(".") for part in key.split("/"))
