"""Deciding whether and how to query a loaded table: at most one safe, relevance-ranked SELECT.

Rules: a table is queried only when the question clearly targets it (its name, a column it asks
about, a sample value, plus something to filter on); literals are quoted with '' and
LIKE-escaped, identifiers double-quoted; the SQL stays well under the sandbox's length limit.

The SQL runs unchanged on SQLite and PostgreSQL: `coalesce` (not `ifnull`), matches counted
with `CASE WHEN ... THEN n ELSE 0 END` (PostgreSQL cannot multiply a boolean), `lower(x) LIKE`
(PostgreSQL's LIKE is case-sensitive), `WHERE 1 = 1`, and the relevance filtered outside a
subquery (PostgreSQL cannot use a select-list alias in WHERE).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from services.knowledge.fts_query import STOPWORDS, words
from services.offline import lexicon
from services.offline.question import (
    INTENT_AMOUNT,
    INTENT_COUNT,
    INTENT_WHO,
    counts_rows,
    entities_in,
)
from services.offline.text import STOP, content_stems, stem, wordset
from services.tables.loader import quote_identifier
from use_cases.tables.domain import TableColumn, TableSchema

#: SQL: rows returned by the generated lookup, and how many filter terms it uses.
SQL_ROW_LIMIT = 5

MAX_SQL_TERMS = 5

MAX_SQL_TEXT_COLUMNS = 6

#: Keep generated SQL well under the sandbox's default 4,000-character limit.
MAX_SQL_CHARS = 3000

#: The generated SELECT's ranking column (underscored so it will not clash with a real one).
RELEVANCE = "_relevance"

#: Column-name words too generic to mean "the question asks about this column".
_GENERIC_COLUMN_WORDS = frozenset({"id", "name", "description", "desc", "notes", "note", "key"})

_GENERIC_TABLE_WORDS = frozenset({"table", "data", "list", "info", "catalog", "catalogue"})

#: Words that ask for rows rather than describe them ("list all the KPIs").
_REQUEST_WORDS = wordset(
    "list show give display find all every table tables row rows entry entries record records"
)


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


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _like_pattern(term: str) -> str:
    """A case-insensitive `%term%` pattern: compare it with `lower(column)`."""
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return _sql_literal(f"%{escaped}%")


def _column_words(name: str) -> list[str]:
    return [w for w in re.split(r"[_\W]+", name.lower()) if w and w not in STOPWORDS]


def _phrase_in(phrase_words: Sequence[str], text_words: Sequence[str]) -> bool:
    """Whether the stemmed words of `phrase_words` occur contiguously in `text_words`."""
    target = [stem(w) for w in phrase_words]
    stems = [stem(w) for w in text_words]
    n = len(target)
    return n > 0 and any(stems[i : i + n] == target for i in range(len(stems) - n + 1))


def _id_shape(value: str) -> str:
    return re.sub(r"[A-Za-z]", "A", re.sub(r"\d", "9", value))


def _text_columns(schema: TableSchema) -> list[TableColumn]:
    return [c for c in schema.columns if c.type.upper() in ("TEXT", "", "VARCHAR", "CHAR")]


def _label_column(schema: TableSchema) -> str | None:
    names = {c.name.lower(): c.name for c in schema.columns}
    for preferred in ("name", "title", "full_name", "display_name", "label"):
        if preferred in names:
            return names[preferred]
    for column in _text_columns(schema):
        if not column.name.lower().endswith("id"):
            return column.name
    return None


#: Columns that hold a person's role: "who is the CFO" names a row by one of them.
_ROLE_COLUMNS = frozenset({"title", "role", "position", "job_title", "job"})


def _shared_column_words(schema: TableSchema) -> set[str]:
    """Column-name words used by more than one column (too ambiguous to mean one column)."""
    seen: dict[str, int] = {}
    for column in schema.columns:
        for word in set(_column_words(column.name)):
            seen[word] = seen.get(word, 0) + 1
    return {w for w, n in seen.items() if n > 1}


def _numeric_columns(schema: TableSchema) -> list[TableColumn]:
    return [c for c in schema.columns if c.type.upper() in ("INTEGER", "INT", "REAL", "NUMERIC")]


def _numeric_filters(question: str, schema: TableSchema) -> dict[str, int]:
    """Integer columns the question pins to a value: "tier 1", "priority 2"."""
    found = {}
    for column in _numeric_columns(schema):
        name = re.escape(column.name.lower().replace("_", " "))
        match = re.search(rf"\b{name}\s*#?(\d{{1,9}})\b", question, re.IGNORECASE)
        if match:
            found[column.name] = int(match.group(1))
    return found


_LATEST = re.compile(
    r"\b(?:newest|latest|most\s+recent(?:ly)?|last\s+(?:to\s+)?(?:join|start|hire))", re.I
)
_EARLIEST = re.compile(
    r"\b(?:oldest|earliest|longest[-\s]serving|first\s+(?:to\s+)?(?:join|start|hire)|"
    r"(?:joined|started|hired)\s+first)",
    re.I,
)


def _superlative(question: str, schema: TableSchema) -> tuple[str, str] | None:
    """(date column, "DESC" or "ASC") for "who joined most recently" / "the longest-serving",
    when the table has one date-like column (its values look like YYYY-MM-DD)."""
    direction = "DESC" if _LATEST.search(question) else "ASC" if _EARLIEST.search(question) else ""
    if not direction:
        return None
    dated = [
        c.name
        for c in schema.columns
        if c.samples and all(re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", s) for s in c.samples)
    ]
    return (dated[0], direction) if len(dated) == 1 else None


def names_in_tables(schemas: Sequence[TableSchema]) -> list[str]:
    """The values of every table's label column (its names: people, services, KPIs)."""
    names: list[str] = []
    for schema in schemas:
        label = _label_column(schema)
        for column in schema.columns:
            if column.name == label:
                names.extend(v for v in column.values if len(v) >= 3)
    return names


def chained_plan(question: str, answer: str, schemas: Sequence[TableSchema]) -> SqlPlan | None:
    """The second step of a question across a document and a table: "which office is the
    person who leads our vendor security reviews based in?" is answered by a document ("...
    led by Kwame Mensah") and then by the directory (Kwame Mensah's location). The first name
    or title of a table row in the answer's first sentence (or in the second, when that one
    goes on about the first: "Tidecast is the engine ... It is owned by the team led by Yuki
    Tanaka") is looked up for the columns the question asks for; None when the answer names
    none, or the question asks for no column other than the name."""
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
        plan = _plan_sql(f"{question} ({value})", schemas)
        if plan is None or value.lower() not in plan.entities:
            continue
        asked = [c for c in plan.asked_columns if c != plan.label_column]
        if not asked:
            continue
        # Looked up alone: the question's other words ("the EU database") are the documents'.
        alone = _plan_sql(f"{' and '.join(c.replace('_', ' ') for c in asked)} of {value}", schemas)
        if alone is not None and value.lower() in alone.entities and alone.asked_columns:
            return alone
    return None


#: A sentence that goes on about the one before it ("It is owned by ...").
_POINTS_BACK = re.compile(r"^\W*(?:it|its|this|that|these|those|they|their|he|she)\b", re.I)


def _row_names_in(sentence: str, schemas: Sequence[TableSchema]) -> list[tuple[int, int, str]]:
    """(position, -length, value) of each table row's name or title `sentence` holds."""
    found_names = []
    for schema in schemas:
        label = _label_column(schema)
        for column in schema.columns:
            if column.name != label and column.name.lower() not in _ROLE_COLUMNS:
                continue
            for value in column.values:
                found = len(value) >= 4 and re.search(rf"(?<!\w){re.escape(value)}(?!\w)", sentence)
                if found:
                    found_names.append((found.start(), -len(value), value))
    return found_names


def column_values(schemas: Sequence[TableSchema]) -> list[tuple[str, str]]:
    """(value, "table.column") for every listed value of every text column."""
    return [
        (value, f"{schema.name}.{column.name}")
        for schema in schemas
        for column in _text_columns(schema)
        for value in column.values
        if len(value) >= 2
    ]


def _self_reference(schema: TableSchema, column: TableColumn) -> str | None:
    """The key column that `column` (an `*_id`) points to in the same table, if any.

    The key is the table's `id` column or its first `*_id` column; the reference is believed
    when sample values of both have the same shape (e.g. "E001" and "E004").
    """
    if not column.name.lower().endswith("_id"):
        return None
    ids = [c for c in schema.columns if c.name.lower() == "id"]
    ids += [c for c in schema.columns if c.name.lower().endswith("_id")][:1]
    for key in ids:
        if key.name == column.name or not key.samples or not column.samples:
            continue
        if {_id_shape(s) for s in key.samples} & {_id_shape(s) for s in column.samples}:
            return key.name
    return None


#: Asking for the rows that point at a named row ("direct reports of the CEO", "who reports
#: to Ifeoma"), not for the row it points at ("who does Kwame report to").
_REVERSE_REFERENCE = re.compile(
    r"\bdirect\s+reports?\b|\breports\b(?!\s+to\b)"
    # "who reports (directly) to Ana", not "who does Ana report to and what's her title"
    r"|\breports?\s+(?:directly\s+|straight\s+)?(?:to|into)\s+(?!(?:and|or|but|&)\b)\w"
    r"|\bwho\s+(?:works?|is)\s+under\b|\bworks?\s+for\s+\w",
    re.IGNORECASE,
)

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

#: Ways of asking for a column without naming it: (question pattern, column-name word). These
#: are English question words; a knowledge base's own ways of asking ("written in" for its
#: "language" column) are its lexicon's `column_hints`.
_COLUMN_HINTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), target)
    for pattern, target in (
        (r"\bhow\s+often\b|\bfrequen|\bmeasured\b", "frequency"),
        (r"\bwhere\b|\bbased\b|\blocated\b|\b(?:which|what)\s+office\b", "location"),
        (r"\b(?:start|started|join|joined|hired)\b", "start"),
        (r"\be-?mail\b", "email"),
    )
)


#: Between a value's words in the question: "VP of Engineering" for "VP Engineering".
_OPTIONAL_OF = r"\s+(?:of\s+(?:the\s+)?)?"


def _values_in(question: str, schema: TableSchema) -> dict[str, str]:
    """Column values the question names, lowercased -> their column: whole words, at least
    four characters (or an upper-case code such as "EU"), longest first, not overlapping."""
    lowered = question.lower()
    found: dict[str, str] = {}
    taken: list[tuple[int, int]] = []
    candidates = [
        (value, column.name)
        for column in _text_columns(schema)
        for value in (column.values or column.samples)
        if len(value) >= 4 or (len(value) >= 2 and value.isupper() and value.isalpha())
    ]
    for value, column in sorted(candidates, key=lambda vc: -len(vc[0])):
        needle = value.lower()
        if needle in found or not _may_name(value, lowered, question):
            continue
        pattern = _value_pattern(value)
        match = pattern.search(lowered if pattern.flags & re.IGNORECASE else question)
        if match is None:
            continue
        span = match.span()
        if any(span[0] < end and start < span[1] for start, end in taken):
            continue
        taken.append(span)
        found[needle] = column
    if not found:  # names in part only when no value is named in full
        for value, column in _named_in_part(question, schema):
            found.setdefault(value.lower(), column)
    if not found:
        named = _named_by_most_words(question, schema)
        if named is not None:
            found[named.lower()] = _label_column(schema) or ""
    return found


def _may_name(value: str, lowered: str, question: str) -> bool:
    """Whether the question could name `value` (`_value_pattern`): each of its words is in the
    question somewhere. Exact as a necessary condition, and a substring test rules out nearly
    every value of a table at C speed, before any pattern is searched."""
    if value.isupper() and len(value) < 4:
        return value in question
    return all(word in lowered for word in _lowered_words(value))


@functools.lru_cache(maxsize=20_000)
def _lowered_words(value: str) -> tuple[str, ...]:
    return tuple(value.lower().split())


@functools.lru_cache(maxsize=20_000)
def _value_pattern(value: str) -> re.Pattern[str]:
    """How a question names `value`: its words, "of (the)" allowed between them ("VP of
    Engineering" names the title "VP Engineering"); a short upper-case code as written."""
    if value.isupper() and len(value) < 4:
        return re.compile(rf"(?<!\w){re.escape(value)}(?!\w)")
    words_ = value.lower().split()
    return re.compile(
        rf"(?<!\w){_OPTIONAL_OF.join(re.escape(w) for w in words_)}(?!\w)", re.IGNORECASE
    )


#: Share of a name's words the question must hold to name it without its exact wording.
MIN_NAME_SHARE = 0.6


def _named_by_most_words(question: str, schema: TableSchema) -> str | None:
    """The one label value (a KPI's or service's name of three words or more) whose words the
    question holds for the most part, at least two and `MIN_NAME_SHARE` of them, with no other
    word between them: "phishing click rate" names "Phishing simulation click rate"; "gross
    revenue churn" does not name "Gross logo churn" (another word took a place in the name).
    None on a tie."""
    label = _label_column(schema)
    column = next((c for c in schema.columns if c.name == label), None)
    if column is None:
        return None
    sequence = [stem(w) for w in words(question) if w not in STOP]
    scored = []
    for value in column.values:
        parts = {stem(w) for w in words(value) if w not in STOP}
        at = [i for i, w in enumerate(sequence) if w in parts]
        held = len({sequence[i] for i in at})
        if len(parts) < 3 or held < 2 or held < MIN_NAME_SHARE * len(parts):
            continue
        if all(w in parts for w in sequence[at[0] : at[-1] + 1]):
            scored.append((held / len(parts), value))
    scored.sort(reverse=True)
    if not scored or (len(scored) > 1 and scored[0][0] == scored[1][0]):
        return None
    return scored[0][1]


#: Values longer than this are free text (descriptions), not names or titles.
_MAX_NAME_WORDS = 8


@functools.lru_cache(maxsize=20_000)
def _initials(value: str) -> str:
    return "".join(w[0] for w in re.findall(r"[A-Za-z]+", value) if len(w) >= 3).lower()


def _name_word(word: str, value: str) -> bool:
    """A word that names: upper case inside ("eNPS", "ARR"), or any capitalised word of a
    value in title case ("Laura Méndez"); not the first word of a phrase ("Time to hire")."""
    if any(c.isupper() for c in word[1:]):
        return True
    # Words without their brackets: "Remote - Ireland (Cork)" is in title case.
    long_words = [w for w in (w.strip("()[]{}\"'") for w in value.split()) if len(w) >= 3]
    return word[:1].isupper() and all(w[:1].isupper() for w in long_words)


def _capitalised_words(question: str) -> frozenset[str]:
    """The words the question writes with a capital or in upper case somewhere (lower-cased);
    read once per question, so a check per word and column stays linear in its length."""
    return frozenset(w.lower() for w in re.findall(r"[^\W_]+", question) if w[:1].isupper())


def _value_words(question: str, schema: TableSchema, label: str | None) -> list[str]:
    """Question words that begin or end values of exactly one short-valued column other than
    the label ("remote" in "Remote - Ireland (Cork)"), in question order."""
    tokens = [t for t in dict.fromkeys(words(question)) if t not in STOP and len(t) >= 4]
    found = []
    for token in tokens:
        columns = {
            column.name
            for column in _text_columns(schema)
            if column.name != label
            and column.values
            and all(len(v.split()) <= _MAX_NAME_WORDS for v in column.values)
            and any(
                (parts := words(v)) and (parts[0] == token or parts[-1] == token)
                for v in column.values
            )
        }
        if len(columns) == 1:
            found.append(token)
    return found


def _named_in_part(question: str, schema: TableSchema) -> list[tuple[str, str]]:
    """Values of short-valued columns (names, titles, teams) that the question names by their
    initials ("ARR" for "Annual recurring revenue", "CEO") or by a capitalised word only one or
    two values hold ("eNPS" in "Employee eNPS", a first name; not "response"). Outside the
    label column (teams, titles) such a word counts only if the question capitalises it too:
    "webhook success" does not name the team "Customer Success"."""
    tokens = [t for t in dict.fromkeys(words(question)) if t not in STOP and not t.isdigit()]
    capitalised = _capitalised_words(question)
    found: list[tuple[str, str]] = []
    label = _label_column(schema)
    for column in _text_columns(schema):
        values = list(column.values)
        if column.name != label and any(len(v.split()) > _MAX_NAME_WORDS for v in values):
            continue  # free text (descriptions): a shared word is no name
        for token in tokens:
            if len(token) >= 2:
                found.extend((v, column.name) for v in values if _initials(v) == token)
            if column.name != label and token not in capitalised:
                continue  # "success" is no name for "Customer Success"; "Success" may be
            holding = [
                v
                for v in values
                if len(token) >= 4
                and any(w.lower() == token and _name_word(w, v) for w in v.split())
            ]
            if len(holding) <= 2:
                found.extend((v, column.name) for v in holding)
    return found


def expand_abbreviations(question: str) -> str:
    """`question` with the abbreviations of the knowledge base's lexicon written out
    (people type them for words of titles and team names: "the IT ops lead"); a row named by
    the full words is then found."""
    return lexicon.active().expand_abbreviations(question)


#: A yes/no question about a rule ("is it ok to ...", "can I ...", "should we ..."), which a
#: bare list of rows never answers; "is there / are there / is anyone ...", and any question
#: with "who", asks for rows.
_YES_NO = re.compile(
    r"^\W*(?:is|are|am|can|could|do|does|did|should|may|must|will|would|has|have)\b"
    r"(?!\s+(?:there|we\s+have|you\s+have|any|anyone|anybody|someone|somebody)\b)",
    re.IGNORECASE,
)


def plan_sql(question: str, schemas: Sequence[TableSchema]) -> SqlPlan | None:
    """One safe SELECT for a question that clearly targets a table, or None. A question with
    abbreviations is planned with them written out when that names a row by a full value
    ("the IT ops lead" -> the title "IT Operations Lead")."""
    expanded = expand_abbreviations(question)
    if expanded != question:
        written = {w for v in lexicon.active().abbreviations.values() for w in words(v)}
        plan = _plan_sql(expanded, schemas)
        if plan is not None and any(
            len(parts) > 1 and written.intersection(parts)
            for parts in (words(e) for e in plan.entities)
        ):  # a value of several words, one of them written out: "IT Operations Lead"
            return plan
    return _plan_sql(question, schemas)


def _plan_sql(question: str, schemas: Sequence[TableSchema]) -> SqlPlan | None:
    lowered = question.lower()
    q_words = words(question)
    q_stems = {stem(w) for w in q_words}
    entities = entities_in(question)
    best: tuple[float, SqlPlan] | None = None
    for schema in schemas:
        table_words = [w for w in _column_words(schema.name) if w not in _GENERIC_TABLE_WORDS]
        explicit = schema.name.lower() in lowered or (
            len(table_words) > 1 and _phrase_in(table_words, q_words)
        )
        # "KPIs" for kpi_catalog: the stemmer keeps an acronym's plural ("kpis").
        table_word = any(stem(w) in q_stems or f"{w}s" in q_words for w in table_words)
        asked = _asked_columns(question, schema, table_words, q_words, q_stems)
        numbers = _numeric_filters(question, schema)
        superlative = _superlative(question, schema)
        exact = _values_in(question, schema)
        values = list(exact)
        # Stems of the words that pick the table and columns: not row filters.
        covered = {
            form for w in _column_words(schema.name) for form in (stem(w), stem(f"{w}s"))
        } | {stem(w) for c in asked for w in _column_words(c.name)}
        label = _label_column(schema)
        row_entities = _row_entities(question, schema, entities, values, covered, label)
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
            3 * explicit
            + 2 * (len(values) + len(numbers))
            + len(asked)
            + table_word
            + 0.5 * len(row_entities)
            + (2 if head is not None else 0)  # a group and its reporting line: more specific
        )
        if best is None or score > best[0]:
            if head is not None:
                # "manager"/"boss" asked for the head itself, not for the reference column.
                also = tuple(c.name for c in asked if c.name not in (label, *head[1:]))
                best = (score, _head_plan(schema, *head, also=also))
                continue
            plan = _build_sql(
                schema,
                question,
                asked,
                row_entities,
                covered,
                explicit,
                exact,
                numbers=numbers,
                superlative=superlative,
            )
            best = (score, replace(plan, who_is=True) if who_is else plan)
    return best[1] if best else None


def _rows_sql(
    table: str,
    relevance: str | None,
    conditions: list[str],
    superlative: tuple[str, str] | None,
) -> str:
    """The rows ranked by `relevance` (None: no terms to rank by), on `conditions`."""
    if relevance is not None:
        where = " AND ".join([f"{RELEVANCE} > 0", *conditions])
        order = f"{RELEVANCE} DESC"
        if superlative is not None:
            order += f", {quote_identifier(superlative[0])} {superlative[1]}"
        return (
            f"SELECT * FROM (SELECT *, {relevance} AS {RELEVANCE} FROM {table}) AS ranked "
            f"WHERE {where} ORDER BY {order} LIMIT {SQL_ROW_LIMIT}"
        )
    if superlative is not None:  # every row tied at the extreme, not an arbitrary one
        column = quote_identifier(superlative[0])
        extreme = "MAX" if superlative[1] == "DESC" else "MIN"
        return (
            f"SELECT * FROM {table} WHERE {' AND '.join(conditions)} AND {column} = "
            f"(SELECT {extreme}({column}) FROM {table}) LIMIT {SQL_ROW_LIMIT * 4}"
        )
    if conditions:
        return f"SELECT * FROM {table} WHERE {' AND '.join(conditions)} LIMIT {SQL_ROW_LIMIT * 4}"
    return f"SELECT * FROM {table} LIMIT {SQL_ROW_LIMIT * 4}"


def _filter_terms(
    question: str, entities: list[str], covered: set[str], *, exact_filter: bool
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
    return (entities + extra)[:MAX_SQL_TERMS]


def _searched_columns(schema: TableSchema, label: str | None, terms: int) -> list[str]:
    """The text columns the terms are looked for in, the label column first."""
    text_columns = [c.name for c in _text_columns(schema)]
    if label and label in text_columns:
        text_columns.remove(label)
        text_columns.insert(0, label)
    text_columns = text_columns[:MAX_SQL_TEXT_COLUMNS]
    # Long identifiers could push the SQL past the sandbox's length limit: fewer columns then.
    while len(text_columns) > 1 and terms * len(text_columns) * 80 > MAX_SQL_CHARS:
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


def _row_entities(
    question: str,
    schema: TableSchema,
    entities: list[str],
    values: list[str],
    covered: set[str],
    label: str | None,
) -> list[str]:
    """The names that pick rows: the values named, and the question's other entities."""
    # A name the question gave by initials or in part is replaced by the value it names.
    aliases = {a for v in values for a in (_initials(v), *words(v))}
    named = values + [e for e in entities if e in values or e not in aliases]
    row_entities = [
        e
        for e in dict.fromkeys(named)
        if any(stem(w) not in covered and w not in STOP for w in words(e))
    ]
    if not values and counts_rows(question):
        # "how many work fully remote": a word that starts or ends values of one column
        # ("Remote - Germany (Berlin)") filters the count like a value.
        row_entities += [w for w in _value_words(question, schema, label) if stem(w) not in covered]
    return row_entities


def _asked_columns(
    question: str,
    schema: TableSchema,
    table_words: list[str],
    q_words: list[str],
    q_stems: set[str],
) -> list[TableColumn]:
    """The columns the question asks for: by their words, a hint, or a distinctive word."""
    asked: list[TableColumn] = []
    hints = (*_COLUMN_HINTS, *lexicon.active().column_hints)
    hinted = {target for pattern, target in hints if pattern.search(question)}
    shared = _shared_column_words(schema)
    for column in schema.columns:
        name_words = [w for w in _column_words(column.name) if w not in _GENERIC_COLUMN_WORDS]
        if column.name.lower().endswith("_id") and _self_reference(schema, column) is None:
            # "employee" alone is no ask for employee_id
            name_words = _column_words(column.name)
        distinctive = [
            w
            for w in name_words
            if len(w) >= 5
            and w not in shared
            and w not in table_words
            and not column.name.lower().endswith("_id")
        ]
        if name_words and (
            _phrase_in(name_words, q_words)
            or all(stem(w) in q_stems for w in name_words)
            or any(w in hinted for w in name_words)
            # "datastore" for primary_datastore (the word itself: "starter" is no "start")
            or any(w in q_words or f"{w}s" in q_words for w in distinctive)
        ):
            asked.append(column)
    return asked


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
            column.lower() in _ROLE_COLUMNS
            and (value in lowered or _initials(value) in q_words)  # whole, or "CFO"
            for value, column in exact.items()
        )
    )


def _build_sql(
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
) -> SqlPlan:
    """The SELECT: rows ranked by weighted LIKE matches of the filter terms (entities weigh
    3, the label column doubles), a self-join when the question asks for a referenced row
    (a manager), or a COUNT for "how many". Literals are quoted with '' and LIKE-escaped."""
    label = _label_column(schema)
    terms = _filter_terms(question, entities, covered, exact_filter=bool(superlative or numbers))
    weights = {t: (3 if t in entities else 1) for t in terms}
    text_columns = _searched_columns(schema, label, len(terms))
    table = quote_identifier(schema.name)
    join = next(
        (
            (column.name, key)
            for column in asked
            if (key := _self_reference(schema, column)) is not None and label is not None
        ),
        None,
    )
    if join is not None and entities and _REVERSE_REFERENCE.search(question):
        return _reports_plan(schema, question, join, entities, parts_for=terms, exact=exact)
    prefix = "e." if join else ""
    exact = exact or {}
    relevance = _relevance(terms, weights, exact, text_columns, label, prefix) or "1"
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
        fk, key = join
        alias = "_".join(w for w in _column_words(fk) if w != "id") or "related"
        assert label is not None
        asked_names = [alias if n == fk else n for n in asked_names]
        sql = (
            f"SELECT * FROM (SELECT e.*, m.{quote_identifier(label)} AS "
            f"{quote_identifier(alias)}, {relevance} AS {RELEVANCE} FROM {table} AS e "
            f"LEFT JOIN {table} AS m ON m.{quote_identifier(key)} = e.{quote_identifier(fk)}) "
            "AS ranked"
            + (f" WHERE {RELEVANCE} > 0" if terms else "")
            + f" ORDER BY {RELEVANCE} DESC LIMIT {SQL_ROW_LIMIT}"
        )
    else:
        sql = _rows_sql(table, relevance if terms else None, conditions, superlative)
    topic = _other_words(question, schema, covered, entities)
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


#: Words of "who works / is based / lives in X" questions: they ask for the people of a value.
_PEOPLE_WORDS = frozenset(
    stem(w)
    for w in wordset(
        "work works working worked live lives living based located sits sitting remote "
        "remotely anyone anybody someone people person employee employees staff company "
        "colleague colleagues member members"
    )
)


def _other_words(
    question: str, schema: TableSchema, covered: set[str], named: Sequence[str]
) -> tuple[str, ...]:
    """The question's content stems beyond the table (`covered`), its column names and the
    values or names it gives (`named`): what the question is about besides the row."""
    skip = covered | {stem(w) for v in named for w in words(v)}
    skip |= {stem(w) for c in schema.columns for w in _column_words(c.name)}
    return tuple(t for t in content_stems(question) if t not in skip and t.isalpha())


def _who_is_in(question: str, values: list[str], covered: set[str], schema: TableSchema) -> bool:
    """ "who works remotely from Ireland?", "is anyone based in Lisbon? who?": a "who" question
    about the rows holding values it names, with no other words ("who approves expenses in
    Toronto" is about approvals, for the documents)."""
    if not (values and INTENT_WHO.search(question) and _label_column(schema)):
        return False
    return all(t in _PEOPLE_WORDS for t in _other_words(question, schema, covered, values))


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
            if (key := _self_reference(schema, column)) is not None
        ),
        None,
    )
    groups = [
        (value, column)
        for value, column in exact.items()
        if column != label and not (column.lower() in _ROLE_COLUMNS and _LEADER_TITLE.search(value))
    ]
    if reference is None or len(groups) != 1:
        return None
    return (*groups[0], *reference)


def _head_plan(
    schema: TableSchema, value: str, column: str, fk: str, key: str, *, also: tuple[str, ...] = ()
) -> SqlPlan:
    """Who leads a group: for a group of people sharing a title ("SRE": Site Reliability
    Engineer), the people they report to; for any other group (a team), its members whose
    manager is outside it, i.e. the top of the group's own reporting line. `also`: other
    columns the question asks for ("and which office are they in")."""
    label = _label_column(schema)
    assert label is not None
    table, cell = quote_identifier(schema.name), f"lower({quote_identifier(column)})"
    in_group = f"{cell} = {_sql_literal(value)}"
    fk_q, key_q = quote_identifier(fk), quote_identifier(key)
    if column.lower() in _ROLE_COLUMNS:
        where = (
            f"{key_q} IN (SELECT {fk_q} FROM {table} WHERE {in_group}) "
            f"AND coalesce({cell}, '') <> {_sql_literal(value)}"
        )
    else:
        where = (
            f"{in_group} AND ({fk_q} IS NULL OR {fk_q} NOT IN "
            f"(SELECT {key_q} FROM {table} WHERE {in_group} AND {key_q} IS NOT NULL))"
        )
    sql = (
        f"SELECT * FROM {table} WHERE {where} ORDER BY {quote_identifier(label)} "
        f"LIMIT {SQL_ROW_LIMIT}"
    )
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
        head_by_title=column.lower() in _ROLE_COLUMNS,
    )


def _relevance(
    terms: Sequence[str],
    weights: dict[str, int],
    exact: dict[str, str],
    text_columns: Sequence[str],
    label: str | None = None,
    prefix: str = "",
) -> str:
    """The SQL sum ranking rows by the terms: a term that is a value of one column matches
    that column's whole value; any other is a LIKE in each text column. The label column
    counts double. Empty for no terms."""
    parts = []
    for term in terms:
        if term in exact:  # a value of one column: that column, whole value
            weight = weights[term] * (2 if exact[term] == label else 1)
            cell = f"lower(coalesce({prefix}{quote_identifier(exact[term])}, ''))"
            parts.append(f"(CASE WHEN {cell} = {_sql_literal(term)} THEN {weight} ELSE 0 END)")
            continue
        for column in text_columns:
            weight = weights[term] * (2 if column == label else 1)
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
) -> SqlPlan:
    """The rows whose reference (`manager_id`) points at the best-matching named row: listed,
    or counted for "how many", with that row's label alongside."""
    fk, key = join
    label = _label_column(schema)
    assert label is not None
    table = quote_identifier(schema.name)
    exact = exact or {}
    text_columns = [c.name for c in _text_columns(schema)][:MAX_SQL_TEXT_COLUMNS]
    relevance = _relevance(entities, {e: 1 for e in entities}, exact, text_columns) or "0"
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
            f"ORDER BY {quote_identifier(label)} LIMIT {SQL_ROW_LIMIT * 4}"
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
