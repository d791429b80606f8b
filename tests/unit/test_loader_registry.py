"""The one registry of loaders: a separately installed package adds a file type through the
`almanac.loaders` entry point, and is used where the built-ins are (in this process and in the
parse child); it never takes a built-in's extension, and a broken one is skipped.

A package is installed here the way pip leaves one: its module and a `dist-info` folder with
`METADATA` and `entry_points.txt`, in a folder put on `sys.path` (importlib.metadata reads
entry points from there, as from site-packages)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.knowledge.loaders import ENTRY_POINT_GROUP, SUPPORTED_EXTENSIONS, FileLoader
from services.parse_pool import BudgetedLoader
from tests import plugin_packages
from use_cases.shared.errors import UnsupportedDocument

PLUGIN = """
from use_cases.knowledge.domain import ParsedDocument, ParsedSection


class NotesLoader:
    extensions = (".notes", ".md")  # .md is a built-in's: it stays the built-in's
    media_type = "text/x-notes"

    def supports(self, name):
        return name.lower().endswith(self.extensions)

    def check(self, name, data):
        pass

    def load(self, name, data):
        title, _, body = data.decode().partition("\\n")
        return ParsedDocument(
            title=title.removeprefix("Title:").strip(),
            sections=(ParsedSection(("Notes",), body.strip()),),
            media_type=self.media_type,
        )
"""


def install(site: Path, package: str, code: str, entry_points: str) -> None:
    plugin_packages.install(site, package, code, ENTRY_POINT_GROUP, entry_points)


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    site = tmp_path / "site-packages"
    site.mkdir()
    install(site, "almanac_notes", PLUGIN, "notes = almanac_notes:NotesLoader")
    install(
        site,
        "almanac_broken",
        "raise ImportError('a missing dependency')",
        "broken = almanac_broken:Loader",
    )
    monkeypatch.syspath_prepend(str(site))
    yield site


NOTES = b"Title: Parking\nVisitors park in bay 7."


def test_an_installed_plugin_reads_its_file_type(plugins: Path) -> None:
    loader = FileLoader()
    assert ".notes" in loader.extensions
    assert loader.extensions[: len(SUPPORTED_EXTENSIONS)] == SUPPORTED_EXTENSIONS
    document = loader.load("parking.notes", NOTES)
    assert document.title == "Parking"
    assert document.sections[0].text == "Visitors park in bay 7."
    origins = {entry.name: entry.origin for entry in loader.registered}
    assert origins["notes"] == "almanac_notes"
    assert "broken" not in origins  # skipped, the server goes on


def test_a_plugin_never_takes_a_built_in_extension(plugins: Path) -> None:
    loader = FileLoader()
    notes = next(entry for entry in loader.registered if entry.name == "notes")
    assert notes.extensions == (".notes",)
    assert loader.load("a.md", b"# Markdown\n\nStill the built-in.").title == "Markdown"


def test_the_parse_child_uses_the_plugin_too(plugins: Path) -> None:
    document = BudgetedLoader(FileLoader, cpu_s=5).load("parking.notes", NOTES)
    assert document.title == "Parking"


def test_without_the_plugin_its_type_is_415() -> None:
    with pytest.raises(UnsupportedDocument, match=r"'\.notes' files are not supported"):
        FileLoader().load("parking.notes", NOTES)
