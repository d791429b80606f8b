"""Tables in collections, against real databases (SQLite files and PostgreSQL, one body each):
a load places a table in a collection, a reload without one keeps it, and the SQL sandbox
lets a reader's query touch only the tables of the reader's collections. A table of another
collection reads exactly like a missing one ("no such table"), whichever way the query names
it, and its name is never shown (docs/collections.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.postgres import PgDatabase
from services.tables.loader import TableLoader
from services.tables.pg_sql_sandbox import PgSqlRunner
from services.tables.sql_sandbox import SqliteSqlRunner
from use_cases.shared.errors import ToolRejected
from use_cases.tables.domain import KEEP
from use_cases.tables.ports import SqlRunner

pytest_plugins = ["tests.postgres"]

HR = 7  # a collection's id, as the knowledge database numbers them
ENG = 8
ANA = frozenset({None, HR})  # the default collection and hr
BOB = frozenset({None, ENG})


@pytest.fixture
def tables(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[TableLoader, SqlRunner]]:
    files = {
        "salaries.csv": "person,salary\nzebraquartz,91000\n",
        "deploys.csv": "pipeline,stage\nfalconnimbus,ortholattice\n",
        "holidays.csv": "day\n2026-12-25\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    if backend == "postgresql":
        db = PgDatabase(str(request.getfixturevalue("pg_url")), max_size=4)
        runner: SqlRunner = PgSqlRunner(db)
        loader = TableLoader(db)
    else:
        loader, runner = (
            TableLoader(tmp_path / "tables.db"),
            SqliteSqlRunner(tmp_path / "tables.db"),
        )
    loader.load(tmp_path / "salaries.csv", "salaries", HR)
    loader.load(tmp_path / "deploys.csv", "deploys", ENG)
    loader.load(tmp_path / "holidays.csv", "holidays")
    try:
        yield loader, runner
    finally:
        if backend == "postgresql":
            db.close()


def test_a_table_is_listed_with_its_collection_and_a_reload_keeps_it(
    tables: tuple[TableLoader, SqlRunner], tmp_path: Path
) -> None:
    loader, runner = tables
    placed = {t.name: t.collection_id for t in loader.list_tables()}
    assert placed == {"deploys": ENG, "holidays": None, "salaries": HR}
    (tmp_path / "more.csv").write_text("person,salary\nquillfeather,1\n", encoding="utf-8")
    assert loader.load(tmp_path / "more.csv", "salaries", KEEP).collection_id == HR
    assert loader.load(tmp_path / "more.csv", "salaries", None).collection_id is None
    assert loader.load(tmp_path / "more.csv", "salaries", ENG).collection_id == ENG
    assert loader.drop("salaries")
    assert loader.load(tmp_path / "more.csv", "salaries").collection_id is None
    runner.refresh()
    assert {t.name for t in runner.schemas(ANA)} == {"holidays", "salaries"}


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM deploys",
        "SELECT stage FROM deploys WHERE pipeline = 'falconnimbus'",
        "SELECT nosuchcolumn FROM deploys",  # the engine would say "no such column"
        'SELECT * FROM "DEPLOYS"',
        "SELECT * FROM holidays WHERE day IN (SELECT stage FROM deploys)",
        "WITH d AS (SELECT * FROM deploys) SELECT * FROM d",
        "SELECT (SELECT count(*) FROM deploys) AS n",
        "SELECT * FROM holidays JOIN deploys ON 1 = 1",
    ],
)
def test_a_query_naming_another_collections_table_fails_as_no_such_table(
    tables: tuple[TableLoader, SqlRunner], query: str
) -> None:
    _, runner = tables
    with pytest.raises(ToolRejected) as refused:
        runner.run(query, ANA)
    detail = refused.value.detail
    assert "no such table" in detail.lower(), detail
    assert "ortholattice" not in detail and "stage" not in detail
    assert "Available tables: holidays, salaries." in detail
    # The same words for a table that does not exist at all.
    with pytest.raises(ToolRejected) as missing:
        runner.run(query.replace("deploys", "nosuchtable").replace("DEPLOYS", "NOSUCHTABLE"), ANA)
    assert "no such table" in missing.value.detail.lower()


def test_each_reader_queries_and_is_shown_only_their_collections_tables(
    tables: tuple[TableLoader, SqlRunner],
) -> None:
    _, runner = tables
    assert runner.run("SELECT salary FROM salaries", ANA).rows == ((91000,),)
    assert runner.run("SELECT stage FROM deploys", BOB).rows == (("ortholattice",),)
    assert runner.run("SELECT count(*) FROM holidays", frozenset({None})).rows == ((1,),)
    assert [t.name for t in runner.schemas(ANA)] == ["holidays", "salaries"]
    assert [t.name for t in runner.schemas(BOB)] == ["deploys", "holidays"]
    assert [t.name for t in runner.schemas(frozenset())] == []
    assert [t.name for t in runner.schemas()] == ["deploys", "holidays", "salaries"]
    with pytest.raises(ToolRejected, match="no such table"):
        runner.run("SELECT * FROM salaries", BOB)
    with pytest.raises(ToolRejected):
        runner.run("SELECT * FROM holidays", frozenset())
