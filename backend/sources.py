"""Turning paths given on the command line (or the bundled sample) into ingest sources.

A source's key is its path relative to the folder it was found in (`policies/x.md` for
`almanac ingest handbook`), or its file name when the file was named on its own; the
absolute path goes to `origin`, which is never shown to clients.

A walked folder gives only what is inside it: each file is read through
`services.sources.confined.read_inside`, so a file that links out of the folder (or is
swapped for such a link after the walk) fails with "links to a file outside the folder"
instead of being read, and the ingest's report names it.

Every file of a walked folder is accounted for (`scan_sources`): it is an input, or skipped
with the reason (a type Almanac does not read, naming the types it reads), or ignored as a
temporary or lock file (`use_cases.sources.domain.IGNORED_NAMES`: an editor's
`~$report.docx`, LibreOffice's `.~lock.report.odt#`, `*.tmp`, `.DS_Store`, `Thumbs.db`),
which is never read. Other hidden files and folders (a name starting with `.`, like `.git`)
are not looked at.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Protocol

from services.sources.confined import OUTSIDE, OutsideFolder, is_inside, read_inside
from use_cases.knowledge.ingest import IngestSource
from use_cases.shared.errors import InvalidRequest
from use_cases.sources.domain import is_ignored


class KnowsTypes(Protocol):
    """What tells which files a walk picks up: `IngestDocuments` (or a `DocumentLoader`)."""

    def supports(self, name: str) -> bool: ...


class ExplainsTypes(KnowsTypes, Protocol):
    """What also says why a file is not read (`IngestDocuments.refusal`)."""

    def refusal(self, name: str) -> str: ...


@dataclass(frozen=True)
class Skipped:
    """A file of a walked folder that is not read, and why."""

    source: str
    reason: str
    origin: str


@dataclass
class SourceScan:
    """What a walk found: the inputs, the files skipped (with why) and those ignored."""

    sources: list[IngestSource] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def file_source(
    path: Path, root: Path | None = None, default_category: str | None = None
) -> IngestSource:
    """`path` as an input keyed relative to `root` (default: its own folder)."""
    resolved = path.resolve()
    base = (root or resolved.parent).resolve()
    return IngestSource(
        source=resolved.relative_to(base).as_posix(),
        name=resolved.name,
        read=resolved.read_bytes,
        default_category=default_category,
        origin=resolved.as_posix(),
    )


def folder_file_source(file: Path, root: Path, default_category: str | None) -> IngestSource:
    """A file found walking `root` (resolved), read only if it is really inside `root`: a link
    out of it is an input keyed by the link's own path whose read fails, so it is reported
    (module docstring)."""
    if not is_inside(file, root):
        relative = file.relative_to(root)

        def refuse() -> bytes:
            raise OutsideFolder(OUTSIDE)

        return IngestSource(
            source=relative.as_posix(),
            name=file.name,
            read=refuse,
            default_category=default_category,
            origin=(root / relative).as_posix(),
        )
    source = file_source(file, root, default_category)
    resolved = file.resolve()
    return IngestSource(
        source=source.source,
        name=source.name,
        read=lambda: read_inside(resolved, root)[0],
        default_category=default_category,
        origin=source.origin,
    )


def collect_sources(paths: Iterable[Path], loader: KnowsTypes) -> list[IngestSource]:
    """The inputs of `scan_sources` alone."""
    return scan_sources(paths, loader).sources


def scan_sources(
    paths: Iterable[Path], loader: KnowsTypes, *, file_dates: bool = False
) -> SourceScan:
    """Files named explicitly are always taken (so an unsupported one reports an error);
    directories are walked for supported files, skipping hidden ones, and every other file
    found is skipped (with the reason, when `loader` gives one) or ignored (module rules). A
    file inside a sub-folder of a walked directory gets that sub-folder's name as its
    default category. `file_dates`: each input carries its file's modification day (the
    document's date when the file holds none; not for the bundled sample, whose files'
    times are a checkout's).
    """
    found: dict[str, IngestSource] = {}
    scan = SourceScan()
    for path in paths:
        if path.is_file():
            source = file_source(path)
            found.setdefault(source.origin or source.source, source)
        elif path.is_dir():
            root = path.resolve()
            for file in sorted(root.rglob("*")):
                relative = file.relative_to(root)
                if not file.is_file() and not file.is_symlink():
                    continue
                if any(part.startswith(".") for part in relative.parts[:-1]):
                    continue  # inside a hidden folder
                if is_ignored(file.name):
                    scan.ignored.append(relative.as_posix())
                    continue
                if file.name.startswith("."):
                    continue
                if not file.is_file():  # a dangling link
                    scan.skipped.append(
                        Skipped(relative.as_posix(), "cannot read: no such file", file.as_posix())
                    )
                    continue
                if not loader.supports(file.name):
                    reason = _refusal(loader, file.name)
                    scan.skipped.append(Skipped(relative.as_posix(), reason, file.as_posix()))
                    continue
                category = relative.parts[0] if len(relative.parts) > 1 else None
                source = folder_file_source(file, root, category)
                found.setdefault(source.origin or source.source, source)
        else:
            raise InvalidRequest(f"{path} does not exist.")
    scan.sources = [_dated(s) for s in found.values()] if file_dates else list(found.values())
    return scan


def _dated(source: IngestSource) -> IngestSource:
    """`source` with its file's modification day (none when it cannot be read)."""
    try:
        modified = date.fromtimestamp(os.stat(source.origin or "").st_mtime)
    except (OSError, ValueError, OverflowError):
        return source
    return replace(source, modified=modified)


def _refusal(loader: KnowsTypes, name: str) -> str:
    refusal = getattr(loader, "refusal", None)
    return str(refusal(name)) if callable(refusal) else f"{name}: its type is not read"


def prune_prefixes(paths: Iterable[Path]) -> tuple[str, ...]:
    """Origin prefixes whose vanished documents `--prune` may remove."""
    prefixes: list[str] = []
    for path in paths:
        resolved = path.resolve().as_posix()
        prefixes.append(resolved.rstrip("/") + "/" if path.is_dir() else resolved)
    return tuple(prefixes)
