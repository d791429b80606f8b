"""The table loader against real files and real databases (TableLoader on a SQLite file and
on PostgreSQL; the same test bodies on both): types are inferred the way a person
would expect, bad files are refused with the line to fix, and a reload is atomic."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import psycopg
import pytest
import sqlean as sqlite3

import services.tables.loader as loader_module
from services.postgres import PgDatabase
from services.tables.loader import TableLoader, sanitise_column_names, validate_table_name
from tests import hostile_inputs, office_files
from use_cases.shared.errors import InputTooCostly, InvalidRequest, UnsupportedDocument

Loader = TableLoader


class Database:
    """The backend's tables database, looked at directly (bypassing the loader)."""

    def __init__(self, backend: str, path: Path, url: str | None) -> None:
        self.backend = backend
        self.path = path
        self.url = url

    def raw(self, sql: str, *params: object) -> list[tuple]:
        if self.url is not None:
            with psycopg.connect(self.url, options="-c search_path=almanac_tables") as pg:
                return pg.execute(sql.replace("?", "%s"), params).fetchall()
        conn = sqlite3.connect(str(self.path))
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def exists(self) -> bool:
        return self.url is not None or self.path.exists()

    def table_names(self) -> list[str]:
        """The schema's tables, but the catalogue of collections PostgreSQL's migrations
        make up front (SQLite's first placed load does)."""
        if self.url is not None:
            return sorted(
                r[0]
                for r in self.raw(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'almanac_tables' "
                    "AND tablename <> '_almanac_tables'"
                )
            )
        return sorted(r[0] for r in self.raw("SELECT name FROM sqlite_master WHERE type = 'table'"))

    def column_types(self, table: str) -> dict[str, str]:
        if self.url is not None:
            return dict(
                self.raw(
                    "SELECT column_name, upper(data_type) FROM information_schema.columns "
                    "WHERE table_schema = 'almanac_tables' AND table_name = ?",
                    table,
                )
            )
        return dict(self.raw("SELECT name, type FROM pragma_table_info(?)", table))


@pytest.fixture
def database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Database:
    url = str(request.getfixturevalue("pg_url")) if backend == "postgresql" else None
    return Database(backend, tmp_path / "tables.db", url)


@pytest.fixture
def loader(database: Database) -> Iterator[Loader]:
    if database.url is None:
        yield TableLoader(database.path)
        return
    db = PgDatabase(database.url, max_size=2)
    try:
        yield TableLoader(db)
    finally:
        db.close()


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- CSV ----------------------------------------------------------------------------------------

SALES_CSV = """\
Order ID,Customer,Total (€),Quantity,Ordered On,Shipped At,ZIP,Note
1,Ada,10.50,2,2024-01-02,2024-01-03T10:00:00,01234,first
2,Grace,3,1,2024-02-03,2024-02-04 09:30,12345,
3,Linus,,5,,2024-03-01T08:00:00Z,99999,"has, a comma"
"""


def test_csv_columns_get_integer_real_date_datetime_and_text_types(
    loader: Loader, tmp_path: Path, database: Database
) -> None:
    schema = loader.load(write(tmp_path / "sales.csv", SALES_CSV), "sales")
    assert [(c.name, c.type) for c in schema.columns] == [
        ("order_id", "INTEGER"),
        ("customer", "TEXT"),
        ("total", "REAL"),
        ("quantity", "INTEGER"),
        ("ordered_on", "DATE"),
        ("shipped_at", "DATETIME"),
        ("zip", "TEXT"),
        ("note", "TEXT"),
    ]
    assert schema.row_count == 3
    assert (
        database.column_types("sales")["total"]
        == {"sqlite": "REAL", "postgresql": "DOUBLE PRECISION"}[database.backend]
    )


def test_csv_values_are_stored_as_their_types_and_empty_cells_as_null(
    loader: Loader, tmp_path: Path, database: Database
) -> None:
    loader.load(write(tmp_path / "sales.csv", SALES_CSV), "sales")
    typeof = {"sqlite": "typeof", "postgresql": "pg_typeof"}[database.backend]
    rows = database.raw(
        f"SELECT order_id, {typeof}(order_id)::text, total, {typeof}(total)::text, "
        "ordered_on::text, zip, note FROM sales ORDER BY order_id"
        if database.backend == "postgresql"
        else "SELECT order_id, typeof(order_id), total, typeof(total), ordered_on, zip, note "
        "FROM sales ORDER BY order_id",
    )
    integer, real, null = {
        "sqlite": ("integer", "real", "null"),
        "postgresql": ("bigint", "double precision", "double precision"),
    }[database.backend]
    assert rows == [
        (1, integer, 10.5, real, "2024-01-02", "01234", "first"),
        (2, integer, 3.0, real, "2024-02-03", "12345", None),
        (3, integer, None, null, None, "99999", "has, a comma"),
    ]


def test_dates_are_what_the_engines_date_functions_read(
    loader: Loader, tmp_path: Path, database: Database
) -> None:
    """SQLite: ISO-8601 text; PostgreSQL: DATE and TIMESTAMP (an offset stored as UTC)."""
    loader.load(write(tmp_path / "sales.csv", SALES_CSV), "sales")
    if database.backend == "sqlite":
        rows = database.raw("SELECT typeof(ordered_on), strftime('%m', ordered_on) FROM sales")
        assert rows[0] == ("text", "01")
        return
    rows = database.raw(
        "SELECT pg_typeof(ordered_on)::text, to_char(ordered_on, 'MM'), "
        "pg_typeof(shipped_at)::text, to_char(shipped_at, 'YYYY-MM-DD HH24:MI') "
        "FROM sales ORDER BY order_id"
    )
    assert rows[0] == ("date", "01", "timestamp without time zone", "2024-01-03 10:00")
    assert rows[1][3] == "2024-02-04 09:30"
    assert rows[2][3] == "2024-03-01 08:00"  # 08:00Z


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1", "-2", "+3"], "INTEGER"),
        (["1", "2.5", "1e3"], "REAL"),
        (["007", "008"], "TEXT"),  # zero-padded codes keep their zeros
        (["0", "10"], "INTEGER"),
        (["0.5", "00.5"], "TEXT"),
        (["12345678901234567890"], "TEXT"),  # beyond 64 bits: an identifier, not a number
        (["1", "two"], "TEXT"),
        (["2024-01-02", "2024-02-30"], "TEXT"),  # not a real date
        (["2024-01-02", "2024-01-02T10:00:00"], "DATETIME"),
        (["true", "false"], "TEXT"),
        (["", " "], "TEXT"),  # nothing to go by
        (["nan", "inf"], "TEXT"),
    ],
)
def test_a_column_gets_a_type_only_if_every_non_empty_value_fits_it(
    loader: Loader, tmp_path: Path, values: list[str], expected: str
) -> None:
    text = "value\n" + "\n".join(f'"{v}"' for v in values) + "\n"
    schema = loader.load(write(tmp_path / "t.csv", text), "t")
    assert schema.columns[0].type == expected


def test_headers_become_unique_safe_identifiers_and_the_originals_are_kept(
    loader: Loader, tmp_path: Path
) -> None:
    text = "Order ID,order id,2024 Sales,Café,select,,rowid,Größe €\n1,2,3,4,5,6,7,8\n"
    schema = loader.load(write(tmp_path / "odd.csv", text), "odd")
    names = [c.name for c in schema.columns]
    assert names == [
        "order_id",
        "order_id_2",
        "c_2024_sales",
        "cafe",
        "select_",
        "col_6",
        "rowid_",
        "groe",
    ]
    assert loader.column_mapping("odd") == {
        "order_id": "Order ID",
        "order_id_2": "order id",
        "c_2024_sales": "2024 Sales",
        "cafe": "Café",
        "select_": "select",
        "col_6": "",
        "rowid_": "rowid",
        "groe": "Größe €",
    }


def test_sanitised_names_are_valid_lowercase_identifiers() -> None:
    names = sanitise_column_names(["A" * 100, "A" * 100, "1", "--", "x"])
    assert names[0] == "a" * 63
    assert names[1] == "a" * 61 + "_2"
    assert names[2:] == ["c_1", "col_4", "x"]


def test_tsv_files_are_loaded_by_extension(loader: Loader, tmp_path: Path) -> None:
    schema = loader.load(write(tmp_path / "t.tsv", "a\tb\n1\tx, y\n"), "t")
    assert [(c.name, c.type) for c in schema.columns] == [("a", "INTEGER"), ("b", "TEXT")]
    assert schema.columns[1].samples == ("x, y",)


def test_a_byte_order_mark_and_crlf_line_ends_are_handled(
    loader: Loader, tmp_path: Path, database: Database
) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffid,name\r\n1,Ada\r\n\r\n2,Grace\r\n".encode())
    schema = loader.load(path, "excel")
    assert schema.columns[0].name == "id"
    assert database.raw("SELECT id, name FROM excel") == [(1, "Ada"), (2, "Grace")]


def test_quoted_cells_may_span_lines(loader: Loader, tmp_path: Path) -> None:
    schema = loader.load(write(tmp_path / "m.csv", 'id,text\n1,"two\nlines"\n'), "m")
    assert schema.row_count == 1
    assert schema.columns[1].samples == ("two lines",)


def test_a_header_only_csv_makes_an_empty_table(loader: Loader, tmp_path: Path) -> None:
    schema = loader.load(write(tmp_path / "h.csv", "a,b\n"), "h")
    assert schema.row_count == 0
    assert [c.type for c in schema.columns] == ["TEXT", "TEXT"]


def test_samples_are_up_to_three_distinct_values(loader: Loader, tmp_path: Path) -> None:
    schema = loader.load(write(tmp_path / "s.csv", "x\na\na\nb\n\nc\nd\n"), "s")
    assert schema.columns[0].samples == ("a", "b", "c")


# -- JSON Lines ---------------------------------------------------------------------------------


def test_jsonl_columns_are_typed_by_json_type_with_nested_values_as_json_text(
    loader: Loader, tmp_path: Path, database: Database
) -> None:
    lines = [
        {"id": 1, "price": 2, "ok": True, "day": "2024-01-02", "tags": ["a", "b"], "code": "01"},
        {"id": 2, "price": 2.5, "ok": False, "day": "2024-01-03", "meta": {"k": "v"}},
        {"id": 3, "price": None, "ok": True, "day": None, "code": 7},
    ]
    path = write(tmp_path / "items.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n")
    schema = loader.load(path, "items")
    assert [(c.name, c.type) for c in schema.columns] == [
        ("id", "INTEGER"),
        ("price", "REAL"),
        ("ok", "INTEGER"),
        ("day", "DATE"),
        ("tags", "TEXT"),
        ("code", "TEXT"),
        ("meta", "TEXT"),
    ]
    rows = database.raw(
        "SELECT id, price, ok, day, tags, code, meta ->> '$.k' FROM items"
        if database.backend == "sqlite"
        else "SELECT id, price, ok, day::text, tags, code, meta::jsonb ->> 'k' FROM items"
    )
    assert rows == [
        (1, 2.0, 1, "2024-01-02", '["a","b"]', "01", None),
        (2, 2.5, 0, "2024-01-03", None, None, "v"),
        (3, None, 1, None, None, "7", None),
    ]


def test_ndjson_is_an_accepted_extension(loader: Loader, tmp_path: Path) -> None:
    schema = loader.load(write(tmp_path / "x.ndjson", '{"A b": 1}\n\n{"A b": 2}\n'), "x")
    assert [c.name for c in schema.columns] == ["a_b"]
    assert schema.row_count == 2


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("empty.csv", b"", "empty.csv is empty"),
        ("blank.csv", b"\n\n  \n", "blank.csv is empty"),
        ("ragged.csv", b"a,b\n1,2\n3\n", "ragged.csv, line 3: expected 2 fields"),
        ("long.csv", b"a,b\n1,2\n3,4\n5,6,7\n", "long.csv, line 4: expected 2 fields"),
        ("latin1.csv", b"a,b\n1,2\n3,caf\xe9\n", "latin1.csv, line 3: not valid UTF-8"),
        ("nul.csv", b"a,b\n1,\x002\n", "nul.csv, line 2: contains a NUL byte"),
        ("quote.csv", b'a,b\n1,"x"y\n', "quote.csv, line 2: malformed CSV"),
        ("empty.jsonl", b"", "empty.jsonl is empty"),
        ("bad.jsonl", b'{"a": 1}\n{"a": 2,}\n', "bad.jsonl, line 2: invalid JSON"),
        ("array.jsonl", b'{"a": 1}\n\n[1, 2]\n', "array.jsonl, line 3: expected a JSON object"),
        ("scalar.jsonl", b'"text"\n', "scalar.jsonl, line 1: expected a JSON object, got a string"),
        ("keyless.jsonl", b"{}\n{}\n", "would have no columns"),
        ("latin1.jsonl", b'{"a": "caf\xe9"}\n', "latin1.jsonl, line 1: not valid UTF-8"),
    ],
)
def test_bad_files_are_refused_naming_the_line_and_nothing_is_written(
    loader: Loader,
    tmp_path: Path,
    database: Database,
    filename: str,
    content: bytes,
    message: str,
) -> None:
    path = tmp_path / filename
    path.write_bytes(content)
    with pytest.raises(InvalidRequest) as refused:
        loader.load(path, "t")
    assert message in refused.value.detail
    assert loader.list_tables() == []
    if database.exists():
        assert [n for n in database.table_names() if "load" in n] == []


def test_a_missing_file_is_an_invalid_request(loader: Loader, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="does not exist"):
        loader.load(tmp_path / "nope.csv", "t")


def test_an_unknown_extension_is_unsupported(loader: Loader, tmp_path: Path) -> None:
    supported = r"\.csv, \.jsonl, \.ndjson, \.ods, \.tab, \.tsv, \.xlsm, \.xlsx"
    with pytest.raises(UnsupportedDocument, match=supported):
        loader.load(write(tmp_path / "t.numbers", "x"), "t")


# -- replacing ----------------------------------------------------------------------------------


def test_loading_again_replaces_the_table(
    loader: Loader, tmp_path: Path, database: Database
) -> None:
    loader.load(write(tmp_path / "v1.csv", "a,b\n1,2\n"), "t")
    schema = loader.load(write(tmp_path / "v2.csv", "c\nx\ny\n"), "t")
    assert [c.name for c in schema.columns] == ["c"]
    assert database.raw("SELECT c FROM t") == [("x",), ("y",)]
    assert loader.column_mapping("t") == {"c": "c"}


def test_a_failing_reload_leaves_the_old_table_intact(
    loader: Loader, tmp_path: Path, database: Database
) -> None:
    loader.load(write(tmp_path / "good.csv", "a,b\n1,2\n3,4\n"), "t")
    bad = write(tmp_path / "bad.csv", "x,y\n" + "5,6\n" * 1000 + "7\n")
    with pytest.raises(InvalidRequest, match="line 1002"):
        loader.load(bad, "t")
    assert database.raw("SELECT a, b FROM t ORDER BY a") == [(1, 2), (3, 4)]
    assert loader.column_mapping("t") == {"a": "a", "b": "b"}
    assert database.table_names() == ["_almanac_columns", "t"]  # no scratch table left behind


def test_a_write_failure_midway_rolls_back_to_the_old_table(
    loader: Loader, tmp_path: Path, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even when the file passes validation, a failure while writing leaves nothing half-done."""
    loader.load(write(tmp_path / "good.csv", "a\n1\n"), "t")
    tables_module = loader_module  # one loader module for both backends

    def explode(text: str, sql_type: str) -> object:
        raise OSError("disk full")

    real_read_csv = tables_module.read_csv

    def read_then_fail(file: Path, delimiter: str):
        source = real_read_csv(file, delimiter)
        source.convert = explode
        return source

    monkeypatch.setattr(tables_module, "read_csv", read_then_fail)
    with pytest.raises(OSError, match="disk full"):
        loader.load(write(tmp_path / "new.csv", "b\n2\n"), "t")
    assert database.raw("SELECT a FROM t") == [(1,)]
    assert database.table_names() == ["_almanac_columns", "t"]


def test_table_names_differing_only_in_case_are_the_same_table(
    loader: Loader, tmp_path: Path
) -> None:
    loader.load(write(tmp_path / "a.csv", "a\n1\n"), "Sales")
    loader.load(write(tmp_path / "b.csv", "b\n2\n"), "sales")
    assert [s.name for s in loader.list_tables()] == ["sales"]


def test_a_large_file_loads_every_row_with_its_column_types(
    loader: Loader, tmp_path: Path, database: Database
) -> None:
    """20,000 rows come in whole, typed. How fast is a benchmark's question (bench/), not a
    test's: a time limit here would fail on a slow machine and prove nothing on a fast one."""
    lines = ["id,name,amount,day"] + [f"{i},name {i},{i * 1.5},2024-01-01" for i in range(20_000)]
    path = write(tmp_path / "big.csv", "\n".join(lines) + "\n")
    schema = loader.load(path, "big")
    assert schema.row_count == 20_000
    assert [c.type for c in schema.columns] == ["INTEGER", "TEXT", "REAL", "DATE"]
    assert database.raw("SELECT count(*), max(id) FROM big") == [(20_000, 19_999)]


# -- names, listing, dropping -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "",
        "1sales",
        "sales-2024",
        "sales 2024",
        "x" * 64,
        "sqlite_stat1",
        "SQLite_x",
        "_almanac_columns",
        "select",
        "Order",
        "t; DROP TABLE x",
        'x"y',
        "café",
    ],
)
def test_unsafe_table_names_are_refused_with_a_clear_message(
    loader: Loader, tmp_path: Path, database: Database, name: str
) -> None:
    with pytest.raises(InvalidRequest, match="Invalid table name"):
        loader.load(write(tmp_path / "t.csv", "a\n1\n"), name)
    assert not database.exists() or loader.list_tables() == []


@pytest.mark.parametrize("name", ["_x", "Sales_2024", "x" * 63, "t"])
def test_safe_table_names_are_accepted(name: str) -> None:
    assert validate_table_name(name) == name


def test_list_tables_shows_user_tables_only_sorted_by_name(loader: Loader, tmp_path: Path) -> None:
    loader.load(write(tmp_path / "b.csv", "x\n1\n"), "beta")
    loader.load(write(tmp_path / "a.csv", "y\nq\n"), "alpha")
    schemas = loader.list_tables()
    assert [(s.name, s.row_count, s.columns[0].name) for s in schemas] == [
        ("alpha", 1, "y"),
        ("beta", 1, "x"),
    ]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_list_tables_of_a_missing_database_is_empty_and_creates_nothing(
    loader: Loader, database: Database
) -> None:
    assert loader.list_tables() == []
    assert not database.path.exists()


def test_drop_removes_the_table_and_its_mapping(loader: Loader, tmp_path: Path) -> None:
    loader.load(write(tmp_path / "a.csv", "Col A\n1\n"), "t")
    assert loader.drop("t") is True
    assert loader.list_tables() == []
    assert loader.column_mapping("t") == {}
    assert loader.drop("t") is False


def test_drop_validates_the_name(loader: Loader) -> None:
    with pytest.raises(InvalidRequest):
        loader.drop("sqlite_master")


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_database_is_in_wal_mode(loader: Loader, tmp_path: Path, database: Database) -> None:
    loader.load(write(tmp_path / "a.csv", "a\n1\n"), "t")
    assert database.raw("PRAGMA journal_mode") == [("wal",)]


def test_rows_are_paged_through_the_sandbox_and_a_table_is_dropped_on_both_backends(
    loader: Loader, database: Database, tmp_path: Path
) -> None:
    from services.tables.pg_sql_sandbox import PgSqlRunner
    from services.tables.sql_sandbox import SqliteSqlRunner
    from use_cases.shared.errors import NotFound
    from use_cases.tables.tables import DropTable, TableRows

    loader.load(write(tmp_path / "rooms.csv", "room,floor\nA1,1\nB2,2\nC3,3\n"), "Rooms")
    sql = (
        PgSqlRunner(cast(PgDatabase, loader._db))  # a database with a URL is PostgreSQL's
        if database.url is not None
        else SqliteSqlRunner(database.path)
    )
    rows = TableRows(loader, sql)
    page = asyncio.run(rows.execute("rooms", limit=2, offset=1))
    assert page.columns == ("room", "floor") and page.total == 3
    assert page.rows == (("B2", 2), ("C3", 3))
    assert DropTable(loader, sql).run("ROOMS").row_count == 3
    assert [t.name for t in loader.list_tables()] == []
    assert [s.name for s in sql.schemas()] == []  # the sandbox was refreshed
    with pytest.raises(NotFound):
        asyncio.run(rows.execute("rooms"))


# -- workbooks ----------------------------------------------------------------------------------


def test_a_workbook_loads_a_table_per_sheet_typed_as_a_csv_is(
    loader: Loader, tmp_path: Path
) -> None:
    book = tmp_path / "Sales 2024.xlsx"
    book.write_bytes(office_files.workbook_by_library())
    loaded = {schema.name: schema for schema in loader.load_workbook(book)}
    assert set(loaded) == {"sales_2024_q1_sales", "sales_2024_readings"}
    sales = loaded["sales_2024_q1_sales"]
    assert sales.row_count == 3
    assert [(c.name, c.type) for c in sales.columns] == [
        ("region", "TEXT"),
        ("units", "INTEGER"),
        ("revenue", "REAL"),
        ("closed_on", "DATE"),
        ("code", "TEXT"),
    ]
    assert loader.column_mapping("sales_2024_q1_sales")["closed_on"] == "Closed on"
    ods = tmp_path / "teams.ods"
    ods.write_bytes(office_files.ods_by_hand())
    (teams,) = loader.load_workbook(ods, "staff")
    assert teams.name == "staff_teams" and teams.row_count == 2


def test_a_refused_workbook_writes_no_table(loader: Loader, tmp_path: Path) -> None:
    book = tmp_path / "sales.xlsx"
    book.write_bytes(office_files.workbook_by_library())
    loader.load_workbook(book)
    before = loader.list_tables()
    locked = tmp_path / "sales.xlsx"
    locked.write_bytes(office_files.encrypted(office_files.workbook_by_library()))
    with pytest.raises(InvalidRequest, match=r"sales\.xlsx is password-protected"):
        loader.load_workbook(locked)
    assert loader.list_tables() == before


def test_a_far_cell_or_repeated_blanks_do_not_widen_a_sheets_table(
    loader: Loader, tmp_path: Path
) -> None:
    """One number in column XFD, blank cells repeated to it in an .ods: four columns each, the
    ones holding values (the sheet's farthest cell once made 16,384, past the column limit)."""
    far = tmp_path / "far.xlsx"
    far.write_bytes(hostile_inputs.far_cell_xlsx())
    (readings,) = loader.load_workbook(far)
    assert [c.name for c in readings.columns] == ["a", "b", "c", "xfd"]
    assert readings.row_count == 5
    gaps = tmp_path / "gaps.ods"
    gaps.write_bytes(hostile_inputs.blank_repeat_ods(gap_rows=1_000))
    (gapped,) = loader.load_workbook(gaps)
    assert [c.name for c in gapped.columns] == ["a", "b", "c", "xfd"]
    assert gapped.row_count == 5


def test_a_workbook_past_the_cell_budget_writes_no_table(
    database: Database, tmp_path: Path
) -> None:
    from dataclasses import replace

    from services.budgets import BUDGET

    small = replace(BUDGET, max_workbook_cells=100)
    target: Path | PgDatabase = (
        database.path if database.url is None else PgDatabase(database.url, max_size=2)
    )
    try:
        loader = TableLoader(target, small)
        book = tmp_path / "filled.ods"
        book.write_bytes(hostile_inputs.repeated_value_ods(rows=20, columns=10))
        with pytest.raises(InputTooCostly, match="MAX_WORKBOOK_CELLS"):
            loader.load_workbook(book)
        assert loader.list_tables() == []
    finally:
        if isinstance(target, PgDatabase):
            target.close()
