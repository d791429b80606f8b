"""Deciding whether and how to query a loaded table: at most one safe, relevance-ranked SELECT.

Rules: a table is queried only when the question clearly targets it (its name, a column it asks
about, a sample value, plus something to filter on); of the tables it targets, the one it
names most specifically is queried (`sql_match.py` reads what it names, `sql_build.py` writes
the SQL).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from services.knowledge.fts_query import words
from services.offline import data
from services.offline.cell_answer import cell_sql
from services.offline.cell_link import CellLink, link_cells
from services.offline.lexicon import Lexicon
from services.offline.question import INTENT_WHO, entities_in
from services.offline.sql_build import SqlPlan, build_sql, head_plan
from services.offline.sql_match import (
    GENERIC_TABLE_WORDS,
    ROLE_COLUMNS,
    asked_columns,
    column_words,
    initials,
    label_column,
    numeric_filters,
    other_words,
    phrase_in,
    row_entities_of,
    self_reference,
    superlative_of,
    values_in,
)
from services.offline.text import stem
from services.offline.tuning_question import DEFAULT_SQL_TUNING, SqlTuning
from use_cases.tables.domain import TableColumn, TableSchema


def chained_plan(
    question: str,
    answer: str,
    schemas: Sequence[TableSchema],
    lexicon: Lexicon,
    tuning: SqlTuning = DEFAULT_SQL_TUNING,
) -> SqlPlan | None:
    """The second step of a question across a document and a table: "which office is the
    person who leads our vendor security reviews based in?" is answered by a document ("...
    led by Kwame Mensah") and then by the directory (Kwame Mensah's location). The first name
    or title of a table row in the answer's first sentence (or in the second, when that one
    goes on about the first: "Tidecast is the engine ... It is owned by the team led by Yuki
    Tanaka") is looked up for the columns the question asks for; None when the answer names
    none, or the question asks for no column other than the name. `lexicon`: the knowledge
    base's own words (its column hints)."""
    body = answer.split("**Sources**")[0]
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s|\[\d+\]", body) if s.strip(" .")]
    candidates: list[tuple[int, int, str]] = []
    for index, sentence in enumerate(sentences[:2]):
        if index == 1 and (candidates or not _POINTS_BACK.match(sentence)):
            break
        candidates += _row_names_in(sentence, schemas)
    for _, _, value in sorted(candidates):
        if value.lower() in question.lower():
            continue  # named by the question itself: the first step's plan had it
        plan = _plan_sql(f"{question} ({value})", schemas, lexicon, tuning)
        if plan is None or value.lower() not in plan.entities:
            continue
        asked = [c for c in plan.asked_columns if c != plan.label_column]
        if not asked:
            continue
        # Looked up alone: the question's other words ("the EU database") are the documents'.
        columns = " and ".join(c.replace("_", " ") for c in asked)
        alone = _plan_sql(f"{columns} of {value}", schemas, lexicon, tuning)
        if alone is not None and value.lower() in alone.entities and alone.asked_columns:
            return alone
    return None


#: A sentence that goes on about the one before it ("It is owned by ...").
_POINTS_BACK = re.compile(r"^\W*(?:it|its|this|that|these|those|they|their|he|she)\b", re.I)


def _row_names_in(sentence: str, schemas: Sequence[TableSchema]) -> list[tuple[int, int, str]]:
    """(position, -length, value) of each table row's name or title `sentence` holds."""
    found_names = []
    for schema in schemas:
        label = label_column(schema)
        for column in schema.columns:
            if column.name != label and column.name.lower() not in ROLE_COLUMNS:
                continue
            for value in column.values:
                found = len(value) >= 4 and re.search(rf"(?<!\w){re.escape(value)}(?!\w)", sentence)
                if found:
                    found_names.append((found.start(), -len(value), value))
    return found_names


#: Asking who leads a group rather than for its members: "who heads Data Platform", "who runs
#: customer support", "who's in charge of SRE", "who is the manager of the Tracking Core team".
_HEAD_OF = re.compile(
    r"\bwho(?:'?s|\s+is)?\s+(?:heads?|leads?|runs?|manages?|(?:is\s+)?in\s+charge\s+of|"
    r"(?:the\s+)?(?:head|lead|leader|manager|boss)\s+(?:of|for))\b",
    re.IGNORECASE,
)

#: Titles that already name a leader ("Head of Site Reliability"): "who is the head of site
#: reliability" names that row outright (`who_is`); it is no group to find the head of.
_LEADER_TITLE = re.compile(
    r"\b(?:head|lead|leader|chief|vp|director|manager|officer|president)\b", re.IGNORECASE
)


def plan_sql(
    question: str,
    schemas: Sequence[TableSchema],
    lexicon: Lexicon,
    tuning: SqlTuning = DEFAULT_SQL_TUNING,
) -> SqlPlan | None:
    """One safe SELECT for a question that clearly targets a table, or None. `lexicon`: the
    knowledge base's own words. A question with its abbreviations (people type them for
    words of titles and team names) is planned with them written out when that names a row
    by a full value ("the IT ops lead" -> the title "IT Operations Lead"). A question linked
    to one table's cells (`cell_link.py`: a row named by its values, a column asked for) is
    looked up so, unless this planner makes a lookup of its own kind for it (a count, a
    join, a group's head: `_relational`)."""
    linked = link_cells(question, schemas, tuning.max_unexplained_words)
    planned = _planned(question, schemas, lexicon, tuning)
    if linked is None or (planned is not None and _relational(planned)):
        return planned
    return cell_plan(replace(linked, limit=tuning.row_limit * 4))


def _relational(plan: SqlPlan) -> bool:
    """A lookup only this planner makes: a count, a row's reports, a group's head, a row
    named by its title ("who's the CFO"), or a row joined to the row it points at."""
    return bool(
        plan.count or plan.reports_of or plan.head_of or plan.who_is or " JOIN " in plan.sql
    )


def _planned(
    question: str, schemas: Sequence[TableSchema], lexicon: Lexicon, tuning: SqlTuning
) -> SqlPlan | None:
    expanded = lexicon.expand_abbreviations(question)
    if expanded != question:
        written = {w for v in lexicon.abbreviations.values() for w in words(v)}
        plan = _plan_sql(expanded, schemas, lexicon, tuning)
        if plan is not None and any(
            len(parts) > 1 and written.intersection(parts)
            for parts in (words(e) for e in plan.entities)
        ):  # a value of several words, one of them written out: "IT Operations Lead"
            return plan
    return _plan_sql(question, schemas, lexicon, tuning)


def _plan_sql(
    question: str, schemas: Sequence[TableSchema], lexicon: Lexicon, tuning: SqlTuning
) -> SqlPlan | None:
    lowered = question.lower()
    q_words = words(question)
    q_stems = {stem(w) for w in q_words}
    entities = entities_in(question)
    best: tuple[float, SqlPlan] | None = None
    for schema in schemas:
        table_words = [w for w in column_words(schema.name) if w not in GENERIC_TABLE_WORDS]
        explicit = schema.name.lower() in lowered or (
            len(table_words) > 1 and phrase_in(table_words, q_words)
        )
        # "KPIs" for kpi_catalog: the stemmer keeps an acronym's plural ("kpis").
        table_word = any(stem(w) in q_stems or f"{w}s" in q_words for w in table_words)
        asked = asked_columns(question, schema, table_words, q_words, q_stems, lexicon.column_hints)
        numbers = numeric_filters(question, schema)
        superlative = superlative_of(question, schema)
        exact = values_in(question, schema, tuning)
        values = list(exact)
        # Stems of the words that pick the table and columns: not row filters.
        covered = {form for w in column_words(schema.name) for form in (stem(w), stem(f"{w}s"))} | {
            stem(w) for c in asked for w in column_words(c.name)
        }
        label = label_column(schema)
        row_entities = row_entities_of(
            question, schema, entities, values, covered, label, tuning.max_name_words
        )
        who_is = _asks_who_is(question, asked, label, exact, q_words)
        if who_is:  # "who's the CFO": the name of the row whose title is named
            asked = [c for c in schema.columns if c.name == label]
        if superlative is not None and superlative[0] not in [c.name for c in asked]:
            asked.append(next(c for c in schema.columns if c.name == superlative[0]))
        for column in numbers:
            if column not in [c.name for c in asked]:
                asked.append(next(c for c in schema.columns if c.name == column))
        head = _head_of(question, schema, exact, label)
        targeted = (
            head is not None
            or explicit
            or (asked and (table_word or values or row_entities))
            or (values and table_word)
            or (numbers and (table_word or explicit))
            or (superlative is not None and asked)
            or _who_is_in(question, values, covered, schema)
        )
        if not targeted:
            continue
        score = (
            tuning.named_table_score * explicit
            + tuning.value_score * (len(values) + len(numbers))
            + tuning.column_score * len(asked)
            + tuning.table_word_score * table_word
            + tuning.entity_score * len(row_entities)
            + (tuning.head_score if head is not None else 0)
        )
        if best is None or score > best[0]:
            if head is not None:
                # "manager"/"boss" asked for the head itself, not for the reference column.
                also = tuple(c.name for c in asked if c.name not in (label, *head[1:]))
                best = (score, head_plan(schema, *head, also=also, limit=tuning.row_limit))
                continue
            plan = build_sql(
                schema,
                question,
                asked,
                row_entities,
                covered,
                explicit,
                exact,
                numbers=numbers,
                superlative=superlative,
                tuning=tuning,
            )
            best = (score, replace(plan, who_is=True) if who_is else plan)
    return best[1] if best else None


def cell_plan(link: CellLink) -> SqlPlan:
    """The lookup of a question linked to a table's cells."""
    return SqlPlan(
        table=link.table,
        sql=cell_sql(link),
        label_column=link.label,
        asked_columns=link.targets,
        entities=(),
        terms=(),
        cells=link,
    )


def _asks_who_is(
    question: str,
    asked: list[TableColumn],
    label: str | None,
    exact: dict[str, str],
    q_words: list[str],
) -> bool:
    """ "who's the CFO": the name of the row whose role column holds the title named."""
    lowered = question.lower()
    return (
        bool(INTENT_WHO.search(question))
        and not asked
        and label is not None
        and any(
            column.lower() in ROLE_COLUMNS
            and (value in lowered or initials(value) in q_words)  # whole, or "CFO"
            for value, column in exact.items()
        )
    )


#: Words of "who works / is based / lives in X" questions: they ask for the people of a value.
_PEOPLE_WORDS = frozenset(stem(w) for w in data.words("sql_people_words"))


def _who_is_in(question: str, values: list[str], covered: set[str], schema: TableSchema) -> bool:
    """ "who works remotely from Ireland?", "is anyone based in Lisbon? who?": a "who" question
    about the rows holding values it names, with no other words ("who approves expenses in
    Toronto" is about approvals, for the documents)."""
    if not (values and INTENT_WHO.search(question) and label_column(schema)):
        return False
    return all(t in _PEOPLE_WORDS for t in other_words(question, schema, covered, values))


def _head_of(
    question: str, schema: TableSchema, exact: dict[str, str], label: str | None
) -> tuple[str, str, str, str] | None:
    """(group value, its column, reference column, key column) when the question asks who
    leads one group the table names ("who leads the data platform team": the team "Data
    Platform") and the table has a reporting line (`manager_id` -> `employee_id`); else None.
    A leader's own title ("Head of Site Reliability") is no group: it names its row."""
    if label is None or not _HEAD_OF.search(question):
        return None
    reference = next(
        (
            (column.name, key)
            for column in schema.columns
            if (key := self_reference(schema, column)) is not None
        ),
        None,
    )
    groups = [
        (value, column)
        for value, column in exact.items()
        if column != label and not (column.lower() in ROLE_COLUMNS and _LEADER_TITLE.search(value))
    ]
    if reference is None or len(groups) != 1:
        return None
    return (*groups[0], *reference)
