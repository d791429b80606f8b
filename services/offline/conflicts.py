"""Two current documents that answer the same question with different values disagree, and an
answer must say so rather than quote both as if they agreed.

Rules:
- Only sentences that answer the question on their own (evidence at the bar) are compared,
  and only across documents: versions of one document are resolved before (`versions.py`),
  and a document's own sentences may state several values of one measure (a minimum and a
  maximum length).
- A sentence's *values* are its numbers with the unit written after them ("14 characters",
  "90 days", "4+ words") or a currency or percent sign; two sentences disagree when they
  state the same unit and share none of its values ("4 characters" and "14 characters"; not
  "from 12 to 14 characters" and "14 characters").
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from services.offline.amounts import amounts
from services.offline.text import STOP, stem

_NUMBER_UNIT = re.compile(
    r"(?<![\w.,])(\d+(?:[.,]\d+)*)\+?\s*(?:-\s*)?([A-Za-z]{2,})\b",
)


#: Words after a number that are not what it counts ("€75 per person").
_NOT_UNITS = frozenset({"per", "to", "or", "and", "x"})

#: Candidates beyond the answer's own sentences that are checked for a disagreement.
MAX_COMPARED = 8


@dataclass(frozen=True)
class Disagreement:
    """Two sentences (by their index in the answer's candidates) and the unit they differ on:
    `first_values` and `second_values` as written."""

    first: int
    second: int
    unit: str
    first_values: tuple[str, ...]
    second_values: tuple[str, ...]


def values(text: str) -> dict[str, dict[float, str]]:
    """Stated values by unit (stemmed word, or the sign): value -> as written."""
    found: dict[str, dict[float, str]] = {}
    for match in _NUMBER_UNIT.finditer(text):
        word = match.group(2).lower()
        if word in STOP or word in _NOT_UNITS:
            continue
        number = _number(match.group(1))
        if number is not None:
            found.setdefault(stem(word), {})[number] = match.group(0).strip()
    for amount in amounts(text):
        if amount.unit:
            found.setdefault(amount.unit, {})[amount.value] = text[
                amount.start : amount.end
            ].strip()
    return found


def disagreement(
    texts: Sequence[str], documents: Sequence[Any], answers: Callable[[int], bool]
) -> Disagreement | None:
    """The first pair of candidates, from different documents, both answering (`answers(i)`),
    that state different values of one unit; None when they agree or state none."""
    stated = [values(t) if answers(i) else {} for i, t in enumerate(texts)]
    for a, b in itertools.combinations(range(len(texts)), 2):
        if documents[a] == documents[b] or not stated[a] or not stated[b]:
            continue
        for unit in sorted(stated[a].keys() & stated[b].keys()):
            mine, theirs = stated[a][unit], stated[b][unit]
            if mine.keys().isdisjoint(theirs.keys()):
                return Disagreement(a, b, unit, tuple(mine.values()), tuple(theirs.values()))
    return None


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None
