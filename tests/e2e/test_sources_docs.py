"""The examples of docs/sources.md run as written: the `almanac sources` session in a folder
holding the documented `handbook` (its output compared line by line, the folder's absolute
path put in for `/srv/handbook`), then the `curl` examples against a live server in
development mode (`JOB_ID` the job the sync answered, once it is done)."""

from __future__ import annotations

import json
import re
import shlex
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from backend.api.app import create_app
from backend.bootstrap import Container
from backend.cli.main import app
from backend.config import PROJECT_ROOT
from tests.e2e.test_readme import _check, _run_curl
from tests.live_server import serve

DOC = (PROJECT_ROOT / "docs" / "sources.md").read_text()


def _handbook(root: Path) -> Path:
    folder = root / "handbook"
    (folder / "policies").mkdir(parents=True)
    (folder / "travel.md").write_text("# Travel\n\nTrain tickets are refunded within 30 days.\n")
    (folder / "policies" / "parking.md").write_text("# Parking\n\nVisitors park in bay 7.\n")
    return folder


def _session() -> list[tuple[str, list[str]]]:
    """(command, the lines documented after it) of the console block."""
    (block,) = re.findall(r"```console\n(.*?)```", DOC, flags=re.S)
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


def test_the_documented_cli_session_prints_what_the_page_shows(
    env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _handbook(tmp_path)
    monkeypatch.chdir(tmp_path)
    steps = _session()
    assert [command.split()[:3] for command, _ in steps][:2] == [
        ["almanac", "sources", "add"],
        ["almanac", "sources", "sync"],
    ]
    for command, documented in steps:
        result = CliRunner().invoke(app, shlex.split(command)[1:])
        assert result.exit_code == 0, (command, result.stderr)
        printed = (result.stderr + result.stdout).splitlines()
        if documented:
            expected = [
                line.replace("/srv/handbook", folder.resolve().as_posix()) for line in documented
            ]
            assert printed == expected, command


def _curl_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", DOC, flags=re.S)
    return [
        line.strip() for block in blocks for line in block.splitlines() if line.startswith("curl ")
    ]


def test_the_documented_api_calls_work_against_a_live_server(
    container: Container, tmp_path: Path
) -> None:
    folder = _handbook(tmp_path)
    commands = _curl_commands()
    assert len(commands) == 6
    container.adapters.jobs.start()
    with serve(create_app(container=container)) as url:
        job_id = None
        for command in commands:
            command = command.replace('"folder": "handbook"', f'"folder": "{folder}"')
            if "JOB_ID" in command:
                assert job_id is not None
                _wait_for(url, job_id)
                command = command.replace("JOB_ID", job_id)
            result = _run_curl(command, url, {})
            _check(command, result)
            body = json.loads(result.stdout)
            if command.rstrip().endswith("/sync"):
                job_id = body["id"]
            elif "/jobs/" in command:
                assert (body["status"], body["done"]) == ("done", 2)
            elif command.endswith("/history"):
                assert body[0]["summary"] == "2 added, 0 updated, 0 unchanged, 0 removed, 0 failed"
            elif "keep_documents" in command:
                assert body == {"name": "handbook", "documents_removed": 0}


def _wait_for(url: str, job_id: str) -> None:
    for _ in range(3000):
        job = httpx.get(f"{url}/api/sources/handbook/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return
        time.sleep(0.02)
    raise AssertionError(f"sync job {job_id} did not finish")
