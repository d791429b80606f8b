"""SqliteSqlRunner against real SQLite files: hostile SQL is refused or stopped, and leaves the
database byte-identical; ordinary analytical SELECTs work and come back bounded."""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from pathlib import Path

import pytest
import sqlean as sqlite3

from services.tables.loader import SqliteTableLoader
from services.tables.sql_sandbox import SqliteSqlRunner, render_markdown
from use_cases.chat_domain import QueryResult
from use_cases.errors import ToolRejected

LISTED = ["customers", "orders", "files"]
TIMEOUT_S = 0.2

CUSTOMERS_CSV = """id,name,country
1,Ada,UK
2,Grace,US
3,Linus,FI
"""

ORDERS_CSV = """id,customer_id,total,ordered_on
10,1,25.5,2024-01-03
11,1,4.5,2024-02-11
12,2,100,2024-02-12
13,3,7.25,2024-03-01
14,2,0.75,2024-03-15
"""


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """customers + orders (loaded like users load them), a blob table, and hidden objects.

    Built once per module and copied per test: the copy is a fresh, checkpointed WAL database.
    """
    directory = tmp_path_factory.mktemp("template")
    path = directory / "tables.db"
    loader = SqliteTableLoader(path)
    (directory / "customers.csv").write_text(CUSTOMERS_CSV, encoding="utf-8")
    (directory / "orders.csv").write_text(ORDERS_CSV, encoding="utf-8")
    loader.load(directory / "customers.csv", "customers")
    loader.load(directory / "orders.csv", "orders")
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        conn.execute("CREATE TABLE files (id INTEGER, data BLOB, note TEXT)")
        conn.execute("INSERT INTO files VALUES (1, randomblob(2048), ?)", ("x" * 2000,))
        conn.execute("CREATE TABLE secrets (token TEXT)")
        conn.execute("INSERT INTO secrets VALUES ('s3cr3t-token')")
        conn.execute("CREATE VIEW secret_view AS SELECT token FROM secrets")
        conn.execute("CREATE INDEX orders_by_customer ON orders(customer_id)")
    finally:
        conn.close()
    assert not path.with_name("tables.db-wal").exists()  # checkpointed on close
    return path


@pytest.fixture
def db_path(template_db: Path, tmp_path: Path) -> Path:
    path = tmp_path / "tables.db"
    shutil.copyfile(template_db, path)
    return path


@pytest.fixture
def runner(db_path: Path) -> SqliteSqlRunner:
    return SqliteSqlRunner(db_path, tables=LISTED, timeout_s=TIMEOUT_S)


def file_state(db_path: Path) -> dict[str, str | None]:
    """sha256 of the database and its -wal / -shm companions (None when absent)."""
    state: dict[str, str | None] = {}
    for suffix in ("", "-wal", "-shm"):
        companion = db_path.with_name(db_path.name + suffix)
        state[suffix or "db"] = (
            hashlib.sha256(companion.read_bytes()).hexdigest() if companion.exists() else None
        )
    return state


def directory_listing(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


# -- hostile statements ---------------------------------------------------------------------------

# `{tmp}` is replaced with the test's temporary directory.
HOSTILE: list[tuple[str, str]] = [
    # writes
    ("insert", "INSERT INTO orders VALUES (99, 1, 1.0, '2024-01-01')"),
    ("insert select", "INSERT INTO orders SELECT * FROM orders"),
    ("insert returning", "INSERT INTO orders (id) VALUES (98) RETURNING *"),
    ("update", "UPDATE orders SET total = 0"),
    ("delete", "DELETE FROM orders"),
    ("delete returning", "DELETE FROM orders WHERE id = 10 RETURNING *"),
    ("replace", "REPLACE INTO orders VALUES (10, 1, 0, '2024-01-01')"),
    ("insert or replace", "INSERT OR REPLACE INTO customers VALUES (1, 'Eve', 'XX')"),
    # schema changes
    ("create table", "CREATE TABLE evil (x)"),
    ("create table as", "CREATE TABLE evil AS SELECT * FROM secrets"),
    ("create index", "CREATE INDEX evil_idx ON orders(total)"),
    ("create view", "CREATE VIEW evil_view AS SELECT * FROM orders"),
    (
        "create trigger",
        "CREATE TRIGGER evil AFTER INSERT ON orders BEGIN DELETE FROM customers; END",
    ),
    ("create temp table", "CREATE TEMP TABLE scratch (x)"),
    ("create temp view", "CREATE TEMP VIEW v AS SELECT * FROM secrets"),
    ("create virtual table", "CREATE VIRTUAL TABLE evil_fts USING fts5(x)"),
    ("drop table", "DROP TABLE orders"),
    ("drop index", "DROP INDEX orders_by_customer"),
    ("drop view", "DROP VIEW secret_view"),
    ("alter rename", "ALTER TABLE orders RENAME TO orders_old"),
    ("alter add column", "ALTER TABLE orders ADD COLUMN evil TEXT"),
    # several statements and comment tricks
    ("two statements", "SELECT 1; DROP TABLE orders"),
    ("block comment then statement", "SELECT 1 /* */; DROP TABLE orders"),
    ("line comment then statement", "SELECT 1 -- harmless\n; DROP TABLE orders"),
    ("statement after line comment", "-- just a comment\nDROP TABLE orders"),
    ("select then pragma", "SELECT 1 WHERE 0; PRAGMA writable_schema = ON"),
    # writes smuggled behind a CTE
    ("cte delete", "WITH x AS (SELECT 1) DELETE FROM orders"),
    ("cte insert", "WITH x AS (SELECT * FROM orders) INSERT INTO orders SELECT * FROM x"),
    ("cte update", "WITH x AS (SELECT 1) UPDATE orders SET total = 0"),
    # other databases
    ("attach memory", "ATTACH DATABASE ':memory:' AS m"),
    ("attach file", "ATTACH DATABASE '{tmp}/other.db' AS other"),
    ("detach", "DETACH DATABASE main"),
    # pragmas, as statements and as table-valued functions
    ("pragma writable_schema", "PRAGMA writable_schema = ON"),
    ("pragma query_only", "PRAGMA query_only = 0"),
    ("pragma table_info", "PRAGMA table_info(secrets)"),
    ("pragma journal_mode", "PRAGMA journal_mode = DELETE"),
    ("pragma_table_info function", "SELECT * FROM pragma_table_info('secrets')"),
    ("pragma_database_list function", "SELECT * FROM pragma_database_list"),
    ("pragma_table_list count", "SELECT count(*) FROM pragma_table_list"),
    # extensions and host access (sqlean's extensions are enabled in these tests)
    ("load_extension", "SELECT load_extension('/tmp/evil')"),
    ("readfile", "SELECT readfile('/etc/passwd')"),
    ("writefile", "SELECT writefile('{tmp}/pwned.txt', 'x')"),
    ("fsdir", "SELECT * FROM fsdir('/etc')"),
    ("fileio_ls count", "SELECT count(*) FROM fileio_ls('/etc')"),
    ("eval", "SELECT eval('DELETE FROM orders')"),
    ("define", "SELECT define('evil', 'SELECT 1')"),
    ("sqlite_dbpage", "SELECT * FROM sqlite_dbpage"),
    ("dbstat", "SELECT count(*) FROM dbstat"),
    # unlisted tables, directly and indirectly
    ("hidden table", "SELECT * FROM secrets"),
    ("hidden table count", "SELECT count(*) FROM secrets"),
    ("hidden table through cte", "WITH s AS (SELECT * FROM secrets) SELECT * FROM s"),
    (
        "hidden table behind cte of same name",
        "WITH secrets AS (SELECT 1) SELECT 1 FROM main.secrets",
    ),
    ("hidden table in scalar subquery", "SELECT (SELECT token FROM secrets) AS t"),
    (
        "hidden table in IN subquery",
        "SELECT id FROM orders WHERE id IN (SELECT rowid FROM secrets)",
    ),
    ("hidden table in exists", "SELECT 1 WHERE EXISTS (SELECT 1 FROM secrets)"),
    ("hidden view", "SELECT * FROM secret_view"),
    ("hidden table joined", "SELECT o.id, s.token FROM orders o, secrets s"),
    ("sqlite_master", "SELECT * FROM sqlite_master"),
    ("sqlite_schema", "SELECT sql FROM sqlite_schema"),
    ("sqlite_temp_master", "SELECT * FROM sqlite_temp_master"),
    ("sqlite_master count", "SELECT count(*) FROM sqlite_master"),
    # maintenance statements and transactions
    ("vacuum", "VACUUM"),
    ("vacuum into", "VACUUM INTO '{tmp}/copy.db'"),
    ("reindex", "REINDEX"),
    ("reindex table", "REINDEX orders"),
    ("analyze", "ANALYZE"),
    ("begin", "BEGIN"),
    ("begin immediate", "BEGIN IMMEDIATE"),
    ("commit", "COMMIT"),
    ("rollback", "ROLLBACK"),
    ("savepoint", "SAVEPOINT s1"),
    ("release", "RELEASE s1"),
    # resource exhaustion: time and memory
    (
        "runaway recursive cte",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    ),
    (
        "cartesian join",
        "SELECT count(*) FROM orders a, orders b, orders c, orders d, orders e, orders f, "
        "orders g, orders h, orders i, orders j, orders k, orders l, orders m, orders n",
    ),
    ("randomblob bomb", "SELECT randomblob(1e9)"),
    ("zeroblob bomb", "SELECT length(zeroblob(1000000000))"),
    (
        "doubling string",
        "WITH RECURSIVE c(s) AS (SELECT 'x' UNION ALL SELECT s || s FROM c) SELECT length(s) "
        "FROM c",
    ),
    ("printf then replace", "SELECT length(replace(printf('%.*c', 9000000, 'x'), 'x', 'yy'))"),
    ("over-long sql", "SELECT '" + "x" * 20_000 + "'"),
]

HOSTILE_IDS = [name for name, _ in HOSTILE]


@pytest.fixture
def sqlean_extensions_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Turn on every extension bundled with sqlean.py, as another module of the process might."""
    monkeypatch.setenv("SQLEAN_ENABLE", "1")


def _assert_refused_without_trace(
    runner: SqliteSqlRunner, db_path: Path, tmp_path: Path, sql: str
) -> ToolRejected:
    runner.run("SELECT 1")  # a first read creates the -wal / -shm files of a WAL database
    before, listing = file_state(db_path), directory_listing(tmp_path)
    started = time.monotonic()
    with pytest.raises(ToolRejected) as refused:
        runner.run(sql.replace("{tmp}", str(tmp_path)))
    assert time.monotonic() - started < TIMEOUT_S + 1.0
    assert file_state(db_path) == before
    assert directory_listing(tmp_path) == listing  # no ATTACH / VACUUM INTO / writefile file
    return refused.value


@pytest.mark.usefixtures("sqlean_extensions_on")
@pytest.mark.parametrize("sql", [sql for _, sql in HOSTILE], ids=HOSTILE_IDS)
def test_hostile_statement_is_refused_and_the_database_stays_byte_identical(
    runner: SqliteSqlRunner, db_path: Path, tmp_path: Path, sql: str
) -> None:
    refusal = _assert_refused_without_trace(runner, db_path, tmp_path, sql)
    assert "s3cr3t" not in refusal.detail


@pytest.mark.usefixtures("sqlean_extensions_on")
@pytest.mark.parametrize("sql", [sql for _, sql in HOSTILE], ids=HOSTILE_IDS)
def test_the_engine_alone_refuses_every_hostile_statement_without_the_text_precheck(
    runner: SqliteSqlRunner,
    db_path: Path,
    tmp_path: Path,
    sql: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The keyword/length pre-check only words messages; the boundary must hold without it."""
    monkeypatch.setattr(runner, "_check_text", lambda text: text)
    _assert_refused_without_trace(runner, db_path, tmp_path, sql)


def test_the_hostile_table_is_large_enough_to_mean_something() -> None:
    assert len(HOSTILE) >= 30
    assert len(set(HOSTILE_IDS)) == len(HOSTILE_IDS)


@pytest.mark.usefixtures("sqlean_extensions_on")
def test_sqlean_extension_functions_really_exist_in_these_tests(tmp_path: Path) -> None:
    """Otherwise refusing `readfile` above would prove nothing."""
    (tmp_path / "hello.txt").write_text("hello", encoding="utf-8")
    conn = sqlite3.connect(":memory:")
    try:
        (text,) = conn.execute("SELECT readfile(?)", (str(tmp_path / "hello.txt"),)).fetchone()
    finally:
        conn.close()
    assert text == b"hello"


def test_a_printf_bomb_is_capped_by_the_engine_length_limit(runner: SqliteSqlRunner) -> None:
    started = time.monotonic()
    result = runner.run("SELECT length(printf('%.*c', 1000000000, 'x')) AS n")
    assert result.rows == ((None,),)  # SQLite returns NULL instead of allocating 1 GB
    assert time.monotonic() - started < 1.0
    assert runner.engine_limits_applied is True


def test_a_runaway_query_is_stopped_with_a_message_naming_the_time_limit(
    runner: SqliteSqlRunner,
) -> None:
    with pytest.raises(ToolRejected) as refused:
        runner.run(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c"
        )
    assert refused.value.detail == (
        "The query took longer than 0.2 s and was stopped; add a WHERE clause or LIMIT"
    )


def test_the_default_time_limit_reads_one_point_zero_seconds_in_the_message(
    db_path: Path,
) -> None:
    runner = SqliteSqlRunner(db_path, tables=LISTED, timeout_s=1)
    with pytest.raises(ToolRejected, match=r"^The query took longer than 1\.0 s and was stopped"):
        runner.run(
            "SELECT count(*) FROM orders a, orders b, orders c, orders d, orders e, "
            "orders f, orders g, orders h, orders i, orders j, orders k, orders l"
        )


def test_two_statements_get_a_message_asking_for_exactly_one(runner: SqliteSqlRunner) -> None:
    with pytest.raises(ToolRejected, match="exactly one SQL statement"):
        runner.run("SELECT 1; SELECT 2")


def test_a_write_gets_a_message_saying_only_select_is_allowed(runner: SqliteSqlRunner) -> None:
    with pytest.raises(ToolRejected, match="Only read-only SELECT"):
        runner.run("DELETE FROM orders")


def test_a_cte_smuggled_delete_is_refused_by_the_engine_with_a_reason(
    runner: SqliteSqlRunner,
) -> None:
    with pytest.raises(ToolRejected, match="DELETE is not allowed"):
        runner.run("WITH x AS (SELECT 1) DELETE FROM orders")


def test_a_forbidden_function_is_named_in_the_refusal(runner: SqliteSqlRunner) -> None:
    with pytest.raises(ToolRejected, match=r"load_extension\(\) is not allowed"):
        runner.run("SELECT load_extension('x')")


def test_sql_longer_than_the_limit_is_refused_before_it_reaches_sqlite(db_path: Path) -> None:
    runner = SqliteSqlRunner(db_path, max_sql_length=50)
    with pytest.raises(ToolRejected, match="the limit is 50"):
        runner.run("SELECT id FROM orders WHERE total > 1 AND total < 1000 AND id > 0")


@pytest.mark.parametrize("sql", ["", "   ", "-- only a comment", "/* nothing */", ";"])
def test_an_empty_statement_is_refused_with_an_example(runner: SqliteSqlRunner, sql: str) -> None:
    with pytest.raises(ToolRejected, match="No SQL statement found"):
        runner.run(sql)


# -- errors the model can act on -----------------------------------------------------------------


def test_a_syntax_error_comes_back_with_sqlites_message_and_the_available_tables(
    runner: SqliteSqlRunner,
) -> None:
    with pytest.raises(ToolRejected) as refused:
        runner.run("SELECT id FROM orders WHERE")
    assert "incomplete input" in refused.value.detail
    assert "Available tables: customers, files, orders." in refused.value.detail


def test_an_unknown_column_is_named_in_the_error(runner: SqliteSqlRunner) -> None:
    with pytest.raises(ToolRejected, match="no such column: amount"):
        runner.run("SELECT amount FROM orders")


def test_a_hidden_table_gets_the_same_answer_as_a_missing_one(runner: SqliteSqlRunner) -> None:
    """The refusal must not reveal which unlisted tables exist."""
    with pytest.raises(ToolRejected) as hidden:
        runner.run("SELECT * FROM secrets")
    with pytest.raises(ToolRejected) as missing:
        runner.run("SELECT * FROM nonexistent")
    assert hidden.value.detail == missing.value.detail.replace("nonexistent", "secrets")
    assert "secrets" not in missing.value.detail


def test_the_hint_lists_only_the_permitted_tables(runner: SqliteSqlRunner) -> None:
    with pytest.raises(ToolRejected) as refused:
        runner.run("SELECT * FROM nonexistent")
    assert "secrets" not in refused.value.detail
    assert "secret_view" not in refused.value.detail


# -- what works ---------------------------------------------------------------------------------


def test_a_select_with_join_where_group_by_and_order_by_answers_from_both_tables(
    runner: SqliteSqlRunner,
) -> None:
    result = runner.run(
        """
        SELECT c.name, count(*) AS orders, round(sum(o.total), 2) AS spent
        FROM orders AS o JOIN customers AS c ON c.id = o.customer_id
        WHERE o.ordered_on >= '2024-01-01'
        GROUP BY c.name
        ORDER BY spent DESC
        """
    )
    assert result == QueryResult(
        columns=("name", "orders", "spent"),
        rows=(("Grace", 2, 100.75), ("Ada", 2, 30.0), ("Linus", 1, 7.25)),
        truncated=False,
    )


def test_ctes_window_functions_dates_and_json_work(runner: SqliteSqlRunner) -> None:
    result = runner.run(
        """
        WITH monthly AS (
            SELECT strftime('%Y-%m', ordered_on) AS month, sum(total) AS total
            FROM orders GROUP BY month
        )
        SELECT month, total, rank() OVER (ORDER BY total DESC) AS place,
               json_object('m', month) ->> '$.m' AS echoed,
               (SELECT count(*) FROM monthly) AS months,
               (SELECT count(*) FROM json_each('[1, 2, 3]')) AS three
        FROM monthly ORDER BY month
        """
    )
    assert result.columns == ("month", "total", "place", "echoed", "months", "three")
    assert result.rows[0] == ("2024-01", 25.5, 2, "2024-01", 3, 3)


def test_a_bounded_recursive_cte_is_fine(runner: SqliteSqlRunner) -> None:
    result = runner.run(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5) "
        "SELECT count(*), sum(x) FROM c"
    )
    assert result.rows == ((5, 15),)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM orders;",
        "  -- how many orders?\nSELECT count(*) FROM orders",
        "/* count */ SELECT count(*) FROM orders; -- done",
        "select COUNT(*) from ORDERS",
    ],
)
def test_comments_case_and_a_trailing_semicolon_are_fine(runner: SqliteSqlRunner, sql: str) -> None:
    assert runner.run(sql).rows == ((5,),)


def test_more_rows_than_max_rows_sets_truncated_and_returns_max_rows(db_path: Path) -> None:
    runner = SqliteSqlRunner(db_path, max_rows=3)
    result = runner.run("SELECT id FROM orders ORDER BY id")
    assert result.rows == ((10,), (11,), (12,))
    assert result.truncated is True


def test_exactly_max_rows_is_not_truncated(db_path: Path) -> None:
    runner = SqliteSqlRunner(db_path, max_rows=5)
    result = runner.run("SELECT id FROM orders")
    assert len(result.rows) == 5
    assert result.truncated is False


def test_long_text_cells_are_capped_with_an_ellipsis(db_path: Path) -> None:
    runner = SqliteSqlRunner(db_path, max_cell_chars=10)
    (row,) = runner.run("SELECT note FROM files").rows
    assert row == ("x" * 10 + "…",)


def test_blob_cells_are_shown_as_their_size(runner: SqliteSqlRunner) -> None:
    assert runner.run("SELECT data FROM files").rows == (("<2048 bytes>",),)


def test_schemas_show_columns_types_samples_and_row_counts_of_listed_tables_only(
    runner: SqliteSqlRunner,
) -> None:
    schemas = {schema.name: schema for schema in runner.schemas()}
    assert sorted(schemas) == ["customers", "files", "orders"]
    orders = schemas["orders"]
    assert orders.row_count == 5
    assert [(c.name, c.type) for c in orders.columns] == [
        ("id", "INTEGER"),
        ("customer_id", "INTEGER"),
        ("total", "REAL"),
        ("ordered_on", "DATE"),
    ]
    assert all(len(column.samples) == 3 for column in orders.columns)
    assert schemas["customers"].columns[1].samples == ("Ada", "Grace", "Linus")
    assert schemas["files"].columns[1].samples == ("<2048 bytes>",)


def test_by_default_every_user_table_is_available(db_path: Path) -> None:
    runner = SqliteSqlRunner(db_path)
    names = [schema.name for schema in runner.schemas()]
    assert names == ["customers", "files", "orders", "secrets"]
    assert runner.run("SELECT token FROM secrets").rows == (("s3cr3t-token",),)


def test_almanacs_own_bookkeeping_tables_are_never_available(db_path: Path) -> None:
    runner = SqliteSqlRunner(db_path)
    with pytest.raises(ToolRejected, match="no such table"):
        runner.run("SELECT * FROM _almanac_columns")


def test_a_table_loaded_after_start_up_appears_without_a_restart(
    runner: SqliteSqlRunner, db_path: Path, tmp_path: Path
) -> None:
    default_runner = SqliteSqlRunner(db_path)
    assert "regions" not in [s.name for s in default_runner.schemas()]
    (tmp_path / "regions.csv").write_text("code,label\nEU,Europe\n", encoding="utf-8")
    SqliteTableLoader(db_path).load(tmp_path / "regions.csv", "regions")
    assert "regions" in [s.name for s in default_runner.schemas()]
    assert default_runner.run("SELECT label FROM regions").rows == (("Europe",),)
    with pytest.raises(ToolRejected, match="no such table"):  # not on the explicit list
        runner.run("SELECT label FROM regions")


def test_refresh_recomputes_row_counts_after_rows_change(
    runner: SqliteSqlRunner, db_path: Path
) -> None:
    assert {s.name: s.row_count for s in runner.schemas()}["files"] == 1
    conn = sqlite3.connect(str(db_path), isolation_level=None)
    conn.execute("INSERT INTO files (id) VALUES (2)")
    conn.close()
    assert {s.name: s.row_count for s in runner.schemas()}["files"] == 1  # cached
    runner.refresh()
    assert {s.name: s.row_count for s in runner.schemas()}["files"] == 2


def test_without_a_tables_database_there_is_nothing_to_query(tmp_path: Path) -> None:
    runner = SqliteSqlRunner(tmp_path / "missing.db")
    assert runner.schemas() == []
    with pytest.raises(ToolRejected, match="No tables have been loaded"):
        runner.run("SELECT 1")
    assert not (tmp_path / "missing.db").exists()


def test_the_runner_can_be_called_from_several_threads_at_once(runner: SqliteSqlRunner) -> None:
    results: list[QueryResult] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                results.append(runner.run("SELECT count(*) FROM orders JOIN customers"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 120
    assert {r.rows for r in results} == {((15,),)}


def test_a_slow_query_in_one_thread_does_not_stop_a_quick_one_in_another(
    runner: SqliteSqlRunner,
) -> None:
    outcome: list[str] = []

    def slow() -> None:
        try:
            runner.run(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                "SELECT count(*) FROM c"
            )
        except ToolRejected:
            outcome.append("stopped")

    thread = threading.Thread(target=slow)
    thread.start()
    assert runner.run("SELECT count(*) FROM customers").rows == ((3,),)
    thread.join()
    assert outcome == ["stopped"]


# -- markdown -----------------------------------------------------------------------------------


def test_markdown_renders_a_header_separator_and_rows() -> None:
    result = QueryResult(columns=("name", "n"), rows=(("Ada", 2), ("Grace", None)), truncated=False)
    assert render_markdown(result) == ("| name | n |\n| --- | --- |\n| Ada | 2 |\n| Grace | NULL |")


def test_markdown_escapes_pipes_and_newlines_so_cells_cannot_break_the_table() -> None:
    result = QueryResult(columns=("a|b",), rows=(("x | y\nz\r\nw",), ("c:\\|",)), truncated=False)
    lines = render_markdown(result).splitlines()
    assert lines[0] == "| a\\|b |"
    assert lines[2] == "| x \\| y<br>z<br>w |"
    assert lines[3] == "| c:\\\\\\| |"
    assert len(lines) == 4


def test_markdown_notes_truncation() -> None:
    result = QueryResult(columns=("id",), rows=((1,), (2,)), truncated=True)
    assert render_markdown(result).endswith("\n(showing first 2 rows; more rows matched)")


def test_markdown_says_when_there_are_no_rows() -> None:
    result = QueryResult(columns=("id",), rows=(), truncated=False)
    assert render_markdown(result) == "| id |\n| --- |\n(no rows)"


def test_markdown_of_a_real_result_round_trips_the_values(runner: SqliteSqlRunner) -> None:
    text = render_markdown(runner.run("SELECT name, country FROM customers ORDER BY id LIMIT 2"))
    assert text.splitlines() == [
        "| name | country |",
        "| --- | --- |",
        "| Ada | UK |",
        "| Grace | US |",
    ]
