"""`almanac eval cancel | delete` and `almanac clean cancel | delete`: the API's rules (cancel a
queued or running run only; delete a finished one only), audited as the CLI's admin, errors
one line with exit 1."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from backend.api.app import create_app
from backend.bootstrap import bootstrap
from backend.cli.common import open_container
from backend.cli.main import app
from tests.conftest import make_settings
from tests.live_server import serve
from use_cases.access.domain import CLI_ADMIN
from use_cases.cleaning.runs import CleaningRunRequest
from use_cases.evaluation.runs import RunRequest

runner = CliRunner()


def _queued_eval_run() -> str:
    """A run stored as `queued` that nothing executes (as a server's queue holds it)."""
    with open_container(with_sample=True) as container:
        record = asyncio.run(
            container.evaluation.benchmark.start(CLI_ADMIN, RunRequest("answers", limit=1))
        )
    return record.run_id


def _queued_cleaning_run() -> str:
    with open_container() as container:
        run = asyncio.run(
            container.cleaning.cleaning_runs.start(
                CLI_ADMIN, CleaningRunRequest(tables=("services",))
            )
        )
    return run.run_id


def _audit(family: str) -> list[dict[str, Any]]:
    listed = runner.invoke(app, ["audit", "--action", family, "--json"])
    assert listed.exit_code == 0, listed.output
    return list(json.loads(listed.stdout)["entries"])


@pytest.mark.parametrize(
    ("group", "queue", "show", "family"),
    [
        ("eval", _queued_eval_run, ["eval", "show"], "eval_run"),
        ("clean", _queued_cleaning_run, ["clean", "results"], "cleaning_run"),
    ],
)
def test_a_queued_run_is_cancelled_then_deleted_and_both_are_audited(
    env: None, group: str, queue: Any, show: list[str], family: str
) -> None:
    run_id = queue()

    unfinished = runner.invoke(app, [group, "delete", run_id, "--yes"])
    assert unfinished.exit_code == 1 and "cancel it first" in unfinished.stderr
    assert "Traceback" not in unfinished.output

    cancelled = runner.invoke(app, [group, "cancel", run_id, "--json"])
    assert cancelled.exit_code == 0, cancelled.output
    assert json.loads(cancelled.stdout)["status"] == "cancelled"
    shown = runner.invoke(app, [*show, run_id, "--json"])
    assert json.loads(shown.stdout)["status"] == "cancelled"
    assert json.loads(shown.stdout)["error"] == "cancelled by cli"

    again = runner.invoke(app, [group, "cancel", run_id])
    assert again.exit_code == 1 and "only a queued or running run" in again.stderr

    refused = runner.invoke(app, [group, "delete", run_id], input="n\n")
    assert refused.exit_code == 1
    assert json.loads(runner.invoke(app, [*show, run_id, "--json"]).stdout)["run_id"] == run_id

    deleted = runner.invoke(app, [group, "delete", run_id], input="y\n")
    assert deleted.exit_code == 0, deleted.output
    assert f"Deleted {'evaluation' if group == 'eval' else 'cleaning'} run {run_id}." in (
        deleted.stdout
    )
    gone = runner.invoke(app, [*show, run_id])
    assert gone.exit_code == 1 and run_id in gone.stderr
    missing = runner.invoke(app, [group, "delete", run_id, "--yes"])
    assert missing.exit_code == 1 and run_id in missing.stderr

    entries = _audit(family)[:2]  # newest first; the run's start before them
    assert [(e["action"], e["target"], e["actor_user_id"]) for e in entries] == [
        (f"{family}.delete", f"{family}:{run_id}", "cli"),
        (f"{family}.cancel", f"{family}:{run_id}", "cli"),
    ]
    assert entries[1]["before"] == {"status": "queued"}


def test_a_finished_run_cannot_be_cancelled_and_is_deleted_at_once(env: None) -> None:
    ran = runner.invoke(app, ["clean", "run", "--table", "services", "--difficulty", "easy"])
    assert ran.exit_code == 0, ran.output

    finished = runner.invoke(app, ["clean", "cancel", "latest"])
    assert finished.exit_code == 1 and "completed" in finished.stderr

    run_id = json.loads(runner.invoke(app, ["clean", "results", "latest", "--json"]).stdout)[
        "run_id"
    ]
    deleted = runner.invoke(app, ["clean", "delete", run_id, "-y"])
    assert deleted.exit_code == 0, deleted.output
    assert runner.invoke(app, ["clean", "results", run_id]).exit_code == 1


def test_the_cli_cancels_a_run_a_live_server_is_executing(env: None, data_dir: Path) -> None:
    """Another process (the server) executes the run; the CLI's cancel, through the shared
    database, stops it: no task starts after it and the run is never marked completed."""
    server = bootstrap(make_settings(data_dir, load_sample_data=False))
    try:
        with serve(create_app(container=server)) as url:
            started = httpx.post(f"{url}/api/cleaning/runs", json={}, timeout=30).json()
            run_id = started["run_id"]  # every task: seconds of work

            cancelled = runner.invoke(app, ["clean", "cancel", run_id])
            assert cancelled.exit_code == 0, cancelled.output
            assert f"Cancelled cleaning run {run_id}." in cancelled.stdout

            asyncio.run(server.cleaning.cleaning_runs.wait(run_id))  # the server's job has ended
            export = httpx.get(f"{url}/api/cleaning/runs/{run_id}", timeout=30).json()
    finally:
        server.close()
    assert export["status"] == "cancelled" and export["error"] == "cancelled by cli"
    assert export["progress"]["done"] < export["progress"]["total"] == started["total"]
