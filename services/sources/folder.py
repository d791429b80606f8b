"""A folder as a synced source, read with `almanac ingest --prune`'s rules.

Rules:
- Every file under the folder whose type the loaders read is an item, keyed by its path
  relative to the folder (`policies/travel.md`); hidden files and folders (a part starting
  with a dot) are skipped, as `almanac ingest` skips them, and so are temporary and lock
  files (`~$report.docx`, `.~lock.report.odt#`, `*.tmp`: `use_cases.sources.domain.is_ignored`),
  which are never read.
- An item's version is its size and modification time (nanoseconds): a file whose version
  did not change is `Unchanged` and never read. Its modification day is the document's date
  when the file holds none of its own.
- A folder that is missing or not a folder, or a sub-folder that cannot be listed, fails the
  listing (`ListingFailed`): an unmounted share must never read as "every file was deleted".
- Over an API key a folder must be under one of `SOURCE_FOLDER_ROOTS` (none set: folder
  sources come from the server's own machine only, `almanac sources add`); when set, every
  folder source must be under one of them.
- A file bigger than the item limit, or that cannot be read, or that changed while it was
  read (its size or time differ after the read), is a failed item and keeps its document.
- Only what is inside the folder is read (`services/sources/confined.py`): a file that links
  out of it (or, with SOURCE_FOLDER_ROOTS, out of them) is a refused item, named in the sync's
  errors, and a document an earlier sync made of it is removed; links that stay inside work.
  The check is made on the file opened, so a link swapped in after the listing is refused too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from pathlib import Path

from services.sources.confined import OUTSIDE, OutsideFolder, is_inside, read_inside
from services.sources.kinds import SourceContext, hidden
from use_cases.shared.errors import InvalidRequest
from use_cases.sources.domain import SourceSpec, is_ignored
from use_cases.sources.ports import (
    Fetched,
    ItemFailed,
    ItemRefused,
    ListingFailed,
    SourceEvent,
    Unchanged,
)

__all__ = ["FolderKind", "FolderReader"]


class FolderKind:
    name = "folder"

    def __init__(self, context: SourceContext) -> None:
        self._context = context

    def check(self, location: str, *, local: bool) -> str:
        """A folder that exists; over an API key, only under SOURCE_FOLDER_ROOTS (an API key
        must not turn the server's own files into documents)."""
        path = Path(location).expanduser()
        if not path.is_dir():
            raise InvalidRequest(f"{location} is not a folder (or does not exist).")
        resolved = path.resolve()
        roots = [Path(root).resolve() for root in self._context.folder_roots]
        if roots and not any(resolved.is_relative_to(root) for root in roots):
            raise InvalidRequest(
                f"{location} is not under a folder sources may be read from "
                f"(SOURCE_FOLDER_ROOTS: {', '.join(r.as_posix() for r in roots)})."
            )
        if not roots and not local:
            raise InvalidRequest(
                "Folder sources are declared over the API only under SOURCE_FOLDER_ROOTS, "
                "which this server does not set; use `almanac sources add` on the server."
            )
        return resolved.as_posix()

    def reader(self, spec: SourceSpec) -> FolderReader:
        return FolderReader(
            Path(spec.location),
            self._context.supports,
            self._context.max_item_bytes,
            roots=tuple(Path(root) for root in self._context.folder_roots),
        )


class FolderReader:
    def __init__(
        self,
        root: Path,
        supports: Callable[[str], bool],
        max_bytes: int,
        *,
        roots: tuple[Path, ...] = (),
    ) -> None:
        self._root = root
        self._supports = supports
        self._max_bytes = max_bytes
        self._roots = roots

    def read(self, previous: Mapping[str, str]) -> Iterator[SourceEvent]:
        for key, path in self._files():
            if not is_inside(path, self._root, self._roots):
                yield ItemRefused(key, OUTSIDE)
                continue
            try:
                stat = path.stat()
            except OSError as exc:
                yield ItemFailed(key, f"cannot read: {exc.strerror}")
                continue
            version = _version(stat)
            if previous.get(key) == version:
                yield Unchanged(key)
            elif stat.st_size > self._max_bytes:
                yield ItemFailed(
                    key, f"{stat.st_size:,} bytes, more than the {self._max_bytes:,} allowed"
                )
            else:
                yield self._fetch(key, path, version)

    def _fetch(self, key: str, path: Path, version: str) -> SourceEvent:
        try:
            content, opened = read_inside(
                path, self._root, roots=self._roots, limit=self._max_bytes
            )
        except OutsideFolder:
            return ItemRefused(key, OUTSIDE)
        except OSError as exc:
            return ItemFailed(key, f"cannot read: {exc.strerror}")
        if _version(opened) != version or len(content) > self._max_bytes:
            return ItemFailed(key, "the file changed while it was read; the next sync reads it")
        modified = date.fromtimestamp(opened.st_mtime)
        return Fetched(key, path.name, content, version, modified=modified)

    def _files(self) -> Iterator[tuple[str, Path]]:
        """(key, path) of every file to sync, in key order; `ListingFailed` as soon as any
        part of the folder cannot be listed."""
        if not self._root.is_dir():
            raise ListingFailed(f"{self._root} is not a folder any more (unmounted or removed)")
        found: list[tuple[str, Path]] = []

        def failed(error: OSError) -> None:
            raise ListingFailed(f"cannot list {error.filename}: {error.strerror}")

        for folder, folders, files in os.walk(self._root, onerror=failed, followlinks=False):
            base = Path(folder)
            folders[:] = [f for f in folders if not f.startswith(".")]
            for name in files:
                path = base / name
                key = path.relative_to(self._root).as_posix()
                if hidden(key) or is_ignored(name) or not self._supports(name):
                    continue
                if not path.is_file():
                    continue
                found.append((key, path))
        yield from sorted(found)


def _version(stat: os.stat_result) -> str:
    return f"{stat.st_size}:{stat.st_mtime_ns}"
