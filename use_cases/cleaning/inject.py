"""The error injector: one dimension at one difficulty, reproducible from a seed.

Rules:
- The same table, dimension, difficulty and seed give the same dirty table and ground truth
  on every machine (`random.Random` seeded with a text built from them).
- The key column (`SourceTable.key`) never gets errors. Only cells that hold a value get an
  error, and an error always changes the value (`values.same_value` says it differs).
- How many: `RATES[difficulty]` of the eligible cells (of the rows, for duplicates), at least
  one. What, by dimension:
  * accuracy: typos (a letter or digit swapped, replaced, dropped or doubled) and wrong values
    (another value of the same column); easy is typos only, medium half and half, hard two
    wrong values in three;
  * completeness: the cell is emptied;
  * consistency: another format of the same value: a date in another format, a number with a
    thousands separator, a decimal comma or its unit, text in another case; easy uses one
    format per column, medium and hard mix them;
  * uniqueness: a copy of a row inserted elsewhere; at hard half the copies differ from the
    original in the case of one text cell (near duplicates).
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Sequence

from use_cases.cleaning.domain import (
    Difficulty,
    Dimension,
    GroundTruth,
    InjectedError,
    SourceTable,
    Table,
    Task,
    task_id,
)
from use_cases.cleaning.values import (
    ColumnKind,
    column_kind,
    date_format,
    is_missing,
    number,
    parse_date,
    same_value,
)

RATES: dict[str, float] = {"easy": 0.03, "medium": 0.06, "hard": 0.12}
_ATTEMPTS = 20


def build_task(
    source: SourceTable, dimension: Dimension, difficulty: Difficulty, seed: int
) -> Task:
    rng = random.Random(f"{seed}|{source.name}|{dimension}|{difficulty}")
    table = source.table
    if dimension == "uniqueness":
        dirty, origin, errors = _duplicates(table, source.key, difficulty, rng)
    else:
        dirty, errors = _cell_errors(source, dimension, difficulty, rng)
        origin = tuple(range(len(table.rows)))
    return Task(
        id=task_id(source.name, dimension, difficulty),
        table=source.name,
        table_version=source.version,
        dimension=dimension,
        difficulty=difficulty,
        seed=seed,
        dirty=dirty,
        truth=GroundTruth(table, origin, errors),
        key=source.key,
    )


def _eligible_columns(table: Table, key: str | None) -> list[str]:
    return [c for c in table.columns if c != key]


def _cell_errors(
    source: SourceTable, dimension: Dimension, difficulty: Difficulty, rng: random.Random
) -> tuple[Table, tuple[InjectedError, ...]]:
    table = source.table
    columns = _eligible_columns(table, source.key)
    kinds = {c: column_kind(table.column(c)) for c in columns}
    cells = [
        (r, c) for r in range(len(table.rows)) for c in columns if not is_missing(table.cell(r, c))
    ]
    wanted = max(1, round(RATES[difficulty] * len(cells)))
    rng.shuffle(cells)
    column_style = {c: rng.random() for c in columns}  # easy: one format per column
    distinct = {c: sorted({v for v in table.column(c) if not is_missing(v)}) for c in columns}
    rows = [list(row) for row in table.rows]
    errors: list[InjectedError] = []
    for r, c in cells:
        if len(errors) >= wanted:
            break
        clean = table.cell(r, c)
        made = _corrupt(
            dimension,
            difficulty,
            clean,
            distinct[c],
            kinds[c],
            source.units.get(c),
            rng,
            column_style[c],
        )
        if made is None:
            continue
        kind, dirty = made
        rows[r][table.columns.index(c)] = dirty
        errors.append(InjectedError(r, c, kind, clean, dirty))
    errors.sort(key=lambda e: (e.row, table.columns.index(e.column or "")))
    return Table(table.name, table.columns, tuple(tuple(r) for r in rows)), tuple(errors)


def _corrupt(
    dimension: Dimension,
    difficulty: Difficulty,
    clean: str,
    distinct: Sequence[str],
    kind: ColumnKind,
    unit: str | None,
    rng: random.Random,
    style: float,
) -> tuple[str, str] | None:
    if dimension == "completeness":
        return "blank", ""
    if dimension == "consistency":
        variants = _format_variants(clean, kind, unit)
        if not variants:
            return None
        if difficulty == "easy":
            name, dirty = variants[int(style * len(variants))]
        else:
            name, dirty = rng.choice(variants)
        return name, dirty
    wrong_share = {"easy": 0.0, "medium": 0.5, "hard": 2 / 3}[difficulty]
    if rng.random() < wrong_share:
        wrong = _wrong_value(clean, distinct, rng)
        if wrong is not None:
            return "wrong_value", wrong
    typo = _typo(clean, rng)
    return ("typo", typo) if typo is not None else None


def _typo(clean: str, rng: random.Random) -> str | None:
    for _ in range(_ATTEMPTS):
        positions = [i for i, ch in enumerate(clean) if ch.isalnum()]
        if not positions:
            return None
        i = rng.choice(positions)
        ch = clean[i]
        pool = string.digits if ch.isdigit() else string.ascii_lowercase
        if ch.isupper():
            pool = string.ascii_uppercase
        op = rng.choice(("swap", "replace", "drop", "double"))
        if op == "swap" and i + 1 < len(clean) and clean[i + 1].isalnum():
            dirty = clean[:i] + clean[i + 1] + ch + clean[i + 2 :]
        elif op == "drop" and len(clean) > 1:
            dirty = clean[:i] + clean[i + 1 :]
        elif op == "double":
            dirty = clean[:i] + ch + clean[i:]
        else:
            dirty = clean[:i] + rng.choice(pool.replace(ch, "")) + clean[i + 1 :]
        if dirty.strip() and not same_value(dirty, clean):
            return dirty
    return None


def _wrong_value(clean: str, distinct: Sequence[str], rng: random.Random) -> str | None:
    """Another value of the column (`distinct`: its values, sorted)."""
    for _ in range(_ATTEMPTS):
        if not distinct:
            return None
        value = distinct[rng.randrange(len(distinct))]
        if not same_value(value, clean):
            return value
    return None


def _thousands(text: str) -> str | None:
    sign = "-" if text.startswith("-") else ""
    whole, _, decimals = text.lstrip("+-").partition(".")
    if len(whole) < 4 or not whole.isdigit():
        return None
    grouped = f"{int(whole):,}"
    return sign + grouped + (f".{decimals}" if decimals else "")


_OTHER_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%b %d %Y", "%Y/%m/%d", "%d.%m.%Y")
_CASES: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("upper_case", str.upper),
    ("lower_case", str.lower),
    ("title_case", str.title),
)


def _format_variants(clean: str, kind: ColumnKind, unit: str | None) -> list[tuple[str, str]]:
    variants: list[tuple[str, str]] = []
    if kind == "date":
        when, own = parse_date(clean), date_format(clean)
        if when is not None:
            variants = [
                ("date_format", when.strftime(f))
                for f in _OTHER_DATE_FORMATS
                if f != own and date_format(when.strftime(f)) == f
            ]
    elif kind == "number" and number(clean) is not None:
        text = clean.strip()
        grouped = _thousands(text)
        if grouped:
            variants.append(("thousands_separator", grouped))
        if "." in text and "e" not in text.lower():
            variants.append(("decimal_comma", text.replace(".", ",")))
        if unit:
            variants.append(("unit_suffix", f"{text} {unit}"))
    elif kind == "text":
        variants = [(name, case(clean)) for name, case in _CASES if case(clean) != clean]
    return [(name, v) for name, v in variants if not same_value(v, clean)]


def _duplicates(
    table: Table, key: str | None, difficulty: Difficulty, rng: random.Random
) -> tuple[Table, tuple[int, ...], tuple[InjectedError, ...]]:
    count = max(1, round(RATES[difficulty] * len(table.rows)))
    sources = rng.sample(range(len(table.rows)), min(count, len(table.rows)))
    text_columns = [
        c for c in _eligible_columns(table, key) if column_kind(table.column(c)) == "text"
    ]
    rows: list[tuple[int, tuple[str, ...], str]] = [
        (i, row, "") for i, row in enumerate(table.rows)
    ]
    for n, origin in enumerate(sources):
        copy = list(table.rows[origin])
        kind = "duplicate"
        if difficulty == "hard" and n % 2 == 1 and text_columns:
            column = rng.choice(text_columns)
            index = table.columns.index(column)
            changed = [case(copy[index]) for _, case in _CASES if case(copy[index]) != copy[index]]
            if changed:
                copy[index] = rng.choice(changed)
                kind = "near_duplicate"
        position = rng.randrange(len(rows) + 1)
        rows.insert(position, (origin, tuple(copy), kind))
    dirty = Table(table.name, table.columns, tuple(row for _, row, _ in rows))
    errors = tuple(InjectedError(i, None, kind) for i, (_, _, kind) in enumerate(rows) if kind)
    return dirty, tuple(origin for origin, _, _ in rows), errors
