"""The embedded default model: an offline, extractive "LLM" that needs no provider key.

Why a real PydanticAI model (a `FunctionModel`) instead of a shortcut around the agent: the
offline answer then goes through exactly the same agent loop, tools, limits, streaming and
history as a hosted LLM, so everything downstream (citations, tool-call records, SSE
streaming) behaves identically whichever model answered.

How a turn runs:

1. First request of a turn (no tool results since the latest user prompt): call
   `search_knowledge_base` with the question (date anchor stripped; a short follow-up with a
   pronoun gets the previous question's key terms prepended). When the question clearly targets
   a loaded table (its name, a column it asks about, a sample value, plus something to filter
   on), also call `lookup_structured_data` with one safe, relevance-ranked SELECT.
2. Next request (tool results present): compose the answer from the tools' `metadata`:
   - SQL: when the best row really matches what was asked (its label holds the named entity,
     or every filter term), a one-line answer such as "The manager of X is Y [table: t]".
   - Documents: split the retrieved sections into sentences (table rows become
     "label — header: value; ..." sentences), score each by IDF-weighted overlap of the
     question's content words (light stemming, stopwords dropped; heading and table-header
     words count half), plus small bonuses for rank and for holding the kind of fact asked
     for (numbers for "how long/often/many", names for "who", days/dates for "when"). Older
     versions of the same document (same title, earlier date; or "superseded" with a newer,
     similar title) are dropped first. Up to three sentences, each followed by [n], then
     a **Sources** list.
   - Weak evidence (no hits, or the best sentence covers too little of the question) gives
     exactly `NOT_FOUND_ANSWER` plus one clarifying question.
3. At most two extra searches per turn, like an LLM told to "search again": one-word probes
   for question words that no retrieved passage holds while the evidence is middling (a word
   the knowledge base never mentions, e.g. "parental", raises the coverage needed; one it
   does mention elsewhere is a paraphrase and weighs little), then, if nothing was found, a
   narrower query without the words most passages share (a company name). A tool call that
   came back as a retry ends the turn with an answer from what there is.
4. Streaming yields the same decisions: tool calls as `DeltaToolCalls`, text in word chunks.

The model needs no state: every decision is recomputed from the messages (tool-call ids say
why a search was made), so blocking and streaming runs give the same answer.

Every final answer carries a retrieval-evidence confidence in
`ModelResponse.provider_details["confidence"]`; `confidence_of(messages)` reads it back.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import ModelRequestParameters, StreamedResponse
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel
from pydantic_ai.settings import ModelSettings

from services.fts_query import STOPWORDS
from use_cases.agent import NOT_FOUND_ANSWER, SEARCH_TOOL, SQL_TOOL, strip_date_anchor
from use_cases.chat_domain import TableColumn, TableSchema

__all__ = [
    "CLARIFYING_QUESTION",
    "CONFIDENCE_KEY",
    "MODEL_NAME",
    "OfflineExtractiveModel",
    "build_offline_model",
    "confidence_of",
    "narrowed_query",
    "search_query_for",
]

MODEL_NAME = "offline-extractive"
CONFIDENCE_KEY = "confidence"
CLARIFYING_QUESTION = "Could you tell me which policy, team or system you mean?"

TableSchemas = Callable[[], list[TableSchema]]

# --- thresholds (calibrated on the bundled sample; see tests/integration) ---------------------

#: The best sentence must cover at least this IDF-weighted share of the question's words.
MIN_COVERAGE = 0.5
#: ... and more when neither retrieval leg ranked its section highly (weaker evidence).
MIN_COVERAGE_WEAK_RETRIEVAL = 0.6
#: Below this coverage, question words missing from every passage are checked against the
#: whole knowledge base with a one-word probe search (at most `MAX_PROBES`).
SURE_COVERAGE = 0.7
MAX_PROBES = 2
#: Coverage needed on top, per question word that the knowledge base never mentions.
UNKNOWN_TERM_PENALTY = 0.1
#: Score bonus for a sentence holding the kind of fact asked for.
INTENT_BONUS = 0.12
#: Coverage added per question phrase (two adjacent content words) kept together; at most 2.
PHRASE_BONUS = 0.06
#: Cosine distance above which the vector leg counts as "did not really match".
WEAK_VECTOR_DISTANCE = 0.75
#: Extra sentences must score at least this share of the best sentence.
EXTRA_SENTENCE_RATIO = 0.8
#: ... and cover at least this share of what the best sentence needed.
EXTRA_SENTENCE_COVERAGE = 0.75
MAX_SENTENCES = 3
#: A can't-find answer never reports more confidence than this.
NOT_FOUND_CONFIDENCE_CAP = 0.3
#: SQL: rows returned by the generated lookup, and how many filter terms it uses.
SQL_ROW_LIMIT = 5
MAX_SQL_TERMS = 5
MAX_SQL_TEXT_COLUMNS = 6
#: Keep generated SQL well under the sandbox's default 4,000-character limit.
MAX_SQL_CHARS = 3000
#: The generated SELECT's ranking column (underscored so it will not clash with a real one).
RELEVANCE = "_relevance"
#: Rows shown when the answer is a table.
MAX_TABLE_ROWS = 10

# --- words ------------------------------------------------------------------------------------


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Words that say what kind of answer is wanted rather than what it is about.
_QUESTION_WORDS = _wordset(
    """
    often long many much quickly soon fast frequently frequent tell please exactly current
    currently according say says get gets got need needs anyone someone something thing things
    know kind sort do does
    """
)
_STOP = STOPWORDS | _QUESTION_WORDS
_PRONOUNS = _wordset(
    "it its it's that this they them their those these he she him her his there one"
)
_FOLLOW_UP_OPENERS = ("and ", "what about", "how about", "also ", "same for", "and what")
#: Column-name words too generic to mean "the question asks about this column".
_GENERIC_COLUMN_WORDS = frozenset({"id", "name", "description", "desc", "notes", "note", "key"})
_GENERIC_TABLE_WORDS = frozenset({"table", "data", "list", "info", "catalog", "catalogue"})
#: Words that ask for rows rather than describe them ("list all the KPIs").
_REQUEST_WORDS = _wordset(
    "list show give display find all every table tables row rows entry entries record records"
)

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_IDENTIFIER = re.compile(r"\b[^\W_]+(?:[-_][^\W_]+)+\b", re.UNICODE)
#: A number in its own right (not the digit of a code such as "P1" or "SEV2").
_NUMBER = re.compile(r"(?<![A-Za-z])\d")
_NUMBER_IN = re.compile(r"\d")
_PERSON = re.compile(r"\b[A-Z][a-zà-ÿ'’-]+\s+[A-Z][a-zà-ÿ'’-]+\b")
_DATEISH = re.compile(
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|"
    r"april|may|june|july|august|september|october|november|december|daily|weekly|monthly|"
    r"quarterly|annually|yearly|\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2})\b",
    re.IGNORECASE,
)
_INTENT_NUMBER = re.compile(
    r"\b(?:how\s+(?:many|much|often|long|quickly|soon|fast|frequently|old|large|big|far|high|"
    r"low)|minimum|maximum|max|min|limit|lifetime|percentage|rate|threshold|target|cap|"
    r"within|after\s+how|number\s+of|size|length|lag|timeout|ttl|time|duration|period|"
    r"deadline|days|hours|minutes|weeks|months|years)\b",
    re.IGNORECASE,
)
_INTENT_FREQUENCY = re.compile(r"\bhow\s+(?:often|frequently)\b|\bfrequency\b", re.IGNORECASE)
_FREQUENCY = re.compile(
    r"\b(?:every|each|per|periodic|periodically|daily|weekly|monthly|quarterly|annually|"
    r"yearly|once|twice|rotation|expiry|only)\b",
    re.IGNORECASE,
)
_INTENT_WHO = re.compile(r"\b(?:who|whom|whose)\b", re.IGNORECASE)
_INTENT_WHEN = re.compile(
    r"\b(?:when|which\s+days?|what\s+(?:day|days|date|dates|time))\b", re.IGNORECASE
)
_INTENT_COUNT = re.compile(r"\b(?:how\s+many|number\s+of|count\s+of)\b", re.IGNORECASE)


def _stem(word: str) -> str:
    """A deliberately light stemmer: plural/tense/agent suffixes, then a final `e`.

    Both sides (question and passage) go through it, so consistency matters more than
    linguistic accuracy ("manager"/"managed" -> "manag", "owner"/"owns" -> "own").
    """
    w = word.lower()
    if len(w) <= 3 or not w.isalpha():
        return w
    if w.endswith(("ies", "ied")) and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith(("sses", "shes", "ches", "xes", "zes")):
        w = w[:-2]
    elif (w.endswith("ing") and len(w) >= 6) or (w.endswith("ers") and len(w) >= 6):
        w = w[:-3]
    elif (
        (w.endswith("er") and len(w) >= 5)
        or (w.endswith("ed") and len(w) >= 5)
        or (w.endswith("ly") and len(w) >= 5)
    ):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us")):
        w = w[:-1]
    if w.endswith("e") and len(w) > 4:
        w = w[:-1]
    return w


def _words(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _content_stems(text: str) -> list[str]:
    """Stems of the words that carry meaning, in order, without repeats."""
    seen: dict[str, None] = {}
    for word in _words(text):
        if word in _STOP or (len(word) < 2 and not word.isdigit()):
            continue
        seen.setdefault(_stem(word), None)
    return list(seen)


def _stem_set(text: str) -> set[str]:
    return {_stem(w) for w in _words(text) if w not in STOPWORDS}


# --- reading the conversation -----------------------------------------------------------------


@dataclass
class _TurnView:
    """What the model needs from the message list: the question and this turn's tool traffic."""

    question: str
    previous_questions: list[str]
    calls: list[ToolCallPart] = field(default_factory=list)
    returns: list[ToolReturnPart] = field(default_factory=list)
    retries: int = 0


def _prompt_text(part: UserPromptPart) -> str:
    if isinstance(part.content, str):
        return part.content
    return " ".join(item for item in part.content if isinstance(item, str))


def _read_turn(messages: Sequence[ModelMessage]) -> _TurnView:
    latest = -1
    for index, message in enumerate(messages):
        if isinstance(message, ModelRequest) and any(
            isinstance(p, UserPromptPart) for p in message.parts
        ):
            latest = index
    previous: list[str] = []
    for message in messages[: max(latest, 0)]:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart):
                    previous.append(strip_date_anchor(_prompt_text(part)).strip())
    question = ""
    if latest >= 0:
        request = messages[latest]
        assert isinstance(request, ModelRequest)
        texts = [_prompt_text(p) for p in request.parts if isinstance(p, UserPromptPart)]
        question = strip_date_anchor("\n".join(texts)).strip()
    view = _TurnView(question=question, previous_questions=[q for q in previous if q])
    for message in messages[latest + 1 :]:
        if isinstance(message, ModelResponse):
            view.calls.extend(p for p in message.parts if isinstance(p, ToolCallPart))
        elif isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, ToolReturnPart):
                    if part.outcome == "success":
                        view.returns.append(part)
                    else:
                        view.retries += 1
                elif isinstance(part, RetryPromptPart):
                    view.retries += 1
    return view


def _is_follow_up(question: str) -> bool:
    lowered = question.lower().strip()
    if lowered.startswith(_FOLLOW_UP_OPENERS):
        return True
    words = _words(lowered)
    return len(words) <= 12 and any(w in _PRONOUNS for w in words)


def search_query_for(question: str, previous_questions: Sequence[str]) -> str:
    """The standalone search query: a short pronoun follow-up borrows the last question's terms."""
    question = " ".join(question.split())
    if not previous_questions or not _is_follow_up(question):
        return question
    own = set(_content_stems(question))
    borrowed: list[str] = []
    for word in _words(previous_questions[-1]):
        if word in _STOP or _stem(word) in own or word in borrowed:
            continue
        borrowed.append(word)
    return f"{' '.join(borrowed[:8])} {question}".strip() if borrowed else question


# --- tables: deciding whether and how to query -----------------------------------------------


@dataclass(frozen=True)
class _SqlPlan:
    table: str
    sql: str
    label_column: str | None
    asked_columns: tuple[str, ...]  # result column names the question asks about
    entities: tuple[str, ...]  # lowercase phrases that must identify the row
    terms: tuple[str, ...]  # every filter term (entities first)
    count: bool = False
    explicit: bool = False  # the table was named outright


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return _sql_literal(f"%{escaped}%")


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _column_words(name: str) -> list[str]:
    return [w for w in re.split(r"[_\W]+", name.lower()) if w and w not in STOPWORDS]


def _phrase_in(phrase_words: Sequence[str], text_words: Sequence[str]) -> bool:
    """Whether the stemmed words of `phrase_words` occur contiguously in `text_words`."""
    target = [_stem(w) for w in phrase_words]
    stems = [_stem(w) for w in text_words]
    n = len(target)
    return n > 0 and any(stems[i : i + n] == target for i in range(len(stems) - n + 1))


def _entities(question: str) -> list[str]:
    """Names and identifiers in the question: capitalised runs and hyphen/underscore words."""
    found: list[str] = []
    tokens = re.findall(r"[\w'’.&-]+", question)
    run: list[str] = []
    run_start = [0]

    def close() -> None:
        while run and run[0].lower() in _STOP:
            run.pop(0)
        # A lone capitalised first word is just the start of the sentence ("List ...", "Show
        # ..."), unless it looks like an acronym or code ("SEV1 ...", "KPI ...").
        lone_first = len(run) == 1 and run_start[0] == 0
        if run and not (lone_first and not (run[0].isupper() or _NUMBER_IN.search(run[0]))):
            found.append(" ".join(run))
        run.clear()

    for index, raw in enumerate(tokens):
        token = re.sub(r"(?:'s|’s)$", "", raw.strip(".'’-"))
        capitalised = bool(token) and (token[0].isupper() or (token[0].isdigit() and run))
        if capitalised and not (index == 0 and token.lower() in _STOP):
            if not run:
                run_start[0] = index
            run.append(token)
            if raw.endswith(("'s", "’s")):
                close()
        else:
            close()
    close()
    found.extend(m.group(0) for m in _IDENTIFIER.finditer(question))
    unique: dict[str, None] = {}
    for entity in found:
        unique.setdefault(entity.lower(), None)
    return list(unique)


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


def _plan_sql(question: str, schemas: Sequence[TableSchema]) -> _SqlPlan | None:
    """One safe SELECT for a question that clearly targets a table, or None."""
    lowered = question.lower()
    q_words = _words(question)
    q_stems = {_stem(w) for w in q_words}
    entities = _entities(question)
    best: tuple[float, _SqlPlan] | None = None
    for schema in schemas:
        table_words = [w for w in _column_words(schema.name) if w not in _GENERIC_TABLE_WORDS]
        explicit = schema.name.lower() in lowered or (
            len(table_words) > 1 and _phrase_in(table_words, q_words)
        )
        table_word = any(_stem(w) in q_stems for w in table_words)
        asked: list[TableColumn] = []
        for column in schema.columns:
            words = [w for w in _column_words(column.name) if w not in _GENERIC_COLUMN_WORDS]
            if column.name.lower().endswith("_id") and _self_reference(schema, column) is None:
                words = _column_words(column.name)  # "employee" alone is no ask for employee_id
            if words and _phrase_in(words, q_words):
                asked.append(column)
        values = [
            s.lower()
            for c in _text_columns(schema)
            for s in c.samples
            if len(s) >= 4 and re.search(rf"(?<!\w){re.escape(s.lower())}(?!\w)", lowered)
        ]
        # Stems of the words that pick the table and columns: not row filters.
        covered = {_stem(w) for w in _column_words(schema.name)} | {
            _stem(w) for c in asked for w in _column_words(c.name)
        }
        row_entities = [
            e
            for e in dict.fromkeys(values + entities)
            if any(_stem(w) not in covered and w not in _STOP for w in _words(e))
        ]
        targeted = (
            explicit
            or (asked and (table_word or values or row_entities))
            or (values and table_word)
        )
        if not targeted:
            continue
        score = 3 * explicit + 2 * len(values) + len(asked) + table_word + 0.5 * len(row_entities)
        if best is None or score > best[0]:
            best = (score, _build_sql(schema, question, asked, row_entities, covered, explicit))
    return best[1] if best else None


def _build_sql(
    schema: TableSchema,
    question: str,
    asked: list[TableColumn],
    entities: list[str],
    covered: set[str],
    explicit: bool,
) -> _SqlPlan:
    """The SELECT: rows ranked by weighted LIKE matches of the filter terms (entities weigh
    3, the label column doubles), a self-join when the question asks for a referenced row
    (a manager), or a COUNT for "how many". Literals are quoted with '' and LIKE-escaped."""
    label = _label_column(schema)
    entity_words = {w for e in entities for w in _words(e)}
    extra = [
        w
        for w in dict.fromkeys(_words(question))
        if w not in _STOP
        and w not in _REQUEST_WORDS
        and _stem(w) not in covered
        and w not in entity_words
        and len(w) > 2
    ]
    if entities:
        extra = []  # a named row is the filter; other words would only add noise
    terms = (entities + extra)[:MAX_SQL_TERMS]
    weights = {t: (3 if t in entities else 1) for t in terms}
    text_columns = [c.name for c in _text_columns(schema)]
    if label and label in text_columns:
        text_columns.remove(label)
        text_columns.insert(0, label)
    text_columns = text_columns[:MAX_SQL_TEXT_COLUMNS]
    # Long identifiers could push the SQL past the sandbox's length limit: fewer columns then.
    while len(text_columns) > 1 and len(terms) * len(text_columns) * 80 > MAX_SQL_CHARS:
        text_columns.pop()
    table = _quote_identifier(schema.name)

    join = None
    for column in asked:
        key = _self_reference(schema, column)
        if key is not None and label is not None:
            join = (column.name, key)
            break
    prefix = "e." if join else ""
    parts = []
    for term in terms:
        for column in text_columns:
            weight = weights[term] * (2 if column == label else 1)
            # ifnull: one NULL cell must not turn the whole relevance sum into NULL.
            cell = f"ifnull({prefix}{_quote_identifier(column)}, '')"
            match = f"({cell} LIKE {_like_pattern(term)} ESCAPE '\\')"
            parts.append(f"{match} * {weight}" if weight > 1 else match)
    relevance = " + ".join(parts) if parts else "1"
    # "How many ...": count the rows naming the entities (or all rows of a named table).
    count = bool(_INTENT_COUNT.search(question)) and bool(entities or explicit)
    asked_names = [c.name for c in asked]
    if count:
        where = (
            " AND ".join(
                "("
                + " OR ".join(
                    f"{_quote_identifier(c)} LIKE {_like_pattern(t)} ESCAPE '\\'"
                    for c in text_columns
                )
                + ")"
                for t in entities
            )
            if entities
            else "1"
        )
        sql = f"SELECT COUNT(*) AS count FROM {table} WHERE {where}"
    elif join is not None:
        fk, key = join
        alias = "_".join(w for w in _column_words(fk) if w != "id") or "related"
        assert label is not None
        asked_names = [alias if n == fk else n for n in asked_names]
        sql = (
            f"SELECT e.*, m.{_quote_identifier(label)} AS {_quote_identifier(alias)}, "
            f"{relevance} AS {RELEVANCE} FROM {table} AS e LEFT JOIN {table} AS m "
            f"ON m.{_quote_identifier(key)} = e.{_quote_identifier(fk)}"
            + (f" WHERE {RELEVANCE} > 0" if terms else "")
            + f" ORDER BY {RELEVANCE} DESC LIMIT {SQL_ROW_LIMIT}"
        )
    elif terms:
        sql = (
            f"SELECT *, {relevance} AS {RELEVANCE} FROM {table} WHERE {RELEVANCE} > 0 "
            f"ORDER BY {RELEVANCE} DESC LIMIT {SQL_ROW_LIMIT}"
        )
    else:
        sql = f"SELECT * FROM {table} LIMIT {SQL_ROW_LIMIT * 4}"
    return _SqlPlan(
        table=schema.name,
        sql=sql,
        label_column=label,
        asked_columns=tuple(asked_names),
        entities=tuple(entities),
        terms=tuple(terms),
        count=count,
        explicit=explicit,
    )


# --- documents: sentences and scoring ----------------------------------------------------------


@dataclass
class _Unit:
    """One candidate answer sentence (or table row rendered as a sentence)."""

    text: str
    stems: set[str]
    context: set[str]
    sequence: list[str]  # the sentence's stems in order (for phrase matching)
    hit_index: int  # index into the kept hits
    rank: int  # 0-based rank of the hit within its own search
    position: int
    group: int | None = None  # items of one long list share a group (one per answer)


#: A list is joined to its lead-in sentence only when the result stays this short.
MAX_MERGED_WORDS = 60
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "approx.", "incl.", "no.", "cf.", "min.")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"“*`\[])")
_LIST_ITEM = re.compile(r"^(?:[-*+]|\d{1,2}[.)])\s+")
_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")


def _clean(text: str) -> str:
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = text.replace("**", "").replace("__", "")
    text = re.sub(r"(?<![\w*])\*(?!\s)([^*]+?)\*(?![\w*])", r"\1", text)
    text = re.sub(r"^>\s*", "", text.strip())
    return " ".join(text.split())


def _split_sentences(block: str) -> list[str]:
    pieces = _SENTENCE_END.split(block)
    merged: list[str] = []
    for piece in pieces:
        if merged and merged[-1].lower().endswith(_ABBREVIATIONS):
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece)
    return [p.strip() for p in merged if p.strip()]


def _table_rows(lines: list[str]) -> tuple[list[str], set[str]]:
    """Rows of a markdown table as sentences, plus the header words (context)."""
    rows = [
        [_clean(cell) for cell in line.strip().strip("|").split("|")]
        for line in lines
        if not _TABLE_SEPARATOR.match(line.strip())
    ]
    if not rows:
        return [], set()
    header, body = rows[0], rows[1:]
    header_stems = _stem_set(" ".join(header))
    sentences = []
    for cells in body:
        if not any(cells):
            continue
        label = cells[0]
        pairs = [
            f"{h}: {v}" if h else v
            for h, v in zip(header[1:], cells[1:], strict=False)
            if v and v not in ("-", "–", "—")
        ]
        if label and pairs:
            sentences.append(f"{label} — {'; '.join(pairs)}")
        elif label or pairs:
            sentences.append(label or "; ".join(pairs))
    return sentences, header_stems


def _logical_lines(lines: list[str], start: int) -> tuple[str, int]:
    """The line at `start` with its soft-wrapped continuation lines; returns (text, next index)."""
    line = lines[start].strip()
    i = start + 1
    while (
        i < len(lines)
        and lines[i].strip()
        and lines[i].strip()[0].islower()
        and not line.endswith((".", ":", ";", "!", "?"))
    ):
        line = f"{line} {lines[i].strip()}"
        i += 1
    return line, i


def _units_of(text: str, heading_context: set[str], hit_index: int, rank: int) -> list[_Unit]:
    """The sentences of a section: paragraphs, list items and table rows; code is skipped.

    A lead-in line ending with ":" is joined to its list ("You must change your password
    when: a; b; c."), since it says what the items are; a long list gives one "lead-in item"
    unit per item instead, and at most one of those makes it into an answer.
    """
    blocks: list[tuple[str, set[str], int | None]] = []  # (sentence, context, list group)
    lines = text.splitlines()
    i = 0
    in_fence = False
    local_context = set(heading_context)
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped.startswith(("```", "~~~")):
            in_fence = not in_fence
            i += 1
            continue
        if in_fence or not stripped:
            i += 1
            continue
        if stripped.startswith("|"):
            table = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                table.append(lines[i].strip())
                i += 1
            sentences, header = _table_rows(table)
            blocks.extend((sentence, local_context | header, None) for sentence in sentences)
            continue
        if stripped.startswith("#"):
            local_context = set(heading_context) | _stem_set(stripped.lstrip("#"))
            i += 1
            continue
        line, i = _logical_lines(lines, i)
        line = _clean(_LIST_ITEM.sub("", line))
        sentences = _split_sentences(line)
        if line.endswith(":"):
            items: list[str] = []
            j = i
            while j < len(lines) and (not lines[j].strip() or _LIST_ITEM.match(lines[j].strip())):
                if lines[j].strip():
                    item, j = _logical_lines(lines, j)
                    item = _clean(_LIST_ITEM.sub("", item)).rstrip(".;, ")
                    items.append(re.sub(r",?\s+(?:or|and)$", "", item))
                else:
                    j += 1
                    if items:
                        break
            if items and sentences:
                # The lead-in's last sentence is incomplete without its items: a short list
                # is joined to it whole, a long one item by item.
                lead = sentences.pop()
                merged = f"{lead} {'; '.join(items)}."
                blocks.extend((sentence, local_context, None) for sentence in sentences)
                if len(_words(merged)) <= MAX_MERGED_WORDS:
                    blocks.append((merged, local_context, None))
                else:
                    blocks.extend((f"{lead} {item}.", local_context, i) for item in items)
                i = j
                continue
        # A lead-in to something that is not a list (a table, code) says nothing alone.
        blocks.extend((s, local_context, None) for s in sentences if not s.endswith(":"))
    units = []
    for position, (sentence, context, group) in enumerate(blocks):
        if len(_words(sentence)) < 2:
            continue
        sequence = [_stem(w) for w in _words(sentence) if w not in _STOP]
        group_id = None if group is None else hit_index * 100_000 + group
        units.append(
            _Unit(sentence, set(sequence), context, sequence, hit_index, rank, position, group_id)
        )
    return units


def _match(term: str, stems: set[str]) -> float:
    if term in stems:
        return 1.0
    if len(term) >= 5 and any(
        len(s) >= 5 and (s.startswith(term[:5]) and term.startswith(s[:5])) for s in stems
    ):
        return 0.7
    return 0.0


@dataclass
class _Scored:
    unit: _Unit
    coverage: float
    total: float
    typed: bool  # holds the kind of fact asked for (a number, a frequency, a name, a date)


def _near(a: str, b: str, sequence: Sequence[str], window: int = 2) -> bool:
    positions_a = [i for i, s in enumerate(sequence) if s == a]
    positions_b = [i for i, s in enumerate(sequence) if s == b]
    return any(abs(i - j) <= window for i in positions_a for j in positions_b)


def _score_units(
    question: str,
    terms: Sequence[str],
    units: list[_Unit],
    hit_texts: Sequence[set[str]] = (),
    paraphrased: frozenset[str] = frozenset(),
) -> list[_Scored]:
    """Rank candidate sentences; `coverage` (0..1) is the evidence, `total` adds tie-breakers.

    Coverage is the IDF-weighted share of question terms the sentence holds (half credit for
    its heading/table-header context), with a small bonus for question phrases kept together
    ("accounting records"). Terms found in most retrieved sections (a company name) weigh half:
    they do not tell passages apart. `paraphrased` terms (in the knowledge base, but in none of
    these passages: the passages say it in other words) weigh as little as the least term.
    """
    if not units or not terms:
        return []
    n = len(units)
    weights = {}
    for term in terms:
        df = sum(1 for u in units if _match(term, u.stems) or _match(term, u.context))
        weights[term] = math.log(1 + n / (1 + df))
        if len(hit_texts) >= 3 and sum(term in t for t in hit_texts) / len(hit_texts) >= 0.6:
            weights[term] *= 0.5
    floor = min(weights.values())
    for term in paraphrased & set(terms):
        weights[term] = floor
    total_weight = sum(weights.values()) or 1.0
    pairs = list(itertools.pairwise(terms))
    want_number = bool(_INTENT_NUMBER.search(question))
    want_frequency = bool(_INTENT_FREQUENCY.search(question))
    want_person = bool(_INTENT_WHO.search(question))
    want_date = bool(_INTENT_WHEN.search(question))
    scored = []
    for unit in units:
        got = 0.0
        for term in terms:
            m = _match(term, unit.stems)
            if m == 0.0 and _match(term, unit.context) > 0:
                m = 0.5
            got += weights[term] * m
        phrases = sum(1 for a, b in pairs if _near(a, b, unit.sequence))
        coverage = min(1.0, got / total_weight + PHRASE_BONUS * min(phrases, 2))
        bonus = 0.1 / (1 + unit.rank)
        typed = not (want_frequency or want_number or want_person or want_date)
        if want_frequency:
            typed |= bool(_FREQUENCY.search(unit.text))
        elif want_number:
            typed |= bool(_NUMBER.search(unit.text))
        if want_person:
            typed |= bool(_PERSON.search(unit.text))
        if want_date:
            typed |= bool(_DATEISH.search(unit.text) or _NUMBER.search(unit.text))
        if typed and (want_frequency or want_number or want_person or want_date):
            bonus += INTENT_BONUS
        length = len(unit.stems)
        if length < 3:
            bonus -= 0.1
        elif length > 60:
            bonus -= 0.05
        scored.append(_Scored(unit, coverage, coverage + bonus, typed))
    scored.sort(key=lambda s: (-s.total, s.unit.rank, s.unit.hit_index, s.unit.position))
    return scored


# --- documents: versions ---------------------------------------------------------------------

_VERSION_WORDS = frozenset(
    {"version", "draft", "rev", "revision", "updated", "old", "new", "current", "superseded"}
)
_SUPERSEDED = re.compile(r"\bsuperseded\b", re.IGNORECASE)


def _title_key(title: str) -> frozenset[str]:
    return frozenset(
        _stem(w)
        for w in _words(title)
        if not w.isdigit() and not re.fullmatch(r"v\d+", w) and w not in _VERSION_WORDS
    )


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def _resolve_versions(hits: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Drop hits from older versions of a document among the hits.

    Returns the kept hits and {dropped source: the newer source that replaces it}.
    """
    docs: dict[str, dict[str, Any]] = {}
    for hit in hits:
        doc = docs.setdefault(
            hit.get("source") or hit.get("title", ""),
            {
                "key": _title_key(hit.get("title", "")),
                "date": hit.get("updated_at") or "",
                "superseded": False,
            },
        )
        if _SUPERSEDED.search(hit.get("text") or ""):
            doc["superseded"] = True
    replaced: dict[str, str] = {}
    for old, a in docs.items():
        for new, b in docs.items():
            if old == new or not b["date"] or a["date"] >= b["date"]:
                continue
            similarity = _jaccard(a["key"], b["key"])
            same_document = similarity >= 0.8 or (similarity >= 0.5 and a["superseded"])
            if same_document and (old not in replaced or docs[replaced[old]]["date"] < b["date"]):
                replaced[old] = new
    kept = [h for h in hits if (h.get("source") or h.get("title", "")) not in replaced]
    return kept, replaced


# --- composing ---------------------------------------------------------------------------------


@dataclass
class _Answer:
    text: str
    confidence: float
    found: bool = True
    coverage: float = 1.0  # of the best sentence (documents only)
    absent: tuple[str, ...] = ()  # question terms in none of the retrieved passages


def _not_found(confidence: float) -> _Answer:
    return _Answer(
        f"{NOT_FOUND_ANSWER} {CLARIFYING_QUESTION}",
        min(confidence, NOT_FOUND_CONFIDENCE_CAP),
        found=False,
        coverage=0.0,
    )


def _with_citation(sentence: str, marker: str) -> str:
    sentence = sentence.rstrip()
    if sentence.endswith((".", "!", "?")):
        return f"{sentence[:-1]} {marker}{sentence[-1]}"
    return f"{sentence} {marker}."


def _section_label(hit: dict[str, Any]) -> str:
    title = str(hit.get("title") or "Untitled")
    parts = [p.strip() for p in str(hit.get("section") or "").split(" > ") if p.strip()]
    if parts and parts[0].casefold() == title.casefold():
        parts = parts[1:]
    return ", ".join([title, " > ".join(parts)] if parts else [title])


def _source_line(hit: dict[str, Any]) -> str:
    date = hit.get("updated_at") or "undated"
    return f"[{hit['number']}] {_section_label(hit)} ({date})"


def _leg_strength(hit: dict[str, Any]) -> tuple[float, float, float]:
    """(lexical, semantic, agreement) evidence of one hit, each 0..1."""
    rank = hit.get("bm25_rank")
    distance = hit.get("vector_distance")
    lexical = 1 / math.sqrt(rank) if isinstance(rank, int) and rank > 0 else 0.0
    semantic = max(0.0, min(1.0, 1.0 - float(distance))) if distance is not None else 0.0
    legs = (rank is not None) + (distance is not None)
    agreement = 1.0 if legs == 2 else 0.5 if legs == 1 else 0.0
    return lexical, semantic, agreement


def _confidence(coverage: float, hit: dict[str, Any]) -> float:
    lexical, semantic, agreement = _leg_strength(hit)
    value = 0.5 * coverage + 0.2 * lexical + 0.15 * semantic + 0.15 * agreement
    return round(max(0.0, min(1.0, value)), 3)


def _choose(scored: list[_Scored], best: _Scored, min_coverage: float) -> list[_Scored]:
    """The best sentence, then (if it lacks the kind of fact asked for) the best one that has
    it, then close runners-up; never two from one list, never near-duplicates."""

    def fits(candidate: _Scored, chosen: list[_Scored]) -> bool:
        return candidate.coverage >= min_coverage and not any(
            (candidate.unit.group is not None and candidate.unit.group == c.unit.group)
            or _jaccard(frozenset(candidate.unit.stems), frozenset(c.unit.stems)) > 0.6
            for c in chosen
        )

    chosen = [best]
    if not best.typed:
        typed = next((c for c in scored[1:] if c.typed and fits(c, chosen)), None)
        if typed is not None:
            chosen.append(typed)
    for candidate in scored[1:]:
        if len(chosen) >= MAX_SENTENCES or candidate.total < EXTRA_SENTENCE_RATIO * best.total:
            break
        if candidate not in chosen and fits(candidate, chosen):
            chosen.append(candidate)
    return chosen


def _compose_documents(
    question: str,
    hits: list[dict[str, Any]],
    unknown: frozenset[str] = frozenset(),
    known: frozenset[str] = frozenset(),
) -> _Answer:
    """The cited extractive answer, or the can't-find answer when the evidence is weak.

    `unknown`: question terms a probe search found nowhere in the knowledge base; each one
    raises the coverage needed (the question is about something the documents never mention).
    """
    if not hits:
        return _not_found(0.0)
    kept, replaced = _resolve_versions(hits)
    terms = _content_stems(question)
    units: list[_Unit] = []
    for index, hit in enumerate(kept):
        context = _stem_set(f"{hit.get('title', '')} {hit.get('section', '')}")
        rank = int(hit.get("_rank", index))
        units.extend(_units_of(str(hit.get("text") or ""), context, index, rank))
    hit_texts = [_stem_set(f"{h.get('title', '')} {h.get('text', '')}") for h in kept]
    scored = _score_units(question, terms, units, hit_texts, known)
    if not scored:
        return _not_found(0.0)
    best = scored[0]
    best_hit = kept[best.unit.hit_index]
    weak_retrieval = best_hit.get("bm25_rank") is None and (
        best_hit.get("vector_distance") is None
        or float(best_hit["vector_distance"]) > WEAK_VECTOR_DISTANCE
    )
    needed = MIN_COVERAGE_WEAK_RETRIEVAL if weak_retrieval else MIN_COVERAGE
    needed += UNKNOWN_TERM_PENALTY * len(unknown & set(terms))
    vocabulary: set[str] = set().union(*hit_texts, *(u.context for u in units))
    absent = tuple(t for t in terms if _match(t, vocabulary) == 0.0)
    if best.coverage < needed:
        answer = _not_found(_confidence(best.coverage, best_hit))
        answer.coverage, answer.absent = best.coverage, absent
        return answer

    chosen = _choose(scored, best, EXTRA_SENTENCE_COVERAGE * needed)

    sentences = []
    cited: list[dict[str, Any]] = []
    for item in chosen:
        hit = kept[item.unit.hit_index]
        sentences.append(_with_citation(item.unit.text, f"[{hit['number']}]"))
        if hit not in cited:
            cited.append(hit)
    newer_sources = {replaced[s] for s in replaced}
    for hit in cited:
        if hit.get("source") in newer_sources:
            older = sorted(
                {
                    str(h.get("updated_at") or "undated")
                    for h in hits
                    if replaced.get(h.get("source") or "") == hit.get("source")
                }
            )
            sentences.append(
                _with_citation(
                    f"This follows the latest version of {hit.get('title')} "
                    f"({hit.get('updated_at') or 'undated'}); the older "
                    f"{'version' if len(older) == 1 else 'versions'} ({', '.join(older)}) "
                    f"{'is' if len(older) == 1 else 'are'} superseded.",
                    f"[{hit['number']}]",
                )
            )
            break
    body = " ".join(sentences)
    sources = "\n".join(_source_line(h) for h in sorted(cited, key=lambda h: h["number"]))
    confidence = _confidence(sum(c.coverage for c in chosen) / len(chosen), best_hit)
    return _Answer(
        f"{body}\n\n**Sources**\n{sources}", confidence, coverage=best.coverage, absent=absent
    )


def _cell(value: Any) -> str:
    return "NULL" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def _markdown(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _contains_phrase(value: Any, phrase: str) -> bool:
    if value is None:
        return False
    pattern = r"(?<!\w)" + re.escape(phrase.lower()) + r"(?!\w)"
    return re.search(pattern, str(value).lower()) is not None


def _fact(column: str, value: Any) -> str:
    name = column.replace("_", " ")
    return f"no {name} is recorded" if value is None else f"the {name} is {_cell(value)}"


def _compose_sql(plan: _SqlPlan, metadata: dict[str, Any]) -> _Answer | None:
    """A table answer, or None when the rows do not really answer the question."""
    columns = [str(c) for c in metadata.get("columns") or []]
    rows = [list(r) for r in metadata.get("rows") or []]
    tables = metadata.get("tables") or [plan.table]
    marker = " ".join(f"[table: {t}]" for t in tables)
    sources = "\n".join(f"[table: {t}]" for t in tables)
    if not columns:
        return None
    if plan.count:
        if not rows or not isinstance(rows[0][0], int) or rows[0][0] <= 0:
            return None  # nothing counted: the documents may know better
        what = " matching " + ", ".join(f'"{e}"' for e in plan.entities) if plan.entities else ""
        text = f"The {plan.table} table has {rows[0][0]} rows{what} {marker}."
        return _Answer(f"{text}\n\n**Sources**\n{sources}", 0.8)
    if not rows:
        return None
    shown = [i for i, c in enumerate(columns) if c != RELEVANCE]
    index = {c: i for i, c in enumerate(columns)}
    top = rows[0]

    def matches(row: list[Any]) -> bool:
        if plan.entities:
            return any(_contains_phrase(v, e) for e in plan.entities for v in row)
        return bool(plan.terms) and all(
            any(_contains_phrase(v, t) for v in row) for t in plan.terms
        )

    label_hit = plan.label_column in index and any(
        _contains_phrase(top[index[plan.label_column]], e) for e in plan.entities
    )
    if not (label_hit or matches(top) or (plan.explicit and not plan.terms)):
        return None
    relevance = index.get(RELEVANCE)
    tied = (
        [r for r in rows if relevance is None or r[relevance] == top[relevance]]
        if plan.terms
        else rows
    )
    asked = [c for c in plan.asked_columns if c in index]
    if asked and len(tied) == 1:
        label = top[index[plan.label_column]] if plan.label_column in index else plan.table
        facts = [_fact(c, top[index[c]]) for c in asked]
        if len(facts) == 1 and top[index[asked[0]]] is not None:
            sentence = (
                f"The {asked[0].replace('_', ' ')} of {label} is {_cell(top[index[asked[0]]])}"
            )
        else:
            sentence = f"For {label}, {', '.join(facts)}"
        text = f"{sentence} {marker}."
        return _Answer(f"{text}\n\n**Sources**\n{sources}", 0.85 if label_hit else 0.65)
    keep = shown
    if asked and plan.label_column in index:
        keep = [index[plan.label_column]] + [index[c] for c in asked]
    keep = keep[:6]
    table = _markdown(
        [columns[i] for i in keep], [[r[i] for i in keep] for r in tied[:MAX_TABLE_ROWS]]
    )
    shown_rows = min(len(tied), MAX_TABLE_ROWS)
    more = len(tied) > shown_rows or bool(metadata.get("truncated"))
    scope = f"The first {shown_rows} rows" if more else "Rows"
    intro = f"{scope} {'matching the question ' if plan.terms else ''}from {plan.table} {marker}:"
    return _Answer(f"{intro}\n\n{table}\n\n**Sources**\n{sources}", 0.6)


# --- the model -------------------------------------------------------------------------------


@dataclass
class _Decision:
    calls: list[ToolCallPart] = field(default_factory=list)
    answer: _Answer | None = None


class _Planner:
    """Decides the next step of a turn from the messages alone (stateless and deterministic)."""

    def __init__(self, table_schemas: TableSchemas) -> None:
        self._table_schemas = table_schemas

    def _schemas(self) -> list[TableSchema]:
        try:
            return list(self._table_schemas())
        except Exception:  # a broken tables catalogue must not stop document answers
            return []

    def decide(self, messages: Sequence[ModelMessage], tool_names: set[str]) -> _Decision:
        """The next step: the first round's tool calls, one more search, or the answer.

        Extra searches, each at most once per turn: a narrower query when nothing was found
        (words shared by most passages dropped), and one-word probes for question words that
        no passage holds when the evidence is only middling (is "parental" anywhere at all?).
        """
        view = _read_turn(messages)
        if not view.question:
            return _Decision(answer=_not_found(0.0))
        query = search_query_for(view.question, view.previous_questions)
        can_search = SEARCH_TOOL in tool_names
        if not view.calls:
            calls = []
            if can_search:
                calls.append(_call(SEARCH_TOOL, {"query": query}))
            if SQL_TOOL in tool_names:
                plan = _plan_sql(view.question, self._schemas())
                if plan is not None:
                    calls.append(_call(SQL_TOOL, {"sql_query": plan.sql}))
            if calls:
                return _Decision(calls=calls)
        results = _tool_results(view)
        answer = self._compose(view.question, query, results)
        searched = {_call_kind(c) for c in view.calls if c.tool_name == SEARCH_TOOL}
        if not can_search or view.retries:
            return _Decision(answer=answer)
        if answer.coverage < SURE_COVERAGE and answer.absent and "probe" not in searched:
            words = _words_for_stems(view.question, answer.absent)[:MAX_PROBES]
            if words:
                return _Decision(
                    calls=[_call(SEARCH_TOOL, {"query": word}, "probe") for word in words]
                )
        if not answer.found and "narrowed" not in searched:
            narrowed = narrowed_query(query, results.hits)
            if narrowed is not None:
                return _Decision(calls=[_call(SEARCH_TOOL, {"query": narrowed}, "narrowed")])
        return _Decision(answer=answer)

    def _compose(self, question: str, query: str, results: _ToolResults) -> _Answer:
        if results.sql:
            plan = _plan_sql(question, self._schemas())
            if plan is not None:
                for metadata in results.sql:
                    if metadata.get("sql") == plan.sql:
                        answer = _compose_sql(plan, metadata)
                        if answer is not None:
                            return answer
        return _compose_documents(query, results.hits, results.unknown, results.known)

    # --- FunctionModel callbacks ---------------------------------------------------------

    def respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        decision = self.decide(messages, {t.name for t in info.function_tools})
        if decision.calls:
            return ModelResponse(parts=list(decision.calls))
        assert decision.answer is not None
        return ModelResponse(
            parts=[TextPart(decision.answer.text)],
            provider_details={CONFIDENCE_KEY: decision.answer.confidence},
        )

    async def stream(
        self, messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls]:
        decision = self.decide(messages, {t.name for t in info.function_tools})
        if decision.calls:
            yield {
                index: DeltaToolCall(
                    name=call.tool_name,
                    json_args=call.args_as_json_str(),
                    tool_call_id=call.tool_call_id,
                )
                for index, call in enumerate(decision.calls)
            }
            return
        assert decision.answer is not None
        for chunk in _word_chunks(decision.answer.text):
            yield chunk


@dataclass
class _ToolResults:
    hits: list[dict[str, Any]] = field(default_factory=list)
    sql: list[dict[str, Any]] = field(default_factory=list)
    unknown: frozenset[str] = frozenset()  # probed stems the knowledge base never mentions
    known: frozenset[str] = frozenset()  # probed stems it does mention (elsewhere)


def _tool_results(view: _TurnView) -> _ToolResults:
    """Search hits (each tagged with its rank in its own search), SQL results and probe
    verdicts of this turn. Probe hits only answer "is this word anywhere?"; they are not
    evidence for the answer."""
    results = _ToolResults()
    kinds = {c.tool_call_id: _call_kind(c) for c in view.calls}
    queries = {c.tool_call_id: c.args_as_dict().get("query", "") for c in view.calls}
    unknown: set[str] = set()
    known: set[str] = set()
    seen: set[Any] = set()
    for part in view.returns:
        metadata = part.metadata if isinstance(part.metadata, dict) else {}
        if part.tool_name == SEARCH_TOOL:
            hits = [h for h in metadata.get("hits") or [] if isinstance(h, dict)]
            if kinds.get(part.tool_call_id) == "probe":
                stem = _stem(str(queries.get(part.tool_call_id, "")).lower())
                found = any(
                    h.get("bm25_rank") is not None
                    and stem in _stem_set(f"{h.get('title')} {h.get('section')} {h.get('text')}")
                    for h in hits
                )
                (known if found else unknown).add(stem)
                continue
            for rank, hit in enumerate(hits):
                if hit.get("number") not in seen:
                    seen.add(hit.get("number"))
                    results.hits.append({**hit, "_rank": rank})
        elif part.tool_name == SQL_TOOL and "columns" in metadata:
            results.sql.append(metadata)
    results.unknown, results.known = frozenset(unknown), frozenset(known)
    return results


def _words_for_stems(question: str, stems: Sequence[str]) -> list[str]:
    words: dict[str, None] = {}
    for word in _words(question):
        if _stem(word) in stems and word not in _STOP:
            words.setdefault(word, None)
    return list(words)


def narrowed_query(query: str, hits: Sequence[dict[str, Any]]) -> str | None:
    """The query without words found in most retrieved passages (they did not discriminate:
    a company name, say), or None when no such word exists or fewer than two would be left."""
    if len(hits) < 3:
        return None
    texts = [_stem_set(f"{h.get('title', '')} {h.get('text', '')}") for h in hits]
    kept: list[str] = []
    dropped = False
    for word in dict.fromkeys(w for w in _words(query) if w not in _STOP and len(w) > 1):
        share = sum(1 for t in texts if _stem(word) in t) / len(texts)
        if share >= 0.5:
            dropped = True
        else:
            kept.append(word)
    return " ".join(kept) if dropped and len(kept) >= 2 else None


def _call(tool: str, args: dict[str, Any], kind: str = "main") -> ToolCallPart:
    """A tool call; its id says why it was made ("main", "narrowed" or "probe")."""
    return ToolCallPart(
        tool_name=tool,
        args=json.dumps(args),
        tool_call_id=f"offline_{kind}_{uuid.uuid4().hex[:12]}",
    )


def _call_kind(call: ToolCallPart) -> str:
    parts = call.tool_call_id.split("_")
    return parts[1] if len(parts) >= 3 and parts[0] == "offline" else "main"


def _word_chunks(text: str) -> list[str]:
    """Word-sized pieces (each with its trailing whitespace) that join back to `text`."""
    return [piece for piece in re.findall(r"\s*\S+\s*", text) if piece]


class OfflineExtractiveModel(FunctionModel):
    """`FunctionModel` whose streamed responses also carry the confidence of the answer."""

    def __init__(self, planner: _Planner) -> None:
        super().__init__(planner.respond, stream_function=planner.stream, model_name=MODEL_NAME)
        self._planner = planner

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: Any = None,
    ) -> AsyncIterator[StreamedResponse]:
        async with super().request_stream(
            messages, model_settings, model_request_parameters, run_context
        ) as response:
            tools = {t.name for t in model_request_parameters.function_tools}
            decision = self._planner.decide(messages, tools)
            if decision.answer is not None:
                response.provider_details = {CONFIDENCE_KEY: decision.answer.confidence}
            yield response


def build_offline_model(table_schemas: TableSchemas) -> FunctionModel:
    """The embedded default model. `table_schemas` is read per turn, so new tables are seen."""
    return OfflineExtractiveModel(_Planner(table_schemas))


def confidence_of(messages: Sequence[ModelMessage]) -> float | None:
    """The confidence the offline model reported for the latest answer of this turn, if any."""
    for message in reversed(messages):
        if isinstance(message, ModelResponse):
            details = message.provider_details or {}
            value = details.get(CONFIDENCE_KEY)
            if isinstance(value, int | float):
                return float(value)
        elif isinstance(message, ModelRequest) and any(
            isinstance(p, UserPromptPart) for p in message.parts
        ):
            return None
    return None
