"""The examples of docs/collections.md run: the `curl` lines, in order, against a live
development server of their own (the collection they make, the document they upload), and
the `almanac collections` lines against a data directory of their own."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import traceback
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from backend.api.app import create_app
from backend.bootstrap import bootstrap
from backend.cli.main import app as cli_app
from backend.config import PROJECT_ROOT
from tests.conftest import FixedClock, make_settings
from tests.e2e.test_readme import _check, _run_curl
from tests.live_server import serve

DOC = (PROJECT_ROOT / "docs" / "collections.md").read_text()


def _lines(prefix: str) -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", DOC, flags=re.S)
    return [line.strip() for b in blocks for line in b.splitlines() if line.startswith(prefix)]


def test_the_docs_curl_examples_work_against_a_live_server(
    sample_data_dir: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(sample_data_dir, data_dir)
    container = bootstrap(make_settings(data_dir), clock=FixedClock())
    container.adapters.history.ensure_user("ana")
    commands = _lines("curl ")
    assert len(commands) == 6
    outputs = []
    try:
        with serve(create_app(container=container)) as url:
            for command in commands:
                result = _run_curl(command, url, {})
                _check(command, result)
                outputs.append(json.loads(result.stdout))
    finally:
        container.close()
    assert outputs[1]["document"]["collection"] == "hr"
    assert outputs[2]["grants"] == [{"kind": "user", "principal": "ana"}]
    assert [c["name"] for c in outputs[3]["collections"]] == ["hr"]
    assert [h["source"] for h in outputs[4]["hits"]] == ["salary-bands.md"]
    assert outputs[5]["grants"] == []


def test_the_docs_cli_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each `almanac` line runs as written (its folder and document id aside), in order,
    through the CLI app the `almanac` script starts, in this process: a Python start and the
    app's import per command were most of this test's time (tests/e2e/test_cli_knowledge.py
    runs the installed script itself)."""
    folder = tmp_path / "hr-documents"
    folder.mkdir()
    shutil.copy(PROJECT_ROOT / "docs" / "examples" / "salary-bands.md", folder)
    shutil.copy(PROJECT_ROOT / "docs" / "examples" / "salary-bands.csv", folder)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LOAD_SAMPLE_DATA", "false")
    monkeypatch.chdir(tmp_path)  # no stray .env from the repository
    lines = _lines("almanac ")
    assert len(lines) == 9
    for line in lines:
        argv = shlex.split(line.replace("./hr-documents", str(folder)))
        if argv[1:3] == ["collections", "who-can-read"]:
            argv[3] = "1"  # the id the folder's one document gets in a fresh data directory
        if argv[1:3] == ["collections", "delete"]:
            # It still holds the table and the document: refused, as the doc says, until
            # they are removed.
            refused = _almanac(argv[1:])
            assert refused.exit_code == 1 and "still holds 1 table" in refused.stderr
            assert _almanac(["tables", "drop", "salary_bands", "--yes"]).exit_code == 0
            refused = _almanac(argv[1:])
            assert refused.exit_code == 1 and "still holds 1 document" in refused.stderr
            assert _almanac(["docs", "remove", "1", "--yes"]).exit_code == 0
        done = _almanac(argv[1:])
        failure = "".join(traceback.format_exception(*done.exc_info)) if done.exc_info else ""
        assert done.exit_code == 0, (line, done.stdout, done.stderr, failure)


def _almanac(args: list[str]) -> Result:
    """`almanac ARGS` through the CLI app, in this process."""
    return CliRunner().invoke(cli_app, args)
