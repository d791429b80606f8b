"""The SQLite side of the copy: the installation's three files, read-only, and their catalogue."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from services.database_copy.tables import APP_TABLES, KNOWLEDGE_TABLES, NOT_DATA
from services.sqlite.connection import Connection as SqliteConnection
from services.sqlite.connection import connect
from use_cases.shared.errors import ConfigurationError


@dataclass
class Source:
    directory: Path
    knowledge: SqliteConnection
    app: SqliteConnection
    tables: SqliteConnection | None


@contextmanager
def open_source(directory: Path) -> Iterator[Source]:
    """The three files, read-only, each inside one read transaction (one snapshot)."""
    knowledge_path, app_path = directory / "knowledge.db", directory / "app.db"
    for path in (knowledge_path, app_path):
        if not path.exists():
            raise ConfigurationError(
                f"{path} does not exist: --from must name the directory of an Almanac "
                "installation (its knowledge.db and app.db)."
            )
    tables_path = directory / "tables.db"
    with ExitStack() as stack:
        conns: list[SqliteConnection] = []
        for path in (knowledge_path, app_path, tables_path):
            if not path.exists():
                continue
            conn = connect(path, readonly=True)
            stack.callback(conn.close)
            conn.execute("BEGIN")
            conns.append(conn)
        yield Source(directory, conns[0], conns[1], conns[2] if len(conns) > 2 else None)


def sqlite_tables(conn: SqliteConnection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
    return [row[0] for row in rows]


def sqlite_columns(conn: SqliteConnection, table: str) -> list[tuple[str, str]]:
    """(name, declared type) of each column, in order."""
    rows = conn.execute("SELECT name, type FROM pragma_table_info(?) ORDER BY cid", (table,))
    return [(row[0], str(row[1] or "").upper()) for row in rows]


def sqlite_count(conn: SqliteConnection, table: str) -> int:
    (n,) = conn.execute(f"SELECT count(*) FROM {quote(table)}").fetchone()
    return int(n)


def autoincrement_floor(conn: SqliteConnection, table: str) -> int:
    """The highest id SQLite ever gave in `table` (0 when it keeps none): its AUTOINCREMENT
    high-water mark, or for documents the knowledge base's own counter (`last_document_id`,
    ids of deleted documents included)."""
    floor = 0
    if has_table(conn, "sqlite_sequence"):
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
        floor = int(row[0]) if row else 0
    if table == "documents" and has_table(conn, "meta"):
        row = conn.execute("SELECT value FROM meta WHERE key = 'last_document_id'").fetchone()
        floor = max(floor, int(row[0])) if row else floor
    return floor


def has_table(conn: SqliteConnection, name: str) -> bool:
    found = conn.execute(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return found is not None


def quote(name: str) -> str:
    """An SQLite identifier (the names come from the file's own catalogue)."""
    return '"' + name.replace('"', '""') + '"'


def unknown_tables(source: Source) -> list[str]:
    """Source tables the copy does not know (a newer installation's, or foreign ones)."""
    known = {*KNOWLEDGE_TABLES, *APP_TABLES}
    left: list[str] = []
    for label, conn in (("knowledge.db", source.knowledge), ("app.db", source.app)):
        for table in sqlite_tables(conn):
            if table not in known and not NOT_DATA.match(table):
                left.append(f"{label}:{table}")
    return left
