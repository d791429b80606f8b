"""The offline answerer answers plain lookups over a workbook it was never written for: the
tuning ("dev") half of the table lookups' held-out check (the never-tuned half is
bench/table_lookups.py).

The workbook is written here, with openpyxl, and loaded as `almanac ingest` loads one (a table
per sheet); each question goes through the real agent, the offline model and the read-only
SQL sandbox, with no document to answer from. An answer must hold the asked cell(s), cite the
table, and its source must be the SELECT that read it.
"""

from __future__ import annotations

from datetime import date, datetime

import pydantic_ai.models
import pytest

from services.offline import build_offline_model
from services.tables.loader import TableLoader
from services.tables.sql_sandbox import SqliteSqlRunner
from tests.fakes import InMemoryRetriever
from use_cases.chat.agent import CHAT_TURN, AgentLimits, build_agent
from use_cases.chat.decisions import NO_DECISIONS
from use_cases.chat.prompts import anchored_prompt
from use_cases.chat.tools import AgentDeps

pydantic_ai.models.ALLOW_MODEL_REQUESTS = False

TODAY = date(2026, 11, 21)

SHEETS: dict[str, list[list[object]]] = {
    "Releases": [
        ["Version", "Codename", "Release Date", "Support Ends", "Lead Engineer"],
        ["1.0", "Aurora", "2019-03-14", "2021-03-14", "Priya Nair"],
        ["1.5", "Borealis", "2019-11-02", "2021-11-02", "Tomás Ruiz"],
        ["2.0", "Cascade", "2020-06-21", "2022-06-21", "Priya Nair"],
        ["2.1", "Dunmore", "2021-01-30", "2023-01-30", "Lena Fischer"],
        ["3.0", "Ember", "2022-09-09", "2025-09-09", "Kofi Boateng"],
        ["3.2", "Fjord", "2023-05-17", "2026-05-17", "Lena Fischer"],
    ],
    "Price List": [
        ["SKU", "Product", "Unit Price EUR", "Qty In Stock"],
        ["PL-100", "Desk Lamp", 40, 120],
        ["PL-200", "Monitor Arm", 85, 35],
        ["PL-300", "Ergonomic Chair", 310, 12],
        ["PL-400", "Footrest", 25, 60],
        ["PL-500", "Webcam", 70, 48],
    ],
    "On-call": [
        ["Week", "Engineer", "Backup", "Phone"],
        [10, "Ana Silva", "Ben Okafor", "+44 20 7946 0010"],
        [11, "Ben Okafor", "Chloé Martin", "+44 20 7946 0011"],
        [12, "Chloé Martin", "Dev Patel", "+44 20 7946 0012"],
        [13, "Dev Patel", "Ana Silva", "+44 20 7946 0013"],
    ],
}

#: (question, the cells the answer must hold, the table it must cite), written before the
#: answerer was run on them.
LOOKUPS: list[tuple[str, tuple[str, ...], str]] = [
    ("When was version 2.1 released?", ("2021-01-30",), "team_releases"),
    ("What is the codename of version 3.0?", ("Ember",), "team_releases"),
    ("Which version is codenamed Fjord?", ("3.2",), "team_releases"),
    ("How much does the Monitor Arm cost?", ("85",), "team_price_list"),
    ("Which product costs 40 euros?", ("Desk Lamp",), "team_price_list"),
    ("Who is on call in week 12?", ("Chloé Martin",), "team_on_call"),
    ("What is the cheapest product?", ("Footrest",), "team_price_list"),
    ("Which releases came out after 2021?", ("Ember", "Fjord"), "team_releases"),
]


class _Clock:
    def today(self) -> date:
        return TODAY

    def now(self) -> datetime:
        return datetime(2026, 11, 21, 12, 0)


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> SqliteSqlRunner:
    from openpyxl import Workbook

    work = tmp_path_factory.mktemp("lookups")
    book = Workbook()
    book.remove(book.active)
    for title, rows in SHEETS.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(work / "team.xlsx")
    TableLoader(work / "tables.db").load_workbook(work / "team.xlsx")
    return SqliteSqlRunner(work / "tables.db")


@pytest.mark.parametrize(("question", "cells", "table"), LOOKUPS)
async def test_a_plain_lookup_is_answered_from_its_cells_with_the_row_cited(
    tables: SqliteSqlRunner, question: str, cells: tuple[str, ...], table: str
) -> None:
    agent = build_agent(CHAT_TURN, limits=AgentLimits())
    model = build_offline_model(tables.schemas).for_turn(NO_DECISIONS)
    deps = AgentDeps(retriever=InMemoryRetriever(), sql=tables, clock=_Clock())
    result = await agent.run(anchored_prompt(question, TODAY), model=model.model, deps=deps)
    answer = result.output
    for value in cells:
        assert value in answer, answer
    assert f"[table: {table}]" in answer, answer
    lookups = [c for c in deps.citations if c.kind == "table"]
    assert lookups and lookups[-1].source.upper().startswith("SELECT"), deps.citations
    assert table in lookups[-1].source
    read = [" ".join(map(str, row)) for row in lookups[-1].rows]
    assert all(any(value in row for row in read) for value in cells), read


async def test_a_csv_files_table_is_answered_the_same_way(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    work = tmp_path_factory.mktemp("csv")
    (work / "fleet.csv").write_text(
        "plate,model,first_registered,mileage_km\n"
        "KX-204-B,Transit Custom,2018-04-03,182000\n"
        "LM-551-C,Vivaro,2021-09-14,64000\n"
        "PR-090-D,Sprinter,2023-01-20,21000\n",
        encoding="utf-8",
    )
    TableLoader(work / "tables.db").load(work / "fleet.csv", "fleet")
    tables = SqliteSqlRunner(work / "tables.db")
    agent = build_agent(CHAT_TURN, limits=AgentLimits())
    model = build_offline_model(tables.schemas).for_turn(NO_DECISIONS)
    deps = AgentDeps(retriever=InMemoryRetriever(), sql=tables, clock=_Clock())
    question = "Which model has the highest mileage?"
    result = await agent.run(anchored_prompt(question, TODAY), model=model.model, deps=deps)
    assert "Transit Custom" in result.output, result.output
    assert "[table: fleet]" in result.output, result.output
