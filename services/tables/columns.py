"""What a loaded file's columns become: safe SQL names, types inferred from every value, and
each value converted to its column's type (see `loader`'s docstring for the rules)."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from use_cases.tables.tables import SQL_KEYWORDS

_MAX_IDENTIFIER = 63

#: Names that would shadow SQLite's implicit row id.
_ROWID_ALIASES = frozenset({"rowid", "oid", "_rowid_"})

_INT_RE = re.compile(r"^[+-]?\d+$")
_REAL_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$"
)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def quote_identifier(name: str) -> str:
    """`name` as a double-quoted SQL identifier (embedded quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def sanitise_column_names(names: Sequence[str]) -> list[str]:
    """Map header names to unique lowercase identifiers matching `[a-z_][a-z0-9_]*`.

    Accents are folded to ASCII ("Größe" -> "groe", "Café" -> "cafe"), every other character
    becomes `_`, a leading digit gets a `c_` prefix, keywords and rowid aliases get a `_`
    suffix, blanks become `col_N`, and repeats get `_2`, `_3`, ... in order of appearance.
    """
    result: list[str] = []
    taken: set[str] = set()
    for position, raw in enumerate(names, start=1):
        folded = unicodedata.normalize("NFKD", str(raw)).encode("ascii", "ignore").decode()
        base = re.sub(r"[^a-z0-9]+", "_", folded.lower()).strip("_")
        if not base:
            base = f"col_{position}"
        if base[0].isdigit():
            base = f"c_{base}"
        base = base[:_MAX_IDENTIFIER]
        if base in SQL_KEYWORDS or base in _ROWID_ALIASES or base.startswith("sqlite_"):
            base = f"{base}_"
        candidate, suffix = base, 2
        while candidate in taken:
            tail = f"_{suffix}"
            candidate = base[: _MAX_IDENTIFIER - len(tail)] + tail
            suffix += 1
        taken.add(candidate)
        result.append(candidate)
    return result


# -- type inference -----------------------------------------------------------------------------


def _is_zero_padded(digits: str) -> bool:
    unsigned = digits.lstrip("+-")
    return len(unsigned) > 1 and unsigned[0] == "0" and unsigned[1].isdigit()


def _text_int(text: str) -> bool:
    if not _INT_RE.fullmatch(text) or _is_zero_padded(text):
        return False
    return _INT64_MIN <= int(text) <= _INT64_MAX


def _text_real(text: str) -> bool:
    if _INT_RE.fullmatch(text):  # an integer too long for 64 bits is an identifier, not a float
        return _text_int(text)
    return bool(_REAL_RE.fullmatch(text)) and not _is_zero_padded(text)


def _text_date(text: str) -> bool:
    if not _DATE_RE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _text_datetime(text: str) -> bool:
    if not _DATETIME_RE.fullmatch(text):
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


@dataclass
class ColumnType:
    """Running verdict for one column; each flag stays true while every value fits it."""

    integer: bool = True
    real: bool = True
    date: bool = True
    datetime: bool = True
    seen: bool = False

    def observe_text(self, text: str) -> None:
        self.seen = True
        if self.integer and not _text_int(text):
            self.integer = False
        if self.real and not _text_real(text):
            self.real = False
        if self.date and not _text_date(text):
            self.date = False
        if self.datetime and not (_text_datetime(text) or _text_date(text)):
            self.datetime = False

    def observe_json(self, value: Any) -> None:
        """JSON values are typed by their JSON type; only strings are checked for dates."""
        self.seen = True
        if isinstance(value, bool) or (
            isinstance(value, int) and _INT64_MIN <= value <= _INT64_MAX
        ):
            self.date = self.datetime = False
        elif isinstance(value, float):
            self.integer = self.date = self.datetime = False
        elif isinstance(value, str):
            self.integer = self.real = False
            if self.date and not _text_date(value):
                self.date = False
            if self.datetime and not (_text_datetime(value) or _text_date(value)):
                self.datetime = False
        else:  # lists, objects, integers beyond 64 bits
            self.integer = self.real = self.date = self.datetime = False

    @property
    def sql_type(self) -> str:
        if not self.seen:
            return "TEXT"
        if self.integer:
            return "INTEGER"
        if self.real:
            return "REAL"
        if self.date:
            return "DATE"
        if self.datetime:
            return "DATETIME"
        return "TEXT"


def convert_text(text: str, sql_type: str) -> Any:
    stripped = text.strip()
    if not stripped:
        return None
    if sql_type == "INTEGER":
        return int(stripped)
    if sql_type == "REAL":
        return float(stripped)
    if sql_type in ("DATE", "DATETIME"):
        return stripped
    return text


def convert_json(value: Any, sql_type: str) -> Any:
    if value is None:
        return None
    if sql_type == "INTEGER":
        return int(value)
    if sql_type == "REAL":
        return float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
