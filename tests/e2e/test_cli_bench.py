"""`almanac bench retrieval` on a tiny BEIR folder written for this test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend.cli.main import app

TINY = Path(__file__).resolve().parent.parent / "fixtures" / "beir-tiny"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)


def test_bench_retrieval_prints_one_json_object_with_every_method() -> None:
    result = CliRunner().invoke(app, ["bench", "retrieval", str(TINY), "--split", "test", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert set(figures) == {"bm25", "dense", "hybrid"}
    for metrics in figures.values():
        assert set(metrics) == {"ndcg@10", "recall@100"}
        assert metrics["recall@100"] == 1.0  # 8 documents: everything is in the top 100
    assert figures["hybrid"]["ndcg@10"] >= 0.9  # each query names its one document plainly


def test_bench_retrieval_explains_a_folder_that_is_not_beir(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bench", "retrieval", str(tmp_path), "--split", "test"])
    assert result.exit_code == 1
    assert "corpus.jsonl not found" in result.stderr
