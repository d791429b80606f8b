"""Evaluation datasets: cases, what running one produced, registered datasets, and the parser.

Rules:
- A dataset is a JSONL file (one JSON object per line) or a CSV file (a header row, one case
  per row). Fields: `id`, `question`, `kind`, `expect_any`, `expect_sources`, `history`,
  `must_refuse`, `expected_sql_rows`, `dimension`, `difficulty`, `tags`, `variables`,
  `assertions`, `notes`. Only `question` is required; an unknown field is an error (a typo
  would otherwise be silently ignored).
- `id` defaults to `line-N`; ids are unique within a dataset.
- `kind` is one of `evaluation.KINDS`; when absent it is derived: `refuse` if `must_refuse`,
  `follow_up` if `history`, `sql` if `expected_sql_rows`, else `kb`. Kind `refuse` implies
  `must_refuse`.
- A case that must not be refused needs something to check its answer against: `expect_any`,
  `expected_sql_rows` or `assertions`. A `follow_up` needs `history`.
- CSV cells: an empty cell is an absent field; list columns (`expect_any`, `expect_sources`,
  `history`, `tags`) are a JSON array or `|`-separated; `variables`, `expected_sql_rows` and
  `assertions` are JSON; `must_refuse` is true/false/yes/no/1/0.
- Every error names the origin, the line (the file's physical line, so a CSV header is line 1)
  and the field: "cases.csv, line 4: field 'kind' must be one of ...".
- A dataset's version is its content hash: the first 12 hex digits of the SHA-256 of the text
  with line endings normalised to `\\n`, trailing spaces and blank lines at the ends removed, so
  the same content saved on another system has the same version.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol

from use_cases.chat.domain import Source
from use_cases.evaluation.assertions import AssertionSpec, parse_assertions
from use_cases.shared.errors import InvalidRequest

#: The kinds of case (the answer evaluation's; `evaluation.KINDS` is this tuple).
KINDS: tuple[str, ...] = ("kb", "recency", "sql", "kb+sql", "refuse", "follow_up")
FIELDS: tuple[str, ...] = (
    "id",
    "question",
    "kind",
    "expect_any",
    "expect_sources",
    "history",
    "must_refuse",
    "expected_sql_rows",
    "dimension",
    "difficulty",
    "tags",
    "variables",
    "assertions",
    "notes",
)
_LIST_FIELDS = ("expect_any", "expect_sources", "history", "tags")
_JSON_FIELDS = ("variables", "expected_sql_rows", "assertions")
#: Said of JSON nested past what the parser recurses into (Python's recursion limit, about a
#: thousand levels; a case nests a few).
_TOO_DEEP = "JSON arrays and objects nested too deeply to read (a case nests a few levels)."

SqlValue = str | int | float | None
SqlRow = tuple[SqlValue, ...]


@dataclass(frozen=True)
class EvalCase:
    """One case of a dataset. Positional order matches the answer evaluation's old
    `AnswerCase(id, question, kind, expect_any, expect_sources, history)`."""

    id: str
    question: str
    kind: str
    expect_any: tuple[str, ...] = ()
    expect_sources: tuple[str, ...] = ()
    history: tuple[str, ...] = ()
    must_refuse: bool = False
    expected_sql_rows: tuple[SqlRow, ...] | None = None
    dimension: str = ""
    difficulty: str = ""
    tags: tuple[str, ...] = ()
    variables: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    assertions: tuple[AssertionSpec, ...] = field(default=(), hash=False)
    notes: str = ""

    def __post_init__(self) -> None:
        if self.kind == "refuse" and not self.must_refuse:
            object.__setattr__(self, "must_refuse", True)
        if not isinstance(self.variables, MappingProxyType):
            object.__setattr__(self, "variables", MappingProxyType(dict(self.variables)))

    @property
    def group(self) -> str:
        """The dimension a case is reported under: its `dimension`, else its `kind`."""
        return self.dimension or self.kind


@dataclass(frozen=True)
class CaseOutcome:
    """What one execution of one case produced."""

    answer: str
    sources: tuple[Source, ...] = ()
    retrieved: tuple[str, ...] = ()
    sql_rows: tuple[tuple[Any, ...], ...] | None = None
    refused: bool = False
    confidence: float | None = None
    confidence_raw: float | None = None
    latency_ms: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    error: str | None = None


@dataclass(frozen=True)
class Dataset:
    """A registered dataset (a "task" in the seed's API)."""

    id: str
    name: str
    version: str
    description: str
    cases: tuple[EvalCase, ...]
    source: str
    created_at: str


class Pricing(Protocol):
    def cost_usd(
        self, model_identifier: str, input_tokens: int, output_tokens: int
    ) -> float | None:
        """The price of a call in US dollars; None when the model's price is unknown."""
        ...


# --- names and versions ---------------------------------------------------------------------


def dataset_slug(name: str) -> str:
    """A dataset id from its name: lower case letters, digits and single hyphens ("Support
    FAQ (v2)" -> "support-faq-v2"); raises `InvalidRequest` when nothing is left."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64].strip("-")
    if not slug:
        raise InvalidRequest(f"A dataset name needs a letter or digit: {name!r}.")
    return slug


def dataset_format(filename: str) -> Literal["jsonl", "csv"]:
    """The format of a dataset file from its name (`.jsonl` or `.csv`)."""
    lowered = filename.lower()
    if lowered.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if lowered.endswith(".csv"):
        return "csv"
    raise InvalidRequest(f"{filename}: a dataset is a .jsonl or .csv file.")


def normalise_text(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip("\n")


def dataset_version(text: str) -> str:
    """The content hash of a dataset file: sha256 hex of the normalised text, first 12."""
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()[:12]


# --- parsing --------------------------------------------------------------------------------


def parse_dataset(text: str, *, fmt: Literal["jsonl", "csv"], origin: str) -> list[EvalCase]:
    """The cases of a JSONL or CSV text; raises `InvalidRequest` naming the line and field."""
    if fmt == "jsonl":
        records = _jsonl_records(text, origin)
    elif fmt == "csv":
        records = _csv_records(text, origin)
    else:
        raise InvalidRequest(f"{origin}: unknown dataset format {fmt!r}; use jsonl or csv.")
    cases: list[EvalCase] = []
    seen: set[str] = set()
    for number, raw in records:
        where = f"{origin}, line {number}"
        case = case_from(raw, where, default_id=f"line-{number}")
        if case.id in seen:
            raise InvalidRequest(f"{where}: field 'id': duplicate id {case.id!r}.")
        seen.add(case.id)
        cases.append(case)
    return cases


def dataset_records(
    text: str, *, fmt: Literal["jsonl", "csv"], origin: str
) -> list[dict[str, Any]]:
    """The records of a dataset text as JSON objects, each checked as a case and holding its
    case's id (a record without one gets its default, `line-N`), so they can be edited and
    written again as JSONL (`records_text`)."""
    records = _jsonl_records(text, origin) if fmt == "jsonl" else _csv_records(text, origin)
    return [
        {**raw, "id": case_from(raw, f"{origin}, line {n}", default_id=f"line-{n}").id}
        for n, raw in records
    ]


def records_text(records: Sequence[Mapping[str, Any]]) -> str:
    """JSONL of the records, one a line (what `parse_dataset(..., fmt="jsonl")` reads)."""
    return "".join(json.dumps(dict(r), ensure_ascii=False) + "\n" for r in records)


def _jsonl_records(text: str, origin: str) -> list[tuple[int, dict[str, Any]]]:
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{origin}, line {number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidRequest(f"{where}: not valid JSON ({exc.msg}).") from None
        except RecursionError:
            raise InvalidRequest(f"{where}: {_TOO_DEEP}") from None
        if not isinstance(raw, dict):
            raise InvalidRequest(f"{where}: expected a JSON object.")
        records.append((number, raw))
    return records


def _csv_records(text: str, origin: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        return []
    except csv.Error as exc:
        raise InvalidRequest(f"{origin}, line 1: not valid CSV ({exc}).") from None
    for name in header:
        if name not in FIELDS:
            raise InvalidRequest(
                f"{origin}, line 1: unknown column {name!r}; columns are {', '.join(FIELDS)}."
            )
    if len(set(header)) != len(header):
        raise InvalidRequest(f"{origin}, line 1: a column is named twice.")
    records = []
    start = reader.line_num + 1
    try:
        for row in reader:
            number, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            where = f"{origin}, line {number}"
            if len(row) > len(header):
                raise InvalidRequest(
                    f"{where}: {len(row)} cells but the header names {len(header)} columns."
                )
            raw: dict[str, Any] = {}
            for name, cell in zip(header, row, strict=False):
                if cell.strip():
                    raw[name] = _csv_cell(name, cell.strip(), where)
            records.append((number, raw))
    except csv.Error as exc:
        raise InvalidRequest(f"{origin}, line {start}: not valid CSV ({exc}).") from None
    return records


def _csv_cell(name: str, cell: str, where: str) -> Any:
    if name in _LIST_FIELDS:
        if cell.startswith("["):
            return _json_cell(name, cell, where)
        return [part.strip() for part in cell.split("|") if part.strip()]
    if name in _JSON_FIELDS:
        return _json_cell(name, cell, where)
    if name == "must_refuse":
        lowered = cell.lower()
        if lowered in ("true", "yes", "1"):
            return True
        if lowered in ("false", "no", "0"):
            return False
        raise InvalidRequest(f"{where}: field 'must_refuse' must be true or false.")
    return cell


def _json_cell(name: str, cell: str, where: str) -> Any:
    try:
        return json.loads(cell)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"{where}: field {name!r} is not valid JSON ({exc.msg}).") from None
    except RecursionError:
        raise InvalidRequest(f"{where}: field {name!r}: {_TOO_DEEP}") from None


def case_from(raw: Mapping[str, Any], where: str, *, default_id: str = "") -> EvalCase:
    """One case from a decoded record; `where` ("file, line N") starts every error."""
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise InvalidRequest(
            f"{where}: unknown field {unknown[0]!r}; fields are {', '.join(FIELDS)}."
        )

    def text(name: str, *, required: bool = False, default: str = "") -> str:
        value = raw.get(name, default)
        if not isinstance(value, str) or (required and not value.strip()):
            raise InvalidRequest(f"{where}: field {name!r} must be a non-empty string.")
        return value.strip()

    def strings(name: str) -> tuple[str, ...]:
        value = raw.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise InvalidRequest(f"{where}: field {name!r} must be a list of strings.")
        return tuple(v.strip() for v in value)

    must_refuse = raw.get("must_refuse", False)
    if not isinstance(must_refuse, bool):
        raise InvalidRequest(f"{where}: field 'must_refuse' must be true or false.")
    sql_rows = _sql_rows(raw["expected_sql_rows"], where) if "expected_sql_rows" in raw else None
    history = strings("history")
    if "kind" in raw:
        kind = text("kind", required=True)
        if kind not in KINDS:
            raise InvalidRequest(f"{where}: field 'kind' must be one of {', '.join(KINDS)}.")
    else:
        kind = (
            "refuse"
            if must_refuse
            else "follow_up"
            if history
            else "sql"
            if sql_rows is not None
            else "kb"
        )
    variables = raw.get("variables", {})
    if not isinstance(variables, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int | float) and not isinstance(v, bool)
        for k, v in variables.items()
    ):
        raise InvalidRequest(
            f"{where}: field 'variables' must be an object of names to strings or numbers."
        )
    case = EvalCase(
        id=text("id", required=True, default=default_id),
        question=text("question", required=True),
        kind=kind,
        expect_any=strings("expect_any"),
        expect_sources=strings("expect_sources"),
        history=history,
        must_refuse=must_refuse,
        expected_sql_rows=sql_rows,
        dimension=text("dimension"),
        difficulty=text("difficulty"),
        tags=strings("tags"),
        variables={k: str(v) for k, v in variables.items()},
        assertions=parse_assertions(raw.get("assertions", []), f"{where}: field 'assertions'"),
        notes=text("notes"),
    )
    if not case.must_refuse and not (
        case.expect_any or case.expected_sql_rows is not None or case.assertions
    ):
        raise InvalidRequest(
            f"{where}: field 'expect_any' is empty for an answerable case "
            "(give expect_any, expected_sql_rows or assertions)."
        )
    if case.kind == "follow_up" and not case.history:
        raise InvalidRequest(f"{where}: field 'history' is needed by a follow_up case.")
    return case


def _sql_rows(value: Any, where: str) -> tuple[SqlRow, ...]:
    message = f"{where}: field 'expected_sql_rows' must be a list of rows (lists of values)."
    if not isinstance(value, list) or not all(isinstance(row, list) for row in value):
        raise InvalidRequest(message)
    rows: list[SqlRow] = []
    for row in value:
        for cell in row:
            if isinstance(cell, bool) or not isinstance(cell, str | int | float | None):
                raise InvalidRequest(message)
            if isinstance(cell, float) and not math.isfinite(cell):
                raise InvalidRequest(message)
        rows.append(tuple(row))
    return tuple(rows)
