"""Rich Text Format (`.rtf`) as a user sees it once loaded, from two producers (LibreOffice,
from a page the test writes; pandoc, from Markdown), and the hostile ones: bytes that are no
RTF, a group nested 100,000 deep, a picture of megabytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.knowledge.loaders import FileLoader
from tests import office_files
from use_cases.knowledge.domain import ParsedDocument
from use_cases.shared.errors import InvalidDocument

TABLE = "| Rack | Place |\n|---|---|\n| A | behind B |"


@pytest.fixture(scope="module")
def loader() -> FileLoader:
    return FileLoader()


def sections(document: ParsedDocument) -> dict[tuple[str, ...], str]:
    return {section.heading_path: section.text for section in document.sections}


def test_an_rtf_from_libreoffice_reads_with_headings_lists_and_table(
    loader: FileLoader, tmp_path: Path
) -> None:
    data = office_files.libreoffice(
        office_files.WRITER_HTML.encode(), "parking.html", "rtf:Rich Text Format", tmp_path
    )
    document = loader.load("parking.rtf", data)
    assert document.title == "Parking"
    assert document.media_type == "application/rtf"
    assert document.metadata["author"] == "Facilities"
    assert sections(document) == {
        ("Visitors",): "Visitors park in bay 7.\n\n- Sign in at reception\n- Wear the badge\n"
        "- At all times",
        ("Visitors", "Bicycles"): f"1. Lock it\n2. Register it\n\n{TABLE}\n\n"
        "check-racks --building B\n\ncheck-racks --garage",
    }


def test_an_rtf_from_pandoc_reads_alike(loader: FileLoader, tmp_path: Path) -> None:
    markdown = (
        "# Visitors\n\nVisitors park in bay 7.[^bay]\n\n- Sign in at reception\n- Wear the badge"
        "\n\n## Bicycles\n\n1. Lock it\n2. Register it\n\n| Rack | Place    |\n|------|----------|"
        "\n| A    | behind B |\n\n[^bay]: Bay 3 on weekends.\n"
    )
    document = loader.load("parking.rtf", office_files.pandoc(markdown, "rtf", tmp_path))
    read = sections(document)
    assert list(read) == [("Visitors",), ("Visitors", "Bicycles")]
    assert read[("Visitors",)].startswith(
        "Visitors park in bay 7.\n\n- Sign in at reception\n- Wear the badge"
    )
    assert read[("Visitors", "Bicycles")].startswith(f"1. Lock it\n2. Register it\n\n{TABLE}")
    assert "Bay 3" not in "".join(read.values())  # the footnote is left out


def test_rtf_without_headings_is_one_section_under_its_title(loader: FileLoader) -> None:
    data = rb"{\rtf1\ansi{\info{\title Memo}{\revtim\yr2025\mo3\dy4}}Caf\'e9 opens at 8.\par}"
    document = loader.load("memo.rtf", data)
    assert (document.title, str(document.updated_at)) == ("Memo", "2025-03-04")
    assert sections(document) == {("Memo",): "Café opens at 8."}


def test_hostile_rtf_is_refused_or_read_in_one_pass(loader: FileLoader) -> None:
    with pytest.raises(InvalidDocument, match=r"not an RTF document"):
        loader.load("fake.rtf", b"%PDF-1.7 not rtf")
    deep = b"{\\rtf1 " + b"{" * 100_000 + b"deep" + b"}" * 100_000 + b"}"
    assert sections(loader.load("deep.rtf", deep)) == {("Deep",): "deep"}
    picture = b"{\\rtf1 {\\pict\\pngblip " + b"89504e47" * 1_000_000 + b"}Caption.\\par}"
    assert sections(loader.load("pic.rtf", picture)) == {("Pic",): "Caption."}
