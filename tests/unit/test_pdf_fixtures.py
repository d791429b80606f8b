"""PDFs from several producers read as a person reads them: the words the loader extracts
match the words of a reference text (what a reader sees; tests/fixtures/pdf/README.md says
where each came from) at 98% or more (word-level F1), and no word is glued to the next."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from services.knowledge.loaders import FileLoader

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests/fixtures/pdf"

#: (PDF, reference text): the producer is in the name.
CASES = {
    "groff-ms": FIXTURES / "groff-ms.pdf",  # groff -ms -Tpdf (gropdf), two columns, footnote
    "typst": FIXTURES / "typst.pdf",  # Typst, running header and footer, two columns
    "chromium": FIXTURES / "chromium.pdf",  # Chromium print to PDF, header and footer
    "libreoffice": FIXTURES / "libreoffice.pdf",  # LibreOffice 7.4 Writer/Web export
    "mom-letter": FIXTURES / "mom-letter.pdf",  # shipped by Debian's groff-base (mom macros)
    "mom-typesetting": FIXTURES / "mom-typesetting.pdf",  # the same, tables and columns
    # pdfTeX (the LaTeX guides corpus), 33 pages with bookmarks and marginal notes
    "pdflatex-clsguide": ROOT / "sample_data/corpora/latex-guides/documents/clsguide.pdf",
}
MIN_F1 = 0.98
#: A token this long that the reference splits is words glued together.
GLUED_LETTERS = 25

_TOKEN = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    return _TOKEN.findall(text.casefold())


def extracted_words(path: Path) -> list[str]:
    """The words a reader of the loaded document meets: each section's text, and each
    heading once (the loader moves a heading line into the section's path)."""
    document = FileLoader().load(path.name, path.read_bytes())
    found: list[str] = []
    headings: set[str] = set()
    for section in document.sections:
        for heading in section.heading_path[:-1]:  # the last is "Page <label>"
            if heading not in headings:
                headings.add(heading)
                found.extend(words(heading))
        found.extend(words(section.text))
    return found


def f1(found: list[str], expected: list[str]) -> float:
    common = sum((Counter(found) & Counter(expected)).values())
    if not common:
        return 0.0
    precision, recall = common / len(found), common / len(expected)
    return 2 * precision * recall / (precision + recall)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_pdfs_words_match_what_a_person_reads(name: str) -> None:
    expected = words((FIXTURES / f"{name}.txt").read_text(encoding="utf-8"))
    found = extracted_words(CASES[name])
    assert f1(found, expected) >= MIN_F1
    reference = set(expected)
    glued = [w for w in found if len(w) >= GLUED_LETTERS and w not in reference]
    assert glued == []


def test_the_word_measure_tells_glued_words_from_spaced_ones() -> None:
    expected = words("It is important to understand that the higher level package")
    assert f1(words("Itisimportanttounderstandthatthehigherlevelpackage"), expected) == 0.0
    assert f1(expected, expected) == 1.0


def load(name: str) -> tuple[list[tuple[str, ...]], str]:
    document = FileLoader().load(f"{name}.pdf", CASES[name].read_bytes())
    return [s.heading_path for s in document.sections], "\n".join(s.text for s in document.sections)


def test_running_headers_footers_and_page_numbers_are_not_read() -> None:
    _, groff = load("groff-ms")  # "Reading portable documents  Almanac" atop pages 2 and 3
    assert "Almanac\n" not in groff and not re.search(r"^\d+$", groff, re.MULTILINE)
    _, typst = load("typst")
    assert "Page 2 of 4" not in typst and typst.count("Reading portable documents") == 0
    _, chromium = load("chromium")  # the date and title atop, the file's URL and "1/3" below
    assert "file://" not in chromium and "AM Reading" not in chromium
    assert not re.search(r"^\d/3$", chromium, re.MULTILINE)


def test_a_footnote_does_not_cut_the_sentence_it_interrupts() -> None:
    _, groff = load("groff-ms")  # the note is printed between the two columns
    assert "to submit their\nclaims within thirty days" in groff
    _, typst = load("typst")  # the note is printed between "ap-" and "proved" on the next page
    assert "the finance team pays approved claims with the next" in " ".join(typst.split())
    assert "\n\n1A footnote is printed at the foot of its page" in typst


def test_a_pdf_without_bookmarks_is_sectioned_by_its_larger_and_bold_lines() -> None:
    paths, _ = load("groff-ms")
    title = "Reading portable documents"
    assert paths == [
        (title, "1. Words and spaces", "Page 1"),
        (title, "1. Words and spaces", "Page 2"),
        (title, "2. Pages and columns", "Page 2"),
        (title, "2. Pages and columns", "Page 3"),
    ]


def test_ligatures_read_as_letters_and_a_hyphenation_mark_as_a_hyphen() -> None:
    from services.knowledge.loaders.pdf_text import _clean

    # a font whose character map gives the ligature itself; PDFium's mark ends a line
    assert _clean("the \ufb01rst \ufb04ow of e\ufb00ort\r\n") == "the first fflow of effort"
    assert _clean("com\ufffe") == "com-"


def test_a_page_is_cleaned_by_the_strip_alone_only_where_clean_would_change_nothing() -> None:
    from services.knowledge.loaders.pdf_text import _UNCLEAN, _clean, _strip_break

    # `_lines` strips a page's lines without `_clean` when `_UNCLEAN` finds nothing on it:
    # every character `_clean` changes must be one `_UNCLEAN` finds
    changed = [
        chr(code)
        for code in range(0x10000)
        if chr(code) not in "\r\n" and _clean(chr(code)) != chr(code)
    ]
    assert changed  # the ligatures, NUL, soft hyphen and PDFium's mark at least
    assert all(_UNCLEAN.search(char) for char in changed), changed
    assert _strip_break("- item 000001\r\n") == _clean("- item 000001\r\n") == "- item 000001"
