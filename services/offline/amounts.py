"""Amounts in a question and the ranges a sentence states: "a 15% discount" falls in the
row "10% – 25% — Who approves: VP Sales", not in "up to 10%".

An amount is a number with a unit people quote limits in: a percentage, a currency ("€40",
"40 EUR", "$1,200") or thousands ("40k"). A sentence states a range with words around its
amounts ("up to 10%", "above 25%", "€25 or more", "between €1,000 and €5,000") or as two
amounts joined by a dash or "to" ("10% – 25%"). Bare numbers ("tier 1", "2 months") are never
read as amounts: they would match every count in the knowledge base.

A day of the year asked about ("push a fix on dec 22nd?") falls in a period a sentence states
("the year-end freeze (18 December – 2 January)"), the same way.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

_AMOUNT = re.compile(
    r"(?P<cur>[€$£])?\s?(?P<num>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)"
    r"(?:\s?(?P<suf>%|k\b|eur\b|euros?\b|usd\b|cad\b|dollars?\b))?",
    re.IGNORECASE,
)

_CURRENCY = {"€": "€", "eur": "€", "euro": "€", "euros": "€", "$": "$", "usd": "$"}
_CURRENCY |= {"dollar": "$", "dollars": "$", "£": "£", "cad": "CAD"}

_UPPER_BEFORE = re.compile(
    r"(?:up\s+to|under|below|less\s+than|at\s+most|no\s+more\s+than|max(?:imum)?|within|"
    r"≤|<=?)\s*$",
    re.IGNORECASE,
)
_LOWER_BEFORE = re.compile(
    r"(?:above|over|more\s+than|at\s+least|exceeding|from|≥|>=?)\s*$", re.IGNORECASE
)
_LOWER_AFTER = re.compile(r"^\s*(?:or\s+(?:more|above|over|higher)|and\s+(?:above|over)|\+)")
_UPPER_AFTER = re.compile(r"^\s*(?:or\s+(?:less|below|under|lower)|and\s+(?:below|under))")
_JOIN = re.compile(r"^\s*(?:–|—|-|to|and)\s*$", re.IGNORECASE)


#: Month names and abbreviations -> month number.
MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_MONTH_NAME = rf"(?:{'|'.join(sorted(MONTHS, key=len, reverse=True))})\.?"
#: A day of the year: "22 December", "dec 22nd", "December 22".
_DAY_OF_YEAR = re.compile(
    rf"\b(?:(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m1>{_MONTH_NAME})"
    rf"|(?P<m2>{_MONTH_NAME})\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?)(?!\w)",
    re.IGNORECASE,
)
_DATE_JOIN = re.compile(r"^\s*(?:–|—|-|to|and|until|till|through)\s*$", re.IGNORECASE)


def days_of_year(text: str) -> list[tuple[int, int, int, int]]:
    """The days of the year `text` names, as (month, day, start, end)."""
    found = []
    for match in _DAY_OF_YEAR.finditer(text):
        month = MONTHS[(match.group("m1") or match.group("m2")).rstrip(".").lower()]
        day = int(match.group("d1") or match.group("d2"))
        if 1 <= day <= 31:
            found.append((month, day, match.start(), match.end()))
    return found


def holds_asked_day(question: str, text: str) -> bool:
    """Whether `text` states a period of the year ("18 December – 2 January") holding a day
    the question names ("on dec 22nd"); a period may run over the new year."""
    asked = [(m, d) for m, d, _, _ in days_of_year(question)]
    if not asked:
        return False
    stated = days_of_year(text)
    for (m1, d1, _, end), (m2, d2, start, _) in itertools.pairwise(stated):
        if not _DATE_JOIN.match(text[end:start]):
            continue
        low, high = (m1, d1), (m2, d2)
        for day in asked:
            inside = low <= day <= high if low <= high else (day >= low or day <= high)
            if inside:
                return True
    return False


@dataclass(frozen=True)
class Amount:
    value: float
    unit: str  # "%", "€", "$", "£", "CAD" or "" (thousands without a currency)
    start: int
    end: int


@dataclass(frozen=True)
class Span:
    low: float | None
    high: float | None
    unit: str

    def holds(self, amount: Amount) -> bool:
        if self.unit and amount.unit and self.unit != amount.unit:
            return False
        return (self.low is None or amount.value >= self.low) and (
            self.high is None or amount.value <= self.high
        )


def amounts(text: str) -> list[Amount]:
    """The amounts of `text` that carry a unit, in order."""
    found = []
    for match in _AMOUNT.finditer(text):
        suffix = (match.group("suf") or "").lower()
        currency = match.group("cur") or ""
        if not (suffix or currency):
            continue
        value = float(match.group("num").replace(",", ""))
        if suffix == "k":
            value *= 1000
        unit = "%" if suffix == "%" else _CURRENCY.get(currency or suffix, "")
        found.append(Amount(value, unit, match.start(), match.end()))
    return found


def spans(text: str) -> list[Span]:
    """The ranges `text` states around its amounts."""
    found: list[Span] = []
    listed = amounts(text)
    paired: set[int] = set()
    for i, (first, second) in enumerate(itertools.pairwise(listed)):
        if _JOIN.match(text[first.end : second.start]):
            unit = first.unit or second.unit
            found.append(Span(min(first.value, second.value), max(first.value, second.value), unit))
            paired.update((i, i + 1))
    for i, amount in enumerate(listed):
        if i in paired:
            continue
        before, after = text[max(0, amount.start - 24) : amount.start], text[amount.end :]
        if _UPPER_BEFORE.search(before) or _UPPER_AFTER.match(after):
            found.append(Span(None, amount.value, amount.unit))
        elif _LOWER_BEFORE.search(before) or _LOWER_AFTER.match(after):
            found.append(Span(amount.value, None, amount.unit))
    return found


def holds_asked_amount(question_amounts: list[Amount], text: str) -> bool:
    """Whether `text` states a range holding one of the question's amounts."""
    return bool(question_amounts) and any(
        span.holds(amount) for span in spans(text) for amount in question_amounts
    )
