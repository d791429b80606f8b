"""The offline model plans only over the tables its reader may query: a reader is offered the
table lookup with the names of their collections' tables in its definition's metadata (a
typed value, never read back from the instructions' text), and the planner must not correct
words towards, plan over or resolve references to any other (docs/collections.md#tables)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai.tools import ToolDefinition

from services.offline.model import _readable_tables, _shown
from use_cases.chat.prompts import SEARCH_TOOL, SQL_TOOL
from use_cases.chat.tools import TABLES_METADATA, offer_lookup
from use_cases.tables.domain import TableColumn, TableSchema

SALARIES = TableSchema("salaries", (TableColumn("person", "TEXT", ("marrowfinch",)),), 1, 7)
HOLIDAYS = TableSchema("holidays", (TableColumn("day", "DATE"),), 3)
SALARIES_2 = TableSchema("salaries_2", (TableColumn("person", "TEXT"),), 1)


def test_the_planner_sees_only_the_tables_its_reader_may_query() -> None:
    every = [HOLIDAYS, SALARIES, SALARIES_2]
    assert _shown(every, ("holidays", "salaries_2")) == [HOLIDAYS, SALARIES_2]
    assert _shown(every, ()) == []
    # Every table readable (an admin, a deployment without collections): all, as before.
    assert _shown(every, ("holidays", "salaries", "salaries_2")) == every
    # No list at all (the model called directly, without the agent's tools): all.
    assert _shown(every, None) == every


def test_a_table_named_like_the_start_of_another_is_not_taken_for_it() -> None:
    assert _shown([SALARIES, SALARIES_2], ("salaries_2",)) == [SALARIES_2]


def test_the_tables_are_read_from_the_lookups_definition_only() -> None:
    lookup = ToolDefinition(name=SQL_TOOL, metadata={TABLES_METADATA: ["holidays"]})
    search = ToolDefinition(name=SEARCH_TOOL, metadata={TABLES_METADATA: ["salaries"]})
    assert _readable_tables([search, lookup]) == ("holidays",)
    assert _readable_tables([search]) is None
    assert _readable_tables([ToolDefinition(name=SQL_TOOL)]) is None


@dataclass
class _Policy:
    allow_tools: bool = True


@dataclass
class _Runner:
    tables: list[TableSchema] = field(default_factory=list)

    def schemas(self) -> list[TableSchema]:
        return self.tables


@dataclass
class _Deps:
    sql: _Runner | None
    search_policy: _Policy = field(default_factory=_Policy)


@dataclass
class _Context:
    deps: _Deps


def _offered(deps: _Deps) -> ToolDefinition | None:
    tool = ToolDefinition(name=SQL_TOOL, metadata={"kept": 1})
    context: Any = _Context(deps)  # the hook reads only ctx.deps
    return asyncio.run(offer_lookup(context, tool))


def test_the_lookup_is_offered_with_the_names_its_runner_may_read() -> None:
    offered = _offered(_Deps(_Runner([HOLIDAYS, SALARIES_2])))
    assert offered is not None and offered.metadata == {
        "kept": 1,
        TABLES_METADATA: ("holidays", "salaries_2"),
    }
    unscoped = _offered(_Deps(None))
    assert unscoped is not None and unscoped.metadata == {"kept": 1}
    assert _offered(_Deps(_Runner(), _Policy(allow_tools=False))) is None
