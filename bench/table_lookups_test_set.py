"""The never-tuned workbook of the table lookups' held-out check (`bench/table_lookups.py`).

Written, with its eight questions and their answers, before the offline table answerer was
run on anything; never used to tune it. Its shape differs from the tuning workbook's
(tests/integration/test_offline_table_lookups.py): snake_case and camelCase headers,
abbreviations (dob, dept, num, qty, eur), a code column, a week-number sheet.
"""

from __future__ import annotations

from pathlib import Path

SHEETS: dict[str, list[list[object]]] = {
    "Staff": [
        ["emp_id", "full_name", "dob", "dept", "start_date", "desk_num"],
        ["E-101", "Marta Kowalski", "1988-04-12", "Finance", "2017-09-01", "3A-14"],
        ["E-102", "Jonas Berg", "1992-11-30", "Legal", "2020-02-17", "2B-03"],
        ["E-103", "Aiko Tanaka", "1985-07-08", "Engineering", "2015-06-22", "4C-21"],
        ["E-104", "Rahul Mehta", "1990-01-25", "Engineering", "2019-10-07", "4C-09"],
        ["E-105", "Sofia Rossi", "1995-05-19", "Marketing", "2022-03-14", "1D-11"],
    ],
    "Stock": [
        ["item_code", "itemName", "qty", "unit_cost_eur", "supplier"],
        ["ST-01", "Printer paper (A4)", 240, 4.5, "Papyra"],
        ["ST-02", "Toner cartridge", 18, 62, "InkWorks"],
        ["ST-03", "Whiteboard markers", 75, 1.2, "OfficeHub"],
        ["ST-04", "USB-C cable", 40, 9.9, "CableCo"],
    ],
    "Maintenance": [
        ["Week No", "Technician", "Area"],
        [5, "Hugo Laurent", "Server room"],
        [6, "Mei Chen", "Kitchen"],
        [7, "Hugo Laurent", "Lobby"],
        [8, "Ivan Petrov", "Server room"],
    ],
}

#: (question, the text the answer must hold), written before anything was run.
LOOKUPS: list[tuple[str, str]] = [
    ("What is Jonas Berg's date of birth?", "1992-11-30"),
    ("Which department is Aiko Tanaka in?", "Engineering"),
    ("What is the desk number of Sofia Rossi?", "1D-11"),
    ("Who started on 2019-10-07?", "Rahul Mehta"),
    ("How many toner cartridges are in stock?", "18"),
    ("Who supplies the whiteboard markers?", "OfficeHub"),
    ("Which technician is scheduled in week 6?", "Mei Chen"),
    ("What is the most expensive item?", "Toner cartridge"),
]


def write_workbook(path: Path) -> Path:
    """The workbook at `path` (.xlsx), one sheet per entry of `SHEETS`."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for title, rows in SHEETS.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path
