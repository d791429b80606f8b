"""The one SQLite connection policy (`services/sqlite/`) and the stores that use it.

Real SQLite files in `tmp_path`; the history database layout written by the removed private
helpers of `services/chat/history_store.py` is rebuilt here byte-for-byte in SQL, so a file
created before the switch to the shared helpers is shown to open unchanged.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlean

from services.admin.api_key_store import ApiKeyStore
from services.chat.history_store import MIGRATIONS, HistoryStore
from services.sqlite.connection import (
    BUSY_TIMEOUT_MS,
    IntegrityError,
    OperationalError,
    Row,
    connect,
    immediate_transaction,
)
from services.sqlite.thread_connections import ThreadConnections
from use_cases.chat.domain import NewMessage

# What the removed `_apply_migrations` of the history store created and recorded: the same
# table definition as `services/sqlite/migrations.py`, a microsecond `applied_at`.
_OLD_MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
)
_OLD_APPLIED_AT = "2025-01-02T03:04:05.678901+00:00"


def _history_db_as_before(path: Path) -> None:
    """An app.db with one chat and one message, written the way the old stand-ins did."""
    conn = sqlean.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(_OLD_MIGRATIONS_TABLE)
    conn.execute("BEGIN IMMEDIATE")
    for migration in MIGRATIONS:
        migration.apply(conn)
        conn.execute(
            "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
            (migration.name, _OLD_APPLIED_AT),
        )
    now = "2025-01-02T03:04:05.000000+00:00"
    conn.execute("INSERT INTO users (id, created_at) VALUES ('ada', ?)", (now,))
    conn.execute(
        "INSERT INTO chats (id, user_id, title, created_at, updated_at) "
        "VALUES ('c1', 'ada', 'Old chat', ?, ?)",
        (now, now),
    )
    conn.execute(
        "INSERT INTO messages (id, chat_id, seq, role, content, created_at) "
        "VALUES ('m1', 'c1', 1, 'user', 'Which runbook applies?', ?)",
        (now,),
    )
    conn.execute("COMMIT")
    conn.close()


def test_a_history_db_from_before_the_shared_helpers_opens_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    _history_db_as_before(path)

    store = HistoryStore(path)  # re-applying the migration would fail: tables exist
    try:
        assert [m.content for m in store.list_messages("c1")] == ["Which runbook applies?"]
        store.append_message("c1", NewMessage(role="assistant", content="The incident one."))
        assert [m.role for m in store.list_messages("c1")] == ["user", "assistant"]
        with store._db.read() as conn:  # this thread's connection
            records = [
                tuple(row) for row in conn.execute("SELECT name, applied_at FROM schema_migrations")
            ]
        # The old record stays as it was; later migrations are applied on top of it.
        assert records[0] == (MIGRATIONS[0].name, _OLD_APPLIED_AT)
        assert [name for name, _ in records] == [m.name for m in MIGRATIONS]
    finally:
        store.close()


def test_history_and_admin_stores_share_one_migrations_table(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    history = HistoryStore(path)
    keys = ApiKeyStore(path)
    history.close()
    keys.close()

    conn = connect(path)
    try:
        names = [row[0] for row in conn.execute("SELECT name FROM schema_migrations")]
    finally:
        conn.close()
    assert MIGRATIONS[0].name in names
    assert any(name != MIGRATIONS[0].name for name in names)  # the API key store's own


def test_history_connections_follow_the_shared_policy(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "app.db")
    try:
        with store._db.read() as conn:  # this thread's connection
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
            assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_MS
            assert conn.execute("SELECT vec_version()").fetchone()[0]  # sqlite-vec loaded
            assert isinstance(conn, sqlean.Connection)  # the SQLite store lends its own
            assert conn.isolation_level is None  # autocommit: only our BEGINs open transactions
    finally:
        store.close()


def test_a_failing_commit_is_rolled_back(tmp_path: Path) -> None:
    """A deferred foreign key fails at COMMIT; the connection must not stay in a transaction."""
    conn = connect(tmp_path / "fk.db")
    try:
        conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        conn.execute(
            "CREATE TABLE child (parent_id INTEGER "
            "REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)"
        )
        with pytest.raises(IntegrityError), immediate_transaction(conn):
            conn.execute("INSERT INTO child (parent_id) VALUES (42)")
        assert not conn.in_transaction
        assert conn.execute("SELECT count(*) FROM child").fetchone()[0] == 0
        with immediate_transaction(conn):  # the connection is usable again
            conn.execute("INSERT INTO parent (id) VALUES (1)")
        assert conn.execute("SELECT count(*) FROM parent").fetchone()[0] == 1
    finally:
        conn.close()


def test_thread_connections_are_per_thread_and_all_closed(tmp_path: Path) -> None:
    connections = ThreadConnections(tmp_path / "t.db", row_factory=Row)
    main = connections.get()
    assert connections.get() is main
    main.execute("CREATE TABLE t (name TEXT)")
    main.execute("INSERT INTO t VALUES ('x')")

    seen = []
    worker = threading.Thread(target=lambda: seen.append(connections.get()))
    worker.start()
    worker.join()
    assert seen[0] is not main
    assert main.execute("SELECT name FROM t").fetchone()["name"] == "x"

    connections.close()
    for conn in (main, seen[0]):
        with pytest.raises(sqlean.ProgrammingError):
            conn.execute("SELECT 1")


def test_readonly_thread_connections_refuse_writes(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    writer = connect(path)
    writer.execute("CREATE TABLE t (x INTEGER)")
    writer.close()

    connections = ThreadConnections(path, readonly=True)
    try:
        with pytest.raises(OperationalError):
            connections.get().execute("INSERT INTO t VALUES (1)")
    finally:
        connections.close()
