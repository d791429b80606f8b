"""The `curl` examples of docs/cleaning.md run against a live server (development mode); the
example run id is a real completed cleaning run."""

from __future__ import annotations

import asyncio
import re

from backend.api.app import create_app
from backend.bootstrap import Container
from backend.config import PROJECT_ROOT
from tests.e2e.test_readme import _check, _run_curl
from tests.live_server import serve
from use_cases.access.domain import CLI_ADMIN
from use_cases.cleaning.runs import CleaningRunRequest

DOC = (PROJECT_ROOT / "docs" / "cleaning.md").read_text()
EXAMPLE_ID = "clean_5d1f0c9a2b7e"


def _curl_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", DOC, flags=re.S)
    return [
        line.strip() for block in blocks for line in block.splitlines() if line.startswith("curl ")
    ]


def test_cleaning_doc_curl_examples_work_against_a_live_server(container: Container) -> None:
    async def one_run() -> str:
        run = await container.cleaning.cleaning_runs.start(
            CLI_ADMIN, CleaningRunRequest(tables=("services",), difficulties=("easy",))
        )
        await container.cleaning.cleaning_runs.execute(run.run_id)
        return run.run_id

    run_id = asyncio.run(one_run())
    commands = [c.replace(EXAMPLE_ID, run_id) for c in _curl_commands()]
    assert len(commands) >= 9 and any("/api/cleaning/runs" in c for c in commands)
    with serve(create_app(container=container)) as url:
        for command in commands:
            _check(command, _run_curl(command, url, {}))


def test_the_documented_offline_figures_are_the_cleaners_at_seed_0(container: Container) -> None:
    """The measured table of docs/cleaning.md, checked on one cheap slice: the uniqueness
    tasks of the sample tables (all repaired, nothing broken)."""

    async def run() -> dict:
        started = await container.cleaning.cleaning_runs.start(
            CLI_ADMIN,
            CleaningRunRequest(
                tables=("directory", "kpi_catalog", "services"), dimensions=("uniqueness",)
            ),
        )
        await container.cleaning.cleaning_runs.execute(started.run_id)
        return await container.cleaning.cleaning_runs.export(CLI_ADMIN, started.run_id)

    export = asyncio.run(run())
    overall = export["aggregates"]["offline-rules"]["overall"]
    assert (overall["f1"], overall["corruption_rate"], overall["tasks"]) == (1.0, 0.0, 9)
    assert "| uniqueness | 12 | 1.000 | 1.000 | 1.000 | 0.00% |" in DOC
