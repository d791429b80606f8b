"""The HTML loader finds a page's elements once and filters that list by name instead of
asking bs4's `find_all(name)` (its generic matcher cost more than the parse on pages of many
short elements). What it relies on: the filtered list is what `find_all` returns, in the same
order, and stays so after elements are decomposed (bs4 empties a decomposed element's name),
which every pass after the first does."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from services.knowledge.loaders.html_soup import _live, _named
from services.knowledge.loaders.html_text import HEADING_TAGS

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(
    [
        *(ROOT / "tests/fixtures/docs").glob("*.html"),
        *(ROOT / "sample_data/corpora").glob("*/documents/*.htm*"),
    ]
)[:12]
NAMES = ("a", "meta", "div", ("b", "strong"), ("p", "div", "address", "small", "font"))


def _same(found: Sequence[object], expected: Sequence[object]) -> bool:
    return len(found) == len(expected) and all(a is b for a, b in zip(found, expected, strict=True))


@pytest.mark.parametrize("page", PAGES, ids=lambda path: path.name)
def test_names_filtered_from_one_list_are_what_find_all_finds(page: Path) -> None:
    soup = BeautifulSoup(page.read_bytes(), "html.parser")
    elements = soup.find_all(True)
    for names in (*NAMES, HEADING_TAGS):
        assert _same(_named(elements, names), soup.find_all(names)), names


@pytest.mark.parametrize("page", PAGES, ids=lambda path: path.name)
def test_the_list_stays_true_as_elements_are_decomposed(page: Path) -> None:
    soup = BeautifulSoup(page.read_bytes(), "html.parser")
    elements = soup.find_all(True)
    for tag in soup.find_all(("div", "ul", "table"))[::3]:
        if not _live([tag]):
            continue  # inside one decomposed already
        tag.decompose()
    assert len(_live(elements)) < len(elements)
    assert _same(_live(elements), soup.find_all(True))
    for names in (*NAMES, HEADING_TAGS):
        assert _same(_named(elements, names), soup.find_all(names)), names


def test_the_pages_are_there() -> None:
    assert len(PAGES) >= 8
