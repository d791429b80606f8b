"""Reading a file of a folder only when the file is really inside that folder.

A folder that people can write into (a share, a synced drive) may hold a symbolic link to a
file elsewhere on the server (`team/passwd.txt -> /etc/passwd`). Following it would publish
that file to everyone who can search the knowledge base, so every read of a folder's file
(`almanac ingest FOLDER`, `almanac serve --knowledge FOLDER`, a folder source's sync) goes
through `read_inside`.

Rules:
- A file is inside the folder when the real path of the file that was *opened* (links
  resolved) is under the real path of the folder, and, when `roots` are given
  (SOURCE_FOLDER_ROOTS), under one of them too. Links that stay inside keep working.
- The check is made on the opened file, not on a path looked at before: a link swapped in
  between the listing and the read is refused all the same. On Linux the opened file's path
  comes from `/proc/self/fd`; elsewhere the resolved path is checked and then proved to be
  the opened file (same device and inode).
- Only regular files are read: a FIFO or a device (which could block or never end) is
  refused; the open never blocks (`O_NONBLOCK`).
- A refusal is an `OutsideFolder` (an `OSError`), so every reader's existing "cannot read"
  path reports it, with a reason that names no path outside the folder.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

__all__ = ["OUTSIDE", "OutsideFolder", "is_inside", "read_inside"]

#: Why a file that links out of its folder is not read (it names no path outside).
OUTSIDE = "it links to a file outside the folder, which is never read"

#: `fcntl(F_GETPATH)` on macOS and the BSDs: the path of an open file.
_F_GETPATH = 50


class OutsideFolder(OSError):
    """A file that is not (or, through a link, does not lead to) a regular file inside the
    folder being read."""

    def __init__(self, reason: str) -> None:
        super().__init__(errno.EACCES, reason)


def is_inside(path: Path, folder: Path, roots: tuple[Path, ...] = ()) -> bool:
    """Whether `path`'s real path (links resolved) is under `folder`'s real path and, when
    `roots` are given, under one of theirs. For listing; reads use `read_inside`."""
    try:
        real = Path(os.path.realpath(path, strict=True))
    except OSError:
        return False
    return _within(real, folder, roots)


def read_inside(
    path: Path, folder: Path, *, roots: tuple[Path, ...] = (), limit: int = -1
) -> tuple[bytes, os.stat_result]:
    """The bytes of `path` (at most `limit` + 1 of them when `limit` >= 0, so that a caller
    can tell "over the limit") and the opened file's status after the read; `OutsideFolder`
    when the file opened is not a regular file inside `folder` (module rules)."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise OutsideFolder("not a regular file")
        real = _opened_path(fd, path, opened)
        if real is None or not _within(real, folder, roots):
            raise OutsideFolder(OUTSIDE)
        with os.fdopen(fd, "rb", closefd=True) as file:
            fd = -1
            content = file.read() if limit < 0 else file.read(limit + 1)
            return content, os.fstat(file.fileno())
    finally:
        if fd >= 0:
            os.close(fd)


def _within(real: Path, folder: Path, roots: tuple[Path, ...]) -> bool:
    top = Path(os.path.realpath(folder))
    if not real.is_relative_to(top):
        return False
    return not roots or any(real.is_relative_to(os.path.realpath(root)) for root in roots)


def _opened_path(fd: int, path: Path, opened: os.stat_result) -> Path | None:
    """The real path of the file open as `fd`; None when it cannot be told for sure."""
    proc = f"/proc/self/fd/{fd}"
    if os.path.exists(proc):
        target = os.readlink(proc)
        return (
            Path(target) if target.startswith("/") and not target.endswith(" (deleted)") else None
        )
    try:
        import fcntl

        raw = fcntl.fcntl(fd, _F_GETPATH, b"\0" * 1024)
        return Path(raw.split(b"\0", 1)[0].decode())
    except (ImportError, OSError, ValueError):
        pass
    try:
        real = Path(os.path.realpath(path, strict=True))
        now = os.stat(real)
    except OSError:
        return None
    same = (now.st_dev, now.st_ino) == (opened.st_dev, opened.st_ino)
    return real if same else None
