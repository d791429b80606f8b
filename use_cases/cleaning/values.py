"""What a cell's text means: numbers, dates, missing cells, and the kind of a column.

Rules:
- A number is plain decimal text (`-12.5`, `3`, `1e3`): no thousands separator, decimal
  comma or unit, which are consistency errors to repair. NaN and infinities are not numbers.
- Two cells hold the same value when both are numbers and equal (`5` and `5.0`), else when
  their text is equal after stripping surrounding blanks.
- A column is `number` when at least 90% of its non-missing cells are numbers, `date` when at
  least 90% are dates of one format (`DATE_FORMATS`), else `text`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Literal

ColumnKind = Literal["number", "date", "text"]

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y", "%d.%m.%Y", "%b %d %Y")
_SHARE = 0.9


def is_missing(text: str) -> bool:
    return not text.strip()


def number(text: str) -> float | None:
    text = text.strip()
    if not _NUMBER.match(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def same_value(a: str, b: str) -> bool:
    x, y = number(a), number(b)
    if x is not None and y is not None:
        return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)
    return a.strip() == b.strip()


@lru_cache(maxsize=65536)
def date_format(text: str) -> str | None:
    """The first of `DATE_FORMATS` that reads `text`, or None."""
    text = text.strip()
    if not text or len(text) > 20:
        return None
    for fmt in DATE_FORMATS:
        try:
            datetime.strptime(text, fmt)
        except ValueError:
            continue
        return fmt
    return None


def parse_date(text: str) -> date | None:
    fmt = date_format(text)
    return datetime.strptime(text.strip(), fmt).date() if fmt else None


def column_kind(values: Sequence[str], share: float = _SHARE) -> ColumnKind:
    """`share` is the part of the present cells that must agree (0.9 unless said)."""
    present = [v for v in values if not is_missing(v)]
    if not present:
        return "text"
    if sum(number(v) is not None for v in present) >= share * len(present):
        return "number"
    formats = Counter(date_format(v) for v in present)
    fmt, count = formats.most_common(1)[0]
    if fmt is not None and count >= share * len(present):
        return "date"
    return "text"


def dominant_date_format(values: Sequence[str]) -> str | None:
    formats = Counter(f for f in (date_format(v) for v in values) if f)
    return formats.most_common(1)[0][0] if formats else None
