"""The `curl` examples of docs/evaluation-runs.md run against a live server (development
mode); the example run id is a real completed run of the bundled set."""

from __future__ import annotations

import asyncio
import re

from backend.api.app import create_app
from backend.bootstrap import Container
from backend.config import PROJECT_ROOT
from tests.e2e.test_readme import _check, _run_curl
from tests.live_server import serve
from use_cases.access.domain import CLI_ADMIN
from use_cases.evaluation.runs import RunRequest

DOC = (PROJECT_ROOT / "docs" / "evaluation-runs.md").read_text()
EXAMPLE_ID = "run_5d1f0c9a2b7e"


def _curl_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", DOC, flags=re.S)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith("curl ")]


def test_evaluation_runs_doc_curl_examples_work_against_a_live_server(
    container: Container,
) -> None:
    async def one_run() -> str:
        record = await container.evaluation.benchmark.start(
            CLI_ADMIN, RunRequest(task_id="answers", tags=("dev",), limit=1)
        )
        await container.evaluation.benchmark.execute(record.run_id)
        return record.run_id

    run_id = asyncio.run(one_run())
    commands = [c.replace(EXAMPLE_ID, run_id) for c in _curl_commands()]
    assert len(commands) >= 10 and any("/api/v1/benchmark-runs" in c for c in commands)
    with serve(create_app(container=container)) as url:
        for command in commands:
            _check(command, _run_curl(command, url, {}))
