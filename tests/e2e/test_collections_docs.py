"""The examples of docs/collections.md run: the `curl` lines, in order, against a live
development server of their own (the collection they make, the document they upload), and
the `almanac collections` lines against a data directory of their own."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from backend.api.app import create_app
from backend.bootstrap import bootstrap
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


def test_the_docs_cli_examples_run(tmp_path: Path) -> None:
    folder = tmp_path / "hr-documents"
    folder.mkdir()
    shutil.copy(PROJECT_ROOT / "docs" / "examples" / "salary-bands.md", folder)
    shutil.copy(PROJECT_ROOT / "docs" / "examples" / "salary-bands.csv", folder)
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "LOAD_SAMPLE_DATA": "false"}
    for line in _lines("almanac "):
        argv = shlex.split(line.replace("./hr-documents", str(folder)))
        if argv[1:3] == ["collections", "who-can-read"]:
            argv[3] = "1"  # the id the folder's one document gets in a fresh data directory
        if argv[1:3] == ["collections", "delete"]:
            # It still holds the table and the document: refused, as the doc says, until
            # they are removed.
            refused = _almanac(argv[1:], env)
            assert refused.returncode == 1 and "still holds 1 table" in refused.stderr
            assert _almanac(["tables", "drop", "salary_bands", "--yes"], env).returncode == 0
            refused = _almanac(argv[1:], env)
            assert refused.returncode == 1 and "still holds 1 document" in refused.stderr
            assert _almanac(["docs", "remove", "1", "--yes"], env).returncode == 0
        done = _almanac(argv[1:], env)
        assert done.returncode == 0, (line, done.stdout, done.stderr)


def _almanac(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backend.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
