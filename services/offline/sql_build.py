"""Building the one SELECT for a table lookup: rows ranked by weighted LIKE matches, exact
conditions, a self-join for a referenced row, a count, a group's head or a row's reports.

Rules: literals are quoted with '' and LIKE-escaped, identifiers double-quoted; the SQL stays
well under the sandbox's length limit. The SQL runs unchanged on SQLite and PostgreSQL:
`coalesce` (not `ifnull`), matches counted with `CASE WHEN ... THEN n ELSE 0 END` (PostgreSQL
cannot multiply a boolean), `lower(x) LIKE` (PostgreSQL's LIKE is case-sensitive),
`WHERE 1 = 1`, and the relevance filtered outside a subquery (PostgreSQL cannot use a
select-list alias in WHERE).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from services.knowledge.fts_query import words
from services.offline import data
from services.offline.cell_link import CellLink
from services.offline.question import INTENT_AMOUNT, INTENT_COUNT, INTENT_WHO, counts_rows
from services.offline.sql_match import (
    ROLE_COLUMNS,
    column_words,
    label_column,
    other_words,
    self_reference,
    text_columns_of,
)
from services.offline.text import STOP, stem
from services.offline.tuning_question import SqlTuning
from services.tables.loader import quote_identifier
from use_cases.tables.domain import TableColumn, TableSchema

#: The generated SELECT's ranking column (underscored so it will not clash with a real one).
RELEVANCE = "_relevance"

#: Words that ask for rows rather than describe them ("list all the KPIs").
_REQUEST_WORDS = data.words("sql_request_words")


@dataclass(frozen=True)
class SqlPlan:
    table: str
    sql: str
    label_column: str | None
    asked_columns: tuple[str, ...]  # result column names the question asks about
    entities: tuple[str, ...]  # lowercase phrases that must identify the row
    terms: tuple[str, ...]  # every filter term (entities first)
    count: bool = False
    explicit: bool = False  # the table was named outright
    reports_of: str | None = None  # result column naming the row whose reports are listed
    filtered: bool = False  # exact conditions (numbers, a superlative) select the rows
    who_is: bool = False  # "who is the CFO": answer with the name of the row named by title
    numbers: tuple[tuple[str, int], ...] = ()  # integer columns pinned to a value ("tier 1")
    head_of: str | None = None  # "who leads Data Platform": the group, as the table writes it
    head_by_title: bool = False  # that group is the people holding one title ("SRE")
    topic: tuple[str, ...] = ()  # question stems beyond the row's name, the table and columns
    asks_amount: bool = False  # "how long", "when": a bare list of rows does not answer it
    asks_yes_no: bool = False  # "is it ok to deploy a tier 1 service on Friday?": nor this
    cells: CellLink | None = None  # a lookup of cells linked by `cell_link` (its own answer)


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _like_pattern(term: str) -> str:
    """A case-insensitive `%term%` pattern: compare it with `lower(column)`."""
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return _sql_literal(f"%{escaped}%")


#: Asking for the rows that point at a named row ("direct reports of the CEO", "who reports
#: to Ifeoma"), not for the row it points at ("who does Kwame report to").
_REVERSE_REFERENCE = re.compile(
    r"\bdirect\s+reports?\b|\breports\b(?!\s+to\b)"
    # "who reports (directly) to Ana", not "who does Ana report to and what's her title"
    r"|\breports?\s+(?:directly\s+|straight\s+)?(?:to|into)\s+(?!(?:and|or|but|&)\b)\w"
    r"|\bwho\s+(?:works?|is)\s+under\b|\bworks?\s+for\s+\w",
    re.IGNORECASE,
)

#: A yes/no question about a rule ("is it ok to ...", "can I ...", "should we ..."), which a
#: bare list of rows never answers; "is there / are there / is anyone ...", and any question
#: with "who", asks for rows.
_YES_NO = re.compile(
    r"^\W*(?:is|are|am|can|could|do|does|did|should|may|must|will|would|has|have)\b"
    r"(?!\s+(?:there|we\s+have|you\s+have|any|anyone|anybody|someone|somebody)\b)",
    re.IGNORECASE,
)


def _rows_sql(
    table: str,
    relevance: str | None,
    conditions: list[str],
    superlative: tuple[str, str] | None,
    limit: int,
) -> str:
    """The rows ranked by `relevance` (None: no terms to rank by), on `conditions`: the
    `limit` best, or four times as many unranked."""
    if relevance is not None:
        where = " AND ".join([f"{RELEVANCE} > 0", *conditions])
        order = f"{RELEVANCE} DESC"
        if superlative is not None:
            order += f", {quote_identifier(superlative[0])} {superlative[1]}"
        return (
            f"SELECT * FROM (SELECT *, {relevance} AS {RELEVANCE} FROM {table}) AS ranked "
            f"WHERE {where} ORDER BY {order} LIMIT {limit}"
        )
    if superlative is not None:  # every row tied at the extreme, not an arbitrary one
        column = quote_identifier(superlative[0])
        extreme = "MAX" if superlative[1] == "DESC" else "MIN"
        return (
            f"SELECT * FROM {table} WHERE {' AND '.join(conditions)} AND {column} = "
            f"(SELECT {extreme}({column}) FROM {table}) LIMIT {limit * 4}"
        )
    if conditions:
        return f"SELECT * FROM {table} WHERE {' AND '.join(conditions)} LIMIT {limit * 4}"
    return f"SELECT * FROM {table} LIMIT {limit * 4}"


def _filter_terms(
    question: str, entities: list[str], covered: set[str], *, exact_filter: bool, max_terms: int
) -> list[str]:
    """The words rows are ranked by: the entities named, else the question's other words."""
    entity_words = {w for e in entities for w in words(e)}
    extra = [
        w
        for w in dict.fromkeys(words(question))
        if w not in STOP
        and w not in _REQUEST_WORDS
        and stem(w) not in covered
        and w not in entity_words
        and len(w) > 2
    ]
    if entities or exact_filter:
        extra = []  # a named row or an exact condition is the filter; other words add noise
    return (entities + extra)[:max_terms]


def _searched_columns(
    schema: TableSchema, label: str | None, terms: int, tuning: SqlTuning
) -> list[str]:
    """The text columns the terms are looked for in, the label column first."""
    text_columns = [c.name for c in text_columns_of(schema)]
    if label and label in text_columns:
        text_columns.remove(label)
        text_columns.insert(0, label)
    text_columns = text_columns[: tuning.max_text_columns]
    # Long identifiers could push the SQL past the sandbox's length limit: fewer columns then.
    cost = tuning.chars_per_match
    while len(text_columns) > 1 and terms * len(text_columns) * cost > tuning.max_sql_chars:
        text_columns.pop()
    return text_columns


def _count_filter(entities: list[str], exact: dict[str, str], text_columns: list[str]) -> str:
    """The WHERE of a count: each entity, by its exact column or in any text column."""
    if not entities:
        return "1 = 1"
    return " AND ".join(
        f"lower({quote_identifier(exact[t])}) = {_sql_literal(t)}"
        if t in exact
        else "("
        + " OR ".join(
            f"lower({quote_identifier(c)}) LIKE {_like_pattern(t)} ESCAPE '\\'"
            for c in text_columns
        )
        + ")"
        for t in entities
    )


def build_sql(
    schema: TableSchema,
    question: str,
    asked: list[TableColumn],
    entities: list[str],
    covered: set[str],
    explicit: bool,
    exact: dict[str, str] | None = None,
    *,
    numbers: dict[str, int] | None = None,
    superlative: tuple[str, str] | None = None,
    tuning: SqlTuning,
) -> SqlPlan:
    """The SELECT: rows ranked by weighted LIKE matches of the filter terms (entities weigh
    more, the label column more again), a self-join when the question asks for a referenced
    row (a manager), or a COUNT for "how many". Literals are quoted with '' and LIKE-escaped."""
    label = label_column(schema)
    terms = _filter_terms(
        question,
        entities,
        covered,
        exact_filter=bool(superlative or numbers),
        max_terms=tuning.max_terms,
    )
    weights = {t: (tuning.entity_weight if t in entities else 1) for t in terms}
    text_columns = _searched_columns(schema, label, len(terms), tuning)
    table = quote_identifier(schema.name)
    join = next(
        (
            (column.name, key)
            for column in asked
            if (key := self_reference(schema, column)) is not None and label is not None
        ),
        None,
    )
    if join is not None and entities and _REVERSE_REFERENCE.search(question):
        return _reports_plan(schema, question, join, entities, terms, exact, tuning)
    prefix = "e." if join else ""
    exact = exact or {}
    relevance = (
        _relevance(terms, weights, exact, text_columns, tuning.label_weight, label, prefix) or "1"
    )
    # "How many ...": count the rows naming the entities (or all rows of a named table).
    # A row named by its own label ("how many times does notify-service retry?") is not
    # counted: the question counts something about it, which no row count answers.
    names_a_row = bool(entities) and all(exact.get(t) == label for t in entities)
    count = counts_rows(question) and bool(entities or explicit) and not names_a_row
    asked_names = [c.name for c in asked]
    numbers = numbers or {}
    conditions = [f"{prefix}{quote_identifier(c)} = {v}" for c, v in numbers.items()]
    if superlative is not None:
        conditions.append(f"{prefix}{quote_identifier(superlative[0])} IS NOT NULL")
    if count:
        where = " AND ".join([_count_filter(entities, exact, text_columns), *conditions])
        sql = f"SELECT COUNT(*) AS count FROM {table} WHERE {where}"
    elif join is not None:
        assert label is not None
        alias, sql = _joined_sql(table, join, label, relevance, ranked=bool(terms), tuning=tuning)
        asked_names = [alias if n == join[0] else n for n in asked_names]
    else:
        ranking = relevance if terms else None
        sql = _rows_sql(table, ranking, conditions, superlative, tuning.row_limit)
    topic = other_words(question, schema, covered, entities)
    return SqlPlan(
        table=schema.name,
        sql=sql,
        label_column=label,
        asked_columns=tuple(asked_names),
        entities=tuple(entities),
        terms=tuple(terms),
        count=count,
        explicit=explicit,
        filtered=bool(conditions),
        numbers=tuple(numbers.items()),
        topic=topic,
        asks_amount=bool(INTENT_AMOUNT.search(question))
        or (names_a_row and not count and bool(INTENT_COUNT.search(question))),
        asks_yes_no=bool(_YES_NO.match(question)) and not INTENT_WHO.search(question),
    )


def _joined_sql(
    table: str,
    join: tuple[str, str],
    label: str,
    relevance: str,
    *,
    ranked: bool,
    tuning: SqlTuning,
) -> tuple[str, str]:
    """(alias, SELECT) of the rows with the label of the row their reference (`join`: the
    `manager_id` column and the key it points at) names, under the alias ("manager")."""
    fk, key = join
    alias = "_".join(w for w in column_words(fk) if w != "id") or "related"
    sql = (
        f"SELECT * FROM (SELECT e.*, m.{quote_identifier(label)} AS "
        f"{quote_identifier(alias)}, {relevance} AS {RELEVANCE} FROM {table} AS e "
        f"LEFT JOIN {table} AS m ON m.{quote_identifier(key)} = e.{quote_identifier(fk)}) "
        "AS ranked"
        + (f" WHERE {RELEVANCE} > 0" if ranked else "")
        + f" ORDER BY {RELEVANCE} DESC LIMIT {tuning.row_limit}"
    )
    return alias, sql


def head_plan(
    schema: TableSchema,
    value: str,
    column: str,
    fk: str,
    key: str,
    *,
    also: tuple[str, ...] = (),
    limit: int,
) -> SqlPlan:
    """Who leads a group: for a group of people sharing a title ("SRE": Site Reliability
    Engineer), the people they report to; for any other group (a team), its members whose
    manager is outside it, i.e. the top of the group's own reporting line. `also`: other
    columns the question asks for ("and which office are they in")."""
    label = label_column(schema)
    assert label is not None
    table, cell = quote_identifier(schema.name), f"lower({quote_identifier(column)})"
    in_group = f"{cell} = {_sql_literal(value)}"
    fk_q, key_q = quote_identifier(fk), quote_identifier(key)
    if column.lower() in ROLE_COLUMNS:
        where = (
            f"{key_q} IN (SELECT {fk_q} FROM {table} WHERE {in_group}) "
            f"AND coalesce({cell}, '') <> {_sql_literal(value)}"
        )
    else:
        where = (
            f"{in_group} AND ({fk_q} IS NULL OR {fk_q} NOT IN "
            f"(SELECT {key_q} FROM {table} WHERE {in_group} AND {key_q} IS NOT NULL))"
        )
    sql = f"SELECT * FROM {table} WHERE {where} ORDER BY {quote_identifier(label)} LIMIT {limit}"
    values = next((c.values for c in schema.columns if c.name == column), ())
    written = next((v for v in values if v.lower() == value), value)
    return SqlPlan(
        table=schema.name,
        sql=sql,
        label_column=label,
        asked_columns=(label, *also),
        entities=(),
        terms=(),
        head_of=written,
        head_by_title=column.lower() in ROLE_COLUMNS,
    )


def _relevance(
    terms: Sequence[str],
    weights: dict[str, int],
    exact: dict[str, str],
    text_columns: Sequence[str],
    label_weight: int,
    label: str | None = None,
    prefix: str = "",
) -> str:
    """The SQL sum ranking rows by the terms: a term that is a value of one column matches
    that column's whole value; any other is a LIKE in each text column. The label column
    counts `label_weight` times. Empty for no terms."""
    parts = []
    for term in terms:
        if term in exact:  # a value of one column: that column, whole value
            weight = weights[term] * (label_weight if exact[term] == label else 1)
            cell = f"lower(coalesce({prefix}{quote_identifier(exact[term])}, ''))"
            parts.append(f"(CASE WHEN {cell} = {_sql_literal(term)} THEN {weight} ELSE 0 END)")
            continue
        for column in text_columns:
            weight = weights[term] * (label_weight if column == label else 1)
            # coalesce: one NULL cell must not turn the whole relevance sum into NULL.
            cell = f"lower(coalesce({prefix}{quote_identifier(column)}, ''))"
            match = f"{cell} LIKE {_like_pattern(term)} ESCAPE '\\'"
            parts.append(f"(CASE WHEN {match} THEN {weight} ELSE 0 END)")
    return " + ".join(parts)


def _reports_plan(
    schema: TableSchema,
    question: str,
    join: tuple[str, str],
    entities: list[str],
    parts_for: list[str],
    exact: dict[str, str] | None,
    tuning: SqlTuning,
) -> SqlPlan:
    """The rows whose reference (`manager_id`) points at the best-matching named row: listed,
    or counted for "how many", with that row's label alongside."""
    fk, key = join
    label = label_column(schema)
    assert label is not None
    table = quote_identifier(schema.name)
    exact = exact or {}
    text_columns = [c.name for c in text_columns_of(schema)][: tuning.max_text_columns]
    weights = {e: 1 for e in entities}
    relevance = _relevance(entities, weights, exact, text_columns, tuning.label_weight) or "0"
    target = (
        f"(SELECT {quote_identifier(key)} FROM {table} WHERE {relevance} > 0 "
        f"ORDER BY {relevance} DESC LIMIT 1)"
    )
    boss = (
        f"(SELECT {quote_identifier(label)} FROM {table} WHERE {quote_identifier(key)} = {target})"
    )
    of = "reports_of"
    if counts_rows(question):
        sql = (
            f"SELECT COUNT(*) AS count, {boss} AS {of} FROM {table} "
            f"WHERE {quote_identifier(fk)} = {target}"
        )
    else:
        sql = (
            f"SELECT *, {boss} AS {of} FROM {table} WHERE {quote_identifier(fk)} = {target} "
            f"ORDER BY {quote_identifier(label)} LIMIT {tuning.row_limit * 4}"
        )
    return SqlPlan(
        table=schema.name,
        sql=sql,
        label_column=label,
        asked_columns=(),
        entities=tuple(entities),
        terms=tuple(parts_for),
        count=counts_rows(question),
        reports_of=of,
    )
