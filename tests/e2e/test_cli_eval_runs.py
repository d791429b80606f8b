"""`almanac eval run | show | compare` on the offline model, and their errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from backend.cli.main import app

runner = CliRunner()

CASES = [
    {"id": "sev1", "question": "What is the SEV1 acknowledgement time?", "kind": "kb",
     "expect_any": ["5 minutes"], "expect_sources": ["runbooks/incident-response.md"]},
    {"id": "canteen", "question": "whats on the canteen menu today", "kind": "refuse"},
]  # fmt: skip


def _write(tmp_path: Path) -> Path:
    path = tmp_path / "two.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in CASES), encoding="utf-8")
    return path


def test_eval_run_then_show_then_compare(env: None, tmp_path: Path) -> None:
    cases = _write(tmp_path)
    result = runner.invoke(app, ["eval", "run", str(cases), "--json"])
    assert result.exit_code == 0, result.output
    export = json.loads(result.stdout)
    assert export["status"] == "completed" and export["task"]["id"] == "two"
    assert export["aggregates"]["offline-extractive"]["overall"]["correct"] == 1.0

    table = runner.invoke(app, ["eval", "run", "two", "--limit", "1"])
    assert table.exit_code == 0, table.output
    assert "completed" in table.stdout and "1/1 items" in table.stdout

    shown = runner.invoke(app, ["eval", "show", export["run_id"], "--json"])
    assert json.loads(shown.stdout)["cases"] == export["cases"]

    same = runner.invoke(
        app, ["eval", "compare", export["run_id"], "latest", "--fail-on", "correct<-0.02"]
    )
    assert same.exit_code == 0, same.output
    # The second run (one case) has a single correct answer too: a rule on `cases` fails.
    dropped = runner.invoke(
        app, ["eval", "compare", export["run_id"], "latest", "--fail-on", "cases<-0.5"]
    )
    assert dropped.exit_code == 1 and "cases" in dropped.stdout

    page = tmp_path / "report.html"
    reported = runner.invoke(app, ["eval", "report", export["run_id"], "--html", str(page)])
    assert reported.exit_code == 0, reported.output
    html = page.read_text(encoding="utf-8")
    assert export["run_id"] in html and html.count("data:image/svg+xml;base64,") >= 3
    unwritable = runner.invoke(app, ["eval", "report", "latest", "--html", str(tmp_path)])
    assert unwritable.exit_code == 1 and "Cannot write the report" in unwritable.stderr


def test_eval_run_errors_are_one_line_and_exit_1(env: None, tmp_path: Path) -> None:
    unknown = runner.invoke(app, ["eval", "run", "nope"])
    assert unknown.exit_code == 1 and "nope" in unknown.stderr
    bad_version = runner.invoke(app, ["eval", "run", "answers", "--prompt-version", "chat"])
    assert bad_version.exit_code == 1 and "TYPE:N" in bad_version.stderr
    missing = runner.invoke(app, ["eval", "show", "run_000000000000"])
    assert missing.exit_code == 1 and "run_000000000000" in missing.stderr
    bad_rule = runner.invoke(app, ["eval", "compare", "latest", "latest", "--fail-on", "x"])
    assert bad_rule.exit_code == 1
