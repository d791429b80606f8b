"""Workbooks (`.xlsx`/`.xlsm` with openpyxl's sheet parser, `.ods` with our own,
services/office/ods_cells.py) read as one table per sheet: what the table loader stores and
the document loader describes.

Rules:
- The package is checked first (`package.check_package`, `package.check_parts`: 422 for a
  corrupt, truncated, password-protected or legacy file, 413 past the unpacked-bytes and
  XML budgets).
- Excel workbooks are opened once, read-only, with the values Excel cached for formulas
  (`data_only`): no formula is evaluated, no macro read (`keep_vba` off: `vbaProject.bin`
  is never opened), no external link followed. Rows stream: a sheet is never held whole;
  it is read once for its shape (header, row count, columns with values) and once more for
  its data. An OpenDocument spreadsheet's `content.xml` is read once, its cells with a
  value kept.
- A sheet costs what its values are: only the cells holding a value are read (openpyxl's
  own rows are padded out to their last cell, a row with a cell in column XFD to 16,384
  values; OpenDocument's repeats of blank cells and rows only move the reader on), and the
  table's rows and columns are those holding a value. Neither the sheet's claimed
  `<dimension>`, nor a far cell, nor repeated blanks widen or lengthen it: blank columns
  and rows, between values or after them, cost nothing.
- The cells of a workbook are bounded (`InputBudget.max_workbook_cells`, the
  MAX_WORKBOOK_CELLS setting): the cells holding a value, counted as they are read (a
  repeated OpenDocument cell or row as the many it stands for), and the cells of the tables
  its sheets become (rows x columns), each all sheets together. Past either,
  `InputTooCostly` (413) naming the setting, before any table is written or described.
- Cells become the text a CSV export would hold, so the table loader infers their types as
  it does a CSV's (`services/tables/columns.py`): whole numbers without ".0", dates as ISO
  dates, times of day with a date as ISO timestamps, booleans as "true"/"false", empty
  cells as None.
- The header row: among the first `HEADER_WINDOW` non-empty rows, the first with at least
  two cells (one, for a sheet whose values are all in one column) that are all text and
  not numbers; rows above it (a title, a note) are the sheet's notes. A sheet without one
  gets the column letters ("A", "B", ...) of its columns with values as its header.
  Columns empty in the header and in every row are no columns of the table.
- A sheet with no data row is no table (an empty sheet, a chart sheet, a cover page of
  notes); its notes are still described.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from services.budgets import ARCHIVE_ERRORS, BUDGET, InputBudget
from services.office.ods_cells import SparseRow, ods_sheets
from services.office.package import check_parts
from use_cases.shared.errors import InputTooCostly, InvalidDocument

EXCEL_EXTENSIONS = (".xlsx", ".xlsm")
ODS_EXTENSIONS = (".ods",)
WORKBOOK_EXTENSIONS = (*EXCEL_EXTENSIONS, *ODS_EXTENSIONS)
#: Non-empty rows at a sheet's top searched for its header row.
HEADER_WINDOW = 10
#: The setting that sets `InputBudget.max_workbook_cells` (named in refusals).
CELLS_SETTING = "MAX_WORKBOOK_CELLS"
_KIND = "workbook"

Cells = list[str | None]
Rows = Callable[[], Iterator[SparseRow]]


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
    limit = budget.max_workbook_cells
    sheets = _ods_sheets(name, data, _CellBudget(name, limit)) if ods else _excel_sheets(name, data)
    cells = _CellBudget(name, limit)
    return [_table(sheet, rows, cells) for sheet, rows in sheets]


class _CellBudget:
    """The cells of one workbook, against `limit` (the module docstring's rule)."""

    def __init__(self, name: str, limit: int) -> None:
        self._name = name
        self._limit = limit
        self._values = 0
        self._table_cells = 0

    def values(self, count: int) -> None:
        """`count` more cells holding a value have been read."""
        self._values += count
        if self._values > self._limit:
            raise InputTooCostly(
                f"{self._name} holds more than {self._limit:,} cells with a value; a workbook "
                f"may hold at most {self._limit:,} ({CELLS_SETTING}): refused. Split it into "
                "smaller workbooks."
            )

    def table(self, rows: int, columns: int) -> None:
        """A sheet makes a table of `rows` x `columns` cells."""
        self._table_cells += rows * columns
        if self._table_cells > self._limit:
            raise InputTooCostly(
                f"{self._name}: its sheets make tables of more than {self._limit:,} cells "
                f"(rows x columns, the empty cells between values included); a workbook may "
                f"make at most {self._limit:,} ({CELLS_SETTING}): refused. Split it into "
                "smaller workbooks."
            )


def _excel_sheets(name: str, data: bytes) -> list[tuple[str, Rows]]:
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

    def reader(sheet: str) -> Rows:
        def rows() -> Iterator[SparseRow]:
            try:
                worksheet = book[sheet]
                if not hasattr(worksheet, "iter_rows"):  # a chart sheet
                    return
                yield from _excel_rows(book, worksheet)
            except (KeyError, ValueError, TypeError, IndexError) as exc:
                raise InvalidDocument(
                    f"{name}: its sheet {sheet!r} cannot be read ({type(exc).__name__})."
                ) from None

        return rows

    return [(sheet, reader(sheet)) for sheet in book.sheetnames]


def _excel_rows(book: Any, worksheet: Any) -> Iterator[SparseRow]:
    """The worksheet's rows as the cells holding a value, in the order the sheet lists them.
    openpyxl's `iter_rows` pads each row from column A to its last cell (and, trusting the
    sheet's `<dimension>`, to the claimed extent); its sheet parser, which `iter_rows` reads
    through, yields the cells there are, so it is read directly, as `iter_rows` calls it."""
    from openpyxl.worksheet._reader import WorkSheetParser  # imported where it runs

    with worksheet._get_source() as source:
        parser = WorkSheetParser(
            source,
            worksheet._shared_strings,
            data_only=True,
            epoch=book.epoch,
            date_formats=book._date_formats,
            timedelta_formats=book._timedelta_formats,
        )
        for _, cells in parser.parse():
            row = [
                (cell["column"] - 1, cell["value"]) for cell in cells if cell["value"] is not None
            ]
            if row:
                yield row


def _ods_sheets(name: str, data: bytes, cells: _CellBudget) -> list[tuple[str, Rows]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except ARCHIVE_ERRORS:  # checked before; a second reading fails alike
        raise InvalidDocument(
            f"{name} is not a readable OpenDocument spreadsheet; it may be corrupt."
        ) from None
    with archive:
        sheets = ods_sheets(name, archive, cells.values)

    def reader(rows: list[SparseRow]) -> Rows:
        return lambda: iter(rows)

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


def _table(sheet: str, read: Rows, cells: _CellBudget) -> SheetTable:
    """The sheet's table from one pass over its rows (its header, notes, row count and the
    columns with a value), its data read again only by `rows()`."""
    top: list[dict[int, Any]] = []  # the first non-empty rows, by column
    below: set[int] = set()  # the columns the rows below `top` have a value in
    columns: set[int] = set()
    count = 0
    for row in read():
        filled = {column: value for column, value in row if cell_text(value) is not None}
        if not filled:
            continue
        cells.values(len(filled))
        count += 1
        columns.update(filled)
        if len(top) < HEADER_WINDOW:
            top.append(filled)
        else:
            below.update(filled)
    header_at = _header_row(top, len(columns))
    notes = [
        " ".join(text for _, value in sorted(row.items()) if (text := cell_text(value)))
        for row in top[: header_at if header_at is not None else 0]
    ]
    header = top[header_at] if header_at is not None else {}
    skip = header_at + 1 if header_at is not None else 0  # non-empty rows before the data
    used = sorted(below.union(header, *top[skip:]))
    headers = [cell_text(header.get(i)) or _column_letters(i) for i in used]
    cells.table(count - skip, len(used))

    def rows() -> Iterator[Cells]:
        seen = 0
        for row in read():
            texts = {column: text for column, value in row if (text := cell_text(value))}
            if not texts:
                continue
            seen += 1
            if seen > skip:
                yield [texts.get(i) for i in used]

    return SheetTable(sheet, headers, notes, count - skip, rows)


def _header_row(top: list[dict[int, Any]], width: int) -> int | None:
    for index, row in enumerate(top):
        values = list(row.values())
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
