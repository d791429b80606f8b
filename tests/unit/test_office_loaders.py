"""Word, PowerPoint and workbook files as a user sees them once loaded, from two producers
each (the Python library's writer and pandoc; a workbook from openpyxl and an OpenDocument
spreadsheet laid out as LibreOffice writes one), and the files that must be refused: legacy,
corrupt, truncated, password-protected, and the bombs."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from services.budgets import BUDGET
from services.knowledge.loaders import FileLoader
from services.office.workbooks import _excel_sheets, read_workbook
from tests import office_files
from tests.inflation import counting_inflation
from use_cases.knowledge.domain import ParsedDocument
from use_cases.shared.errors import InputTooCostly, InvalidDocument, UnsupportedDocument


@pytest.fixture(scope="module")
def loader() -> FileLoader:
    return FileLoader()


def sections(document: ParsedDocument) -> dict[tuple[str, ...], str]:
    return {section.heading_path: section.text for section in document.sections}


# --- Word ------------------------------------------------------------------------------------


def test_a_word_file_from_python_docx_reads_with_its_headings_lists_and_table(
    loader: FileLoader,
) -> None:
    document = loader.load("parking.docx", office_files.word_by_library())
    assert document.title == "Parking rules"
    assert str(document.updated_at) == "2025-03-04"
    assert document.metadata["author"] == "Facilities"
    assert sections(document) == {
        ("Visitors",): "Visitors park in bay 7.\n\n- Sign in at reception\n- Wear the badge",
        ("Visitors", "Bicycles"): "1. Lock it\n2. Register it\n\n"
        "| Rack | Place |\n|---|---|\n| A | behind B |\n| B | garage |\n\n"
        "Racks are checked weekly.",
    }
    assert "security" not in "".join(sections(document).values())  # the comment is left out


def test_a_word_file_from_pandoc_reads_alike_and_leaves_its_footnote_out(
    loader: FileLoader, tmp_path: Path
) -> None:
    data = office_files.pandoc(office_files.WORD_MARKDOWN, "docx", tmp_path, title="Parking")
    document = loader.load("parking.docx", data)
    assert document.title == "Parking"
    read = sections(document)
    # pandoc writes the title as a "Title" paragraph above the "Heading 1"s
    assert list(read) == [("Parking", "Visitors"), ("Parking", "Visitors", "Bicycles")]
    visitors, bicycles = read.values()
    assert visitors.startswith("Visitors park in bay 7.")
    assert "- Sign in at reception\n- Wear the badge" in visitors
    assert "1. Lock it\n2. Register it" in bicycles
    assert "| Rack | Place |\n|---|---|\n| A | behind B |\n| B | garage |" in bicycles
    assert "Racks are checked weekly with `check-racks`:" in bicycles  # inline code
    assert "```\ncheck-racks --building B\ncheck-racks --garage\n```" in bicycles  # code
    assert "bay 3" not in visitors + bicycles  # the footnote


def test_a_word_file_without_a_title_paragraph_has_heading_1_at_the_top(
    loader: FileLoader, tmp_path: Path
) -> None:
    document = loader.load(
        "guide.docx",
        office_files.pandoc("# Setup\n\nRun it.\n\n## Later\n\nAgain.", "docx", tmp_path),
    )
    assert document.title == "Setup"
    assert list(sections(document)) == [("Setup",), ("Setup", "Later")]


def test_prose_a_converter_set_in_a_code_style_is_read_as_prose_and_code_stays_fenced(
    loader: FileLoader, tmp_path: Path
) -> None:
    """pandoc writes an admonition it does not know (MyST's `{warning}`) as a "Source Code"
    block; its sentences are prose, and the answerer quotes prose, never code."""
    markdown = (
        "# Server\n\nIt formats files.\n\n"
        "```{warning}\nThe server should not be run as a publicly accessible service as there\n"
        "are no precautions against abuse. **It is intended for local use only**.\n```\n\n"
        "```\nserver --bind-port 9090 &  # the port to listen on\ncurl -s localhost:9090\n```\n"
    )
    document = loader.load("server.docx", office_files.pandoc(markdown, "docx", tmp_path))
    (text,) = sections(document).values()
    assert (
        "It formats files.\n\nThe server should not be run as a publicly accessible service as "
        "there are no precautions against abuse. **It is intended for local use only**."
    ) in text
    assert (
        "```\nserver --bind-port 9090 &  # the port to listen on\ncurl -s localhost:9090\n```"
        in text
    )


# --- PowerPoint ------------------------------------------------------------------------------


def test_a_deck_from_python_pptx_has_a_section_per_slide_with_tables_and_notes(
    loader: FileLoader,
) -> None:
    document = loader.load("travel.pptx", office_files.deck_by_library())
    assert document.title == "Travel budget 2025"
    assert document.metadata["slides"] == "3"
    assert sections(document) == {
        ("Travel budget 2025", "Slide 1: Travel budget 2025"): "Travel is capped\n"
        "- at 1,200 EUR per trip\n\nSpeaker notes: Mention the hiring freeze.",
        ("Travel budget 2025", "Slide 2: Hotel rates"): "| City | Rate |\n|---|---|\n"
        "| Lyon | 140 |\n| Oslo | 210 |",
        ("Travel budget 2025", "Slide 3"): "Questions go to the travel desk.",
    }


def test_a_deck_from_pandoc_keeps_its_slides_table_and_notes(
    loader: FileLoader, tmp_path: Path
) -> None:
    data = office_files.pandoc(office_files.DECK_MARKDOWN, "pptx", tmp_path, title="Travel")
    document = loader.load("travel.pptx", data)
    assert document.title == "Travel"
    read = {path[-1]: text for path, text in sections(document).items()}
    budget = next(text for heading, text in read.items() if heading.endswith("Travel budget 2025"))
    assert "Travel is capped" in budget
    assert "Speaker notes: Mention the hiring freeze." in budget
    rates = next(text for heading, text in read.items() if heading.endswith("Hotel rates"))
    assert "| City | Rate |\n|---|---|\n| Lyon | 140 |\n| Oslo | 210 |" in rates
    assert all(heading.startswith("Slide ") for heading in read)


# --- workbooks -------------------------------------------------------------------------------


def test_a_workbook_is_described_sheet_by_sheet_with_its_table_and_first_rows(
    loader: FileLoader,
) -> None:
    document = loader.load("Sales 2024.xlsx", office_files.workbook_by_library())
    assert document.title == "Sales 2024"
    read = sections(document)
    assert list(read) == [("Sales 2024", "Sheet Q1 Sales"), ("Sales 2024", "Sheet Readings")]
    sales = read[("Sales 2024", "Sheet Q1 Sales")]
    assert sales.startswith(
        "Sheet Q1 Sales of Sales 2024.xlsx: 3 rows, the table sales_2024_q1_sales "
        "(columns: Region, Units, Revenue, Closed on, Code)."
    )
    assert "Sales report, first quarter" in sales  # the title row above the header
    assert "| North | 12 | 1520.5 | 2024-01-05 | 007 |" in sales
    # a sheet without a header row gets the column letters
    assert "(columns: A, B)" in read[("Sales 2024", "Sheet Readings")]


def test_an_opendocument_spreadsheet_reads_like_a_workbook(loader: FileLoader) -> None:
    document = loader.load("teams.ods", office_files.ods_by_hand())
    (text,) = sections(document).values()
    assert "the table teams_teams (columns: Team, Members)" in text
    assert "| Support | 4 |" in text


def test_a_macro_workbook_loads_without_its_macros_being_read() -> None:
    # The macro part is bytes no reader could parse: the workbook loads, so nothing read it.
    data = office_files.workbook_by_library(macro=b"\xd0\xcf\x11\xe0 not a VBA project")
    (sales, notes, readings) = read_workbook("sales.xlsm", data)
    assert notes.row_count == 0
    assert sales.headers == ["Region", "Units", "Revenue", "Closed on", "Code"]
    assert list(readings.rows()) == [["1", "2.5"], ["2", "3.5"]]


@pytest.mark.parametrize("to", ["xlsx", "ods"])
def test_a_workbook_saved_by_libreoffice_reads_as_the_library_wrote_it(
    to: str, tmp_path: Path
) -> None:
    """A second producer: LibreOffice Calc (Debian's, headless) opens openpyxl's workbook and
    saves it as Excel or OpenDocument, with its own writer's parts, styles and number
    formats; the sheets read the same."""
    original = read_workbook("sales.xlsx", office_files.workbook_by_library())
    data = office_files.libreoffice(office_files.workbook_by_library(), "sales.xlsx", to, tmp_path)
    saved = read_workbook(f"sales.{to}", data)
    assert [s.sheet for s in saved] == ["Q1 Sales", "Notes", "Readings"]
    for ours, theirs in zip(original, saved, strict=True):
        assert (theirs.headers, theirs.notes, theirs.row_count) == (
            ours.headers,
            ours.notes,
            ours.row_count,
        )
        assert list(theirs.rows()) == list(ours.rows())
    assert next(saved[0].rows()) == ["North", "12", "1520.5", "2024-01-05", "007"]


def test_a_workbook_is_read_as_far_as_its_rows_go_not_as_far_as_it_claims() -> None:
    """One cell in the sheet's last row: openpyxl's reader pads a million empty rows to the
    claimed extent (1.7 s of CPU for a 5 KB file, walked for each read of the sheet)."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sales"
    sheet.append(["Region", "Amount"])
    for number in range(3):
        sheet.append([f"Region {number}", number])
    sheet.cell(row=1_048_576, column=2, value=99)
    buffer = io.BytesIO()
    book.save(buffer)
    assert len(buffer.getvalue()) < 10_000

    ((_, read),) = _excel_sheets("far.xlsx", buffer.getvalue())
    assert sum(1 for _ in read()) == 5  # the rows there are, none of the gap
    (sales,) = read_workbook("far.xlsx", buffer.getvalue())
    assert sales.row_count == 4
    assert list(sales.rows())[-1] == [None, "99"]


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "current"), [("a.doc", ".docx"), ("b.PPT", ".pptx"), ("c.xls", ".xlsx")]
)
def test_a_legacy_office_file_is_refused_with_the_format_to_save_it_in(
    loader: FileLoader, name: str, current: str
) -> None:
    assert not loader.supports(name)
    with pytest.raises(UnsupportedDocument, match=f"save it as \\{current}"):
        loader.load(name, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("a.docx", office_files.word_by_library),
        ("b.pptx", office_files.deck_by_library),
        ("c.xlsx", office_files.workbook_by_library),
    ],
)
def test_corrupt_truncated_and_password_protected_office_files_are_422_naming_the_file(
    loader: FileLoader, name: str, make: Callable[[], bytes]
) -> None:
    data = make()
    with pytest.raises(InvalidDocument, match=f"{name} is not a readable"):
        loader.load(name, b"PK\x03\x04" + bytes(range(256)) * 40)
    with pytest.raises(InvalidDocument, match=f"{name} is not a readable .* truncated"):
        loader.load(name, data[: len(data) // 2])
    with pytest.raises(InvalidDocument, match=f"{name} is password-protected"):
        loader.load(name, office_files.encrypted(data))


def test_a_broken_part_inside_a_word_file_is_422_naming_the_part(loader: FileLoader) -> None:
    data = office_files.with_part(office_files.word_by_library(), "word/document.xml", b"<w:doc")
    with pytest.raises(InvalidDocument, match=r"word/document\.xml is not well-formed XML"):
        loader.load("broken.docx", data)


def test_a_huge_shared_strings_part_is_413_before_it_is_unpacked(loader: FileLoader) -> None:
    strings = office_files.huge_shared_strings()
    data = office_files.with_part(
        office_files.workbook_by_library(), "xl/sharedStrings.xml", strings
    )
    with counting_inflation() as inflation, pytest.raises(InputTooCostly) as refused:
        loader.load("bomb.xlsx", data)
    assert f"xl/sharedStrings.xml unpacks to {len(strings):,} bytes" in refused.value.detail
    assert inflation.bytes < BUDGET.ratio_floor  # refused from the directory, nothing inflated


def test_a_million_empty_rows_are_413_naming_the_part_and_limit(loader: FileLoader) -> None:
    data = office_files.with_part(
        office_files.workbook_by_library(), "xl/worksheets/sheet1.xml", office_files.empty_rows()
    )
    with pytest.raises(InputTooCostly, match=r"sheet1\.xml holds more than 100,000 empty rows"):
        loader.load("bomb.xlsx", data)


def test_a_million_elements_within_the_packing_ratio_are_413_by_their_count() -> None:
    from dataclasses import replace

    small = replace(BUDGET, max_xml_elements=100_000, max_empty_rows=10**7, ratio=1_000)
    data = office_files.with_part(
        office_files.workbook_by_library(), "xl/worksheets/sheet1.xml", office_files.empty_rows()
    )
    with pytest.raises(InputTooCostly, match="more than 100,000 XML elements"):
        read_workbook("rows.xlsx", data, small)


def test_repeated_opendocument_rows_and_cells_count_as_what_they_stand_for() -> None:
    """A kilobyte of .ods whose one row and one cell are repeated 100,000 and 100 times asks
    a reader for ten million cells: refused by the element limit before any reader runs."""
    import io
    import zipfile

    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="S">'
        '<table:table-row table:number-rows-repeated="100000">'
        '<table:table-cell table:number-columns-repeated="100" office:value-type="string">'
        "<text:p>x</text:p></table:table-cell></table:table-row>"
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", content)
    with pytest.raises(InputTooCostly, match=r"content\.xml holds more than .* XML elements"):
        read_workbook("repeated.ods", packed.getvalue(), BUDGET)


def test_a_part_nested_100000_deep_is_413_at_the_depth_limit(loader: FileLoader) -> None:
    data = office_files.with_part(
        office_files.word_by_library(), "word/document.xml", office_files.deep_nesting()
    )
    with pytest.raises(InputTooCostly, match=f"nests elements more than {BUDGET.max_xml_depth:,}"):
        loader.load("deep.docx", data)


def test_a_part_declaring_a_dtd_is_refused(loader: FileLoader) -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><w:document>&lol2;</w:document>'
    )
    data = office_files.with_part(office_files.word_by_library(), "word/document.xml", laughs)
    with pytest.raises(InvalidDocument, match="declares a DTD"):
        loader.load("laughs.docx", data)


def _ods(rows: str) -> bytes:
    import zipfile

    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="S">{rows}'
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", content)
        archive.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
            '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
            '<manifest:file-entry manifest:full-path="/" manifest:media-type='
            '"application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry '
            'manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
            "</manifest:manifest>",
        )
    return packed.getvalue()


_VALUE = '<table:table-cell office:value-type="string"><text:p>x</text:p></table:table-cell>'
_BLANK_ROWS = (
    '<table:table-row table:number-rows-repeated="1048575">'
    '<table:table-cell table:number-columns-repeated="16384"/></table:table-row>'
)


def test_a_sheets_blank_remainder_as_libreoffice_writes_it_costs_nothing() -> None:
    """LibreOffice writes the rest of a sheet as blank cells and rows repeated to its last
    row and column; readers drop them."""
    data = _ods(
        f"<table:table-row>{_VALUE}{_VALUE}"
        '<table:table-cell table:number-columns-repeated="16382"/></table:table-row>' + _BLANK_ROWS
    )
    (sheet,) = read_workbook("blank-tail.ods", data, BUDGET)
    assert sheet.headers == ["x", "x"]


def test_blank_rows_followed_by_a_value_count_as_the_cells_they_stand_for() -> None:
    """The same blanks with a value below them are a gap a reader fills in, cell by cell."""
    data = _ods(
        f"<table:table-row>{_VALUE}</table:table-row>{_BLANK_ROWS}"
        f"<table:table-row>{_VALUE}</table:table-row>"
    )
    with pytest.raises(InputTooCostly, match=r"content\.xml holds more than .* XML elements"):
        read_workbook("gap.ods", data, BUDGET)
