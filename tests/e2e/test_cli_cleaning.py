"""`almanac clean tables | tasks | run | results | report` offline, and their errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from backend.cli.main import app

runner = CliRunner()


def test_clean_run_then_results_then_report(env: None, tmp_path: Path) -> None:
    tables = runner.invoke(app, ["clean", "tables", "--json"])
    assert tables.exit_code == 0, tables.output
    assert "seattle-weather" in {t["name"] for t in json.loads(tables.stdout)}

    tasks = runner.invoke(app, ["clean", "tasks", "--table", "services", "--difficulty", "hard"])
    assert tasks.exit_code == 0 and "services.uniqueness.hard" in tasks.stdout

    ran = runner.invoke(
        app,
        ["clean", "run", "--table", "services", "--difficulty", "easy", "--repeats", "2", "--json"],
    )
    assert ran.exit_code == 0, ran.output
    export = json.loads(ran.stdout)
    assert export["status"] == "completed" and len(export["task_results"]) == 8
    block = export["aggregates"]["offline-rules"]
    assert block["reliability"]["repeats"] == 2 and block["reliability"]["f1_std"] == 0.0

    shown = runner.invoke(app, ["clean", "results", "latest"])
    assert shown.exit_code == 0 and export["run_id"] in shown.stdout
    assert "accuracy" in shown.stdout and "F1 by difficulty" in shown.stdout

    page = tmp_path / "cleaning.html"
    written = runner.invoke(app, ["clean", "report", export["run_id"], "--html", str(page)])
    assert written.exit_code == 0, written.output
    html = page.read_text()
    assert "<svg" in html and "F1 of the repairs per dimension" in html and "<script" not in html


def test_clean_errors_are_one_line_and_exit_1(env: None) -> None:
    bad = runner.invoke(app, ["clean", "run", "--dimension", "beauty"])
    assert bad.exit_code == 1 and "dimension" in bad.output and "Traceback" not in bad.output
    missing = runner.invoke(app, ["clean", "results", "clean_000000000000"])
    assert missing.exit_code == 1 and "No cleaning run" in missing.output
