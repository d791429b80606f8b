"""OpenDocument text (`.odt`) and presentations (`.odp`) as a user sees them once loaded,
from two producers each (LibreOffice, headless, from a page or a deck the test writes; pandoc
for text, and a package laid out by hand as the specification says for a presentation), and
the hostile ones: a DTD, a bomb, deep nesting, an encrypted or broken package."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.budgets import BUDGET
from services.knowledge.loaders import FileLoader
from tests import office_files
from use_cases.knowledge.domain import ParsedDocument
from use_cases.shared.errors import InputTooCostly, InvalidDocument

ODT = "application/vnd.oasis.opendocument.text"
ODP = "application/vnd.oasis.opendocument.presentation"


@pytest.fixture(scope="module")
def loader() -> FileLoader:
    return FileLoader()


def sections(document: ParsedDocument) -> dict[tuple[str, ...], str]:
    return {section.heading_path: section.text for section in document.sections}


def test_a_text_document_from_libreoffice_reads_with_headings_lists_table_code_and_note(
    loader: FileLoader, tmp_path: Path
) -> None:
    data = office_files.libreoffice(
        office_files.WRITER_HTML.encode(), "parking.html", "odt", tmp_path
    )
    document = loader.load("parking.odt", data)
    assert document.title == "Parking"
    assert document.media_type == ODT
    assert document.metadata["author"] == "Facilities"
    assert sections(document) == {
        ("Visitors",): "Visitors park in bay 7.[1]\n\n- Sign in at reception\n- Wear the badge\n"
        "  - At all times\n\n[1] Bay 3 on weekends.",
        ("Visitors", "Bicycles"): "1. Lock it\n2. Register it\n\n"
        "| Rack | Place |\n|---|---|\n| A | behind B |\n\n"
        "```\ncheck-racks --building B\ncheck-racks --garage\n```",
    }


def test_a_text_document_from_pandoc_has_its_title_paragraph_above_the_headings(
    loader: FileLoader, tmp_path: Path
) -> None:
    data = office_files.pandoc(office_files.WORD_MARKDOWN, "odt", tmp_path, title="Parking")
    document = loader.load("parking.odt", data)
    assert document.title == "Parking"
    read = sections(document)
    assert list(read) == [("Parking", "Visitors"), ("Parking", "Visitors", "Bicycles")]
    visitors, bicycles = read.values()
    assert visitors.startswith("Visitors park in bay 7.[1]")
    assert "- Sign in at reception\n- Wear the badge" in visitors
    assert visitors.endswith("[1] Bay 7 was bay 3 until 2023.")  # the footnote, after its section
    assert "1. Lock it\n2. Register it" in bicycles
    assert "| Rack | Place |\n|---|---|\n| A | behind B |\n| B | garage |" in bicycles


def test_a_table_of_contents_and_a_comment_are_no_text(loader: FileLoader) -> None:
    body = (
        "<office:text><text:table-of-content><text:index-body><text:p>Visitors 1</text:p>"
        "</text:index-body></text:table-of-content>"
        '<text:h text:outline-level="1">Visitors</text:h>'
        "<text:p>Bay 7.<office:annotation><text:p>Check with security</text:p>"
        "</office:annotation></text:p></office:text>"
    )
    document = loader.load("p.odt", office_files.odf_by_hand(ODT, body))
    assert sections(document) == {("Visitors",): "Bay 7."}


def test_a_deck_saved_by_libreoffice_reads_as_the_same_deck_in_powerpoint(
    loader: FileLoader, tmp_path: Path
) -> None:
    pptx = office_files.deck_by_library()
    data = office_files.libreoffice(pptx, "travel.pptx", "odp", tmp_path)
    document = loader.load("travel.odp", data)
    assert document.media_type == ODP
    assert document.metadata["slides"] == "3"
    assert sections(document) == sections(loader.load("travel.pptx", pptx))


def test_a_presentation_laid_out_by_hand_reads_in_reading_order_with_notes(
    loader: FileLoader,
) -> None:
    body = (
        "<office:presentation>"
        '<draw:page draw:name="p1">'
        '<draw:frame svg:x="1cm" svg:y="9cm"><draw:text-box><text:p>Below</text:p>'
        "</draw:text-box></draw:frame>"
        '<draw:frame presentation:class="title" svg:x="1cm" svg:y="1cm"><draw:text-box>'
        "<text:p>Travel</text:p></draw:text-box></draw:frame>"
        '<draw:frame presentation:class="outline" svg:x="1cm" svg:y="4cm"><draw:text-box>'
        "<text:list><text:list-item><text:p>Capped</text:p><text:list><text:list-item>"
        "<text:p>at 1,200 EUR</text:p></text:list-item></text:list></text:list-item>"
        "</text:list></draw:text-box></draw:frame>"
        '<draw:frame presentation:class="page-number" svg:y="20cm"><draw:text-box>'
        "<text:p>1</text:p></draw:text-box></draw:frame>"
        "<presentation:notes>"
        '<draw:frame presentation:class="notes"><draw:text-box><text:p>Say it twice.</text:p>'
        "</draw:text-box></draw:frame></presentation:notes></draw:page>"
        '<draw:page draw:name="p2"><draw:g><draw:custom-shape svg:y="2in">'
        "<text:p>Questions?</text:p></draw:custom-shape></draw:g></draw:page>"
        "</office:presentation>"
    )
    meta = "<dc:title>Budget</dc:title><dc:date>2025-03-04T10:00:00</dc:date>"
    document = loader.load("deck.odp", office_files.odf_by_hand(ODP, body, meta))
    assert document.title == "Budget"
    assert str(document.updated_at) == "2025-03-04"
    assert sections(document) == {
        ("Budget", "Slide 1: Travel"): "Capped\n- at 1,200 EUR\n\nBelow\n\n"
        "Speaker notes: Say it twice.",
        ("Budget", "Slide 2"): "Questions?",
    }


# --- hostile ---------------------------------------------------------------------------------

_TEXT = '<office:text><text:h text:outline-level="1">A</text:h><text:p>b</text:p></office:text>'


@pytest.mark.parametrize(("name", "media_type"), [("a.odt", ODT), ("a.odp", ODP)])
def test_a_content_part_declaring_a_dtd_is_refused(
    loader: FileLoader, name: str, media_type: str
) -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><office:document-content>&lol2;'
        b"</office:document-content>"
    )
    data = office_files.with_part(
        office_files.odf_by_hand(media_type, _TEXT), "content.xml", laughs
    )
    with pytest.raises(InvalidDocument, match=r"content\.xml declares a DTD"):
        loader.load(name, data)


def test_a_content_part_unpacking_past_its_ratio_is_413_before_it_is_read(
    loader: FileLoader,
) -> None:
    data = office_files.with_part(
        office_files.odf_by_hand(ODT, _TEXT), "content.xml", office_files.huge_shared_strings()
    )
    with pytest.raises(InputTooCostly, match=r"content\.xml unpacks to"):
        loader.load("bomb.odt", data)


def test_a_content_part_nested_100000_deep_is_413(loader: FileLoader) -> None:
    data = office_files.with_part(
        office_files.odf_by_hand(ODP, _TEXT), "content.xml", office_files.deep_nesting()
    )
    with pytest.raises(InputTooCostly, match=f"more than {BUDGET.max_xml_depth:,} deep"):
        loader.load("deep.odp", data)


def test_an_encrypted_broken_or_hollow_package_is_422_naming_the_file(loader: FileLoader) -> None:
    manifest = (
        b'<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        b'<manifest:file-entry manifest:full-path="content.xml"><manifest:encryption-data/>'
        b"</manifest:file-entry></manifest:manifest>"
    )
    plain = office_files.odf_by_hand(ODT, _TEXT)
    encrypted = office_files.with_part(plain, "META-INF/manifest.xml", manifest)
    with pytest.raises(InvalidDocument, match=r"locked\.odt is password-protected"):
        loader.load("locked.odt", encrypted)
    with pytest.raises(InvalidDocument, match="not a readable OpenDocument text"):
        loader.load("cut.odt", plain[: len(plain) // 2])
    hollow = office_files.with_part(plain, "content.xml", b"")
    with pytest.raises(InvalidDocument, match=r"hollow\.odt"):
        loader.load("hollow.odt", hollow)
