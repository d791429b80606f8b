"""The offline model plans only over the tables its turn's instructions list: a reader is
shown the tables of their collections, and the planner must not correct words towards, plan
over or resolve references to any other (docs/collections.md#tables)."""

from __future__ import annotations

from pydantic_ai.messages import ModelRequest, UserPromptPart

from services.offline.model import _shown
from use_cases.chat.prompts import describe_tables, tables_listed
from use_cases.tables.domain import TableColumn, TableSchema

SALARIES = TableSchema("salaries", (TableColumn("person", "TEXT", ("marrowfinch",)),), 1, 7)
HOLIDAYS = TableSchema("holidays", (TableColumn("day", "DATE"),), 3)
SALARIES_2 = TableSchema("salaries_2", (TableColumn("person", "TEXT"),), 1)


def _turn(instructions: str | None) -> list[ModelRequest]:
    return [ModelRequest(parts=[UserPromptPart("who is marrowfinch?")], instructions=instructions)]


def test_the_planner_sees_only_the_tables_the_instructions_list() -> None:
    every = [HOLIDAYS, SALARIES, SALARIES_2]
    shown = describe_tables([HOLIDAYS, SALARIES_2])
    assert _shown(_turn(f"Rules.\n\n{shown}"), every) == [HOLIDAYS, SALARIES_2]
    assert _shown(_turn(describe_tables([])), every) == []
    # Every table listed (an admin, a deployment without collections): all, as before.
    assert _shown(_turn(describe_tables(every)), every) == every
    # No list at all (the model called without the agent's instructions): all.
    assert _shown(_turn(None), every) == every
    assert _shown(_turn("Answer briefly."), every) == every


def test_a_table_named_like_the_start_of_another_is_not_taken_for_it() -> None:
    assert tables_listed(describe_tables([SALARIES_2]), ["salaries", "salaries_2"]) == [
        "salaries_2"
    ]
