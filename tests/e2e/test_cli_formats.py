"""`almanac formats` lists what the loader registry reads: the built-ins, plugins' types,
and the guide's table (`--markdown`)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from backend.cli.main import app
from services.knowledge.loaders import SUPPORTED_EXTENSIONS
from services.knowledge.loaders.registry import formats_table

runner = CliRunner()


def test_formats_lists_every_extension_the_registry_reads() -> None:
    result = runner.invoke(app, ["formats", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    extensions = [ext for row in listed["formats"] for ext in row["extensions"]]
    assert extensions[: len(SUPPORTED_EXTENSIONS)] == list(SUPPORTED_EXTENSIONS)
    assert {".odt", ".odp"} <= set(extensions)
    assert listed["refused_legacy"][".doc"] == ".docx"
    assert all(row["summary"] for row in listed["formats"] if row["origin"] == "almanac")


def test_formats_prints_a_line_a_loader_and_the_guides_table_on_request() -> None:
    text = runner.invoke(app, ["formats"]).stdout
    assert ".odt: OpenDocument text" in text
    assert "Refused: .doc (save as .docx)" in text
    assert runner.invoke(app, ["formats", "--markdown"]).stdout.strip() == formats_table()
