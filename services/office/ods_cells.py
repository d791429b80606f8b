"""An OpenDocument spreadsheet's (`.ods`) cells that hold a value, sheet by sheet, read from
its `content.xml` as a stream: what a workbook's table is made of (services/office/
workbooks.py).

Rules:
- Only cells holding a value are kept, each with its column (0 for A); a row is the list of
  them, in column order. Blank cells, however many a `table:number-columns-repeated` says,
  only move the column on; blank rows, however many `table:number-rows-repeated` says, are
  no rows. So a sheet costs what its values are, never what its repeats of blanks claim (a
  784-byte file whose blanks stretch each row to column XFD is a few cells).
- A repeated cell or row holding a value is as many cells or rows as it says; each one is
  counted by `charge` before it is kept, so a repeat standing for millions of values stops
  at the caller's budget.
- Values are those a spreadsheet application shows, typed as openpyxl types Excel's: a
  number (`float`, `percentage`, `currency`) a float, a `date` a date or a datetime, a `time`
  a time of day (a duration of a day or more: a timedelta), a `boolean` a bool, text a str
  (`office:string-value` when given, else the cell's paragraphs joined by line breaks, with
  their spaces, tabs and line breaks). A value that does not parse is kept as its text. A
  cell's comment (`office:annotation`) is no part of its value, and a cell a merged cell
  covers (`table:covered-table-cell`) is blank, as a spreadsheet application shows it.
- The part has been checked before (services/office/package.py: no DTD, its depth and
  elements within budget); a part that is not well-formed XML is `InvalidDocument`.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from xml.parsers import expat

from services.budgets import ARCHIVE_ERRORS
from use_cases.shared.errors import InvalidDocument

__all__ = ["Cell", "SparseRow", "ods_sheets"]

#: A cell holding a value: (its column, 0 for A; its value).
Cell = tuple[int, Any]
SparseRow = list[Cell]

_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_SEP = "|"
_SHEET = f"{_TABLE}{_SEP}table"
_ROW = f"{_TABLE}{_SEP}table-row"
_CELL = f"{_TABLE}{_SEP}table-cell"
_COVERED = f"{_TABLE}{_SEP}covered-table-cell"
_PARAGRAPH = f"{_TEXT}{_SEP}p"
_ANNOTATION = f"{_OFFICE}{_SEP}annotation"
#: What a paragraph's inline elements stand for.
_SPACE = f"{_TEXT}{_SEP}s"
_INLINE = {f"{_TEXT}{_SEP}tab": "\t", f"{_TEXT}{_SEP}line-break": "\n"}
_READ_CHUNK = 256 * 1024
_DURATION = re.compile(
    r"(-)?P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", re.ASCII
)


def _attr(name: str, namespace: str = _TABLE) -> str:
    return f"{namespace}{_SEP}{name}"


_SHEET_NAME = _attr("name")
_COLUMNS_REPEATED = _attr("number-columns-repeated")
_ROWS_REPEATED = _attr("number-rows-repeated")
_VALUE_TYPE = _attr("value-type", _OFFICE)


def ods_sheets(
    name: str, archive: zipfile.ZipFile, charge: Callable[[int], None]
) -> list[tuple[str, list[SparseRow]]]:
    """Each sheet of the spreadsheet in `archive` as (its name, its rows that hold a value),
    in order; `charge(n)` is called before `n` more cells are kept (it raises to stop)."""
    reader = _Reader(charge)
    parser = expat.ParserCreate(namespace_separator=_SEP)
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.text
    try:
        with archive.open("content.xml") as stream:
            while chunk := stream.read(_READ_CHUNK):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except KeyError:
        raise InvalidDocument(f"{name} has no content.xml: not an OpenDocument file.") from None
    except expat.ExpatError as exc:
        raise InvalidDocument(
            f"{name}: its content.xml is not well-formed XML ({expat.ErrorString(exc.code)}, "
            f"line {exc.lineno}); the file may be corrupt."
        ) from None
    except ARCHIVE_ERRORS as exc:
        raise InvalidDocument(
            f"{name}: its content.xml cannot be unpacked ({type(exc).__name__}); the file may "
            "be corrupt or truncated."
        ) from None
    return reader.sheets


class _Reader:
    """The expat handlers: the open sheet, row and cell, and what was read of them."""

    def __init__(self, charge: Callable[[int], None]) -> None:
        self.sheets: list[tuple[str, list[SparseRow]]] = []
        self._charge = charge
        self._depth = 0  # elements open
        self._sheet_depth = 0  # the depth of the open sheet (0: none)
        self._rows: list[SparseRow] = []
        self._row: SparseRow | None = None
        self._row_at = 0  # the depth of the open row (0: none)
        self._row_repeat = 1
        self._column = 0
        self._cell_depth = 0  # the depth of the open cell (0: none)
        self._cell: dict[str, str] = {}
        self._cell_repeat = 1
        self._covered = False
        self._paragraphs: list[list[str]] = []
        self._in_paragraph = 0  # paragraphs open inside the cell's own paragraph
        self._in_annotation = 0

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        self._depth += 1
        if self._cell_depth:
            self._start_in_cell(tag, attributes)
        elif tag == _SHEET and not self._sheet_depth:
            self._sheet_depth = self._depth
            self._rows = []
            name = attributes.get(_SHEET_NAME) or f"Sheet{len(self.sheets) + 1}"
            self.sheets.append((name, self._rows))
        elif tag == _ROW and self._sheet_depth and self._row is None:
            self._row, self._column, self._row_at = [], 0, self._depth
            self._row_repeat = _repeat(attributes, _ROWS_REPEATED)
        elif tag in (_CELL, _COVERED) and self._row is not None:
            self._cell_depth = self._depth
            self._cell = attributes
            self._cell_repeat = _repeat(attributes, _COLUMNS_REPEATED)
            self._covered = tag == _COVERED
            self._paragraphs = []

    def _start_in_cell(self, tag: str, attributes: dict[str, str]) -> None:
        if tag == _ANNOTATION:
            self._in_annotation += 1
        elif self._in_annotation:
            return
        elif tag == _PARAGRAPH:
            if not self._in_paragraph:
                self._paragraphs.append([])
            self._in_paragraph += 1
        elif self._in_paragraph and tag == _SPACE:
            self._paragraphs[-1].append(" " * _repeat(attributes, _attr("c", _TEXT)))
        elif self._in_paragraph and tag in _INLINE:
            self._paragraphs[-1].append(_INLINE[tag])

    def text(self, data: str) -> None:
        if self._in_paragraph and not self._in_annotation:
            self._paragraphs[-1].append(data)

    def end(self, tag: str) -> None:
        depth = self._depth
        self._depth -= 1
        if self._cell_depth:
            if depth == self._cell_depth:
                self._end_cell()
            elif tag == _ANNOTATION:
                self._in_annotation -= 1
            elif tag == _PARAGRAPH and not self._in_annotation:
                self._in_paragraph -= 1
        elif depth == self._row_at:
            self._end_row()
        elif depth == self._sheet_depth:
            self._sheet_depth = 0

    def _end_cell(self) -> None:
        assert self._row is not None
        value = None if self._covered else _value(self._cell, self._paragraphs)
        if value is not None:
            self._charge(self._cell_repeat)
            self._row.extend((self._column + k, value) for k in range(self._cell_repeat))
        self._column += self._cell_repeat
        self._cell_depth = 0
        self._cell = {}
        self._paragraphs = []
        self._in_paragraph = self._in_annotation = 0

    def _end_row(self) -> None:
        row, self._row, self._row_at = self._row, None, 0
        if not row:
            return
        self._rows.append(row)  # its cells were counted as they were read
        for _ in range(self._row_repeat - 1):
            self._charge(len(row))
            self._rows.append(row)


def _repeat(attributes: dict[str, str], name: str) -> int:
    """A repeat count (1 when absent, not a number, or below 1)."""
    value = attributes.get(name, "1")
    return max(1, int(value)) if value.isascii() and value.isdigit() else 1


def _value(cell: dict[str, str], paragraphs: list[list[str]]) -> Any:
    """The cell's value (the module docstring says which type), or None for a blank one."""
    kind = cell.get(_VALUE_TYPE)
    shown = "\n".join("".join(parts) for parts in paragraphs)
    if kind in ("float", "percentage", "currency"):
        return _parsed(float, cell.get(_attr("value", _OFFICE)), shown)
    if kind == "date":
        return _parsed(_date, cell.get(_attr("date-value", _OFFICE)), shown)
    if kind == "time":
        return _parsed(_duration, cell.get(_attr("time-value", _OFFICE)), shown)
    if kind == "boolean":
        flag = cell.get(_attr("boolean-value", _OFFICE), "").strip().lower()
        return flag == "true" if flag in ("true", "false") else (shown or None)
    text = cell.get(_attr("string-value", _OFFICE), shown)
    return text if text.strip() else None


def _parsed(parse: Callable[[str], Any], raw: str | None, shown: str) -> Any:
    if raw is not None:
        try:
            return parse(raw.strip())
        except (ValueError, OverflowError):
            pass
    return shown if shown.strip() else raw


def _date(raw: str) -> date | datetime:
    if "T" in raw:
        return datetime.fromisoformat(raw)
    return date.fromisoformat(raw)


def _duration(raw: str) -> time | timedelta:
    match = _DURATION.fullmatch(raw)
    if match is None or raw in ("P", "-P", "PT", "-PT"):
        raise ValueError(raw)
    sign, days, hours, minutes, seconds = match.groups()
    length = timedelta(
        days=int(days or 0),
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=float(seconds or 0),
    )
    if sign:
        return -length
    if length < timedelta(days=1):
        return (datetime.min + length).time()
    return length
