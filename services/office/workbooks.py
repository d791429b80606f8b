"""Workbooks (`.xlsx`/`.xlsm` with openpyxl, `.ods` with calamine) read as one table per
sheet: what the table loader stores and the document loader describes.

Rules:
- The package is checked first (`package.check_package`, `package.check_parts`: 422 for a
  corrupt, truncated, password-protected or legacy file, 413 past the unpacked-bytes and
  XML budgets).
- Excel workbooks are opened once, read-only, with the values Excel cached for formulas
  (`data_only`): no formula is evaluated, no macro read (`keep_vba` off: `vbaProject.bin`
  is never opened), no external link followed. Rows stream: a sheet is never held whole;
  it is read once for its shape (width, header, row count, columns with values) and once
  more for its data. The sheet's claimed `<dimension>` is not trusted: rows are read as
  far as they go (a 5 KB file with one cell in row 1,048,576 took 1.7 s, walking a million
  padded rows three times).
- Cells become the text a CSV export would hold, so the table loader infers their types as
  it does a CSV's (`services/tables/columns.py`): whole numbers without ".0", dates as ISO
  dates, times of day with a date as ISO timestamps, booleans as "true"/"false", empty
  cells as None.
- The header row: among the first `HEADER_WINDOW` non-empty rows, the first with at least
  two cells (one, for a one-column sheet) that are all text and not numbers; rows above it
  (a title, a note) are the sheet's notes. A sheet without one gets the column letters
  ("A", "B", ...) as its header. Columns empty in the header and in every row go.
- A sheet with no data row is no table (an empty sheet, a chart sheet, a cover page of
  notes); its notes are still described.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from services.budgets import BUDGET, InputBudget
from services.office.package import check_parts
from use_cases.shared.errors import InvalidDocument

EXCEL_EXTENSIONS = (".xlsx", ".xlsm")
ODS_EXTENSIONS = (".ods",)
WORKBOOK_EXTENSIONS = (*EXCEL_EXTENSIONS, *ODS_EXTENSIONS)
#: Non-empty rows at a sheet's top searched for its header row.
HEADER_WINDOW = 10
_KIND = "workbook"

Cells = list[str | None]


@dataclass
class SheetTable:
    """One sheet read as a table: `rows()` reads its data rows again each time it is called
    (as text cells, `None` for an empty one, as wide as `headers`)."""

    sheet: str
    headers: list[str]
    notes: list[str]
    row_count: int
    rows: Callable[[], Iterator[Cells]] = field(repr=False)


def read_workbook(name: str, data: bytes, budget: InputBudget = BUDGET) -> list[SheetTable]:
    """Every sheet of the workbook `name` (its extension says which kind), in order."""
    check_parts(name, data, _KIND, budget)
    ods = name.lower().endswith(ODS_EXTENSIONS)
    sheets = _ods_sheets(name, data) if ods else _excel_sheets(name, data)
    return [_table(sheet, rows) for sheet, rows in sheets]


def _excel_sheets(name: str, data: bytes) -> list[tuple[str, Callable[[], Iterator[tuple]]]]:
    import openpyxl  # imported where it runs

    try:
        book = openpyxl.load_workbook(
            io.BytesIO(data), read_only=True, data_only=True, keep_vba=False, keep_links=False
        )
    except MemoryError:
        raise
    except Exception:  # openpyxl raises many types on a package it cannot read
        raise InvalidDocument(
            f"{name} is not a readable Excel workbook (a part it needs is missing or broken)."
        ) from None

    def reader(sheet: str) -> Callable[[], Iterator[tuple]]:
        def rows() -> Iterator[tuple]:
            try:
                worksheet = book[sheet]
                if not hasattr(worksheet, "iter_rows"):  # a chart sheet
                    return
                # The sheet's <dimension> is a claim (A1:XFD1048576, or the corner of a
                # far cell): openpyxl pads every row to it. Read the rows as they are.
                worksheet.reset_dimensions()
                yield from (row for row in worksheet.iter_rows(values_only=True) if row)
            except (KeyError, ValueError, TypeError) as exc:
                raise InvalidDocument(
                    f"{name}: its sheet {sheet!r} cannot be read ({type(exc).__name__})."
                ) from None

        return rows

    return [(sheet, reader(sheet)) for sheet in book.sheetnames]


def _ods_sheets(name: str, data: bytes) -> list[tuple[str, Callable[[], Iterator[tuple]]]]:
    from python_calamine import CalamineWorkbook  # imported where it runs

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheets = [(sheet, book.get_sheet_by_name(sheet).to_python()) for sheet in book.sheet_names]
    except MemoryError:
        raise
    except Exception:  # calamine raises its own errors on a file it cannot read
        raise InvalidDocument(
            f"{name} is not a readable OpenDocument spreadsheet; it may be corrupt."
        ) from None

    def reader(rows: list[list[Any]]) -> Callable[[], Iterator[tuple]]:
        return lambda: (tuple(row) for row in rows)

    return [(sheet, reader(rows)) for sheet, rows in sheets]


def cell_text(value: Any) -> str | None:
    """A cell's value as the text a CSV export would hold (None for an empty cell)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    text = str(value).strip()
    return text or None


def _is_label(value: Any) -> bool:
    """Text that is no number: what a header cell holds."""
    if not isinstance(value, str) or not value.strip():
        return False
    try:
        float(value.replace(",", ""))
    except ValueError:
        return True
    return False


def _table(sheet: str, read: Callable[[], Iterator[tuple]]) -> SheetTable:
    """The sheet's table from one pass over its rows (its width, header, notes, row count
    and the columns with a value), its data read again only by `rows()`."""
    top: list[tuple] = []
    top_filled: list[set[int]] = []  # the columns each of `top` has a value in
    below: set[int] = set()  # ... and the rows below `top`
    width = count = 0
    for row in read():
        filled = {i for i, value in enumerate(row) if cell_text(value) is not None}
        if not filled:
            continue
        width = max(width, max(filled) + 1)
        count += 1
        if len(top) < HEADER_WINDOW:
            top.append(row)
            top_filled.append(filled)
        else:
            below |= filled
    header_at = _header_row(top, width)
    notes = [
        " ".join(text for value in row if (text := cell_text(value)))
        for row in top[: header_at if header_at is not None else 0]
    ]
    header_row = top[header_at] if header_at is not None else None
    skip = header_at + 1 if header_at is not None else 0  # non-empty rows before the data
    filled = below.union(*top_filled[skip:])

    def raw_rows() -> Iterator[Cells]:
        seen = 0
        for row in read():
            cells = [cell_text(value) for value in row[:width]]
            if not any(cell is not None for cell in cells):
                continue
            seen += 1
            if seen > skip:
                yield cells + [None] * (width - len(cells))

    headers = (
        [cell_text(v) or "" for v in header_row[:width]] + [""] * (width - len(header_row))
        if header_row is not None
        else [_column_letters(i) for i in range(width)]
    )
    used = [i for i in range(width) if headers[i] or i in filled]
    headers = [headers[i] or _column_letters(i) for i in used]

    def rows() -> Iterator[Cells]:
        for cells in raw_rows():
            yield [cells[i] for i in used]

    return SheetTable(sheet, headers, notes, count - skip, rows)


def _header_row(top: list[tuple], width: int) -> int | None:
    for index, row in enumerate(top):
        values = [value for value in row if cell_text(value) is not None]
        if len(values) >= min(2, width) and all(_is_label(value) for value in values):
            return index
    return None


def _column_letters(index: int) -> str:
    """0 -> "A", 25 -> "Z", 26 -> "AA": a spreadsheet's column name."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters
