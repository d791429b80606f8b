"""Which table, columns and rows a question names: its table's words, the columns it asks
for (by their words, an English hint or the lexicon's), the values it names (whole, by
initials, in part or by most of their words), integer filters and superlatives.

Rules: read from the table schemas' names, types and listed values alone; a value is named by
whole words only; a name given in part counts only when no value is named in full.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from services.knowledge.fts_query import STOPWORDS, words
from services.offline import data
from services.offline.question import counts_rows
from services.offline.text import STOP, content_stems, stem
from services.offline.tuning_question import SqlTuning
from use_cases.tables.domain import TableColumn, TableSchema

#: Column-name words too generic to mean "the question asks about this column".
_GENERIC_COLUMN_WORDS = data.words("sql_generic_column_words")

#: Table-name words too generic to mean "the question asks about this table".
GENERIC_TABLE_WORDS = data.words("sql_generic_table_words")


def column_words(name: str) -> list[str]:
    return [w for w in re.split(r"[_\W]+", name.lower()) if w and w not in STOPWORDS]


def phrase_in(phrase_words: Sequence[str], text_words: Sequence[str]) -> bool:
    """Whether the stemmed words of `phrase_words` occur contiguously in `text_words`."""
    target = [stem(w) for w in phrase_words]
    stems = [stem(w) for w in text_words]
    n = len(target)
    return n > 0 and any(stems[i : i + n] == target for i in range(len(stems) - n + 1))


def _id_shape(value: str) -> str:
    return re.sub(r"[A-Za-z]", "A", re.sub(r"\d", "9", value))


def text_columns_of(schema: TableSchema) -> list[TableColumn]:
    return [c for c in schema.columns if c.type.upper() in ("TEXT", "", "VARCHAR", "CHAR")]


def label_column(schema: TableSchema) -> str | None:
    names = {c.name.lower(): c.name for c in schema.columns}
    for preferred in ("name", "title", "full_name", "display_name", "label"):
        if preferred in names:
            return names[preferred]
    for column in text_columns_of(schema):
        if not column.name.lower().endswith("id"):
            return column.name
    return None


#: Columns that hold a person's role: "who is the CFO" names a row by one of them.
ROLE_COLUMNS = data.words("sql_role_columns")


def _shared_column_words(schema: TableSchema) -> set[str]:
    """Column-name words used by more than one column (too ambiguous to mean one column)."""
    seen: dict[str, int] = {}
    for column in schema.columns:
        for word in set(column_words(column.name)):
            seen[word] = seen.get(word, 0) + 1
    return {w for w, n in seen.items() if n > 1}


def _numeric_columns(schema: TableSchema) -> list[TableColumn]:
    return [c for c in schema.columns if c.type.upper() in ("INTEGER", "INT", "REAL", "NUMERIC")]


def numeric_filters(question: str, schema: TableSchema) -> dict[str, int]:
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


def superlative_of(question: str, schema: TableSchema) -> tuple[str, str] | None:
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
        label = label_column(schema)
        for column in schema.columns:
            if column.name == label:
                names.extend(v for v in column.values if len(v) >= 3)
    return names


def column_values(schemas: Sequence[TableSchema]) -> list[tuple[str, str]]:
    """(value, "table.column") for every listed value of every text column."""
    return [
        (value, f"{schema.name}.{column.name}")
        for schema in schemas
        for column in text_columns_of(schema)
        for value in column.values
        if len(value) >= 2
    ]


def self_reference(schema: TableSchema, column: TableColumn) -> str | None:
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


#: Ways of asking for a column without naming it: (question pattern, column-name word). These
#: are English question words; a knowledge base's own ways of asking ("written in" for its
#: "language" column) are its lexicon's `column_hints`.
COLUMN_HINTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
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


def values_in(question: str, schema: TableSchema, tuning: SqlTuning) -> dict[str, str]:
    """Column values the question names, lowercased -> their column: whole words, at least
    four characters (or an upper-case code such as "EU"), longest first, not overlapping."""
    lowered = question.lower()
    found: dict[str, str] = {}
    taken: list[tuple[int, int]] = []
    candidates = [
        (value, column.name)
        for column in text_columns_of(schema)
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
        for value, column in _named_in_part(question, schema, tuning.max_name_words):
            found.setdefault(value.lower(), column)
    if not found:
        named = _named_by_most_words(question, schema, tuning.min_name_share)
        if named is not None:
            found[named.lower()] = label_column(schema) or ""
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


def _named_by_most_words(question: str, schema: TableSchema, min_share: float) -> str | None:
    """The one label value (a KPI's or service's name of three words or more) whose words the
    question holds for the most part, at least two and `min_share` of them, with no other
    word between them: "phishing click rate" names "Phishing simulation click rate"; "gross
    revenue churn" does not name "Gross logo churn" (another word took a place in the name).
    None on a tie."""
    label = label_column(schema)
    column = next((c for c in schema.columns if c.name == label), None)
    if column is None:
        return None
    sequence = [stem(w) for w in words(question) if w not in STOP]
    scored = []
    for value in column.values:
        parts = {stem(w) for w in words(value) if w not in STOP}
        at = [i for i, w in enumerate(sequence) if w in parts]
        held = len({sequence[i] for i in at})
        if len(parts) < 3 or held < 2 or held < min_share * len(parts):
            continue
        if all(w in parts for w in sequence[at[0] : at[-1] + 1]):
            scored.append((held / len(parts), value))
    scored.sort(reverse=True)
    if not scored or (len(scored) > 1 and scored[0][0] == scored[1][0]):
        return None
    return scored[0][1]


@functools.lru_cache(maxsize=20_000)
def initials(value: str) -> str:
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


def _value_words(
    question: str, schema: TableSchema, label: str | None, max_name_words: int
) -> list[str]:
    """Question words that begin or end values of exactly one short-valued column other than
    the label ("remote" in "Remote - Ireland (Cork)"), in question order; a value of more
    than `max_name_words` words is free text, no name."""
    tokens = [t for t in dict.fromkeys(words(question)) if t not in STOP and len(t) >= 4]
    found = []
    for token in tokens:
        columns = {
            column.name
            for column in text_columns_of(schema)
            if column.name != label
            and column.values
            and all(len(v.split()) <= max_name_words for v in column.values)
            and any(
                (parts := words(v)) and (parts[0] == token or parts[-1] == token)
                for v in column.values
            )
        }
        if len(columns) == 1:
            found.append(token)
    return found


def _named_in_part(
    question: str, schema: TableSchema, max_name_words: int
) -> list[tuple[str, str]]:
    """Values of short-valued columns (names, titles, teams) that the question names by their
    initials ("ARR" for "Annual recurring revenue", "CEO") or by a capitalised word only one or
    two values hold ("eNPS" in "Employee eNPS", a first name; not "response"). Outside the
    label column (teams, titles) such a word counts only if the question capitalises it too:
    "webhook success" does not name the team "Customer Success"."""
    tokens = [t for t in dict.fromkeys(words(question)) if t not in STOP and not t.isdigit()]
    capitalised = _capitalised_words(question)
    found: list[tuple[str, str]] = []
    label = label_column(schema)
    for column in text_columns_of(schema):
        values = list(column.values)
        if column.name != label and any(len(v.split()) > max_name_words for v in values):
            continue  # free text (descriptions): a shared word is no name
        for token in tokens:
            if len(token) >= 2:
                found.extend((v, column.name) for v in values if initials(v) == token)
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


def row_entities_of(
    question: str,
    schema: TableSchema,
    entities: list[str],
    values: list[str],
    covered: set[str],
    label: str | None,
    max_name_words: int,
) -> list[str]:
    """The names that pick rows: the values named, and the question's other entities."""
    # A name the question gave by initials or in part is replaced by the value it names.
    aliases = {a for v in values for a in (initials(v), *words(v))}
    named = values + [e for e in entities if e in values or e not in aliases]
    row_entities = [
        e
        for e in dict.fromkeys(named)
        if any(stem(w) not in covered and w not in STOP for w in words(e))
    ]
    if not values and counts_rows(question):
        # "how many work fully remote": a word that starts or ends values of one column
        # ("Remote - Germany (Berlin)") filters the count like a value.
        row_entities += [
            w
            for w in _value_words(question, schema, label, max_name_words)
            if stem(w) not in covered
        ]
    return row_entities


def asked_columns(
    question: str,
    schema: TableSchema,
    table_words: list[str],
    q_words: list[str],
    q_stems: set[str],
    column_hints: Sequence[tuple[re.Pattern[str], str]] = (),
) -> list[TableColumn]:
    """The columns the question asks for: by their words, a hint (English, or the knowledge
    base's own `column_hints`), or a distinctive word."""
    asked: list[TableColumn] = []
    hints = (*COLUMN_HINTS, *column_hints)
    hinted = {target for pattern, target in hints if pattern.search(question)}
    shared = _shared_column_words(schema)
    for column in schema.columns:
        name_words = [w for w in column_words(column.name) if w not in _GENERIC_COLUMN_WORDS]
        if column.name.lower().endswith("_id") and self_reference(schema, column) is None:
            # "employee" alone is no ask for employee_id
            name_words = column_words(column.name)
        distinctive = [
            w
            for w in name_words
            if len(w) >= 5
            and w not in shared
            and w not in table_words
            and not column.name.lower().endswith("_id")
        ]
        if name_words and (
            phrase_in(name_words, q_words)
            or all(stem(w) in q_stems for w in name_words)
            or any(w in hinted for w in name_words)
            # "datastore" for primary_datastore (the word itself: "starter" is no "start")
            or any(w in q_words or f"{w}s" in q_words for w in distinctive)
        ):
            asked.append(column)
    return asked


def other_words(
    question: str, schema: TableSchema, covered: set[str], named: Sequence[str]
) -> tuple[str, ...]:
    """The question's content stems beyond the table (`covered`), its column names and the
    values or names it gives (`named`): what the question is about besides the row."""
    skip = covered | {stem(w) for v in named for w in words(v)}
    skip |= {stem(w) for c in schema.columns for w in column_words(c.name)}
    return tuple(t for t in content_stems(question) if t not in skip and t.isalpha())
