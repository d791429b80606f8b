"""The SQLite sandbox's engine limits are in force, not only configured.

Each test runs the statement the limit exists for on the sandbox's own connection (or through
the runner) and, as a control, on a plain connection to the same file, where the statement
must succeed: otherwise a refusal would prove nothing.
"""

from __future__ import annotations

from pathlib import Path

import apsw
import pytest

from services.tables.loader import TableLoader
from services.tables.sql_sandbox import MAX_VALUE_BYTES, SqliteSqlRunner, open_sandbox_connection
from use_cases.shared.errors import ToolRejected

OVER_THE_VALUE_LIMIT = MAX_VALUE_BYTES + 1_000_000
PRINTF = "SELECT length(printf('%.*c', {n}, 'x')) AS n"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "tables.db"
    csv = tmp_path / "orders.csv"
    csv.write_text("id,total\n1,10\n2,20\n", encoding="utf-8")
    TableLoader(path).load(csv, "orders")
    return path


def _plain(path: Path) -> apsw.Connection:
    return apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)


def test_without_the_limits_the_statements_below_would_succeed(db_path: Path) -> None:
    conn = _plain(db_path)
    try:
        assert conn.execute(PRINTF.format(n=OVER_THE_VALUE_LIMIT)).fetchone() == (
            OVER_THE_VALUE_LIMIT,
        )
        conn.execute("ATTACH DATABASE ':memory:' AS other")
        assert conn.execute("SELECT '" + "x" * 500 + "'").fetchone() == ("x" * 500,)
    finally:
        conn.close()


def test_no_string_or_blob_may_grow_past_the_value_limit(db_path: Path) -> None:
    conn = open_sandbox_connection(db_path, sql_bytes=1000, timeout_s=1.0)
    try:
        assert conn.limit(apsw.SQLITE_LIMIT_LENGTH) == MAX_VALUE_BYTES
        assert conn.execute(PRINTF.format(n=MAX_VALUE_BYTES - 1)).fetchone() == (
            MAX_VALUE_BYTES - 1,
        )
        assert conn.execute(PRINTF.format(n=OVER_THE_VALUE_LIMIT)).fetchone() == (None,)
        with pytest.raises(apsw.TooBigError):
            conn.execute("SELECT zeroblob(?)", (OVER_THE_VALUE_LIMIT,)).fetchone()
    finally:
        conn.close()


def test_the_runner_answers_null_for_a_value_past_the_limit(db_path: Path) -> None:
    runner = SqliteSqlRunner(db_path)
    assert runner.run(PRINTF.format(n=OVER_THE_VALUE_LIMIT)).rows == ((None,),)
    assert runner.engine_limits_applied is True


def test_no_database_may_be_attached(db_path: Path) -> None:
    conn = open_sandbox_connection(db_path, sql_bytes=1000, timeout_s=1.0)
    try:
        with pytest.raises(apsw.SQLError, match="too many attached databases"):
            conn.execute("ATTACH DATABASE ':memory:' AS other")
    finally:
        conn.close()


def test_the_engine_refuses_sql_longer_than_its_limit(db_path: Path) -> None:
    conn = open_sandbox_connection(db_path, sql_bytes=264, timeout_s=1.0)
    try:
        assert conn.execute("SELECT '" + "x" * 200 + "'").fetchone() == ("x" * 200,)
        with pytest.raises(apsw.TooBigError):
            conn.execute("SELECT '" + "x" * 300 + "'")
    finally:
        conn.close()


def test_the_runner_refuses_long_sql_in_the_engine_when_the_text_check_is_skipped(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = SqliteSqlRunner(db_path, max_sql_length=50)  # the engine allows 4 * 50 + 64 bytes
    monkeypatch.setattr(runner, "_check_text", lambda text: text)
    assert runner.run("SELECT '" + "x" * 150 + "' AS x").rows == (("x" * 150,),)
    with pytest.raises(ToolRejected, match="exceeded the size limit"):
        runner.run("SELECT '" + "x" * 300 + "' AS x")


def test_a_statement_after_the_first_is_refused_before_the_first_runs(db_path: Path) -> None:
    runner = SqliteSqlRunner(db_path, timeout_s=0.2)
    slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c"
    with pytest.raises(ToolRejected, match="exactly one SQL statement"):
        runner.run(slow + "; SELECT 1")  # not "took longer": the first never ran


@pytest.mark.parametrize("tail", ["", ";", "; -- done", ";\n/* done */ ;"])
def test_comments_and_semicolons_after_the_statement_are_not_a_second_one(
    db_path: Path, tail: str
) -> None:
    assert SqliteSqlRunner(db_path).run("SELECT count(*) FROM orders" + tail).rows == ((2,),)
