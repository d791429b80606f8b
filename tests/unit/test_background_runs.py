"""The background-run helper shared by evaluation and cleaning runs
(use_cases/jobs/background.py): one job per run, resumed at start-up, waited for. The runs'
own tests (test_benchmark_runs.py, test_cleaning_runs.py) exercise it through each kind."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from tests.fakes import InMemoryJobQueue
from use_cases.jobs.background import BackgroundRuns
from use_cases.jobs.queue import JobView


@dataclass(frozen=True)
class Run:
    run_id: str


class SubmissionLog(InMemoryJobQueue):
    """The in-memory queue, also keeping what each submission asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.submitted: list[tuple[str, str, dict[str, Any], str | None]] = []

    def submit(
        self,
        kind: str,
        name: str,
        payload: Mapping[str, Any],
        *,
        data: bytes | None = None,
        created_by: str | None = None,
        unique_key: str | None = None,
    ) -> JobView:
        self.submitted.append((kind, name, dict(payload), unique_key))
        return super().submit(
            kind, name, payload, data=data, created_by=created_by, unique_key=unique_key
        )


class World:
    def __init__(self, unfinished: tuple[str, ...] = ()) -> None:
        self.jobs = SubmissionLog()
        self.executed: list[str] = []
        self.unfinished = [Run(run_id) for run_id in unfinished]
        self.runs = BackgroundRuns(
            self.jobs,
            "demo_run",
            "demo run",
            unfinished=lambda: self.unfinished,
            execute=self.execute,
        )
        self.jobs.register("demo_run", self.runs.run_job)

    async def execute(self, run_id: str) -> None:
        self.executed.append(run_id)


def test_a_scheduled_run_is_one_job_of_its_kind_keyed_and_named_by_the_run() -> None:
    world = World()
    job_id = world.runs.schedule("run_1")
    assert world.jobs.get(job_id) is not None
    assert world.jobs.submitted == [("demo_run", "demo run run_1", {"run_id": "run_1"}, "run_1")]


async def test_the_job_handler_executes_the_run_its_payload_names() -> None:
    world = World()
    world.runs.schedule("run_1")
    world.runs.schedule("run_2")
    await world.jobs.run_all()
    assert world.executed == ["run_1", "run_2"]


async def test_resuming_schedules_every_unfinished_run_in_the_stores_order_and_logs_each(
    logged: list[tuple[str, str, str]],
) -> None:
    world = World(unfinished=("run_b", "run_a"))
    assert await world.runs.resume_unfinished() == ["run_b", "run_a"]
    assert [s[3] for s in world.jobs.submitted] == ["run_b", "run_a"]
    assert [m for level, _, m in logged if m.startswith("Resuming")] == [
        "Resuming demo run run_b",
        "Resuming demo run run_a",
    ]
    await world.jobs.run_all()
    assert world.executed == ["run_b", "run_a"]


async def test_resuming_nothing_schedules_nothing() -> None:
    world = World()
    assert await world.runs.resume_unfinished() == []
    assert world.jobs.submitted == []


async def test_waiting_ends_when_the_job_ends_and_at_once_for_a_run_not_scheduled_here() -> None:
    world = World()
    await asyncio.wait_for(world.runs.wait("run_elsewhere"), 5)

    job_id = world.runs.schedule("run_1")
    waiting = asyncio.ensure_future(world.runs.wait("run_1", poll_s=0.001))
    await asyncio.sleep(0.01)
    assert not waiting.done()  # the job is still queued
    world.jobs.jobs[job_id] = replace(world.jobs.jobs[job_id], status="failed")
    await asyncio.wait_for(waiting, 5)
