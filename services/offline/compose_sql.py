"""The answer from a table lookup: one sentence for one matching row, else a markdown table.

Rule: the rows must really answer the question (the best row's label holds the named entity,
or it holds every filter term); otherwise None, and the documents answer instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from services.offline import data
from services.offline.cell_answer import compose_cells
from services.offline.render import Answer
from services.offline.sql_build import RELEVANCE, SqlPlan
from services.offline.text import stem_set
from services.offline.tuning_question import DEFAULT_SQL_TUNING, SqlTuning
from use_cases.tables.domain import QueryResult
from use_cases.tables.markdown import escape_html, render_markdown

#: Columns whose numbers are stated with the row's `unit` column, when the table has one.
_MEASURED = data.words("sql_measured_columns")


def _cell(value: Any) -> str:
    """One value inside a one-line answer: a newline becomes a space."""
    return "NULL" if value is None else escape_html(str(value)).replace("\n", " ")


def _markdown(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    return render_markdown(
        QueryResult(columns=tuple(columns), rows=tuple(tuple(r) for r in rows), truncated=False)
    )


def _reports_answer(plan: SqlPlan, columns: list[str], rows: list[list[Any]], marker: str) -> str:
    """ "X has N direct reports", or their names (with titles when the table has them)."""
    index = {c: i for i, c in enumerate(columns)}
    assert plan.reports_of is not None
    if plan.count:
        count, boss = rows[0][index["count"]], rows[0][index[plan.reports_of]]
        noun = "direct report" if count == 1 else "direct reports"
        return f"{_cell(boss)} has {count} {noun} {marker}."
    boss = rows[0][index[plan.reports_of]]
    label = index.get(plan.label_column or "")
    names = [_described(r, index, label) for r in rows if label is not None]
    return f"{_cell(boss)}'s direct reports ({len(rows)}): {', '.join(names)} {marker}."


def _described(
    row: list[Any], index: dict[str, int], label: int, others: Sequence[str] = ()
) -> str:
    """A row's name with its title and the `others` columns in brackets, when the table has
    them: "Chen Wei (Data Platform Manager; location Toronto)"."""
    title = index.get("title")
    notes = [_cell(row[title])] if title is not None and row[title] else []
    notes += [f"{c.replace('_', ' ')} {_cell(row[index[c]])}" for c in others]
    return _cell(row[label]) + (f" ({'; '.join(notes)})" if notes else "")


def _head_answer(
    plan: SqlPlan, columns: list[str], rows: list[list[Any]], marker: str, shown: int
) -> str:
    """ "Data Platform is led by Chen Wei (Data Platform Manager)", with titles when the
    table has them and the other columns asked for ("location Rotterdam"); `shown` of them
    at most."""
    index = {c: i for i, c in enumerate(columns)}
    label = index.get(plan.label_column or "")
    others = [c for c in plan.asked_columns[1:] if c in index and c != "title"]
    names = [_described(r, index, label, others) for r in rows[:shown] if label is not None]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    if plan.head_by_title:
        return f"People with the title {_cell(plan.head_of)} report to {listed} {marker}."
    return f"{_cell(plan.head_of)} is led by {listed} {marker}."


#: Columns whose bare numbers read as "tier 2", "priority 1" rather than "the tier is 2".
_RANKS = data.words("sql_rank_columns")


def _ranked(column: str, value: Any) -> bool:
    return column.lower() in _RANKS and re.fullmatch(r"\d+", str(value).strip()) is not None


def _contains_phrase(value: Any, phrase: str) -> bool:
    if value is None:
        return False
    pattern = r"(?<!\w)" + re.escape(phrase.lower()) + r"(?!\w)"
    return re.search(pattern, str(value).lower()) is not None


def _fact(column: str, value: Any) -> str:
    name = column.replace("_", " ")
    if value is None:
        return f"no {name} is recorded"
    return (
        f"it is {name} {_cell(value)}"
        if _ranked(column, value)
        else f"the {name} is {_cell(value)}"
    )


#: A code: a value with a digit or a hyphen ("KPI-20", "E001", "pg-core").
_IDENTIFIER = re.compile(r"\d|\w-\w")


def _on_topic(plan: SqlPlan, columns: list[str], row: list[Any], tuning: SqlTuning) -> bool:
    """Whether the row is what the question is about: it must hold more than
    `min_topic_share` of the question's other words when its name merely contains the name
    asked for ("Mean time to acknowledge (SEV1/SEV2)" for "updates during a SEV2"), or when it
    matched outside its name and the question has `min_topic_words` other words or more ("who
    may authorise a failover of the EU database, and their email?" is not about the services
    running in the EU)."""
    label = columns.index(plan.label_column) if plan.label_column in columns else None
    if not plan.topic or label is None or not isinstance(row[label], str):
        return True
    name = row[label].strip().lower()
    if name in plan.entities or any(
        isinstance(v, str) and v.strip().lower() in plan.entities and _IDENTIFIER.search(v)
        for v in row
    ):  # named by its name, or by a code that is a whole cell ("KPI-20")
        return True
    in_name = any(_contains_phrase(name, e) for e in plan.entities)
    if not in_name and len(plan.topic) < tuning.min_topic_words:
        return True
    held = stem_set(" ".join([*columns, *(str(v) for v in row if v is not None)]))
    return sum(t in held for t in plan.topic) > tuning.min_topic_share * len(plan.topic)


def compose_sql(
    plan: SqlPlan, metadata: dict[str, Any], tuning: SqlTuning = DEFAULT_SQL_TUNING
) -> Answer | None:
    """A table answer, or None when the rows do not really answer the question."""
    if plan.cells is not None:
        levels = (tuning.named_row_confidence, tuning.rows_confidence)
        answer = compose_cells(plan.cells, metadata, levels)
    else:
        answer = _compose(plan, metadata, tuning)
    if answer is not None:
        answer.from_table = True
    return answer


def _matches(plan: SqlPlan, row: list[Any]) -> bool:
    """Whether a row holds an entity the question names, or else every term it searched."""
    if plan.entities:
        return any(_contains_phrase(v, e) for e in plan.entities for v in row)
    return bool(plan.terms) and all(any(_contains_phrase(v, t) for v in row) for t in plan.terms)


def _counted_rows(plan: SqlPlan) -> str:
    """What the rows counted match: " matching "Ops", tier 1", or nothing."""
    conditions = [f'"{e}"' for e in plan.entities] + [
        f"{column.replace('_', ' ')} {value}" for column, value in plan.numbers
    ]
    return " matching " + ", ".join(conditions) if conditions else ""


def _row_facts(plan: SqlPlan, top: list[Any], index: dict[str, int], asked: list[str]) -> str:
    """One row's values of the columns asked for, as a sentence about the row."""
    label = top[index[plan.label_column]] if plan.label_column in index else plan.table
    unit = top[index["unit"]] if "unit" in index and "unit" not in asked else None

    def value_of(column: str) -> str:
        value = _cell(top[index[column]])
        measured = unit and column in _MEASURED and re.search(r"\d", value)
        return f"{value} {unit}" if measured else value

    facts = [_fact(c, value_of(c) if top[index[c]] is not None else None) for c in asked]
    first = asked[0]
    if len(facts) == 1 and _ranked(first, top[index[first]]):
        return f"{_cell(label)} is {first.replace('_', ' ')} {value_of(first)}"
    if len(facts) == 1 and top[index[first]] is not None:
        return f"The {first.replace('_', ' ')} of {label} is {value_of(first)}"
    return f"For {label}, {', '.join(facts)}"


def _compose(plan: SqlPlan, metadata: dict[str, Any], tuning: SqlTuning) -> Answer | None:
    columns = [str(c) for c in metadata.get("columns") or []]
    rows = [list(r) for r in metadata.get("rows") or []]
    tables = metadata.get("tables") or [plan.table]
    marker = " ".join(f"[table: {t}]" for t in tables)
    sources = "\n".join(f"[table: {t}]" for t in tables)
    if not columns:
        return None
    if plan.reports_of is not None:
        if not rows or (plan.count and not rows[0][0]):
            return None
        text = _reports_answer(plan, columns, rows, marker)
        return Answer(f"{text}\n\n**Sources**\n{sources}", tuning.counted_confidence)
    if plan.head_of is not None:
        if not rows:
            return None
        text = _head_answer(plan, columns, rows, marker, tuning.table_rows)
        return Answer(f"{text}\n\n**Sources**\n{sources}", tuning.counted_confidence)
    if plan.count:
        if not rows or not isinstance(rows[0][0], int) or rows[0][0] <= 0:
            return None  # nothing counted: the documents may know better
        text = f"The {plan.table} table has {rows[0][0]} rows{_counted_rows(plan)} {marker}."
        return Answer(f"{text}\n\n**Sources**\n{sources}", tuning.counted_confidence)
    if not rows:
        return None
    return _rows_answer(plan, metadata, columns, rows, (marker, sources), tuning)


def _rows_answer(
    plan: SqlPlan,
    metadata: dict[str, Any],
    columns: list[str],
    rows: list[list[Any]],
    cited: tuple[str, str],
    tuning: SqlTuning,
) -> Answer | None:
    """The answer from the rows of a lookup: the name of the row named by a title, the values
    asked for of the one best row, or a table of the best rows (`cited`: the table markers,
    inline and as the Sources list)."""
    marker, sources = cited
    shown = [i for i, c in enumerate(columns) if c != RELEVANCE]
    index = {c: i for i, c in enumerate(columns)}
    top = rows[0]
    label_hit = plan.label_column in index and any(
        _contains_phrase(top[index[plan.label_column]], e) for e in plan.entities
    )
    if not (
        label_hit or _matches(plan, top) or ((plan.explicit or plan.filtered) and not plan.terms)
    ):
        return None
    if plan.entities and not _on_topic(plan, columns, top, tuning):
        return None  # "SEV2" is in a KPI's name, but "updates during a SEV2" are not KPIs
    relevance = index.get(RELEVANCE)
    tied = (
        [r for r in rows if relevance is None or r[relevance] == top[relevance]]
        if plan.terms
        else rows
    )
    asked = [c for c in plan.asked_columns if c in index]
    if plan.who_is and len(tied) == 1 and plan.label_column in index:
        named = next((v for v in top if isinstance(v, str) and v.lower() in plan.entities), None)
        if named is not None:
            text = f"{_cell(top[index[plan.label_column]])} is the {_cell(named)} {marker}."
            return Answer(f"{text}\n\n**Sources**\n{sources}", tuning.named_row_confidence)
    if asked and len(tied) == 1:
        text = f"{_row_facts(plan, top, index, asked)} {marker}."
        confidence = tuning.named_row_confidence if label_hit else tuning.matched_row_confidence
        return Answer(f"{text}\n\n**Sources**\n{sources}", confidence)
    filtered_on = {column for column, _ in plan.numbers}  # "tier 1" names no column asked for
    if (plan.asks_amount or plan.asks_yes_no) and all(c in filtered_on for c in asked):
        return None  # "how long can the customer replay it?" is not answered by a list of rows
    keep = shown
    if asked and plan.label_column in index:
        # The label, then the columns asked for; a column asked for that is the label
        # ("who ..." asks for names) is shown once, with the columns that matched.
        keep = [index[plan.label_column]] + [index[c] for c in asked]
        if len(set(keep)) == 1:
            keep += [i for i in shown if any(_contains_phrase(top[i], t) for t in plan.terms)]
    keep = list(dict.fromkeys(keep))[: tuning.table_columns]
    table = _markdown(
        [columns[i] for i in keep], [[r[i] for i in keep] for r in tied[: tuning.table_rows]]
    )
    shown_rows = min(len(tied), tuning.table_rows)
    more = len(tied) > shown_rows or bool(metadata.get("truncated"))
    scope = f"The first {shown_rows} rows" if more else "Rows"
    intro = f"{scope} {'matching the question ' if plan.terms else ''}from {plan.table} {marker}:"
    return Answer(
        f"{intro}\n\n{table}\n\n**Sources**\n{sources}",
        tuning.rows_confidence,
        bare_row=label_hit and not asked and len(tied) == 1,
    )
