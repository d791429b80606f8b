"""The offline answerer's one interface: (question, hits, rows, context) -> `Answer`.

`answer` is what the offline model calls once a turn's tools have answered: the table lookup
planned for the question answers first when its rows hold what was asked; otherwise the
documents answer (`compose.compose_documents`: read, candidates, score, bar, choose, render,
confidence), with the row the question only named as the fallback when the documents hold
nothing. Everything else an answer depends on travels in the `context.AnswerContext`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from services.offline.compose import compose_documents
from services.offline.compose_sql import compose_sql
from services.offline.context import AnswerContext
from services.offline.render import Answer
from services.offline.sql_build import SqlPlan


@dataclass(frozen=True)
class Question:
    """The question as the search asked it: `text`, the words a follow-up `borrowed` from the
    previous question, the `whole` question an elliptical follow-up stands for, and the table
    lookup planned for it (`plan`, if any)."""

    text: str
    borrowed: Sequence[str] = ()
    whole: str | None = None
    plan: SqlPlan | None = None


class Answerer(Protocol):
    """What composes a turn's answer from its tools' results (`answer` is the one in use)."""

    def __call__(
        self,
        question: Question,
        hits: list[dict[str, Any]],
        rows: Sequence[Mapping[str, Any]],
        context: AnswerContext,
    ) -> Answer: ...


def answer(
    question: Question,
    hits: list[dict[str, Any]],
    rows: Sequence[Mapping[str, Any]],
    context: AnswerContext,
) -> Answer:
    """The answer from the search's `hits` and the table lookups' results (`rows`: each
    lookup's metadata, with its `sql`): the planned lookup's answer when it says what was
    asked; else the documents answer, or, when that finds nothing, the row the question
    named (a bare row: "what happens after notify-service's last retry fails?")."""
    table = None
    plan = question.plan
    if plan is not None:
        for metadata in rows:
            if metadata.get("sql") == plan.sql:
                table = compose_sql(plan, dict(metadata), context.tuning.sql)
                if table is not None and not table.bare_row:
                    return table
    documents = compose_documents(question.text, hits, context, question.borrowed, question.whole)
    return documents if table is None or documents.found else table


_: Answerer = answer  # `answer` keeps to the interface
