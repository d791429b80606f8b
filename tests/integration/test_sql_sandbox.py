"""The SQL runners against real databases (SqliteSqlRunner on SQLite files, PgSqlRunner on
PostgreSQL; the same test bodies on both where the SQL is not dialect-specific): hostile SQL is
refused or stopped and changes nothing, leaks nothing; ordinary analytical SELECTs work and
come back bounded."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlean as sqlite3
from psycopg import sql as psql

from services.postgres import PgDatabase
from services.tables.loader import TableLoader
from services.tables.pg_sql_sandbox import PgSqlRunner
from services.tables.sql_sandbox import SqliteSqlRunner, render_markdown
from use_cases.shared.errors import ConfigurationError, ToolRejected
from use_cases.tables.domain import QueryResult
from use_cases.tables.ports import SqlRunner

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
    # Built without sqlean's extensions, whichever test first asks for it (`define` would add
    # its own table to the file).
    enabled = os.environ.pop("SQLEAN_ENABLE", None)
    loader = TableLoader(path)
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
        if enabled is not None:
            os.environ["SQLEAN_ENABLE"] = enabled
    assert not path.with_name("tables.db-wal").exists()  # checkpointed on close
    return path


def _fill_postgres(url: str, directory: Path) -> PgDatabase:
    """The same tables on PostgreSQL, plus a stand-in application table and sequence in the
    public schema that the sandbox must never read or touch."""
    db = PgDatabase(url, max_size=8)
    loader = TableLoader(db)
    (directory / "customers.csv").write_text(CUSTOMERS_CSV, encoding="utf-8")
    (directory / "orders.csv").write_text(ORDERS_CSV, encoding="utf-8")
    loader.load(directory / "customers.csv", "customers")
    loader.load(directory / "orders.csv", "orders")
    with db.connection() as conn:
        conn.execute("CREATE TABLE almanac_tables.files (id BIGINT, data BYTEA, note TEXT)")
        conn.execute(
            "INSERT INTO almanac_tables.files VALUES (1, %s, %s)", (os.urandom(2048), "x" * 2000)
        )
        conn.execute("CREATE TABLE almanac_tables.secrets (token TEXT)")
        conn.execute("INSERT INTO almanac_tables.secrets VALUES ('s3cr3t-token')")
        # Readable by the role, like every user table: only the `tables` list hides it.
        conn.execute(
            "GRANT SELECT ON almanac_tables.files, almanac_tables.secrets TO almanac_reader"
        )
        conn.execute(
            "CREATE VIEW almanac_tables.secret_view AS SELECT token FROM almanac_tables.secrets"
        )
        conn.execute("CREATE INDEX orders_by_customer ON almanac_tables.orders(customer_id)")
        conn.execute("CREATE TABLE public.api_keys (id TEXT PRIMARY KEY, key_hash TEXT)")
        conn.execute("INSERT INTO public.api_keys VALUES ('k1', 's3cr3t-api-key')")
        conn.execute("CREATE SEQUENCE public.app_seq")
    return db


def _pg_state(db: PgDatabase) -> object:
    """Every relation (with its privileges and contents), the reader role, sequences, large
    objects and advisory locks: what a hostile statement could have changed."""
    with db.connection() as conn:
        relations = conn.execute(
            "SELECT n.nspname AS schema, c.relname AS name, c.relkind AS kind, "
            "c.relacl::text AS acl FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg\\_%%' ORDER BY 1, 2"
        ).fetchall()
        contents = {}
        for r in relations:
            if r["kind"] == "r":
                table = psql.SQL("{}.{}").format(
                    psql.Identifier(r["schema"]), psql.Identifier(r["name"])
                )
                row = conn.execute(
                    psql.SQL(
                        "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS h "
                        "FROM {} t"
                    ).format(table)
                ).fetchone()
                contents[(r["schema"], r["name"])] = row["h"] if row else None
        others = conn.execute(
            "SELECT (SELECT last_value FROM public.app_seq) AS seq, "
            "(SELECT is_called FROM public.app_seq) AS called, "
            "(SELECT count(*) FROM pg_largeobject_metadata) AS large_objects, "
            # this database's (the run's other workers share the server and take their own)
            "(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
            " (SELECT oid FROM pg_database WHERE datname = current_database())) AS advisory, "
            "(SELECT row(r.*)::text FROM pg_roles r WHERE rolname = 'almanac_reader') AS role, "
            "(SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member "
            " WHERE r.rolname = 'almanac_reader') AS memberships, "
            "(SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')) AS functions"
        ).fetchone()
    return relations, contents, others


@dataclass
class Sandbox:
    """One backend's tables database with the fixture tables, and how to look at it."""

    backend: str
    directory: Path
    db_path: Path | None = None
    db: PgDatabase | None = None

    def runner(self, **options: Any) -> SqlRunner:
        if self.db is not None:
            return PgSqlRunner(self.db, **options)
        assert self.db_path is not None
        return SqliteSqlRunner(self.db_path, **options)

    def loader(self) -> TableLoader:
        if self.db is not None:
            return TableLoader(self.db)
        assert self.db_path is not None
        return TableLoader(self.db_path)

    def state(self) -> object:
        """Everything a statement could change, including files written beside the tests."""
        listing = directory_listing(self.directory)
        if self.db is not None:
            return _pg_state(self.db), listing
        assert self.db_path is not None
        return file_state(self.db_path), listing

    def execute(self, statement: str) -> None:
        """A trusted write, bypassing the sandbox (`t` stands for the tables' schema)."""
        if self.db is not None:
            with self.db.connection() as pg:
                pg.execute(statement.replace("t.", "almanac_tables."))
            return
        assert self.db_path is not None
        conn = sqlite3.connect(str(self.db_path), isolation_level=None)
        try:
            conn.execute(statement.replace("t.", ""))
        finally:
            conn.close()


@pytest.fixture(scope="module")
def shared_pg(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgDatabase]:
    """One PostgreSQL database with the fixture tables for the tests that change nothing (a
    hostile statement that did change something fails its own test)."""
    name = f"almanac_sandbox_{uuid.uuid4().hex[:12]}"
    admin = psycopg.connect(pg_server_url, autocommit=True)
    admin.execute(
        psql.SQL("CREATE DATABASE {} TEMPLATE almanac_test_template").format(psql.Identifier(name))
    )
    params = psycopg.conninfo.conninfo_to_dict(pg_server_url)
    params["dbname"] = name
    db = _fill_postgres(psycopg.conninfo.make_conninfo(**params), tmp_path_factory.mktemp("pgfill"))  # type: ignore[arg-type]  # libpq's own parameters, read back
    try:
        yield db
    finally:
        db.close()
        admin.execute(
            psql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(psql.Identifier(name))
        )
        admin.close()


@pytest.fixture
def sandbox(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Sandbox:
    """The fixture tables on `backend` (PostgreSQL: shared by the module's read-only tests)."""
    if backend == "postgresql":
        return Sandbox(backend, tmp_path, db=request.getfixturevalue("shared_pg"))
    path = tmp_path / "tables.db"
    shutil.copyfile(request.getfixturevalue("template_db"), path)
    return Sandbox(backend, tmp_path, db_path=path)


@pytest.fixture
def own_sandbox(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """The fixture tables in a database of this test's own, for tests that change data."""
    if backend == "postgresql":
        db = _fill_postgres(request.getfixturevalue("pg_url"), tmp_path)
        try:
            yield Sandbox(backend, tmp_path, db=db)
        finally:
            db.close()
        return
    path = tmp_path / "tables.db"
    shutil.copyfile(request.getfixturevalue("template_db"), path)
    yield Sandbox(backend, tmp_path, db_path=path)


@pytest.fixture
def db_path(template_db: Path, tmp_path: Path) -> Path:
    path = tmp_path / "tables.db"
    shutil.copyfile(template_db, path)
    return path


@pytest.fixture
def runner(sandbox: Sandbox) -> SqlRunner:
    return sandbox.runner(tables=LISTED, timeout_s=TIMEOUT_S)


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


def per_backend(backend: str, sqlite: str, postgresql: str) -> str:
    return sqlite if backend == "sqlite" else postgresql


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


#: PostgreSQL-only hostile statements: its file, role, catalog and session functions.
#: `api_keys` and `app_seq` stand in for the application's own tables in the public schema.
PG_HOSTILE: list[tuple[str, str]] = [
    ("pg_read_file", "SELECT pg_read_file('/etc/passwd')"),
    ("pg_read_file in from", "SELECT * FROM pg_read_file('/etc/passwd')"),
    ("pg_read_binary_file", "SELECT pg_read_binary_file('/etc/passwd')"),
    ("pg_ls_dir", "SELECT * FROM pg_ls_dir('.')"),
    ("pg_stat_file", "SELECT pg_stat_file('postgresql.conf')"),
    ("lo_import", "SELECT lo_import('/etc/passwd')"),
    ("lo_from_bytea", "SELECT lo_from_bytea(0, 'x')"),
    ("lo_export", "SELECT lo_export(1, '{tmp}/pwned.txt')"),
    ("set_config role", "SELECT set_config('role', 'none', true)"),
    (
        "set_config role then read the app table",
        "SELECT set_config('role', 'none', true), "
        "query_to_xml('SELECT * FROM public.api_keys', true, false, '')",
    ),
    ("qualified set_config", "SELECT pg_catalog.set_config('role', 'none', true)"),
    ("quoted set_config", """SELECT "set_config"('role', 'none', true)"""),
    ("set_config after dollar quote", "SELECT $$x$$, set_config('role', 'none', true)"),
    ("set_config timeout", "SELECT set_config('statement_timeout', '0', false)"),
    (
        "set_config in where",
        "SELECT id FROM orders WHERE set_config('search_path', 'public', true) <> ''",
    ),
    ("set role", "SET ROLE postgres"),
    ("reset role", "RESET ROLE"),
    ("set session authorization", "SET SESSION AUTHORIZATION postgres"),
    ("copy to file", "COPY orders TO '{tmp}/orders.csv'"),
    ("copy to program", "COPY (SELECT 1) TO PROGRAM 'touch {tmp}/pwned'"),
    ("copy from file", "COPY orders FROM '/etc/passwd'"),
    ("app table", "SELECT * FROM api_keys"),
    ("app table qualified", "SELECT * FROM public.api_keys"),
    ("app table count", "SELECT count(*) FROM public.api_keys"),
    ("app table in scalar subquery", "SELECT (SELECT key_hash FROM public.api_keys LIMIT 1)"),
    ("app table through cte", "WITH k AS (SELECT * FROM public.api_keys) SELECT * FROM k"),
    (
        "app table through query_to_xml",
        "SELECT query_to_xml('SELECT * FROM public.api_keys', true, false, '')",
    ),
    (
        "hidden table through query_to_xml",
        "SELECT query_to_xml('SELECT * FROM secrets', true, false, '')",
    ),
    (
        "hidden table through ts_stat",
        "SELECT * FROM ts_stat('SELECT to_tsvector(token) FROM secrets')",
    ),
    (
        "hidden table through lateral",
        "SELECT x FROM orders, LATERAL query_to_xml('SELECT 1', true, false, '') AS x",
    ),
    ("regclass probe", "SELECT 'public.api_keys'::regclass"),
    ("pg_sleep", "SELECT pg_sleep(5)"),
    ("pg_sleep in where", "SELECT count(*) FROM orders WHERE pg_sleep(5) IS NOT NULL"),
    ("huge series", "SELECT count(*) FROM generate_series(1, 1000000000000)"),
    ("repeat bomb", "SELECT length(repeat('x', 1000000000))"),
    ("cte delete returning", "WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d"),
    (
        "cte update returning",
        "WITH u AS (UPDATE orders SET total = 0 RETURNING *) SELECT count(*) FROM u",
    ),
    (
        "cte insert returning",
        "WITH i AS (INSERT INTO orders (id) VALUES (99) RETURNING id) SELECT * FROM i",
    ),
    ("select into", "SELECT * INTO evil FROM orders"),
    ("select for update", "SELECT * FROM orders FOR UPDATE"),
    ("truncate", "TRUNCATE orders"),
    ("do block", "DO $$ BEGIN DELETE FROM orders; END $$"),
    ("create function", "CREATE FUNCTION evil() RETURNS int AS 'SELECT 1' LANGUAGE sql"),
    ("explain analyze delete", "EXPLAIN ANALYZE DELETE FROM orders"),
    ("nextval", "SELECT nextval('public.app_seq')"),
    ("setval", "SELECT setval('public.app_seq', 99)"),
    ("dblink", "SELECT * FROM dblink('dbname=postgres', 'SELECT 1') AS t(x int)"),
    ("advisory lock", "SELECT pg_advisory_lock(1)"),
    ("notify", "SELECT pg_notify('almanac', 'x')"),
    ("terminate backend", "SELECT pg_terminate_backend(pg_backend_pid())"),
    ("current_setting", "SELECT current_setting('data_directory')"),
    ("current_user", "SELECT current_user"),
    ("system catalog", "SELECT rolname FROM pg_catalog.pg_roles"),
    ("pg_class", "SELECT relname FROM pg_class"),
    ("pg_settings", "SELECT name, setting FROM pg_settings"),
    ("information_schema", "SELECT table_name FROM information_schema.tables"),
    ("bookkeeping table", "SELECT * FROM _almanac_columns"),
    ("hidden view", "SELECT * FROM secret_view"),
]
PG_HOSTILE_IDS = [name for name, _ in PG_HOSTILE]


@pytest.fixture
def sqlean_extensions_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Turn on every extension bundled with sqlean.py, as another module of the process might."""
    monkeypatch.setenv("SQLEAN_ENABLE", "1")


@pytest.fixture
def sqlite_runner(db_path: Path) -> SqliteSqlRunner:
    return SqliteSqlRunner(db_path, tables=LISTED, timeout_s=TIMEOUT_S)


def _assert_refused_without_trace(runner: SqlRunner, sandbox: Sandbox, sql: str) -> ToolRejected:
    """The statement is refused (a runaway one stopped at the runner's time limit: its message
    is checked below, its speed is not a test's business), changes nothing, and the runner
    still answers."""
    runner.run("SELECT 1")  # a first read creates the -wal / -shm files of a WAL database
    before = sandbox.state()
    with pytest.raises(ToolRejected) as refused:
        runner.run(sql.replace("{tmp}", str(sandbox.directory)))
    # Byte-identical files (SQLite), or every relation, its contents and privileges, the role,
    # sequences, large objects and locks (PostgreSQL); no file written beside the test.
    assert sandbox.state() == before
    assert runner.run("SELECT count(*) FROM orders").rows == ((5,),)  # still usable
    return refused.value


@pytest.mark.usefixtures("sqlean_extensions_on")
@pytest.mark.parametrize("sql", [sql for _, sql in HOSTILE], ids=HOSTILE_IDS)
def test_hostile_statement_is_refused_and_the_database_stays_byte_identical(
    runner: SqlRunner, sandbox: Sandbox, sql: str
) -> None:
    refusal = _assert_refused_without_trace(runner, sandbox, sql)
    assert "s3cr3t" not in refusal.detail


@pytest.mark.usefixtures("sqlean_extensions_on")
@pytest.mark.parametrize("sql", [sql for _, sql in HOSTILE], ids=HOSTILE_IDS)
def test_the_engine_alone_refuses_every_hostile_statement_without_the_text_precheck(
    runner: SqlRunner, sandbox: Sandbox, sql: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The keyword/length pre-check only words messages; the boundary must hold without it."""
    monkeypatch.setattr(runner, "_check_text", lambda text: text)
    _assert_refused_without_trace(runner, sandbox, sql)


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.parametrize("sql", [sql for _, sql in PG_HOSTILE], ids=PG_HOSTILE_IDS)
def test_postgresql_hostile_statement_is_refused_changes_nothing_and_leaks_nothing(
    sandbox: Sandbox, sql: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both with the text pre-check and without it (the engine's checks alone)."""
    for precheck in (True, False):
        runner = sandbox.runner(tables=LISTED, timeout_s=TIMEOUT_S)
        if not precheck:
            monkeypatch.setattr(runner, "_check_text", lambda text: text)
        refusal = _assert_refused_without_trace(runner, sandbox, sql)
        assert "s3cr3t" not in refusal.detail
        assert "api_keys" not in refusal.detail or "no such table: api_keys" in refusal.detail


@pytest.mark.parametrize("backend", ["postgresql"])
def test_the_postgresql_escapes_are_real_outside_the_sandbox(sandbox: Sandbox) -> None:
    """Otherwise refusing them above would prove nothing: the session user can switch the
    role back with set_config, and ts_stat (like query_to_xml) runs SQL of its own."""
    assert sandbox.db is not None
    with sandbox.db.connection() as conn, conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL ROLE almanac_reader")
        row = conn.execute(
            "SELECT string_agg(word, ',') AS x FROM (SELECT set_config('role', 'none', true)) s, "
            "LATERAL ts_stat('SELECT to_tsvector(''simple'', key_hash) FROM public.api_keys')"
        ).fetchone()
    assert row is not None and "s3cr3t" in row["x"]


@pytest.mark.parametrize("backend", ["postgresql"])
def test_the_reader_role_alone_cannot_read_the_application_tables(sandbox: Sandbox) -> None:
    assert sandbox.db is not None
    with sandbox.db.connection() as conn, conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL ROLE almanac_reader")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM public.api_keys")


def test_the_hostile_table_is_large_enough_to_mean_something() -> None:
    assert len(HOSTILE) >= 30
    assert len(set(HOSTILE_IDS)) == len(HOSTILE_IDS)
    assert len(PG_HOSTILE) >= 30
    assert len(set(PG_HOSTILE_IDS)) == len(PG_HOSTILE_IDS)


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


def test_a_printf_bomb_is_capped_by_the_engine_length_limit(sqlite_runner: SqliteSqlRunner) -> None:
    result = sqlite_runner.run("SELECT length(printf('%.*c', 1000000000, 'x')) AS n")
    assert result.rows == ((None,),)  # SQLite returns NULL instead of allocating 1 GB
    assert sqlite_runner.engine_limits_applied is True


def test_a_runaway_query_is_stopped_with_a_message_naming_the_time_limit(
    runner: SqlRunner,
) -> None:
    with pytest.raises(ToolRejected) as refused:
        runner.run(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c"
        )
    assert refused.value.detail == (
        "The query took longer than 0.2 s and was stopped; add a WHERE clause or LIMIT"
    )


def test_the_default_time_limit_reads_one_point_zero_seconds_in_the_message(
    sandbox: Sandbox,
) -> None:
    """A query that never ends (not a join a fast machine finishes within the limit)."""
    runner = sandbox.runner(tables=LISTED, timeout_s=1)
    with pytest.raises(ToolRejected, match=r"^The query took longer than 1\.0 s and was stopped"):
        runner.run(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c"
        )


def test_two_statements_get_a_message_asking_for_exactly_one(runner: SqlRunner) -> None:
    with pytest.raises(ToolRejected, match="exactly one SQL statement"):
        runner.run("SELECT 1; SELECT 2")


def test_a_write_gets_a_message_saying_only_select_is_allowed(runner: SqlRunner) -> None:
    with pytest.raises(ToolRejected, match="Only read-only SELECT"):
        runner.run("DELETE FROM orders")


def test_a_cte_smuggled_delete_is_refused_by_the_engine_with_a_reason(
    runner: SqlRunner, backend: str
) -> None:
    reason = per_backend(backend, "DELETE is not allowed", "Only one read-only SELECT is allowed")
    with pytest.raises(ToolRejected, match=reason):
        runner.run("WITH x AS (SELECT 1) DELETE FROM orders")


def test_a_forbidden_function_is_named_in_the_refusal(runner: SqlRunner, backend: str) -> None:
    function = per_backend(backend, "load_extension", "pg_read_file")
    with pytest.raises(ToolRejected, match=rf"{function}\(\) is not allowed"):
        runner.run(f"SELECT {function}('x')")


def test_sql_longer_than_the_limit_is_refused_before_it_reaches_the_database(
    sandbox: Sandbox,
) -> None:
    runner = sandbox.runner(max_sql_length=50)
    with pytest.raises(ToolRejected, match="the limit is 50"):
        runner.run("SELECT id FROM orders WHERE total > 1 AND total < 1000 AND id > 0")


@pytest.mark.parametrize("sql", ["", "   ", "-- only a comment", "/* nothing */", ";"])
def test_an_empty_statement_is_refused_with_an_example(runner: SqlRunner, sql: str) -> None:
    with pytest.raises(ToolRejected, match="No SQL statement found"):
        runner.run(sql)


# -- errors the model can act on -----------------------------------------------------------------


def test_a_syntax_error_comes_back_with_the_engines_message_and_the_available_tables(
    runner: SqlRunner, backend: str
) -> None:
    with pytest.raises(ToolRejected) as refused:
        runner.run("SELECT id FROM orders WHERE")
    assert per_backend(backend, "incomplete input", "syntax error") in refused.value.detail
    assert "Available tables: customers, files, orders." in refused.value.detail


def test_an_unknown_column_is_named_in_the_error(runner: SqlRunner, backend: str) -> None:
    message = per_backend(backend, "no such column: amount", 'column "amount" does not exist')
    with pytest.raises(ToolRejected, match=message):
        runner.run("SELECT amount FROM orders")


def test_a_hidden_table_gets_the_same_answer_as_a_missing_one(runner: SqlRunner) -> None:
    """The refusal must not reveal which unlisted tables exist."""
    with pytest.raises(ToolRejected) as hidden:
        runner.run("SELECT * FROM secrets")
    with pytest.raises(ToolRejected) as missing:
        runner.run("SELECT * FROM nonexistent")
    assert hidden.value.detail == missing.value.detail.replace("nonexistent", "secrets")
    assert "secrets" not in missing.value.detail


@pytest.mark.parametrize("backend", ["postgresql"])
def test_an_application_table_gets_the_same_answer_as_a_missing_one(runner: SqlRunner) -> None:
    with pytest.raises(ToolRejected) as hidden:
        runner.run("SELECT * FROM public.api_keys")
    with pytest.raises(ToolRejected) as missing:
        runner.run("SELECT * FROM public.nonexistent")
    assert hidden.value.detail == missing.value.detail.replace("nonexistent", "api_keys")


def test_the_hint_lists_only_the_permitted_tables(runner: SqlRunner) -> None:
    with pytest.raises(ToolRejected) as refused:
        runner.run("SELECT * FROM nonexistent")
    assert "secrets" not in refused.value.detail
    assert "secret_view" not in refused.value.detail


# -- what works ---------------------------------------------------------------------------------


def test_a_select_with_join_where_group_by_and_order_by_answers_from_both_tables(
    runner: SqlRunner, backend: str
) -> None:
    spent = per_backend(backend, "round(sum(o.total), 2)", "round(sum(o.total)::numeric, 2)")
    result = runner.run(
        f"""
        SELECT c.name, count(*) AS orders, {spent} AS spent
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


def test_ctes_window_functions_dates_and_json_work(runner: SqlRunner, backend: str) -> None:
    month, echoed, three = {
        "sqlite": (
            "strftime('%Y-%m', ordered_on)",
            "json_object('m', month) ->> '$.m'",
            "json_each('[1, 2, 3]')",
        ),
        "postgresql": (
            "to_char(ordered_on, 'YYYY-MM')",
            "json_build_object('m', month) ->> 'm'",
            "json_array_elements('[1, 2, 3]')",
        ),
    }[backend]
    result = runner.run(
        f"""
        WITH monthly AS (
            SELECT {month} AS month, sum(total) AS total
            FROM orders GROUP BY month
        )
        SELECT month, total, rank() OVER (ORDER BY total DESC) AS place,
               {echoed} AS echoed,
               (SELECT count(*) FROM monthly) AS months,
               (SELECT count(*) FROM {three}) AS three
        FROM monthly ORDER BY month
        """
    )
    assert result.columns == ("month", "total", "place", "echoed", "months", "three")
    assert result.rows[0] == ("2024-01", 25.5, 2, "2024-01", 3, 3)


def test_a_bounded_recursive_cte_is_fine(runner: SqlRunner) -> None:
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
def test_comments_case_and_a_trailing_semicolon_are_fine(runner: SqlRunner, sql: str) -> None:
    assert runner.run(sql).rows == ((5,),)


def test_more_rows_than_max_rows_sets_truncated_and_returns_max_rows(sandbox: Sandbox) -> None:
    runner = sandbox.runner(max_rows=3)
    result = runner.run("SELECT id FROM orders ORDER BY id")
    assert result.rows == ((10,), (11,), (12,))
    assert result.truncated is True


def test_exactly_max_rows_is_not_truncated(sandbox: Sandbox) -> None:
    runner = sandbox.runner(max_rows=5)
    result = runner.run("SELECT id FROM orders")
    assert len(result.rows) == 5
    assert result.truncated is False


def test_long_text_cells_are_capped_with_an_ellipsis(sandbox: Sandbox) -> None:
    runner = sandbox.runner(max_cell_chars=10)
    (row,) = runner.run("SELECT note FROM files").rows
    assert row == ("x" * 10 + "…",)


def test_blob_cells_are_shown_as_their_size(runner: SqlRunner) -> None:
    assert runner.run("SELECT data FROM files").rows == (("<2048 bytes>",),)


def test_schemas_show_columns_types_samples_and_row_counts_of_listed_tables_only(
    runner: SqlRunner,
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
    assert orders.columns[3].samples == ("2024-01-03", "2024-02-11", "2024-02-12")
    assert schemas["customers"].columns[1].samples == ("Ada", "Grace", "Linus")
    assert schemas["customers"].columns[1].values == ("Ada", "Grace", "Linus")
    assert schemas["files"].columns[1].samples == ("<2048 bytes>",)


def test_by_default_every_user_table_is_available(sandbox: Sandbox) -> None:
    runner = sandbox.runner()
    names = [schema.name for schema in runner.schemas()]
    assert names == ["customers", "files", "orders", "secrets"]
    assert runner.run("SELECT token FROM secrets").rows == (("s3cr3t-token",),)


def test_almanacs_own_bookkeeping_tables_are_never_available(sandbox: Sandbox) -> None:
    runner = sandbox.runner()
    with pytest.raises(ToolRejected, match="no such table"):
        runner.run("SELECT * FROM _almanac_columns")


def test_a_table_loaded_after_start_up_appears_without_a_restart(own_sandbox: Sandbox) -> None:
    runner = own_sandbox.runner(tables=LISTED, timeout_s=TIMEOUT_S)
    default_runner = own_sandbox.runner()
    assert "regions" not in [s.name for s in default_runner.schemas()]
    csv = own_sandbox.directory / "regions.csv"
    csv.write_text("code,label\nEU,Europe\n", encoding="utf-8")
    own_sandbox.loader().load(csv, "regions")
    assert "regions" in [s.name for s in default_runner.schemas()]
    assert default_runner.run("SELECT label FROM regions").rows == (("Europe",),)
    with pytest.raises(ToolRejected, match="no such table"):  # not on the explicit list
        runner.run("SELECT label FROM regions")


def test_a_dropped_table_disappears_without_a_restart(own_sandbox: Sandbox) -> None:
    runner = own_sandbox.runner()
    assert "customers" in [s.name for s in runner.schemas()]
    assert own_sandbox.loader().drop("customers") is True
    assert "customers" not in [s.name for s in runner.schemas()]
    with pytest.raises(ToolRejected, match="no such table"):
        runner.run("SELECT * FROM customers")


def test_refresh_recomputes_row_counts_after_rows_change(own_sandbox: Sandbox) -> None:
    runner = own_sandbox.runner(tables=LISTED, timeout_s=TIMEOUT_S)
    assert {s.name: s.row_count for s in runner.schemas()}["files"] == 1
    own_sandbox.execute("INSERT INTO t.files (id) VALUES (2)")
    assert {s.name: s.row_count for s in runner.schemas()}["files"] == 1  # cached
    runner.refresh()
    assert {s.name: s.row_count for s in runner.schemas()}["files"] == 2


def test_without_a_tables_database_there_is_nothing_to_query(tmp_path: Path) -> None:
    runner = SqliteSqlRunner(tmp_path / "missing.db")
    assert runner.schemas() == []
    with pytest.raises(ToolRejected, match="No tables have been loaded"):
        runner.run("SELECT 1")
    assert not (tmp_path / "missing.db").exists()


def test_without_tables_in_postgresql_there_is_nothing_to_query(pg_url: str) -> None:
    db = PgDatabase(pg_url, max_size=2)
    try:
        runner = PgSqlRunner(db)
        assert runner.schemas() == []
        with pytest.raises(ToolRejected, match="No tables have been loaded"):
            runner.run("SELECT 1")
    finally:
        db.close()


def test_the_runner_can_be_called_from_several_threads_at_once(runner: SqlRunner) -> None:
    results: list[QueryResult] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                results.append(runner.run("SELECT count(*) FROM orders JOIN customers ON true"))
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
    runner: SqlRunner,
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


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_pooled_connection_comes_back_with_nothing_changed(sandbox: Sandbox) -> None:
    """Role, search path, timeout and read-only mode are LOCAL to the rolled-back transaction."""
    assert sandbox.db is not None
    runner = sandbox.runner(tables=LISTED, timeout_s=TIMEOUT_S)
    with sandbox.db.connection() as conn:
        before = conn.execute(
            "SELECT current_user AS u, current_setting('search_path') AS p, "
            "current_setting('statement_timeout') AS t, "
            "current_setting('transaction_read_only') AS r"
        ).fetchone()
    for _ in range(12):  # more than the pool's connections
        runner.run("SELECT count(*) FROM orders")
        with pytest.raises(ToolRejected):
            runner.run("SELECT * FROM secrets")
    for _ in range(8):
        with sandbox.db.connection() as conn:
            after = conn.execute(
                "SELECT current_user AS u, current_setting('search_path') AS p, "
                "current_setting('statement_timeout') AS t, "
                "current_setting('transaction_read_only') AS r"
            ).fetchone()
            assert after == before


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


def test_markdown_of_a_real_result_round_trips_the_values(runner: SqlRunner) -> None:
    text = render_markdown(runner.run("SELECT name, country FROM customers ORDER BY id LIMIT 2"))
    assert text.splitlines() == [
        "| name | country |",
        "| --- | --- |",
        "| Ada | UK |",
        "| Grace | US |",
    ]


# -- start-up on PostgreSQL -----------------------------------------------------------------------


def test_build_tables_builds_the_postgresql_adapters_with_the_settings(
    pg_url: str, tmp_path: Path
) -> None:
    from backend.stores.tables import build_tables
    from tests.conftest import make_settings

    settings = make_settings(tmp_path)  # build_tables reads only the SQL limits on PostgreSQL
    db = PgDatabase(pg_url, max_size=2)
    try:
        loader, runner = build_tables(settings, db)
        assert isinstance(loader, TableLoader) and isinstance(runner, PgSqlRunner)
        assert runner._timeout_s == settings.tables.sql_timeout
        assert runner._max_rows == settings.tables.sql_max_rows
    finally:
        db.close()


def test_a_database_user_that_cannot_create_or_use_the_reader_role_gets_a_clear_error(
    pg_server_url: str, pg_url: str
) -> None:
    """No CREATEROLE and no membership: start-up says what an administrator must grant."""
    user = f"limited_{uuid.uuid4().hex[:8]}"
    params = psycopg.conninfo.conninfo_to_dict(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(psql.SQL("CREATE ROLE {} LOGIN").format(psql.Identifier(user)))
        admin.execute(psql.SQL("GRANT CREATE ON SCHEMA public TO {}").format(psql.Identifier(user)))
        admin.execute(
            psql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
                psql.Identifier(str(params["dbname"])), psql.Identifier(user)
            )
        )
    params["user"] = user
    db = PgDatabase(psycopg.conninfo.make_conninfo(**params), max_size=2)  # type: ignore[arg-type]  # libpq's own parameters, read back
    try:
        with pytest.raises(ConfigurationError) as refused:
            TableLoader(db)
        assert "CREATE ROLE almanac_reader NOLOGIN" in refused.value.detail
        assert "GRANT almanac_reader TO" in refused.value.detail
    finally:
        db.close()
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(psql.SQL("DROP OWNED BY {}").format(psql.Identifier(user)))
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(psql.SQL("DROP ROLE {}").format(psql.Identifier(user)))


def test_a_reader_role_with_more_than_read_rights_stops_start_up(private_pg_url: str) -> None:
    """On a server of its own: the role is the whole server's, and the run's other tests use
    the shared server's."""
    db = PgDatabase(private_pg_url, max_size=2)
    try:
        PgSqlRunner(db)
        with db.connection() as conn:
            conn.execute("ALTER ROLE almanac_reader CREATEDB")
        try:
            with pytest.raises(ConfigurationError, match="plain NOLOGIN role"):
                PgSqlRunner(db)
        finally:
            with db.connection() as conn:
                conn.execute("ALTER ROLE almanac_reader NOCREATEDB")
    finally:
        db.close()
