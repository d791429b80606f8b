"""Reading a CSV/TSV or JSON Lines file (or a workbook's sheet) twice: once to validate every
line and infer the column types, then again to stream the rows into the database. A JSON line
that nests deeper than the JSON depth budget (services/budgets.py) is refused before it is
parsed."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.budgets import InputBudget, loads_bounded
from services.office.workbooks import SheetTable, read_workbook
from services.tables.columns import ColumnType, convert_json, convert_text
from use_cases.shared.errors import InvalidRequest
from use_cases.tables.tables import sheet_table_name, validate_table_name


@dataclass
class SourceFile:
    """A validated file: original column names, inferred types, and a way to re-read rows."""

    headers: list[str]
    types: list[ColumnType]
    row_count: int
    rows: Callable[[], Iterator[list[Any]]] = field(repr=False)
    convert: Callable[[Any, str], Any] = field(repr=False)


def _utf8_lines(file: Path) -> Iterator[tuple[int, str]]:
    """(line number, decoded line) pairs, failing with the exact line on invalid UTF-8."""
    try:
        handle = file.open("rb")
    except FileNotFoundError:
        raise InvalidRequest(f"{file} does not exist.") from None
    except OSError as exc:
        raise InvalidRequest(f"Cannot read {file}: {exc.strerror or exc}.") from None
    with handle:
        for line_no, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidRequest(
                    f"{file.name}, line {line_no}: not valid UTF-8 text (byte {exc.start + 1} "
                    "of the line). Save the file as UTF-8 and load it again."
                ) from None
            if "\x00" in text:
                raise InvalidRequest(
                    f"{file.name}, line {line_no}: contains a NUL byte, so this is not a text "
                    "file (a spreadsheet saved with the wrong extension?). Export it as CSV."
                )
            if line_no == 1:
                text = text.removeprefix("\ufeff")
            yield line_no, text


def _csv_records(file: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank CSV records with the physical line on which each one ends."""
    lines = _utf8_lines(file)
    reader = csv.reader((text for _, text in lines), delimiter=delimiter, strict=True)
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InvalidRequest(
                f"{file.name}, line {reader.line_num}: malformed CSV ({exc})."
            ) from None
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # blank line
        yield reader.line_num, record


def read_csv(file: Path, delimiter: str) -> SourceFile:
    def rows() -> Iterator[list[Any]]:
        records = _csv_records(file, delimiter)
        next(records, None)  # header
        width = len(headers)
        for line_no, record in records:
            if len(record) != width:
                raise InvalidRequest(
                    f"{file.name}, line {line_no}: expected {width} fields like the header, "
                    f"found {len(record)}. Check for a missing or extra delimiter or an "
                    "unbalanced quote."
                )
            yield record

    records = _csv_records(file, delimiter)
    first = next(records, None)
    if first is None:
        raise InvalidRequest(f"{file.name} is empty: expected a header line and data rows.")
    headers = [cell.strip() for cell in first[1]]
    types = [ColumnType() for _ in headers]
    count = 0
    for record in rows():
        count += 1
        for column, cell in zip(types, record, strict=True):
            stripped = cell.strip()
            if stripped:
                column.observe_text(stripped)
    return SourceFile(headers, types, count, rows, convert_text)


def read_jsonl(file: Path) -> SourceFile:
    def objects() -> Iterator[tuple[int, dict[str, Any]]]:
        for line_no, text in _utf8_lines(file):
            if not text.strip():
                continue
            try:
                value = loads_bounded(text, f"{file.name}, line {line_no}")
            except json.JSONDecodeError as exc:
                raise InvalidRequest(
                    f"{file.name}, line {line_no}: invalid JSON ({exc.msg} at column "
                    f"{exc.colno}). Each line must be one JSON object."
                ) from None
            if not isinstance(value, dict):
                kind = type(value).__name__
                kind = {"list": "an array", "str": "a string", "NoneType": "null"}.get(
                    kind, f"a {kind}"
                )
                raise InvalidRequest(
                    f"{file.name}, line {line_no}: expected a JSON object, got {kind}. Each "
                    'line must be one object such as {"id": 1, "name": "Ada"}.'
                )
            yield line_no, value

    def rows() -> Iterator[list[Any]]:
        for _, value in objects():
            yield [value.get(key) for key in headers]

    headers: list[str] = []
    positions: dict[str, int] = {}
    types: list[ColumnType] = []
    count = 0
    for _, value in objects():
        count += 1
        for key, cell in value.items():
            if key not in positions:
                positions[key] = len(headers)
                headers.append(key)
                types.append(ColumnType())
            if cell is not None:
                types[positions[key]].observe_json(cell)
    if count == 0:
        raise InvalidRequest(f"{file.name} is empty: expected one JSON object per line.")
    return SourceFile(headers, types, count, rows, convert_json)


def read_sheet(sheet: SheetTable) -> SourceFile:
    """A workbook's sheet (services/office/workbooks.py: its cells already the text a CSV
    export would hold), typed as a CSV file is."""
    types = [ColumnType() for _ in sheet.headers]
    for row in sheet.rows():
        for column, cell in zip(types, row, strict=True):
            if cell is not None and cell.strip():
                column.observe_text(cell.strip())

    def rows() -> Iterator[list[Any]]:
        for row in sheet.rows():
            yield [cell if cell is not None else "" for cell in row]

    return SourceFile(list(sheet.headers), types, sheet.row_count, rows, convert_text)


def read_workbook_sheets(
    file: Path, prefix: str | None, budget: InputBudget
) -> list[tuple[str, SourceFile]]:
    """Each sheet with data of the workbook `file` as (its table's name, its rows), the name
    `sheet_table_name(prefix or the file's name, sheet)`; refused (nothing to write) when the
    workbook cannot be read, has no data, or two sheets would be the same table."""
    if prefix is not None:
        validate_table_name(prefix)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise InvalidRequest(f"{file} does not exist.") from None
    except OSError as exc:
        raise InvalidRequest(f"Cannot read {file}: {exc.strerror or exc}.") from None
    sheets = [s for s in read_workbook(file.name, data, budget) if s.row_count]
    if not sheets:
        raise InvalidRequest(f"{file.name} has no sheet with a row of data: nothing loaded.")
    named = [(sheet_table_name(prefix or file.name, s.sheet), read_sheet(s)) for s in sheets]
    seen: dict[str, str] = {}
    for (name, _), sheet in zip(named, sheets, strict=True):
        if name in seen:
            raise InvalidRequest(
                f"{file.name}: the sheets {seen[name]!r} and {sheet.sheet!r} would both be "
                f"the table {name}; rename one."
            )
        seen[name] = sheet.sheet
    return named
