"""A file whose bytes did not change is not embedded again, whichever path ingested it
first: `almanac ingest` (with or without a category or collection) and the ingest that
`almanac serve --knowledge PATH` runs at start (use_cases/knowledge/ingest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend.cli.common import settings_for_cli
from backend.cli.main import app
from backend.cli.serve_commands import _ingest_knowledge

FILES = {
    "leave.md": "# Leave\n\nAnnual leave is 25 days a year.\n",
    "travel.md": "# Travel\n\nTrain tickets are booked through the travel desk.\n",
    "policies/security.md": "# Security\n\nLaptops lock after five idle minutes.\n",
}


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "company"
    for name, text in FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _ingest(runner: CliRunner, env: dict[str, str], *args: str) -> dict:
    result = runner.invoke(app, ["ingest", *args, "--no-wait", "--json"], env=env)
    assert result.exit_code == 0, result.output
    report: dict = json.loads(result.stdout)
    return report


def _counts(report: dict) -> dict[str, int]:
    return {k: report[k] for k in ("added", "updated", "unchanged", "failed")}


@pytest.mark.parametrize(
    "first",
    [[], ["--category", "hr"], ["--collection", "people"]],
    ids=["plain", "category", "collection"],
)
def test_a_server_start_after_a_cli_ingest_embeds_nothing_again(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    first: list[str],
) -> None:
    folder = _folder(tmp_path)
    env = {"DATA_DIR": str(tmp_path / "data"), "LOAD_SAMPLE_DATA": "false", "LOG_LEVEL": "WARNING"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    if "--collection" in first:
        made = runner.invoke(app, ["collections", "create", "people"], env=env)
        assert made.exit_code == 0, made.output
    assert _counts(_ingest(runner, env, str(folder), *first))["added"] == 3
    assert _counts(_ingest(runner, env, str(folder), *first))["unchanged"] == 3  # a re-ingest

    _ingest_knowledge(settings_for_cli(), folder)  # what `serve --knowledge` runs at start

    summary = capsys.readouterr().err
    assert "0 added, 0 updated, 3 unchanged" in summary, summary
    again = _counts(_ingest(runner, env, str(folder), *first))
    assert again == {"added": 0, "updated": 0, "unchanged": 3, "failed": 0}
