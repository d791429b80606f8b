"""`almanac eval answers`: JSON report, readable failures, clear errors for bad case files."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from backend.cli.main import app

runner = CliRunner()

CASES = [
    {
        "id": "a",
        "question": "What is the SEV1 acknowledgement time?",
        "kind": "kb",
        "expect_any": ["5 minutes"],
        "expect_sources": ["runbooks/incident-response.md", "domain/kpi-definitions.md"],
    },
    {"id": "b", "question": "what's on the canteen menu today", "kind": "refuse"},
    {
        "id": "c",
        "question": "What is the SEV1 acknowledgement time?",
        "kind": "kb",
        "expect_any": ["17 weeks"],
    },
]


def _write(path: Path, cases: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    return path


def test_eval_answers_prints_one_json_report(env: None, tmp_path: Path) -> None:
    cases = _write(tmp_path / "mine.jsonl", CASES)
    result = runner.invoke(app, ["eval", "answers", "--cases", str(cases), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["cases"], report["correct"]) == (3, 2)
    assert report["split"] == "mine" and report["model"] == "offline-extractive"
    assert report["failures"] == ["c"]
    assert report["by_kind"]["kb"]["cases"] == 2
    assert report["refusal_accuracy"] == 1.0 and report["cited"] == 1.0
    assert report["latency_p50_ms"] > 0


def test_eval_answers_lists_failures_with_the_answer_given(env: None, tmp_path: Path) -> None:
    cases = _write(tmp_path / "mine.jsonl", CASES)
    result = runner.invoke(app, ["eval", "answers", "--cases", str(cases)])
    assert result.exit_code == 0, result.output
    assert "correct 2/3" in result.stdout
    assert "✗ c" in result.stdout and "5 minutes" in result.stdout


def test_a_bad_case_file_names_the_line_and_field(env: None, tmp_path: Path) -> None:
    bad = _write(tmp_path / "bad.jsonl", [CASES[0], {"id": "x", "question": "q", "kind": "?"}])
    result = runner.invoke(app, ["eval", "answers", "--cases", str(bad)])
    assert result.exit_code == 1
    assert "line 2" in result.stderr and "'kind'" in result.stderr


def test_a_bad_split_or_model_fails_before_anything_runs(env: None) -> None:
    result = runner.invoke(app, ["eval", "answers", "--split", "train"])
    assert result.exit_code == 1 and "--split" in result.stderr
    result = runner.invoke(app, ["eval", "answers", "--model", "openai:gpt-9"])
    assert result.exit_code == 1 and "not allowed" in result.stderr
