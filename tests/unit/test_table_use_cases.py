"""The table use cases on in-memory fakes: a load is seen by the next query without anyone
refreshing the SQL runner, bad names and bad files are refused with nothing written, and an
admin's load is audited with the table it replaced."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes import CachingSqlRunner, InMemoryAuditLog, InMemoryTableLoader, SteppingClock
from use_cases.access.audit import RecordAudit
from use_cases.access.domain import Caller
from use_cases.admin.actions import LoadTableAsAdmin
from use_cases.admin.table_uploads import TableUpload, UploadTableAsAdmin, _stored_name
from use_cases.shared.errors import (
    Forbidden,
    InvalidRequest,
    PayloadTooLarge,
    ToolRejected,
    UnsupportedDocument,
)
from use_cases.tables.tables import (
    ListTables,
    LoadTable,
    LoadTableRequest,
    LoadTablesIfEmpty,
    RunSql,
)

ROOT = Caller("root", "admin", "key_root")
ANA = Caller("ana", "user", "key_ana")
OFFICES = Path("offices.csv")
MORE_OFFICES = Path("more-offices.csv")
RAGGED = Path("ragged.csv")
FILES = {
    OFFICES: "city,desks\nBerlin,12\nLisbon,8\n",
    MORE_OFFICES: "city,desks\nBerlin,12\nLisbon,8\nOslo,5\n",
    RAGGED: "city,desks\nBerlin,12\nLisbon\n",
}


@pytest.fixture
def tables() -> InMemoryTableLoader:
    return InMemoryTableLoader(FILES)


@pytest.fixture
def sql(tables: InMemoryTableLoader) -> CachingSqlRunner:
    return CachingSqlRunner(tables)


def _count(sql: CachingSqlRunner, table: str) -> int:
    return RunSql(sql).run(f"SELECT COUNT(*) FROM {table}").rows[0][0]


async def test_a_query_after_loading_sees_the_new_table_without_a_manual_refresh(
    tables: InMemoryTableLoader, sql: CachingSqlRunner
) -> None:
    assert sql.schemas() == []  # the runner has cached "no tables"

    loaded = await LoadTable(tables, sql).execute(LoadTableRequest(OFFICES, "offices"))

    assert loaded.schema.row_count == 2 and loaded.replaced is None
    result = await RunSql(sql).execute("SELECT * FROM offices")
    assert result.columns == ("city", "desks") and len(result.rows) == 2
    assert [(s.name, s.row_count) for s in sql.schemas()] == [("offices", 2)]  # what the model sees


def test_a_reload_replaces_the_table_and_reports_the_one_it_replaced(
    tables: InMemoryTableLoader, sql: CachingSqlRunner
) -> None:
    load = LoadTable(tables, sql)
    load.run(LoadTableRequest(OFFICES, "offices"))
    assert _count(sql, "offices") == 2

    loaded = load.run(LoadTableRequest(MORE_OFFICES, "Offices"))

    assert loaded.replaced is not None and loaded.replaced.row_count == 2
    assert _count(sql, "offices") == 3
    assert [(s.name, s.row_count) for s in ListTables(tables).run()] == [("Offices", 3)]


@pytest.mark.parametrize(
    "name", ["1bad", "select", "sqlite_stat", "_almanac_columns", "has space", "x" * 64, ""]
)
def test_a_bad_table_name_is_refused_before_the_file_is_read(
    tables: InMemoryTableLoader, sql: CachingSqlRunner, name: str
) -> None:
    with pytest.raises(InvalidRequest, match="Invalid table name"):
        LoadTable(tables, sql).run(LoadTableRequest(OFFICES, name))

    assert tables.reads == [] and tables.list_tables() == []


def test_a_bad_file_leaves_the_previous_table_as_it_was(
    tables: InMemoryTableLoader, sql: CachingSqlRunner
) -> None:
    load = LoadTable(tables, sql)
    load.run(LoadTableRequest(OFFICES, "offices"))
    before = tables.list_tables()

    with pytest.raises(InvalidRequest, match="Line 3"):
        load.run(LoadTableRequest(RAGGED, "offices"))
    with pytest.raises(InvalidRequest, match="does not exist"):
        load.run(LoadTableRequest(Path("missing.csv"), "offices"))
    with pytest.raises(UnsupportedDocument):
        load.run(LoadTableRequest(Path("offices.xlsx"), "offices"))

    assert tables.list_tables() == before
    assert _count(sql, "offices") == 2


def test_an_admins_load_is_audited_with_the_table_it_replaced(
    tables: InMemoryTableLoader, sql: CachingSqlRunner
) -> None:
    log = InMemoryAuditLog()
    admin_load = LoadTableAsAdmin(LoadTable(tables, sql), RecordAudit(log, SteppingClock()))

    admin_load.run(ROOT, LoadTableRequest(OFFICES, "offices"))
    admin_load.run(ROOT, LoadTableRequest(MORE_OFFICES, "offices"))
    with pytest.raises(InvalidRequest):
        admin_load.run(ROOT, LoadTableRequest(RAGGED, "offices"))

    assert [(e.action, e.target, e.actor_user_id) for e in log.entries] == [
        ("table.load", "table:offices", "root"),
        ("table.load", "table:offices", "root"),
    ]  # the failed load is not recorded
    first, second = log.entries
    assert first.before is None
    assert second.before == {"name": "offices", "rows": 2, "columns": ["city", "desks"]}
    assert second.after == {
        "name": "offices",
        "rows": 3,
        "columns": ["city", "desks"],
        "file": "more-offices.csv",
    }


async def test_only_admins_load_tables_and_nothing_is_read_for_others(
    tables: InMemoryTableLoader, sql: CachingSqlRunner
) -> None:
    log = InMemoryAuditLog()
    admin_load = LoadTableAsAdmin(LoadTable(tables, sql), RecordAudit(log, SteppingClock()))

    with pytest.raises(Forbidden, match="admin role"):
        await admin_load.execute(ANA, LoadTableRequest(OFFICES, "offices"))

    assert tables.reads == [] and log.entries == []


def test_the_sample_is_loaded_only_into_an_empty_tables_database(
    tables: InMemoryTableLoader, sql: CachingSqlRunner
) -> None:
    load = LoadTable(tables, sql)
    if_empty = LoadTablesIfEmpty(load, tables)

    loaded = if_empty.run([OFFICES])
    again = if_empty.run([MORE_OFFICES])

    assert [s.name for s in loaded] == ["offices"] and again == []
    assert _count(sql, "offices") == 2


def test_run_sql_passes_on_the_sandboxs_refusal(sql: CachingSqlRunner) -> None:
    with pytest.raises(ToolRejected):
        RunSql(sql).run("DELETE FROM offices")


async def test_an_uploaded_table_is_refused_before_anything_is_read_when_it_cannot_load(
    tables: InMemoryTableLoader, sql: CachingSqlRunner
) -> None:
    log = InMemoryAuditLog()
    admin_load = LoadTableAsAdmin(LoadTable(tables, sql), RecordAudit(log, SteppingClock()))
    upload = UploadTableAsAdmin(admin_load, max_bytes=20)
    data = b"city,desks\nBerlin,12\n"  # 21 bytes: one over the limit

    with pytest.raises(Forbidden, match="admin role"):
        await upload.execute(ANA, TableUpload("offices", "offices.csv", data[:10]))
    with pytest.raises(InvalidRequest, match="SQL keyword"):
        await upload.execute(ROOT, TableUpload("select", "offices.csv", data[:10]))
    with pytest.raises(InvalidRequest, match="no file name"):
        await upload.execute(ROOT, TableUpload("offices", "uploads/", data[:10]))
    with pytest.raises(PayloadTooLarge, match=r"offices\.csv is larger than the 20-byte"):
        await upload.execute(ROOT, TableUpload("offices", "offices.csv", data))

    assert upload.read_limit == 21
    assert tables.reads == [] and tables.list_tables() == [] and log.entries == []


@pytest.mark.parametrize(
    ("filename", "stored"),
    [
        ("offices.csv", "offices.csv"),
        ("..", "upload"),
        ("x" * 300 + ".tsv", "upload.tsv"),
        ("a\x00b.jsonl", "upload.jsonl"),
    ],
)
def test_an_upload_is_stored_under_its_own_name_when_that_is_a_plain_file_name(
    filename: str, stored: str
) -> None:
    assert _stored_name(filename) == stored
