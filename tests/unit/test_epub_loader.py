"""E-books (`.epub`) as a user sees them once loaded, from two producers (pandoc, from
Markdown; LibreOffice, from a page the test writes), and the hostile ones: a DTD in the
package, a bomb, a traversal name, DRM."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from services.knowledge.loaders import FileLoader
from tests import office_files
from tests.inflation import counting_inflation
from use_cases.knowledge.domain import ParsedDocument
from use_cases.shared.errors import InputTooCostly, InvalidDocument

BOOK = """\
---
title: Handbook
author: Facilities
date: 2025-03-04
---

# Parking

Visitors park in bay 7.

## Bicycles

Lock it to rack A.

# Security

Badges are worn at all times.
"""


@pytest.fixture(scope="module")
def loader() -> FileLoader:
    return FileLoader()


def sections(document: ParsedDocument) -> dict[tuple[str, ...], str]:
    return {section.heading_path: section.text for section in document.sections}


def test_a_book_from_pandoc_has_its_chapters_as_sections_in_reading_order(
    loader: FileLoader, tmp_path: Path
) -> None:
    document = loader.load("handbook.epub", office_files.pandoc(BOOK, "epub", tmp_path))
    assert document.title == "Handbook"
    assert document.media_type == "application/epub+zip"
    assert document.metadata["author"] == "Facilities"
    read = sections(document)
    assert list(read)[-3:] == [
        ("Handbook", "Parking"),
        ("Handbook", "Parking", "Bicycles"),
        ("Handbook", "Security"),
    ]
    assert read[("Handbook", "Parking", "Bicycles")] == "Lock it to rack A."
    assert read[("Handbook", "Security")] == "Badges are worn at all times."


def test_a_book_from_libreoffice_reads_its_text_title_and_author(
    loader: FileLoader, tmp_path: Path
) -> None:
    data = office_files.libreoffice(
        office_files.WRITER_HTML.encode(), "parking.html", "epub:EPUB", tmp_path
    )
    document = loader.load("parking.epub", data)
    assert document.title == "Parking"
    assert document.metadata["author"] == "Facilities"
    text = "\n".join(sections(document).values())
    for expected in ("Visitors park in bay 7.", "Register it", "| A | behind B |", "Bay 3"):
        assert expected in text


def book(
    chapter: bytes = b"<html><body><h1>One</h1><p>Text.</p></body></html>", **parts: bytes
) -> bytes:
    """An EPUB laid out by hand: container, package, one chapter; `parts` added or replaced
    (`name__with__slashes` for paths)."""
    members = {
        "META-INF/container.xml": b'<?xml version="1.0"?><container version="1.0" '
        b'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles><rootfile '
        b'full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
        b"</rootfiles></container>",
        "OEBPS/content.opf": b'<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" '
        b'version="3.0"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>B'
        b'</dc:title></metadata><manifest><item id="c1" href="c1.xhtml" '
        b'media-type="application/xhtml+xml"/></manifest><spine><itemref idref="c1"/></spine>'
        b"</package>",
        "OEBPS/c1.xhtml": chapter,
    }
    members.update({key.replace("__", "/"): value for key, value in parts.items()})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        for path, data in members.items():
            archive.writestr(path, data)
    return buffer.getvalue()


def test_a_book_laid_out_by_hand_reads(loader: FileLoader) -> None:
    assert sections(loader.load("b.epub", book())) == {("B", "One"): "Text."}


def test_a_package_declaring_a_dtd_is_refused(loader: FileLoader) -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b'<package xmlns="http://www.idpf.org/2007/opf"><metadata>&b;</metadata></package>'
    )
    with pytest.raises(InvalidDocument, match=r"content\.opf declares a DTD"):
        loader.load("laughs.epub", book(**{"OEBPS__content.opf": laughs}))


def test_a_chapter_bomb_is_413_before_it_is_inflated(loader: FileLoader) -> None:
    bomb = book(b"<html><body><p>" + b"a" * (50 * 1024 * 1024) + b"</p></body></html>")
    with (
        counting_inflation() as inflation,
        pytest.raises(InputTooCostly, match="ARCHIVE_MAX_RATIO"),
    ):
        loader.load("bomb.epub", bomb)
    assert inflation.bytes == 0


def test_a_traversal_name_and_drm_are_refused(loader: FileLoader) -> None:
    with pytest.raises(InvalidDocument, match="unsafe name"):
        loader.load("evil.epub", book(**{"..__evil.xhtml": b"<p>x</p>"}))
    encryption = (
        b'<encryption><EncryptedData><CipherReference URI="OEBPS/c1.xhtml"/>'
        b"</EncryptedData></encryption>"
    )
    with pytest.raises(InvalidDocument, match="DRM-protected"):
        loader.load("drm.epub", book(**{"META-INF__encryption.xml": encryption}))
    with pytest.raises(InvalidDocument, match=r"not a readable EPUB e-book"):
        loader.load("cut.epub", book()[:100])
