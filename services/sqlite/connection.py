"""SQLite connections with sqlite-vec loaded, configured the same way for every store.

Why not the standard library: the CPython builds we target (and macOS system Python, some
distributions) ship without `enable_load_extension` and with SQLite 3.40, too old for
sqlite-vec. `sqlean.py` bundles a current SQLite (3.50) with extension loading enabled, so we
use it everywhere and check at start-up that it really works (`check_sqlite_support`).

Connections are opened in autocommit mode (`isolation_level=None`): every write path opens its
own `BEGIN IMMEDIATE` transaction, because a deferred `BEGIN` that reads and then writes fails
with SQLITE_BUSY at once under concurrent writers, busy timeout or not.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from use_cases.shared.errors import ConfigurationError

try:  # pragma: no cover - exercised by the import itself
    import sqlean as sqlite3
except ImportError as exc:  # pragma: no cover - a broken install
    raise ConfigurationError(
        "The `sqlean.py` package is missing; install Almanac with its dependencies "
        "(`pip install almanac`) so SQLite can load the sqlite-vec extension."
    ) from exc

Connection = sqlite3.Connection
Error = sqlite3.Error
OperationalError = sqlite3.OperationalError
IntegrityError = sqlite3.IntegrityError
#: Row factory for stores that read columns by name (`row["id"]`).
Row = sqlite3.Row

#: sqlite-vec needs 3.41; FTS5 `contentless_delete=1` (used by the knowledge store so that
#: deleting a chunk removes its full-text entry without storing the text twice) needs 3.43.
MIN_SQLITE_VERSION: tuple[int, int, int] = (3, 43, 0)

BUSY_TIMEOUT_MS = 10_000
#: Memory-mapped reads make FTS5 and vec0 scans noticeably cheaper than read() calls.
MMAP_SIZE = 1 << 30
#: Negative = KiB. 64 MiB of page cache per connection keeps the hot FTS5 segments resident.
CACHE_SIZE_KIB = 64 * 1024


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3])


def _load_vec(conn: Connection) -> None:
    """Load sqlite-vec into `conn`, turning every way this can fail into one clear error."""
    try:
        import sqlite_vec
    except ImportError as exc:
        raise ConfigurationError(
            "The `sqlite-vec` package is missing; install Almanac with its dependencies."
        ) from exc
    if not hasattr(conn, "enable_load_extension"):
        raise ConfigurationError(
            "This SQLite binding cannot load extensions, so sqlite-vec is unavailable. "
            "Almanac uses `sqlean.py`; reinstall it (`pip install --force-reinstall sqlean.py`)."
        )
    try:
        conn.enable_load_extension(True)
        try:
            sqlite_vec.load(conn)
        finally:
            conn.enable_load_extension(False)
    except (AttributeError, sqlite3.Error) as exc:
        raise ConfigurationError(f"Could not load the sqlite-vec extension: {exc}") from exc


def check_sqlite_support() -> dict[str, str]:
    """Fail fast at start-up if SQLite is too old or cannot load sqlite-vec.

    Returns the versions found so the caller can log them.
    """
    version = sqlite3.sqlite_version
    if _version_tuple(version) < MIN_SQLITE_VERSION:
        wanted = ".".join(map(str, MIN_SQLITE_VERSION))
        raise ConfigurationError(
            f"SQLite {version} is too old: Almanac needs {wanted} or newer "
            "(sqlite-vec and FTS5 contentless-delete). Reinstall `sqlean.py`."
        )
    conn = sqlite3.connect(":memory:")
    try:
        _load_vec(conn)
        (vec_version,) = conn.execute("SELECT vec_version()").fetchone()
        conn.execute("CREATE VIRTUAL TABLE temp.probe USING fts5(x)")
    except sqlite3.Error as exc:
        raise ConfigurationError(f"SQLite lacks a feature Almanac needs: {exc}") from exc
    finally:
        conn.close()
    return {"sqlite": version, "sqlite_vec": str(vec_version)}


def connect(
    path: str | Path, *, readonly: bool = False, check_same_thread: bool = True
) -> Connection:
    """Open `path` with sqlite-vec loaded, WAL, a busy timeout and foreign keys enforced.

    `readonly=True` opens the file with `mode=ro`, a real boundary (unlike `query_only`), and
    requires the file to exist. `check_same_thread` stays on by default: stores keep one
    connection per thread rather than sharing one.
    """
    if _version_tuple(sqlite3.sqlite_version) < MIN_SQLITE_VERSION:
        check_sqlite_support()  # raises the explanatory error
    if str(path) == ":memory:":
        target, uri = ":memory:", False
    else:
        file_path = Path(path)
        if readonly:
            if not file_path.exists():
                raise ConfigurationError(f"Database file {file_path} does not exist.")
            target, uri = f"{file_path.resolve().as_uri()}?mode=ro", True
        else:
            file_path.parent.mkdir(parents=True, exist_ok=True)
            target, uri = str(file_path), False
    try:
        conn = sqlite3.connect(
            target,
            uri=uri,
            isolation_level=None,
            check_same_thread=check_same_thread,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
    except sqlite3.Error as exc:
        raise ConfigurationError(f"Cannot open database {path}: {exc}") from exc
    try:
        _load_vec(conn)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA mmap_size = {MMAP_SIZE}")
        conn.execute(f"PRAGMA cache_size = -{CACHE_SIZE_KIB}")
        conn.execute("PRAGMA temp_store = MEMORY")
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


@contextlib.contextmanager
def immediate_transaction(conn: Connection) -> Iterator[Connection]:
    """`BEGIN IMMEDIATE` ... `COMMIT`, rolled back on any exception (including KeyboardInterrupt).

    IMMEDIATE takes the write lock up front, so a concurrent writer waits for the busy timeout
    instead of failing half-way through a read-then-write sequence. A failing COMMIT is rolled
    back too, so the connection is never left inside a transaction. SQLite may already have
    rolled back by itself (e.g. on SQLITE_FULL); a second ROLLBACK would raise and hide the
    original error, hence the `in_transaction` check.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def split_statements(script: str) -> list[str]:
    """Split an SQL script into complete statements (triggers' inner `;` included).

    `executescript` would COMMIT first, breaking the one-transaction-per-migration rule.
    """
    statements: list[str] = []
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \t\r\n;"):
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip(" \t\r\n;"):
        raise ValueError(f"Incomplete SQL statement at the end of the script: {buffer!r}")
    return statements


def row_value(row: Any, index: int = 0) -> Any:
    """First (or `index`-th) column of a row that may be None."""
    return None if row is None else row[index]
