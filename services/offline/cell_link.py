"""Linking a question to the cells of one loaded table: which rows it names and which columns
it asks for, read from any table's own headers and values (a workbook's sheet, a CSV).

Rules:
- Rows are named by values: a value of a listed column written in the question (whole
  words, plural or singular; a one-word value that is an English word only when the question
  capitalises it: "Legal", not "legal advice"), a number after or before the words of the
  column it belongs to ("week 12", "version 2.1", "costs 40", "40 euros"), a comparison
  ("after 2021", "before 2020-06-01", "more than 50 euros") or a superlative ("the cheapest",
  "the most expensive", "the highest qty", "the latest", "the oldest").
- Columns are asked for by "which/what NOUN" naming a column ("which product costs 40"),
  by "who" (a column of people's names), by the words of their headers (`cell_words`) or
  English ways of asking for one ("how often": a frequency, `sql_match.COLUMN_HINTS`), or,
  failing those, by "when" (a date column), "how much" (a price) or "how many" (a quantity).
  "How long / how often" is asked of a number, a date or a column the question names.
  A column that names the row is not what is asked; with nothing asked, the row's name is,
  when the question asks for names at all ("which ...", "who ...", "list ...").
  Every other column whose header words the question all names is asked too ("what
  language is it written in and what tier?").
- A question is linked only when it names rows and asks for a column ("when" for a date
  column), and at most
  `max_unexplained` of its content words are neither a header's, a value's, the table's nor
  a question word: anything else ("what is the on-call policy for payments?") is the
  documents' to answer. Counting rows ("how many people ..."), and a column pointing at
  another row of the table (a manager's id), are left to the other planner (`sql_plan.py`).
- Of the linked tables the best linked one is chosen; a tie links none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from services.knowledge.spelling import english_words
from services.offline import data
from services.offline.cell_words import header_words, matched_at
from services.offline.question import INTENT_WHEN, INTENT_WHO
from services.offline.sql_match import COLUMN_HINTS, self_reference
from services.offline.text import STOP, stem
from use_cases.tables.domain import TableColumn, TableSchema

#: A token of a question or a value: a date, a number, or a run of letters and digits.
_TOKEN = re.compile(r"\d{4}-\d{2}-\d{2}|\d+(?:\.\d+)?(?![\w.]*[a-zA-Z])|[^\W_]+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_NUMERIC_TYPES = ("INTEGER", "INT", "REAL", "NUMERIC", "FLOAT", "DOUBLE", "BIGINT", "DECIMAL")
_DATE_TYPES = ("DATE", "DATETIME", "TIMESTAMP")

#: Comparisons written before a number: (pattern ending right before it, operator).
_COMPARISONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(rf"\b(?:{words})\s+(?:the\s+year\s+|year\s+)?$", re.IGNORECASE), op)
    for words, op in (
        (r"after|since|later\s+than|newer\s+than|more\s+recent\s+than", ">"),
        (r"before|earlier\s+than|older\s+than|prior\s+to|until", "<"),
        (r"more\s+than|over|above|greater\s+than|higher\s+than|exceeding|dearer\s+than", ">"),
        (r"less\s+than|under|below|fewer\s+than|lower\s+than|cheaper\s+than", "<"),
        (r"at\s+least|no\s+less\s+than", ">="),
        (r"at\s+most|no\s+more\s+than|up\s+to", "<="),
    )
)

#: Superlatives: (pattern, "MIN"/"MAX", what kind of column: "price", "date" or the column
#: named by the word after it).
_SUPERLATIVES: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), extreme, kind)
    for pattern, extreme, kind in (
        (r"\b(?:cheapest|least\s+expensive|lowest[-\s]priced)\b", "MIN", "price"),
        (r"\b(?:most\s+expensive|priciest|dearest|costliest|highest[-\s]priced)\b", "MAX", "price"),
        (r"\b(?:newest|latest|most\s+recent(?:ly)?)\b", "MAX", "date"),
        (r"\b(?:oldest|earliest)\b", "MIN", "date"),
        (r"\b(?:highest|largest|biggest|greatest|most|maximum|max|top)\s+(\w+)", "MAX", "named"),
        (r"\b(?:lowest|smallest|least|fewest|minimum|min)\s+(\w+)", "MIN", "named"),
    )
)

#: Words that say how rows are picked or compared, not what about: never unexplained.
_PICKING = data.words("cell_picking_words")  # as written: "expenses" is no "expensive"

_PRICE_WORDS = ("price", "cost")
_QUANTITY_WORDS = ("quantity", "count", "number", "units", "stock")
_HOW_MUCH = re.compile(r"\bhow\s+much\b|\b(?:cost|costs|price|priced)\b", re.IGNORECASE)
_HOW_MANY = re.compile(r"\bhow\s+many\b", re.IGNORECASE)
_HOW_LONG = re.compile(r"\bhow\s+(?:long|soon|often|quickly|fast|frequently)\b", re.IGNORECASE)
_WHICH_NOUN = re.compile(r"\b(?:which|what)\s+([^\W\d_]+)", re.IGNORECASE)
_NAME_WORDS = frozenset({"name", "title", "label"})
#: A question that asks for rows by their names ("which ...", "list ..."); "invoices,
#: Zendesk" (a follow-up's words) asks for none.
_ASKS_NAMES = re.compile(r"\b(?:which|what|who|whom|list|show|name)\b", re.IGNORECASE)
_GENERIC = frozenset({"id", "no", "nr", "num", "number", "code", "name", "of", "the", "in"})


@dataclass(frozen=True)
class Condition:
    """One way the question picks rows: `column` `op` `value` (op "=", "<", ">", "<=",
    ">=", or "MIN"/"MAX" for a superlative); `said`: how the question put it."""

    column: str
    op: str
    value: str | int | float | None
    said: str
    date: bool = False  # compared as ISO text ("after 2021" on a date column)


@dataclass(frozen=True)
class CellLink:
    """A question linked to one table: the rows it names, the columns it asks for, the
    column naming a row (`label`) and how well it linked (`score`)."""

    table: str
    conditions: tuple[Condition, ...]
    targets: tuple[str, ...]
    label: str | None
    score: float
    limit: int = 20  # the most rows looked up (`SqlTuning.row_limit` x 4, as for lists)


@dataclass(frozen=True)
class _Token:
    text: str
    start: int
    end: int


def _tokens(text: str) -> list[_Token]:
    return [_Token(m.group().lower(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _is_numeric(column: TableColumn) -> bool:
    return column.type.upper().startswith(_NUMERIC_TYPES)


def is_date(column: TableColumn) -> bool:
    """A date column: typed as one, or every sample an ISO date."""
    if column.type.upper().startswith(_DATE_TYPES):
        return True
    return bool(column.samples) and all(_DATE.match(s) for s in column.samples)


def _is_people(column: TableColumn) -> bool:
    """A column of people's names: most values two or three capitalised words of letters."""
    values = column.values or column.samples
    if not values or _is_numeric(column):
        return False
    named = sum(
        1
        for v in values
        if 2 <= len(v.split()) <= 3 and all(w[:1].isupper() and w.isalpha() for w in v.split())
    )
    return named >= 0.8 * len(values)


def _code_like(column: TableColumn) -> bool:
    values = column.values or column.samples
    return bool(values) and all(re.search(r"\d", v) for v in values)


def label_of(schema: TableSchema) -> str | None:
    """The column that names a row: one whose header says name or title, else the first
    text column whose values are no codes."""
    texts = [c for c in schema.columns if not _is_numeric(c) and not is_date(c)]
    for column in texts:
        if _NAME_WORDS & set(header_words(column.name)):
            return column.name
    return next((c.name for c in texts if not _code_like(c)), texts[0].name if texts else None)


def _value_spans(
    question: str, tokens: list[_Token], schema: TableSchema
) -> list[tuple[int, int, str, list[str]]]:
    """(first token, end token, value, its columns) of each value the question names,
    longest first, not overlapping (module rules)."""
    stems = [stem(t.text) for t in tokens]
    known = english_words()
    lowered = question.lower()
    candidates: dict[str, list[str]] = {}
    for column in schema.columns:
        if _is_numeric(column):
            continue
        for value in column.values:
            if value.lower()[:4] in lowered:  # at C speed: most values are in no question
                candidates.setdefault(value, []).append(column.name)
    found: list[tuple[int, int, str, list[str]]] = []
    taken: set[int] = set()
    ordered = sorted(candidates, key=lambda v: (-len(_tokens(v)), -len(v)))
    for value in ordered:
        parts = [stem(t.text) for t in _tokens(value)]
        if not parts or all(p in STOP or _NUMBER.fullmatch(p) for p in parts):
            continue
        if len(parts) == 1 and len(parts[0]) < 3:
            continue
        n = len(parts)
        for i in range(len(stems) - n + 1):
            if stems[i : i + n] != parts or taken.intersection(range(i, i + n)):
                continue
            written = question[tokens[i].start : tokens[i + n - 1].end]
            if n == 1 and tokens[i].text in known and not written[:1].isupper():
                continue  # "legal advice" names no department "Legal"
            found.append((i, i + n, value, candidates[value]))
            taken.update(range(i, i + n))
            break
    return found


def _column_named_near(
    tokens: list[_Token], at: int, end: int, schema: TableSchema, skip: set[int]
) -> TableColumn | None:
    """The column whose header the words right before `at` (or right after `end`) name."""
    near = [j for j in (at - 1, at - 2, end, end + 1) if 0 <= j < len(tokens) and j not in skip]
    for j in near:
        word = tokens[j].text
        if word in STOP and word not in ("no", "number"):
            continue
        for column in schema.columns:
            headers = [h for h in header_words(column.name) if h not in ("of", "the", "in")]
            if any(matched_at(h, [word]) for h in headers if h not in _GENERIC or h == word):
                return column
    return None


def _number_conditions(
    question: str, tokens: list[_Token], schema: TableSchema, skip: set[int]
) -> tuple[list[Condition], set[int]]:
    """Conditions on numbers and dates the question gives outside the values it names."""
    conditions: list[Condition] = []
    used: set[int] = set()
    dates = [c for c in schema.columns if is_date(c)]
    for i, token in enumerate(tokens):
        if i in skip or not (_NUMBER.fullmatch(token.text) or _DATE.fullmatch(token.text)):
            continue
        before = question[: token.start]
        op = next((op for pattern, op in _COMPARISONS if pattern.search(before)), "=")
        is_year = bool(re.fullmatch(r"(19|20)\d\d", token.text))
        column = _column_named_near(tokens, i, i + 1, schema, skip)
        if op != "=" and (is_year or _DATE.fullmatch(token.text)) and dates:
            dated = (
                column if column is not None and is_date(column) else _mentioned_date(tokens, dates)
            )
            bound, said = token.text, f"{_said(op)} {token.text}"
            if op == ">" and is_year:  # after 2021: from 2022 on, as ISO text
                op, bound = ">=", str(int(token.text) + 1)
            conditions.append(Condition(dated.name, op, bound, said, True))
            used.add(i)
            continue
        if column is None:
            continue
        if _DATE.fullmatch(token.text) and is_date(column):
            conditions.append(Condition(column.name, op, token.text, token.text, True))
        elif _is_numeric(column):
            number = float(token.text) if "." in token.text else int(token.text)
            words = " ".join(header_words(column.name))
            said = f"{words} {token.text}" if op == "=" else f"{words} {_said(op)} {token.text}"
            conditions.append(Condition(column.name, op, number, said))
        elif op == "=":
            conditions.append(Condition(column.name, "=", token.text, token.text))
        else:
            continue
        used.add(i)
    return conditions, used


def _said(op: str) -> str:
    return {">": "after", "<": "before", ">=": "from", "<=": "up to"}.get(op, op)


def _mentioned_date(tokens: list[_Token], dates: list[TableColumn]) -> TableColumn:
    """The date column the question's words name, else the first."""
    words = [t.text for t in tokens]
    return next(
        (
            c
            for c in dates
            if any(matched_at(h, words) for h in header_words(c.name) if h != "date")
        ),
        dates[0],
    )


def _columns_like(schema: TableSchema, wanted: Sequence[str], numeric: bool) -> list[TableColumn]:
    return [
        c
        for c in schema.columns
        if (_is_numeric(c) or not numeric)
        and any(matched_at(h, list(wanted)) for h in header_words(c.name))
    ]


def _superlative(question: str, tokens: list[_Token], schema: TableSchema) -> Condition | None:
    for pattern, extreme, kind in _SUPERLATIVES:
        match = pattern.search(question)
        if match is None:
            continue
        if kind == "price":
            priced = _columns_like(schema, _PRICE_WORDS, numeric=True)
            if priced:
                return Condition(priced[0].name, extreme, None, match.group().lower())
            continue
        if kind == "date":
            dates = [c for c in schema.columns if is_date(c)]
            if dates:
                dated = _mentioned_date(tokens, dates)
                return Condition(dated.name, extreme, None, match.group().lower(), True)
            continue
        named = [c for c in _columns_like(schema, [match.group(1).lower()], numeric=True)]
        if named:
            return Condition(named[0].name, extreme, None, match.group().lower())
    return None


def _mention_scores(words: list[str], schema: TableSchema) -> dict[str, float]:
    """Each column's share of its (non-generic) header words that the question's words
    name; generic words ("name", "no") and the table's own ("kpi" of `kpi_id` in
    `kpi_catalog`) count only with another one."""
    scores: dict[str, float] = {}
    own = {stem(w) for w in header_words(schema.name)}
    for column in schema.columns:
        headers = [h for h in header_words(column.name) if h not in ("of", "the", "in")]
        specific = [h for h in headers if h not in _GENERIC and stem(h) not in own]
        if not specific:
            specific = headers
        held = [h for h in specific if matched_at(h, words)]
        if held:
            scores[column.name] = len(held) / len(specific)
    text = " ".join(w for w in words if w)
    for pattern, target in COLUMN_HINTS:  # "how often" asks for a frequency column
        if pattern.search(text):
            for column in schema.columns:
                if target in header_words(column.name):
                    scores[column.name] = 1.0
    return scores


def link_table(question: str, schema: TableSchema, max_unexplained: int) -> CellLink | None:
    """The question linked to `schema`'s cells, or None (module rules)."""
    tokens = _tokens(question)
    spans = _value_spans(question, tokens, schema)
    in_values = {j for start, end, _, _ in spans for j in range(start, end)}
    numbers, in_numbers = _number_conditions(question, tokens, schema, in_values)
    conditions: list[Condition] = []
    free = [t.text if i not in in_values | in_numbers else "" for i, t in enumerate(tokens)]
    mentioned = _mention_scores(free, schema)
    for _, _, value, columns in spans:
        column = max(columns, key=lambda c: (mentioned.get(c, 0.0), -columns.index(c)))
        conditions.append(Condition(column, "=", value, value))
    conditions += numbers
    superlative = _superlative(question, tokens, schema)
    if superlative is not None:
        conditions.append(superlative)
    if not conditions:
        return None
    if _HOW_MANY.search(question) and not spans:
        return None  # counting rows: `sql_plan`'s
    picked = {c.column for c in conditions}
    label = label_of(schema)
    targets = _targets(question, schema, free, mentioned, picked, bool(spans))
    if not targets and label is not None and label not in picked and _ASKS_NAMES.search(question):
        targets = [label]
    if not targets:
        return None
    by_name = {c.name: c for c in schema.columns}
    if INTENT_WHEN.search(question) and not any(is_date(by_name[t]) for t in targets):
        return None  # "when ..." is answered by a date
    if _HOW_LONG.search(question) and not any(
        _is_numeric(by_name[t]) or is_date(by_name[t]) or t in mentioned for t in targets
    ):
        return None  # "which are tier 2, and how long has each been live?": not a name
    if _HOW_MANY.search(question) and not all(_is_numeric(by_name[t]) for t in targets):
        return None  # "how many people are on X": a count of rows, `sql_plan`'s
    if any(self_reference(schema, by_name[c]) is not None for c in picked | set(targets)):
        return None  # a row pointing at another ("manager_id"): `sql_plan` joins them
    if _unexplained(tokens, free, schema) > max_unexplained:
        return None
    table_named = any(matched_at(h, free) for h in header_words(schema.name))
    score = (
        3.0 * len(spans)
        + 2.0 * (len(conditions) - len(spans))
        + sum(mentioned.get(t, 0.0) for t in targets)
        + 1.0 * table_named
    )
    return CellLink(schema.name, tuple(conditions), tuple(targets), label, score)


def _targets(
    question: str,
    schema: TableSchema,
    words: list[str],
    mentioned: dict[str, float],
    picked: set[str],
    names_row: bool,
) -> list[str]:
    """The columns the question asks for (module rules), in table order."""
    by_name = {c.name: c for c in schema.columns}
    asked = {c: s for c, s in mentioned.items() if c not in picked}
    whole = [c for c in by_name if asked.get(c) == 1.0]  # every header word named
    for which in _WHICH_NOUN.finditer(question):
        noun = which.group(1).lower()
        named = [
            c.name
            for c in schema.columns
            if c.name not in picked
            and any(matched_at(h, [noun]) for h in header_words(c.name) if h not in _GENERIC)
        ]
        if named:
            first = _best_named(named, by_name)
            return first + [c for c in whole if c not in named]
    if INTENT_WHO.search(question):
        people = [c.name for c in schema.columns if c.name not in picked and _is_people(c)]
        if people:
            return people[:1] + [c for c in whole if c != people[0]]
    if asked:
        best = max(asked.values())
        return _best_named([c for c in by_name if asked.get(c) == best], by_name)
    free = [c for c in schema.columns if c.name not in picked]
    if INTENT_WHEN.search(question):
        dates = [c.name for c in free if is_date(c)]
        if dates:
            return dates[:1]
    if _HOW_MUCH.search(question):
        priced = [c.name for c in _columns_like(schema, _PRICE_WORDS, True) if c.name not in picked]
        if priced:
            return priced[:1]
    if _HOW_MANY.search(question) and names_row:
        numeric = [c for c in free if _is_numeric(c)]
        counted = [c.name for c in _columns_like(schema, _QUANTITY_WORDS, True) if c in numeric]
        whole = [c.name for c in numeric if c.type.upper().startswith(("INT", "BIGINT"))]
        return (counted or whole)[:1]
    return []


def _best_named(names: list[str], by_name: dict[str, TableColumn]) -> list[str]:
    """Of columns asked for alike, the one that names (a header with "name"), else all."""
    naming = [n for n in names if _NAME_WORDS & set(header_words(by_name[n].name))]
    return naming[:1] if naming else names


def _unexplained(tokens: list[_Token], free: list[str], schema: TableSchema) -> int:
    """The question's content words that are no header's, value's, table's or question
    word."""
    headers = [h for c in schema.columns for h in header_words(c.name)]
    headers += list(header_words(schema.name))
    count = 0
    for word in free:
        if not word or word in STOP or not word.isalpha() or word in _PICKING:
            continue
        if any(matched_at(h, [word]) for h in headers):
            continue
        count += 1
    return count


def link_cells(
    question: str, schemas: Sequence[TableSchema], max_unexplained: int = 1
) -> CellLink | None:
    """The best-linked table's link, None when none links or two link equally well."""
    links = [
        link
        for schema in schemas
        if (link := link_table(question, schema, max_unexplained)) is not None
    ]
    links.sort(key=lambda link: -link.score)
    if not links or (len(links) > 1 and links[0].score == links[1].score):
        return None
    return links[0]
