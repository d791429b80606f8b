"""`CleaningRuns` on fakes: a run stores its tasks and one scored result per (model, task,
repeat); a resumed run cleans only what has no result; an invalid answer, a failing or a slow
cleaner is scored as no repair with the reason; bad requests store nothing."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from tests.fakes import InMemoryAuditLog, InMemoryJobQueue, SteppingClock
from tests.fakes.cleaning import FakeCleaners, InMemoryCleaningStore, ListedTables, ScriptedCleaner
from use_cases.access.audit import RecordAudit
from use_cases.access.domain import CLI_ADMIN, Caller
from use_cases.cleaning.domain import (
    CellChange,
    CleaningResult,
    RowRemoval,
    SourceTable,
    Table,
    auditability,
)
from use_cases.cleaning.ports import CleaningRequest
from use_cases.cleaning.runs import CLEANING_RUN, CleaningRunRequest, CleaningRuns
from use_cases.cleaning.tasks import CleaningTasks
from use_cases.shared.errors import Conflict, Forbidden, InvalidRequest, NotFound

SOURCE = SourceTable(
    Table("t", ("k", "v"), tuple((str(i), ("red", "blue")[i % 2]) for i in range(30))),
    "T",
    "test",
    "CC0",
    "v1",
    key="k",
)


def remove_copies(request: CleaningRequest) -> CleaningResult:
    seen: set[tuple[str, ...]] = set()
    removals = []
    for i, row in enumerate(request.table.rows):
        if row in seen:
            removals.append(RowRemoval(i, "copy"))
        seen.add(row)
    return CleaningResult(removals=tuple(removals))


class World:
    def __init__(self, **cleaners: ScriptedCleaner) -> None:
        self.store = InMemoryCleaningStore()
        self.tables = ListedTables(SOURCE)
        self.jobs = InMemoryJobQueue()
        clock = SteppingClock()
        ticks = iter(range(10**6))
        self.audit = InMemoryAuditLog()
        self.runs = CleaningRuns(
            CleaningTasks(self.tables),
            self.store,
            FakeCleaners(**(cleaners or {"rules": ScriptedCleaner(remove_copies)})),
            clock,
            RecordAudit(self.audit, clock),
            self.jobs,
            lambda: next(ticks) / 1000,
            default_concurrency=2,
            timeout_s=0.05,
        )
        self.jobs.register(CLEANING_RUN, self.runs.run_job)


UNIQUE = CleaningRunRequest(dimensions=("uniqueness",), difficulties=("easy", "hard"))


async def test_a_scheduled_run_stores_its_tasks_and_one_scored_result_each() -> None:
    world = World()
    run = await world.runs.start(CLI_ADMIN, CleaningRunRequest(**{**UNIQUE.__dict__, "repeats": 2}))
    assert run.total == 4 and run.status == "queued"
    assert run.settings["table_versions"] == {"t": "v1"}

    world.runs.schedule(run.run_id)
    await world.jobs.run_all()

    assert world.store.task("t.uniqueness.hard", 0, "v1") is not None  # with its ground truth
    export = await world.runs.export(CLI_ADMIN, run.run_id)
    assert export["status"] == "completed" and export["progress"]["done"] == 4
    assert [(r["task_id"], r["repeat"]) for r in export["task_results"]] == [
        ("t.uniqueness.easy", 0), ("t.uniqueness.easy", 1),
        ("t.uniqueness.hard", 0), ("t.uniqueness.hard", 1),
    ]  # fmt: skip
    assert all(r["valid"] and r["error"] is None for r in export["task_results"])
    # exact copies are all the scripted cleaner removes: easy has no near duplicates
    assert [r["f1"] for r in export["task_results"][:2]] == [1.0, 1.0]
    assert export["aggregates"]["rules"]["reliability"]["repeats"] == 2


async def test_a_resumed_run_cleans_only_the_tasks_without_a_result() -> None:
    cleaner = ScriptedCleaner(remove_copies)
    world = World(rules=cleaner)
    run = await world.runs.start(CLI_ADMIN, UNIQUE)
    world.store.add_result(run.run_id, ("rules", "t.uniqueness.easy", 0), {"kept": True})
    world.store.set_status(run.run_id, "running", at="2026-03-02T12:00:00+00:00")

    assert await world.runs.resume_unfinished() == [run.run_id]
    await world.jobs.run_all()

    assert cleaner.calls == ["t.uniqueness.hard"]
    assert world.store.results(run.run_id)[0] == {"kept": True}


async def test_invalid_failing_and_slow_cleaners_score_no_repair_with_the_reason() -> None:
    def bad(request: CleaningRequest) -> CleaningResult:
        return CleaningResult(changes=(CellChange(0, "nope", "x"),))

    def broken(request: CleaningRequest) -> CleaningResult:
        raise RuntimeError("bug")

    world = World(
        invalid=ScriptedCleaner(bad),
        broken=ScriptedCleaner(broken),
        slow=ScriptedCleaner(remove_copies, hang=True),
    )
    request = CleaningRunRequest(
        models=("invalid", "broken", "slow"), dimensions=("uniqueness",), difficulties=("easy",)
    )
    run = await world.runs.start(CLI_ADMIN, request)
    await world.runs.execute(run.run_id)

    rows = {r["model"]: r for r in world.store.results(run.run_id)}
    assert "column 'nope'" in rows["invalid"]["error"]
    assert rows["broken"]["error"] == "internal error (RuntimeError)"
    assert rows["slow"]["error"] == "the cleaner did not answer within 0.05 s"
    for row in rows.values():
        assert row["valid"] is False and row["tp"] == 0 and row["fn"] == row["errors_injected"]
    export = await world.runs.export(CLI_ADMIN, run.run_id)
    assert export["status"] == "completed" and export["progress"]["failed"] == 3


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (CleaningRunRequest(tables=("x",)), "tables"),
        (CleaningRunRequest(dimensions=("beauty",)), "dimensions"),
        (CleaningRunRequest(difficulties=("extreme",)), "difficulties"),
        (CleaningRunRequest(models=("nope",)), "models"),
        (CleaningRunRequest(repeats=0), "repeats"),
        (CleaningRunRequest(concurrency=99), "concurrency"),
    ],
)
async def test_a_bad_request_names_its_field_and_stores_nothing(
    request_: CleaningRunRequest, field: str
) -> None:
    world = World()
    with pytest.raises(InvalidRequest, match=f"field '{field}'"):
        await world.runs.start(CLI_ADMIN, request_)
    assert world.store.list(10, 0) == []


async def test_only_admins_run_or_read_cleaning_benchmarks() -> None:
    world = World()
    user = Caller(user_id="ana", role="user", key_id=None)
    with pytest.raises(Forbidden):
        await world.runs.start(user, UNIQUE)
    with pytest.raises(Forbidden):
        await world.runs.export(user, "latest")


async def test_a_run_whose_table_changed_since_it_started_fails_with_the_reason() -> None:
    world = World()
    run = await world.runs.start(CLI_ADMIN, UNIQUE)
    world.tables.tables = [replace(SOURCE, version="v2")]  # its file was replaced

    with pytest.raises(NotFound, match="changed since the run started"):
        await world.runs.execute(run.run_id)

    failed = world.store.get(run.run_id)
    assert failed is not None and failed.status == "failed" and failed.error is not None
    assert "start a new run" in failed.error


async def test_each_result_keeps_the_cleaners_justification_and_its_auditability() -> None:
    def half_explained(request: CleaningRequest) -> CleaningResult:
        copies = remove_copies(request).removals
        reasons = ["copy of an earlier row", ""] * len(copies)
        removals = tuple(RowRemoval(r.row, why) for r, why in zip(copies, reasons, strict=False))
        return CleaningResult(removals=removals, justification="  Removed the exact copies.  ")

    def silent(request: CleaningRequest) -> CleaningResult:
        return CleaningResult()

    def broken(request: CleaningRequest) -> CleaningResult:
        raise RuntimeError("bug")

    world = World(
        half=ScriptedCleaner(half_explained),
        silent=ScriptedCleaner(silent),
        broken=ScriptedCleaner(broken),
    )
    request = CleaningRunRequest(
        models=("half", "silent", "broken"), dimensions=("uniqueness",), difficulties=("hard",)
    )
    run = await world.runs.start(CLI_ADMIN, request)
    await world.runs.execute(run.run_id)

    rows = {r["model"]: r for r in world.store.results(run.run_id)}
    half = rows["half"]
    assert half["justification"] == "Removed the exact copies."
    explained = sum(1 for a in half["actions"] if a["justification"])
    assert half["removals"] >= 2
    assert half["auditability_score"] == round(explained / half["removals"], 4) < 1.0
    assert rows["silent"]["justification"] == "" and rows["silent"]["auditability_score"] == 0.0
    assert rows["broken"]["auditability_score"] is None
    aggregates = (await world.runs.export(CLI_ADMIN, run.run_id))["aggregates"]
    assert aggregates["half"]["overall"]["auditability_score"] == half["auditability_score"]
    assert aggregates["broken"]["overall"]["auditability_score"] is None


def test_auditability_is_the_share_of_actions_with_a_reason_of_their_own() -> None:
    two = (CellChange(0, "v", "red", "its group's value"), CellChange(1, "v", "blue", " "))
    assert auditability(CleaningResult(changes=two, removals=(RowRemoval(2, "copy"),))) == 2 / 3
    assert auditability(CleaningResult(justification="Nothing to repair.")) == 1.0
    assert auditability(CleaningResult()) == 0.0


class GatedCleaner(ScriptedCleaner):
    """Removes exact copies once `release` is set; `entered` is set when a task starts."""

    def __init__(self) -> None:
        super().__init__(remove_copies)
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def clean(self, request: CleaningRequest) -> CleaningResult:
        self.calls.append(request.task_id)
        self.entered.set()
        await self.release.wait()
        return self.answer(request)


async def test_a_cancelled_run_starts_no_other_task_says_so_and_is_not_resumed() -> None:
    gated = GatedCleaner()
    world = World(rules=gated)
    request = CleaningRunRequest(dimensions=("uniqueness",), concurrency=1)  # three tasks
    run = await world.runs.start(CLI_ADMIN, request)
    executing = asyncio.create_task(world.runs.execute(run.run_id))
    await gated.entered.wait()

    with pytest.raises(Forbidden):
        await world.runs.cancel(Caller(user_id="ana", role="user", key_id=None), run.run_id)
    cancelled = await world.runs.cancel(CLI_ADMIN, run.run_id)
    gated.release.set()
    finished = await executing

    assert cancelled.status == "cancelled" and cancelled.error == "cancelled by cli"
    assert finished.status == "cancelled" and finished.finished_at is not None
    assert gated.calls == ["t.uniqueness.easy"]  # the task in flight ended; no other started
    assert world.store.results(run.run_id) == []  # and its result was not kept
    assert await world.runs.resume_unfinished() == []
    assert (await world.runs.execute(run.run_id)).status == "cancelled"
    assert gated.calls == ["t.uniqueness.easy"]
    [entry] = [e for e in world.audit.entries if e.action == "cleaning_run.cancel"]
    assert entry.target == f"cleaning_run:{run.run_id}" and entry.actor_user_id == "cli"
    with pytest.raises(Conflict, match="only a queued or running run"):
        await world.runs.cancel(CLI_ADMIN, run.run_id)
    with pytest.raises(NotFound):
        await world.runs.cancel(CLI_ADMIN, "clean_000000000000")


async def test_a_finished_run_is_deleted_with_its_results_and_a_running_one_is_not() -> None:
    world = World()
    run = await world.runs.start(CLI_ADMIN, UNIQUE)
    with pytest.raises(Conflict, match="cancel it first"):
        await world.runs.delete(CLI_ADMIN, run.run_id)
    await world.runs.execute(run.run_id)
    with pytest.raises(Forbidden):
        await world.runs.delete(Caller(user_id="ana", role="user", key_id=None), run.run_id)

    await world.runs.delete(CLI_ADMIN, run.run_id)

    assert world.store.get(run.run_id) is None and world.store.results(run.run_id) == []
    assert world.store.task("t.uniqueness.easy", 0, "v1") is not None  # shared with other runs
    with pytest.raises(NotFound):
        await world.runs.export(CLI_ADMIN, run.run_id)
    with pytest.raises(NotFound):
        await world.runs.delete(CLI_ADMIN, run.run_id)
    [entry] = [e for e in world.audit.entries if e.action == "cleaning_run.delete"]
    assert entry.target == f"cleaning_run:{run.run_id}" and entry.before["status"] == "completed"
