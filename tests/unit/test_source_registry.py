"""The one registry of source kinds: `folder` and `s3` built in, resolved as entry points are;
a separately installed package adds a kind through the `almanac.sources` entry point (the
website reader, kind `url`, is to come that way); it never takes a built-in's name, a broken
one is skipped, and a kind nobody provides is refused with a clear message.

A package is installed the way pip leaves one (a module and a `dist-info` folder with its
`entry_points.txt`, on `sys.path`), as tests/unit/test_loader_registry.py does."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.sources.kinds import SourceContext
from services.sources.registry import ENTRY_POINT_GROUP, SourceRegistry
from tests import plugin_packages
from use_cases.shared.errors import InvalidRequest
from use_cases.sources.domain import SourceSpec
from use_cases.sources.ports import Fetched

PLUGIN = """
from use_cases.sources.ports import Fetched


class NotesKind:
    def __init__(self, context):
        self.context = context

    def check(self, location, *, local):
        if not location.startswith("notes:"):
            raise ValueError("not notes")
        return location

    def reader(self, spec):
        return NotesReader(spec.location.removeprefix("notes:"))


class NotesReader:
    def __init__(self, text):
        self.text = text

    def read(self, previous):
        yield Fetched("note.md", "note.md", self.text.encode(), "v1", link="https://n.example/1")


class FolderImpostor(NotesKind):
    pass
"""


def install(site: Path, package: str, code: str, entry_points: str) -> None:
    plugin_packages.install(site, package, code, ENTRY_POINT_GROUP, entry_points)


CONTEXT = SourceContext(supports=lambda name: name.endswith(".md"), max_item_bytes=1024)


def test_the_built_ins_are_folder_s3_and_url() -> None:
    registry = SourceRegistry(CONTEXT, entry_points=lambda: ())

    assert registry.kinds() == ["folder", "s3", "url"]
    assert registry.check("url", "HTTPS://Intranet.example:443/docs/../guide/#top") == (
        "https://intranet.example/guide/"
    )
    with pytest.raises(InvalidRequest, match="needs an http"):
        registry.check("url", "https://intranet.example:port/")
    with pytest.raises(InvalidRequest, match="'ftp' is not a kind of source here"):
        registry.check("ftp", "ftp://x")


def test_an_installed_package_adds_a_kind_and_cannot_take_a_built_in_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site-packages"
    site.mkdir()
    install(
        site,
        "almanac_notes_source",
        PLUGIN,
        "notes = almanac_notes_source:NotesKind\nfolder = almanac_notes_source:FolderImpostor",
    )
    install(site, "almanac_broken_source", "raise ImportError('gone')", "broken = x:Y")
    monkeypatch.syspath_prepend(str(site))

    registry = SourceRegistry(CONTEXT)

    assert registry.kinds()[:2] == ["folder", "s3"]
    assert "notes" in registry.kinds() and "broken" not in registry.kinds()
    with pytest.raises(InvalidRequest, match="is not a folder"):  # the built-in's check
        registry.check("folder", "notes:Hello", local=True)
    with pytest.raises(InvalidRequest, match="The notes source refused 'x': not notes"):
        registry.check("notes", "x")
    location = registry.check("notes", "notes:Hello")
    events = list(registry.reader(SourceSpec("n", "notes", location)).read({}))
    assert events == [Fetched("note.md", "note.md", b"Hello", "v1", link="https://n.example/1")]


def test_a_folder_location_is_checked_and_stored_absolute(tmp_path: Path) -> None:
    registry = SourceRegistry(CONTEXT, entry_points=lambda: ())
    (tmp_path / "handbook").mkdir()

    assert registry.check("folder", str(tmp_path / "handbook" / ".." / "handbook"), local=True) == (
        (tmp_path / "handbook").resolve().as_posix()
    )
    with pytest.raises(InvalidRequest, match="is not a folder"):
        registry.check("folder", str(tmp_path / "missing"), local=True)
    with pytest.raises(InvalidRequest, match="only under SOURCE_FOLDER_ROOTS"):
        registry.check("folder", str(tmp_path / "handbook"))  # over an API key


def test_with_folder_roots_every_folder_source_is_under_one(tmp_path: Path) -> None:
    (tmp_path / "shares" / "hr").mkdir(parents=True)
    (tmp_path / "shares-not").mkdir()
    context = SourceContext(
        supports=CONTEXT.supports, max_item_bytes=1024, folder_roots=(str(tmp_path / "shares"),)
    )
    registry = SourceRegistry(context, entry_points=lambda: ())

    assert registry.check("folder", str(tmp_path / "shares" / "hr")).endswith("/shares/hr")
    for outside in (tmp_path / "shares-not", tmp_path / "shares" / "hr" / ".." / ".."):
        with pytest.raises(InvalidRequest, match="is not under a folder"):
            registry.check("folder", str(outside), local=True)


@pytest.mark.parametrize(
    ("location", "stored"),
    [("s3://docs", "s3://docs/"), ("s3://docs/handbook/", "s3://docs/handbook/")],
)
def test_an_s3_location_is_bucket_and_prefix(location: str, stored: str) -> None:
    registry = SourceRegistry(CONTEXT, entry_points=lambda: ())
    assert registry.check("s3", location) == stored


@pytest.mark.parametrize(
    "location", ["https://docs/x", "s3://", "s3://a/", "s3://bad bucket/x", "s3://b/p?x=1"]
)
def test_a_malformed_s3_location_is_refused(location: str) -> None:
    registry = SourceRegistry(CONTEXT, entry_points=lambda: ())
    with pytest.raises(InvalidRequest):
        registry.check("s3", location)
