"""The SELECT of a question linked to a table's cells (`cell_link.CellLink`) and the answer
from its rows: the cell(s) asked for, the row(s) they come from, the table cited.

Rules:
- One SELECT of whole rows (`SELECT *`, so the row is cited whole), conditions joined by
  AND, at most the link's `limit` rows: a named value compared whole and case-blind, a number
  compared as a number, a date compared as ISO text, a superlative as the rows holding the
  column's MIN or MAX (every row tied at it). Literals quoted with '' and identifiers
  double-quoted; the same SQL runs on SQLite and PostgreSQL through the read-only sandbox.
- One row: "The <column> of <what named it> is <cell> [table: t]" ("X is tier 2" for a rank
  column: `data/sql_rank_columns.txt`), then the row; several:
  their count, each one's name and asked cell, then the rows. No row: no answer (the
  documents answer instead).
"""

from __future__ import annotations

import re
from typing import Any

from services.offline import data
from services.offline.cell_link import CellLink, Condition
from services.offline.cell_words import header_words
from services.offline.render import Answer
from services.tables.columns import quote_identifier
from use_cases.tables.domain import QueryResult
from use_cases.tables.markdown import escape_html, render_markdown


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _condition_sql(table: str, condition: Condition) -> str:
    column = quote_identifier(condition.column)
    value = condition.value
    if condition.op in ("MIN", "MAX"):
        return f"{column} = (SELECT {condition.op}({column}) FROM {table})"
    if isinstance(value, int | float):
        return f"{column} {condition.op} {value!r}"
    text = str(value)
    if condition.date:
        return f"CAST({column} AS TEXT) {condition.op} {_literal(text)}"
    return f"lower(CAST({column} AS TEXT)) = {_literal(text.lower())}"


def cell_sql(link: CellLink) -> str:
    """The one SELECT of the link's rows (module rules)."""
    table = quote_identifier(link.table)
    where = " AND ".join(_condition_sql(table, c) for c in link.conditions)
    ordered = next((c.column for c in link.conditions if c.op in ("<", ">", "<=", ">=")), None)
    order = f" ORDER BY {quote_identifier(ordered)}" if ordered else ""
    return f"SELECT * FROM {table} WHERE {where}{order} LIMIT {link.limit}"


def _cell(value: Any) -> str:
    """A cell inside a sentence: as stored, a newline a space."""
    if value is None:
        return "not recorded"
    return escape_html(str(value)).replace("\n", " ")


#: Columns whose bare numbers read as "tier 2", "priority 1" rather than "the tier is 2".
_RANKS = data.words("sql_rank_columns")


def _ranked(column: str, value: Any) -> bool:
    return column.lower() in _RANKS and re.fullmatch(r"\d+", str(value).strip()) is not None


def _words(column: str) -> str:
    return " ".join(header_words(column))


def _named_by(link: CellLink) -> str:
    """What the question picked the rows by: "of Monitor Arm" (the row's name), "for week
    12", "with codename Fjord", "with the lowest unit price eur", "for after 2021"."""
    parts = []
    for condition in link.conditions:
        words = _words(condition.column)
        if condition.op in ("MIN", "MAX"):
            low, high = ("earliest", "latest") if condition.date else ("lowest", "highest")
            parts.append(f"with the {low if condition.op == 'MIN' else high} {words}")
        elif condition.column == link.label:
            parts.append(f"of {condition.said}")
        elif not isinstance(condition.value, str) or condition.date:
            parts.append(f"for {condition.said}")
        else:
            parts.append(f"with {words} {condition.said}")
    return ", ".join(parts)


def compose_cells(
    link: CellLink, metadata: dict[str, Any], confidence: tuple[float, float]
) -> Answer | None:
    """The answer from the lookup's rows (module rules), or None when no row matched;
    `confidence`: of one row's cells, and of several rows'."""
    columns = [str(c) for c in metadata.get("columns") or []]
    rows = [list(r) for r in metadata.get("rows") or []]
    index = {c: i for i, c in enumerate(columns)}
    targets = [t for t in link.targets if t in index]
    if not rows or not targets:
        return None
    marker = f"[table: {link.table}]"
    named_by = _named_by(link)
    if len(rows) == 1:
        row = rows[0]
        facts = [f"the {_words(t)} is {_cell(row[index[t]])}" for t in targets]
        first = row[index[targets[0]]]
        if len(facts) == 1 and _ranked(targets[0], first) and link.label in index:
            lead = f"{_cell(row[index[link.label]])} is {_words(targets[0])} {_cell(first)}"
        elif len(facts) == 1:
            lead = f"The {_words(targets[0])} {named_by} is {_cell(first)}"
        else:
            lead = f"For the row {named_by}, " + "; ".join(facts)
        text = f"{lead} {marker}."
    else:
        label = link.label if link.label in index and link.label not in targets else None
        listed = []
        for row in rows:
            cells = ", ".join(_cell(row[index[t]]) for t in targets)
            listed.append(f"{_cell(row[index[label]])} ({cells})" if label else cells)
        more = " (the first ones)" if metadata.get("truncated") or len(rows) >= link.limit else ""
        text = f"{len(rows)} rows {named_by}{more} {marker}: {'; '.join(listed)}."
    shown = QueryResult(columns=tuple(columns), rows=tuple(map(tuple, rows)), truncated=False)
    table = render_markdown(shown)
    level = confidence[0] if len(rows) == 1 else confidence[1]
    return Answer(f"{text}\n\n{table}\n\n**Sources**\n{marker}", level)
