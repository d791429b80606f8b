"""The loaders' cost bench (bench/bench_loaders.py) measures the loader it is asked for, as
often as asked: its figures go to docs/notes/benchmarks.md, so its options must do what they
say (nothing about speed is asserted here)."""

from __future__ import annotations

import json

import pytest

from bench import bench_loaders


def test_only_measures_that_loader_on_every_structure(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_loaders.main(["--mb", "0.01", "--only", "PDF", "--repeats", "1", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(row["loader"], row["structure"]) for row in rows] == [
        ("PDF", structure) for structure in bench_loaders.PDF
    ]
    # each row carries its figures (their values are the bench's to print, never asserted)
    assert all(
        isinstance(row["cpu_s"], float) and isinstance(row["cpu_s_per_mb"], float) for row in rows
    )
    assert all(row["bytes"] > 0 for row in rows)


def test_repeats_loads_each_document_that_many_times(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[str] = []
    monkeypatch.setattr(
        bench_loaders.FileLoader, "load", lambda self, name, data: loads.append(name)
    )
    bench_loaders.main(["--mb", "0.001", "--only", "Markdown", "--repeats", "3", "--json"])
    assert loads == ["doc.md"] * 3 * len(bench_loaders.MARKDOWN)


def test_no_loads_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench_loaders.main(["--repeats", "0"])
    assert "--repeats must be 1 or more" in capsys.readouterr().err
