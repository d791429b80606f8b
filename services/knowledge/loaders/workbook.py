"""Workbooks (`.xlsx`, `.xlsm`, `.ods`) as documents: a short description of each sheet, so
search and the assistant know the sheet exists and which table holds it. The rows themselves
are the tables' (services/tables: `almanac tables load`, `POST /api/tables`, and `almanac
ingest` of a folder load a workbook's sheets as tables); the reading is shared
(services/office/workbooks.py).

- Sections: one per sheet, heading path `(title, "Sheet <name>")`, so a citation names the
  sheet. Its text: the sheet's name, the table it is loaded as (`sheet_table_name`), its
  row count and columns, the notes above its header row, and its first `SAMPLE_ROWS` rows
  as a Markdown table.
- Title: the file name made readable; `updated_at` none (a workbook's own dates are rarely
  kept up to date by its editors). The sheet count goes to metadata.
"""

from __future__ import annotations

from itertools import islice

from services.budgets import BUDGET, InputBudget
from services.knowledge.loaders.common import (
    ensure_text,
    extension,
    humanise_stem,
    markdown_table,
)
from services.office.package import check_package
from services.office.workbooks import WORKBOOK_EXTENSIONS, SheetTable, read_workbook
from use_cases.knowledge.domain import ParsedDocument, ParsedSection
from use_cases.tables.tables import sheet_table_name

__all__ = ["WORKBOOK_EXTENSIONS", "WorkbookLoader"]

#: Rows of a sheet shown in its description.
SAMPLE_ROWS = 5


class WorkbookLoader:
    """Loads workbooks as sheet descriptions (the module docstring has the rules)."""

    extensions = WORKBOOK_EXTENSIONS
    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    def __init__(self, budget: InputBudget = BUDGET) -> None:
        self._budget = budget

    def supports(self, name: str) -> bool:
        return extension(name) in WORKBOOK_EXTENSIONS

    def check(self, name: str, data: bytes) -> None:
        check_package(name, data, "workbook", self._budget)

    def load(self, name: str, data: bytes) -> ParsedDocument:
        sheets = read_workbook(name, data, self._budget)
        title = humanise_stem(name)
        sections = tuple(
            ParsedSection((title, f"Sheet {sheet.sheet}"), text)
            for sheet in sheets
            if (text := describe_sheet(name, sheet))
        )
        ensure_text(name, "".join(section.text for section in sections))
        media_type = (
            "application/vnd.oasis.opendocument.spreadsheet"
            if extension(name) == ".ods"
            else self.media_type
        )
        return ParsedDocument(
            title=title,
            sections=sections,
            media_type=media_type,
            metadata={"sheets": str(len(sheets))},
        )


def describe_sheet(workbook: str, sheet: SheetTable) -> str:
    """What search reads of one sheet (the module docstring lists it); "" for an empty one."""
    notes = "\n".join(sheet.notes)
    if not sheet.row_count:
        return f"Sheet {sheet.sheet} of {workbook}.\n\n{notes}".strip() if notes else ""
    rows = [
        sheet.headers,
        *([cell or "" for cell in row] for row in islice(sheet.rows(), SAMPLE_ROWS)),
    ]
    table = sheet_table_name(workbook, sheet.sheet)
    lines = [
        f"Sheet {sheet.sheet} of {workbook}: {sheet.row_count:,} "
        f"row{'s' if sheet.row_count != 1 else ''}, the table {table} "
        f"(columns: {', '.join(sheet.headers)}).",
    ]
    if notes:
        lines.append(notes)
    shown = "First rows:" if sheet.row_count > SAMPLE_ROWS else "Rows:"
    lines.append(f"{shown}\n\n{markdown_table(rows)}")
    return "\n\n".join(lines)
