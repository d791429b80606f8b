"""`almanac eval answers`: JSON report, readable failures, clear errors for bad case files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from backend.cli import eval_commands
from backend.cli.main import app

runner = CliRunner()

CASES: list[dict[str, Any]] = [
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


def test_eval_answers_limit_runs_only_the_first_cases(env: None, tmp_path: Path) -> None:
    cases = _write(tmp_path / "mine.jsonl", CASES)
    result = runner.invoke(
        app, ["eval", "answers", "--cases", str(cases), "--limit", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["cases"], report["correct"], report["failures"]) == (2, 2, [])
    refused = runner.invoke(app, ["eval", "answers", "--corpus", "rst-spec", "--limit", "2"])
    assert refused.exit_code != 0 and "--limit" in refused.output


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


def _tiny_corpus(root: Path) -> Path:
    """A corpus folder as under sample_data/corpora/: documents and an evaluation set."""
    documents = root / "tiny" / "documents"
    documents.mkdir(parents=True)
    (documents / "kettle.md").write_text(
        "# Kettle manual\n\n## Descaling\n\nDescale the kettle every 4 weeks with citric acid.\n",
        encoding="utf-8",
    )
    evaluation = root / "tiny" / "eval"
    evaluation.mkdir()
    _write(
        evaluation / "dev.jsonl",
        [
            {
                "id": "k1",
                "question": "how often should i descale the kettle?",
                "kind": "kb",
                "expect_any": ["4 weeks"],
                "expect_sources": ["kettle.md"],
            },
            # the bundled handbook is not loaded beside a corpus: its facts are not found
            {"id": "k2", "question": "What is the SEV1 acknowledgement time?", "kind": "refuse"},
        ],
    )
    _write(evaluation / "test.jsonl", [])
    return root


def test_eval_answers_scores_one_corpus_ingested_alone(
    env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(eval_commands, "CORPORA_DIR", _tiny_corpus(tmp_path / "corpora"))
    result = runner.invoke(app, ["eval", "answers", "--corpus", "tiny", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["split"] == "tiny/dev"
    assert (report["cases"], report["correct"]) == (2, 2), report["failures"]
    assert report["cited"] == 1.0
    assert "auroc" in report and "ece" in report


def test_an_unknown_corpus_or_corpus_with_cases_is_refused(env: None, tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "answers", "--corpus", "nope"])
    assert result.exit_code == 1
    assert "No corpus 'nope'" in result.stderr and "handbook" in result.stderr
    cases = _write(tmp_path / "mine.jsonl", CASES)
    result = runner.invoke(app, ["eval", "answers", "--corpus", "handbook", "--cases", str(cases)])
    assert result.exit_code == 1 and "without --cases" in result.stderr
