"""Workbooks cost what their values say: a far cell, a claimed extent or a repeat of blank
cells neither widens nor lengthens a sheet's table or its description, and a workbook of more
cells than MAX_WORKBOOK_CELLS is refused naming the setting (services/office/workbooks.py,
services/office/ods_cells.py). The hostile files are tests/hostile_inputs.py's, the ones the
hostile-inputs benchmark sends."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest

from services.budgets import BUDGET
from services.knowledge.chunking import HeadingChunker
from services.knowledge.loaders import FileLoader
from services.office.workbooks import read_workbook
from tests import hostile_inputs
from use_cases.shared.errors import InputTooCostly

SMALL = replace(BUDGET, max_workbook_cells=1_000)


def chunks(name: str, data: bytes, loader: FileLoader | None = None) -> int:
    document = (loader or FileLoader()).load(name, data)
    return sum(len(draft.chunks) for draft in HeadingChunker(chunk_tokens=160).chunk(document))


def xlsx(rows: list[dict[int, object]]) -> bytes:
    """A workbook of one sheet whose rows hold the values given by column (1 for A)."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for number, row in enumerate(rows, start=1):
        for column, value in row.items():
            sheet.cell(row=number, column=column, value=value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_one_value_in_column_xfd_adds_one_column_not_sixteen_thousand() -> None:
    data = hostile_inputs.far_cell_xlsx()
    (sheet,) = read_workbook("far.xlsx", data)
    assert sheet.headers == ["A", "B", "C", "XFD"]
    assert sheet.row_count == 5
    assert list(sheet.rows())[:2] == [["11", "12", "13", "1"], ["21", "22", "23", None]]
    document = FileLoader().load("far.xlsx", data)
    assert "(columns: A, B, C, XFD)" in document.sections[0].text
    assert chunks("far.xlsx", data) == 1  # was 1,532: every row 16,384 columns wide


def test_blank_cells_and_rows_an_ods_repeats_cost_nothing_between_values() -> None:
    """Each row's 16,380 blank cells before its value in XFD, and a thousand blank rows below
    the first: the sheet is its five rows of four values."""
    data = hostile_inputs.blank_repeat_ods(gap_rows=1_000)
    assert len(data) < 1_000
    (sheet,) = read_workbook("gaps.ods", data)
    assert sheet.headers == ["A", "B", "C", "XFD"]
    assert list(sheet.rows()) == [[str(n), str(n + 1), str(n + 2), str(n + 3)] for n in range(1, 6)]
    assert chunks("gaps.ods", data) == 1  # was 1,532, and 20 CPU-s and 1.2 GB to read


def test_a_header_row_names_the_columns_however_far_apart_they_are() -> None:
    data = xlsx([{1: "Region", 16_384: "Total"}, {1: "North", 16_384: 12}, {16_384: 3}])
    (sheet,) = read_workbook("apart.xlsx", data)
    assert sheet.headers == ["Region", "Total"]
    assert list(sheet.rows()) == [["North", "12"], [None, "3"]]


def test_values_past_the_cell_budget_are_refused_naming_the_setting() -> None:
    data = xlsx([{column: column for column in range(1, 11)} for _ in range(101)])  # 1,010
    with pytest.raises(InputTooCostly, match=r"more than 1,000 cells with a value.*MAX_WORKB"):
        read_workbook("big.xlsx", data, SMALL)
    assert read_workbook("big.xlsx", data, replace(SMALL, max_workbook_cells=1_010))


def test_a_repeated_value_counts_as_the_cells_it_stands_for_and_stops_at_the_budget() -> None:
    """A few hundred bytes whose one number stands for a million cells."""
    data = hostile_inputs.repeated_value_ods(rows=1_000, columns=1_000)
    assert len(data) < 1_000
    with pytest.raises(InputTooCostly, match="MAX_WORKBOOK_CELLS"):
        read_workbook("filled.ods", data, SMALL)


def test_a_table_of_more_cells_than_the_budget_is_refused_though_few_hold_a_value() -> None:
    """Fifty values on a diagonal make a table of 50 x 50 cells."""
    data = xlsx([{n: n} for n in range(1, 51)])
    with pytest.raises(InputTooCostly, match=r"tables of more than 1,000 cells.*MAX_WORKBOOK"):
        read_workbook("diagonal.xlsx", data, SMALL)


def test_the_loaders_take_the_cell_budget_they_are_given() -> None:
    data = xlsx([{column: column for column in range(1, 11)} for _ in range(101)])
    with pytest.raises(InputTooCostly, match="MAX_WORKBOOK_CELLS"):
        FileLoader(budget=SMALL).load("big.xlsx", data)
    assert FileLoader().load("big.xlsx", data).sections


def test_an_ods_cells_values_are_read_as_a_spreadsheet_shows_them() -> None:
    cells = [
        '<table:table-cell office:value-type="float" office:value="12"><text:p>12</text:p>'
        "</table:table-cell>",
        '<table:table-cell office:value-type="percentage" office:value="0.25"><text:p>25%'
        "</text:p></table:table-cell>",
        '<table:table-cell office:value-type="date" office:date-value="2024-01-05"><text:p>x'
        "</text:p></table:table-cell>",
        '<table:table-cell office:value-type="date" office:date-value="2024-01-05T10:30:00">'
        "<text:p>x</text:p></table:table-cell>",
        '<table:table-cell office:value-type="time" office:time-value="PT10H30M00S"><text:p>x'
        "</text:p></table:table-cell>",
        '<table:table-cell office:value-type="time" office:time-value="PT36H00M00S"><text:p>x'
        "</text:p></table:table-cell>",
        '<table:table-cell office:value-type="boolean" office:boolean-value="true"><text:p>x'
        "</text:p></table:table-cell>",
        '<table:table-cell office:value-type="string"><text:p>a<text:s text:c="3"/>b<text:tab/>'
        "c<text:line-break/>d <text:span>e</text:span></text:p><text:p>f</text:p>"
        "</table:table-cell>",
        '<table:table-cell office:value-type="string"><office:annotation><text:p>a comment'
        "</text:p></office:annotation><text:p>noted</text:p></table:table-cell>",
        '<table:covered-table-cell office:value-type="string"><text:p>hidden</text:p>'
        "</table:covered-table-cell>",
        '<table:table-cell office:value-type="float" office:value="oops"><text:p>n/a</text:p>'
        "</table:table-cell>",
    ]
    row = f"<table:table-row>{''.join(cells)}</table:table-row>"
    data = hostile_inputs.ods_file(f'<table:table table:name="Types">{row * 2}</table:table>')
    (sheet,) = read_workbook("types.ods", data)
    assert next(sheet.rows()) == [
        "12",
        "0.25",
        "2024-01-05",
        "2024-01-05 10:30:00",
        "10:30:00",
        "1 day, 12:00:00",
        "true",
        "a   b\tc\nd e\nf",
        "noted",
        "n/a",
    ]
