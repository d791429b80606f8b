"""The offline cleaner: deterministic rules, the embedded default (`offline-rules`), so a
cleaning run works without a provider key.

Rules, by the dimension the task names (a rule only changes what it is sure of):
- uniqueness: a row whose cells equal an earlier row's, compared without case and extra
  blanks, is removed.
- consistency: a column is read as numbers or dates when 60% of its cells are; a number
  written with a thousands separator, a decimal comma or a unit after it is written plainly;
  a date in another format than the column's usual one is rewritten in it; a text cell whose
  case differs from the same value's usual case elsewhere in the column takes that case, and
  in a column whose values are mostly one case (lower, upper, title) a cell written all in
  capitals or all in small letters is converted (not an acronym of up to 4 capitals; a
  mixed-case value such as `ETA Intelligence` is left as it is).
- completeness: a missing cell in column B is filled when another column A determines B in
  the rows that have both (every A value goes with one B value, some A value repeats) and
  the row's A value has been seen with a B value.
- accuracy (text columns only: a number a digit away from a frequent one is no typo): in a
  column of few distinct values, a rare value (once or twice) within two edits of a frequent
  one (at least 3 times, at least 3 times as often) takes the frequent value; and where a
  column A nearly determines B (90% of the rows whose A value repeats have their A group's
  usual B value), a cell that disagrees with the two-thirds majority of its A group (of 3
  rows or more) takes the majority value.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable

from rapidfuzz.distance import Levenshtein

from use_cases.cleaning.domain import CellChange, CleaningResult, RowRemoval, Table
from use_cases.cleaning.ports import CleaningRequest
from use_cases.cleaning.values import (
    column_kind,
    date_format,
    dominant_date_format,
    is_missing,
    number,
    parse_date,
)

OFFLINE_CLEANER = "offline-rules"
_KIND_SHARE = 0.6
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
_UNIT = re.compile(r"^(\S+)\s+\S.*$")
ACCOUNTED = 10
"""Actions the task's justification names one by one (the others are counted)."""


class OfflineCleaner:
    async def clean(self, request: CleaningRequest) -> CleaningResult:
        return await asyncio.to_thread(clean_table, request.table, request.dimension, request.key)


Change = tuple[int, str, str, str]


def clean_table(table: Table, dimension: str, key: str | None = None) -> CleaningResult:
    if dimension == "uniqueness":
        removals = tuple(_duplicates(table))
        return CleaningResult(removals=removals, justification=account(dimension, (), removals))
    rules: dict[str, Callable[[Table, str | None], Iterable[Change]]] = {
        "consistency": _consistency,
        "completeness": _completeness,
        "accuracy": _accuracy,
    }
    changes = tuple(CellChange(r, c, v, why) for r, c, v, why in rules[dimension](table, key))
    return CleaningResult(changes=changes, justification=account(dimension, changes, ()))


def account(
    dimension: str, changes: tuple[CellChange, ...], removals: tuple[RowRemoval, ...]
) -> str:
    """The cleaner's account of a task: what it did, in numbers, then each action's reason."""
    if not changes and not removals:
        return f"No {dimension} problem found by the offline rules; nothing was changed."
    done = []
    if changes:
        columns = ", ".join(dict.fromkeys(c.column for c in changes))
        done.append(f"changed {_count(len(changes), 'cell')} (columns: {columns})")
    if removals:
        done.append(f"removed {_count(len(removals), 'duplicate row')}")
    items = [f"row {c.row} {c.column} -> {c.value!r}: {c.justification}" for c in changes] + [
        f"row {r.row} removed: {r.justification}" for r in removals
    ]
    more = len(items) - ACCOUNTED
    tail = f"; and {more} more" if more > 0 else ""
    return (
        f"For {dimension}, the offline rules {' and '.join(done)}. "
        f"{'; '.join(items[:ACCOUNTED])}{tail}."
    )


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


def _duplicates(table: Table) -> Iterable[RowRemoval]:
    seen: dict[tuple[str, ...], int] = {}
    for i, row in enumerate(table.rows):
        normal = tuple(_normal(c) for c in row)
        if normal in seen:
            yield RowRemoval(i, f"same cells as row {seen[normal]} (ignoring case and blanks)")
        else:
            seen[normal] = i


# --- consistency ------------------------------------------------------------------------------


def _consistency(table: Table, key: str | None) -> Iterable[Change]:
    for column in table.columns:
        values = table.column(column)
        kind = column_kind(values, _KIND_SHARE)
        if kind == "number":
            yield from _numbers(column, values)
        elif kind == "date":
            yield from _dates(column, values)
        else:
            yield from _cases(column, values)


def _plain_number(text: str, large: bool) -> str | None:
    text = text.strip()
    if _THOUSANDS.match(text) and (large or "." in text):
        return text.replace(",", "")
    if _DECIMAL_COMMA.match(text):
        return text.replace(",", ".")
    unit = _UNIT.match(text)
    if unit and number(unit.group(1)) is not None:
        return unit.group(1)
    return None


def _numbers(column: str, values: list[str]) -> Iterable[Change]:
    present = sorted(abs(x) for x in map(number, values) if x is not None)
    large = bool(present) and present[len(present) // 2] >= 1000
    for row, value in enumerate(values):
        if is_missing(value) or number(value) is not None:
            continue
        plain = _plain_number(value, large)
        if plain is not None and number(plain) is not None:
            yield row, column, plain, f"{value!r} is a number written unlike the column's"


def _dates(column: str, values: list[str]) -> Iterable[Change]:
    usual = dominant_date_format(values)
    if usual is None:
        return
    for row, value in enumerate(values):
        fmt = date_format(value)
        when = parse_date(value)
        if fmt is not None and fmt != usual and when is not None:
            yield row, column, when.strftime(usual), f"date in {fmt}, the column uses {usual}"


def _case_of(text: str) -> str:
    if text == text.lower():
        return "lower"
    if text == text.upper():
        return "upper"
    if text == text.title():
        return "title"
    return "mixed"


_CASE_FUNCTIONS: dict[str, Callable[[str], str]] = {
    "lower": str.lower,
    "upper": str.upper,
    "title": str.title,
}


def _acronym(text: str) -> bool:
    """An all-capitals word of up to 4 letters (`EUR`, `IT`) is written so on purpose."""
    return text.isupper() and len(text) <= 4 and text.isalpha()


def _cases(column: str, values: list[str]) -> Iterable[Change]:
    present = [v for v in values if not is_missing(v) and any(ch.isalpha() for ch in v)]
    if not present:
        return
    forms: dict[str, Counter[str]] = defaultdict(Counter)
    for value in present:
        forms[_normal(value)][value] += 1
    classes = Counter(_case_of(v) for v in present)
    usual, count = classes.most_common(1)[0]
    uniform = usual != "mixed" and count >= 0.8 * len(present)
    for row, value in enumerate(values):
        if value not in present:
            continue
        variants = forms[_normal(value)]
        best, best_count = variants.most_common(1)[0]
        if best != value and best_count > variants[value]:
            yield row, column, best, f"{value!r} is written {best!r} elsewhere in the column"
        elif uniform and _case_of(value) in ("lower", "upper") and not _acronym(value):
            fixed = _CASE_FUNCTIONS[usual](value)
            if fixed != value:
                yield row, column, fixed, f"the column's values are {usual} case"


# --- completeness -----------------------------------------------------------------------------


def _determinants(table: Table, target: str, near: float = 1.0) -> list[tuple[str, dict]]:
    """Columns A that determine `target`, best first, each with its map from A value to the
    (majority's) B value: in the rows whose A value repeats, at least `near` of them have
    their A group's majority B value."""
    found: list[tuple[int, str, dict]] = []
    b_index = table.columns.index(target)
    for a in table.columns:
        if a == target:
            continue
        a_index = table.columns.index(a)
        groups: dict[str, Counter[str]] = defaultdict(Counter)
        for row in table.rows:
            x, y = row[a_index], row[b_index]
            if not is_missing(x) and not is_missing(y):
                groups[x][y] += 1
        repeated = {x: c for x, c in groups.items() if sum(c.values()) >= 2}
        if not repeated:
            continue
        support = sum(sum(c.values()) for c in repeated.values())
        agreeing = sum(c.most_common(1)[0][1] for c in repeated.values())
        if agreeing < near * support:
            continue
        mapping = {x: c.most_common(1)[0][0] for x, c in groups.items()}
        found.append((support, a, mapping))
    found.sort(key=lambda f: (-f[0], table.columns.index(f[1])))
    return [(a, mapping) for _, a, mapping in found]


def _completeness(table: Table, key: str | None) -> Iterable[Change]:
    for column in table.columns:
        values = table.column(column)
        missing = [r for r, v in enumerate(values) if is_missing(v)]
        if not missing:
            continue
        determinants = _determinants(table, column)
        for row in missing:
            for a, mapping in determinants:
                x = table.cell(row, a)
                if not is_missing(x) and x in mapping:
                    yield row, column, mapping[x], f"{a} = {x!r} always goes with this value"
                    break


# --- accuracy ---------------------------------------------------------------------------------


def _accuracy(table: Table, key: str | None) -> Iterable[Change]:
    fixed: set[tuple[int, str]] = set()
    for row, column, value, why in [*_rare_spellings(table, key), *_majorities(table, key)]:
        if (row, column) not in fixed:
            fixed.add((row, column))
            yield row, column, value, why


def _text_columns(table: Table, key: str | None) -> list[str]:
    """Columns whose values are words: a number a digit away from a frequent one is no typo."""
    return [
        c for c in table.columns if c != key and column_kind(table.column(c), _KIND_SHARE) == "text"
    ]


def _rare_spellings(table: Table, key: str | None) -> Iterable[Change]:
    for column in _text_columns(table, key):
        values = table.column(column)
        counts = Counter(v for v in values if not is_missing(v))
        if len(counts) > max(10, len(values) // 5):
            continue
        frequent = [v for v, c in counts.most_common() if c >= 3]
        for row, value in enumerate(values):
            if is_missing(value) or counts[value] > 2:
                continue
            near = [
                f
                for f in frequent
                if counts[f] >= 3 * counts[value] and Levenshtein.distance(value, f) <= 2
            ]
            if near:
                yield row, column, near[0], f"{value!r} is a rare spelling of {near[0]!r}"


def _majorities(table: Table, key: str | None) -> Iterable[Change]:
    for column in _text_columns(table, key):
        b_index = table.columns.index(column)
        for a, _ in _determinants(table, column, near=0.9)[:1]:
            a_index = table.columns.index(a)
            groups: dict[str, list[int]] = defaultdict(list)
            for row, cells in enumerate(table.rows):
                if not is_missing(cells[a_index]):
                    groups[cells[a_index]].append(row)
            for x, rows in groups.items():
                if len(rows) < 3:
                    continue
                counts = Counter(table.rows[r][b_index] for r in rows)
                best, n = counts.most_common(1)[0]
                if n * 3 < 2 * len(rows) or is_missing(best):
                    continue
                for r in rows:
                    value = table.rows[r][b_index]
                    if value != best and not is_missing(value):
                        yield r, column, best, f"rows with {a} = {x!r} have {best!r}"
