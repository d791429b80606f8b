"""`services/sql`'s `SqlDb`, the handle the stores written once for both databases use: the
same statements, transactions, rows, times and JSON on SQLite and PostgreSQL (`backend`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from services.sql import SqlDb, sql_db
from tests.store_backends import AppDb, open_app_db


@pytest.fixture
def app_db(backend: str, tmp_path: Path, request: pytest.FixtureRequest):
    yield from open_app_db(backend, tmp_path, request)


@pytest.fixture
def db(app_db: AppDb):
    handle = sql_db(app_db.db if app_db.db is not None else app_db.path)
    with handle.write() as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL, at TEXT)")
    yield handle
    handle.close()


def _bodies(db: SqlDb) -> list[str]:
    with db.read() as conn:
        return [row["body"] for row in conn.execute("SELECT body FROM notes ORDER BY id")]


def test_a_write_is_one_transaction_kept_whole_or_not_at_all(db: SqlDb) -> None:
    with db.write() as conn:
        conn.execute("INSERT INTO notes (id, body) VALUES (?, ?)", (1, "kept"))
    with pytest.raises(RuntimeError), db.write() as conn:
        conn.execute("INSERT INTO notes (id, body) VALUES (?, ?)", (2, "undone"))
        raise RuntimeError("a failure half-way")
    assert _bodies(db) == ["kept"]


def test_placeholders_and_a_literal_percent_sign_with_and_without_parameters(db: SqlDb) -> None:
    with db.write() as conn:
        conn.execute("INSERT INTO notes (id, body) VALUES (1, '100% sure')")  # no parameters
        conn.execute("INSERT INTO notes (id, body) VALUES (?, ?)", (2, "50% off"))
    with db.read() as conn:
        rows = conn.execute(
            "SELECT id, body FROM notes WHERE body LIKE '%\\%%' ESCAPE '\\' AND id >= ? "
            "ORDER BY id",
            (1,),
        ).fetchall()
    assert [(row["id"], row["body"]) for row in rows] == [(1, "100% sure"), (2, "50% off")]


def test_times_and_json_come_back_as_they_went_in(db: SqlDb, app_db: AppDb) -> None:
    moment = datetime(2026, 11, 25, 10, 30, 0, 123456, tzinfo=UTC)
    other_zone = moment.astimezone(timezone(timedelta(hours=2)))
    assert db.get_time(_round_trip(db, app_db, db.put_time(moment))) == moment
    assert db.get_time(_round_trip(db, app_db, db.put_time(other_zone))) == moment
    # A JSON string stays a string (the driver may have decoded the column already).
    for value in ({"a": [1, "é"]}, "just text", [1.5, None]):
        stored = json.dumps(value)
        assert db.get_json(stored if db.dialect == "sqlite" else value) == value


def _round_trip(db: SqlDb, app_db: AppDb, value: object) -> object:
    column = "TIMESTAMPTZ" if app_db.is_postgres else "TEXT"
    with db.write() as conn:
        conn.execute(f"CREATE TABLE IF NOT EXISTS times (at {column})")
        conn.execute("DELETE FROM times")
        conn.execute("INSERT INTO times (at) VALUES (?)", (value,))
    with db.read() as conn:
        return conn.execute("SELECT at FROM times").fetchone()["at"]


def test_rows_are_read_by_column_name_and_for_update_locks_only_where_it_is_needed(
    db: SqlDb,
) -> None:
    with db.write() as conn:
        conn.execute("INSERT INTO notes (id, body) VALUES (?, ?)", (7, "locked"))
        row = conn.execute(f"SELECT id, body FROM notes WHERE id = ?{db.for_update}", (7,))
        assert dict(row.fetchone()) == {"id": 7, "body": "locked"}
    assert db.for_update == ("" if db.dialect == "sqlite" else " FOR UPDATE")
