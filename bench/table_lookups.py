"""The table lookups' held-out check: how many of the never-tuned workbook's eight plain
lookups (bench/table_lookups_test_set.py) the offline answerer gets right.

    PYTHONPATH=$PWD .venv/bin/python -m bench.table_lookups

The workbook is written to a temporary folder and loaded as `almanac ingest` loads one (a table
per sheet); each question goes through the real agent, the offline model and the read-only
SQL sandbox, with no document to answer from. A lookup is right when the answer holds the
expected cell and cites a table. Prints one line per lookup and the score; exits 0 whatever
the score (it is a measure, not a test).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import date, datetime
from pathlib import Path

import pydantic_ai.models

from bench.table_lookups_test_set import LOOKUPS, write_workbook
from services.offline import build_offline_model
from services.tables.loader import TableLoader
from services.tables.sql_sandbox import SqliteSqlRunner
from tests.fakes import InMemoryRetriever
from use_cases.chat.agent import CHAT_TURN, AgentLimits, build_agent
from use_cases.chat.decisions import NO_DECISIONS
from use_cases.chat.prompts import anchored_prompt
from use_cases.chat.tools import AgentDeps

TODAY = date(2026, 11, 21)


class _Clock:
    def today(self) -> date:
        return TODAY

    def now(self) -> datetime:
        return datetime(2026, 11, 21, 12, 0)


async def run(lookups: list[tuple[str, str]], tables: SqliteSqlRunner) -> int:
    """Ask each lookup; print its outcome; the number right."""
    agent = build_agent(CHAT_TURN, limits=AgentLimits())
    model = build_offline_model(tables.schemas)
    right = 0
    for question, expected in lookups:
        deps = AgentDeps(retriever=InMemoryRetriever(), sql=tables, clock=_Clock())
        bound = model.for_turn(NO_DECISIONS)
        result = await agent.run(anchored_prompt(question, TODAY), model=bound.model, deps=deps)
        answer = result.output
        ok = expected in answer and "[table: " in answer
        right += ok
        flat = " ".join(answer.split("**Sources**")[0].split())
        print(f"{'OK  ' if ok else 'MISS'} {question}\n      expected {expected!r}; got: {flat}")
    return right


def main() -> int:
    pydantic_ai.models.ALLOW_MODEL_REQUESTS = False
    with tempfile.TemporaryDirectory(prefix="almanac-lookups-") as tmp:
        folder = Path(tmp)
        workbook = write_workbook(folder / "office.xlsx")
        TableLoader(folder / "tables.db").load_workbook(workbook)
        right = asyncio.run(run(LOOKUPS, SqliteSqlRunner(folder / "tables.db")))
    print(f"{right}/{len(LOOKUPS)} plain lookups right on the never-tuned workbook")
    return 0


if __name__ == "__main__":
    sys.exit(main())
