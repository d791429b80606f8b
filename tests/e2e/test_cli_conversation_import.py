"""`almanac conversations import URL|FILE`: a share link from the local server of
reconstructed pages (allowed through the IMPORT_* settings), an export file, a refusal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend.cli.main import app
from tests.conversation_exports import chatgpt_export
from tests.share_pages import FIXTURES, share_page_server

runner = CliRunner()


@pytest.fixture
def pages(env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("IMPORT_ALLOW_HTTP", "true")
    monkeypatch.setenv("IMPORT_ALLOW_PRIVATE_HOSTS", "true")
    with share_page_server() as url:
        monkeypatch.setenv("IMPORT_ALLOWED_HOSTS", url.removeprefix("http://"))  # host:port
        yield url


def test_import_a_share_link_then_find_it_again(pages: str) -> None:
    link = f"{pages}/grok-share.html"
    first = runner.invoke(app, ["conversations", "import", link])
    assert first.exit_code == 0, first.output
    out = " ".join(first.stdout.split())  # the terminal wraps long lines
    assert "Imported: chat " in out and "(grok, 3 messages)" in out
    again = runner.invoke(app, ["conversations", "import", link, "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["created"] is False


def test_import_export_files_and_a_refused_link(pages: str, tmp_path: Path) -> None:
    export = tmp_path / "conversations.json"
    export.write_bytes(chatgpt_export(12))
    result = runner.invoke(app, ["conversations", "import", str(export), "--user", "ann"])
    assert result.exit_code == 0, result.output
    assert "12 conversations: 12 imported, 0 already imported" in " ".join(result.stdout.split())
    claude = runner.invoke(
        app, ["conversations", "import", str(FIXTURES / "claude-export-conversations.json")]
    )
    assert "2 conversations: 2 imported" in " ".join(claude.stdout.split()), claude.output
    refused = runner.invoke(app, ["conversations", "import", "https://example.com/share/x"])
    assert refused.exit_code == 1
    assert "not a host conversations are imported from" in " ".join(refused.stderr.split())
    assert "Traceback" not in refused.stderr
