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
