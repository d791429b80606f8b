"""The file types the docs name are the ones the loaders read: one table in docs/guide.md
lists them, made from the loader registry (`formats_table`, checked here row for row), and
no other page keeps a list of its own, so a new loader is one entry of the registry."""

from __future__ import annotations

import re

from backend.config import PROJECT_ROOT
from services.knowledge.loaders import SUPPORTED_EXTENSIONS
from services.knowledge.loaders.registry import formats_table

GUIDE = PROJECT_ROOT / "docs" / "guide.md"
MARKER = "<!-- file-types:"
#: Pages that may name several formats together: the measurements and the map of the code,
#: which describe loaders one by one rather than list what is accepted.
DESCRIBE_LOADERS = {"history.md", "benchmarks.md", "architecture.md"}
FORMAT_NAMES = ("Markdown", "HTML", "PDF", "reST", "reStructuredText", "text")


def guide_table() -> str:
    """The guide's file-types table, the marker line left out."""
    text = GUIDE.read_text(encoding="utf-8")
    return text[text.index(MARKER) :].split("\n\n")[0].split("\n", 1)[1]


def documented_extensions() -> list[str]:
    """The extensions in the first column of the guide's file-types table, in order."""
    rows = [line for line in guide_table().splitlines()[2:] if line.startswith("|")]
    return [ext for row in rows for ext in re.findall(r"`(\.[\w.]+)`", row.split("|")[1])]


def test_the_guides_file_types_table_lists_exactly_the_supported_extensions() -> None:
    documented = documented_extensions()
    assert len(documented) == len(set(documented)), documented
    assert sorted(documented) == sorted(SUPPORTED_EXTENSIONS)


def test_the_guides_file_types_table_is_the_one_the_registry_makes() -> None:
    """Its rows, words and modules too: `almanac formats --markdown` prints the table."""
    assert guide_table() == formats_table()


def _hand_kept_lists(text: str) -> list[str]:
    """Lines that name three or more formats, or three or more extensions, together."""
    found = []
    for line in text.splitlines():
        names = {n for n in FORMAT_NAMES if re.search(rf"\b{re.escape(n)}\b", line)}
        extensions = set(re.findall(r"`\.(?:md|markdown|txt|text|rst|html?|pdf)`", line))
        if len(names - {"text"}) >= 3 or len(extensions) >= 3:
            found.append(line.strip())
    return found


def test_a_line_listing_formats_by_hand_is_found() -> None:
    assert _hand_kept_lists("Upload Markdown, text, HTML or PDF files.")
    assert _hand_kept_lists("Reads `.txt`, `.text` and `.rst` files.")
    assert not _hand_kept_lists("Upload files of [the supported types](guide.md#file-types).")


def test_no_other_page_keeps_its_own_list_of_formats() -> None:
    pages = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
    kept = {
        page.name: lines
        for page in pages
        if page.name not in DESCRIBE_LOADERS
        for lines in [_hand_kept_lists(page.read_text(encoding="utf-8"))]
        if page != GUIDE and lines
    }
    assert not kept, f"link to docs/guide.md#file-types instead: {kept}"
