"""`BenchmarkRuns` on fakes: datasets and runs in memory (tests/fakes/evaluation.py, checked
against the adapters' contract), a scripted item executor whose rows are scored by the real
`score_case`, the in-memory job queue, audit log and prompt store. The real stack is
exercised by tests/e2e/test_eval_runs_api.py and test_cli_eval_runs.py."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from tests.conftest import FixedClock
from tests.fakes import InMemoryAuditLog, InMemoryJobQueue, InMemoryPromptStore
from tests.fakes.evaluation import InMemoryDatasetStore, InMemoryRunStore
from tests.narrowing import present
from use_cases.access.audit import RecordAudit
from use_cases.access.domain import Caller
from use_cases.chat.prompts import NOT_FOUND_ANSWER
from use_cases.evaluation.datasets import DatasetUpload, ManageDatasets
from use_cases.evaluation.domain import CaseOutcome
from use_cases.evaluation.engine import Item, ItemContext
from use_cases.evaluation.metrics import score_case
from use_cases.evaluation.run_domain import PromptRef
from use_cases.evaluation.runs import BenchmarkRuns, RunRequest
from use_cases.jobs.queue import EVAL_RUN, QueueLimits
from use_cases.shared.errors import Conflict, Forbidden, InvalidRequest, NotFound, ServiceBusy

ADMIN = Caller("root", "admin", None)
USER = Caller("ann", "user", "key-1")

CASES = [
    {"id": "q1", "question": "Daily quota?", "kind": "kb", "expect_any": ["100,000"],
     "tags": ["quota"]},
    {"id": "q2", "question": "Leave days?", "kind": "kb", "expect_any": ["25 days"]},
    {"id": "q3", "question": "Who won in 1850?", "kind": "refuse"},
]  # fmt: skip
DATASET = DatasetUpload("three.jsonl", "\n".join(json.dumps(c) for c in CASES).encode())


class Models:
    """The one thing `BenchmarkRuns` asks of `ChatTurns`: which model a name resolves to."""

    def model_identifier(self, name: str | None) -> str:
        if name is None:
            return "offline-extractive"
        if name in ("test:a", "test:b"):
            return name
        raise InvalidRequest(f"Model {name!r} is not allowed here.")


class Executor:
    """Answers from a script (case id -> answer; an `Exception` is an error row), scored by
    the real `score_case`. `gate`, when set, holds every item (or those of the `held` cases,
    when given) until it is released."""

    def __init__(self, answers: dict[str, str | Exception]) -> None:
        self.answers = answers
        self.executed: list[tuple[str, str, str]] = []
        self.gate: asyncio.Event | None = None
        self.held: set[str] | None = None
        self.waiting = asyncio.Event()  # set once an item is held at the gate

    async def execute(self, item: Item, context: ItemContext) -> dict[str, object]:
        if self.gate is not None and (self.held is None or item.case.id in self.held):
            self.waiting.set()
            await self.gate.wait()
        self.executed.append(item.key)
        answer = self.answers[item.case.id]
        outcome = (
            CaseOutcome(answer="", error=str(answer), latency_ms=3)
            if isinstance(answer, Exception)
            else CaseOutcome(answer=answer, latency_ms=5)
        )
        return score_case(item.case, outcome, model=item.model, variant=item.variant, k=context.k)


class World:
    def __init__(
        self,
        answers: dict[str, str | Exception] | None = None,
        limits: QueueLimits | None = None,
        executor: type[Executor] | None = None,
    ) -> None:
        clock = FixedClock()
        self.audit_log = InMemoryAuditLog()
        audit = RecordAudit(self.audit_log, clock)
        self.datasets = ManageDatasets(InMemoryDatasetStore(), clock, audit, bundled_dir=None)
        self.run_store = InMemoryRunStore()
        self.executor = (executor or Executor)(
            answers or {"q1": "It is 100,000 a day [1].", "q2": "20 days.", "q3": "Not found."}
        )
        self.prompts = InMemoryPromptStore()
        self.jobs = InMemoryJobQueue()
        self.runs = BenchmarkRuns(
            self.datasets,
            self.run_store,
            self.executor,  # type: ignore[arg-type]  # a fake of the runs' executor
            Models(),  # type: ignore[arg-type]  # a resolver of the two members runs read
            self.prompts,
            clock,
            audit,
            self.jobs,
            default_concurrency=2,
            limits=limits,
        )
        self.jobs.register(EVAL_RUN, self.runs.run_job)

    async def dataset(self) -> str:
        uploaded = await self.datasets.upload(ADMIN, DATASET)
        return uploaded.dataset.id


async def test_only_an_admin_starts_a_run_and_bad_requests_name_the_field() -> None:
    world = World()
    task = await world.dataset()

    with pytest.raises(Forbidden):
        await world.runs.start(USER, RunRequest(task))
    bad = {
        "no dataset 'nope'": RunRequest("nope"),
        "field 'concurrency'": RunRequest(task, concurrency=99),
        "field 'k'": RunRequest(task, k=0),
        "field 'robustness': unknown perturbation 'shout'": RunRequest(task, robustness=["shout"]),
        "field 'models'": RunRequest(task, models=["gpt-9"]),
        "has any of the tags missing": RunRequest(task, tags=["missing"]),
        "field 'prompt_version'": RunRequest(task, prompt_version=PromptRef("chat", 3)),
    }
    for expected, request in bad.items():
        with pytest.raises(InvalidRequest) as refused:
            await world.runs.start(ADMIN, request)
        assert expected in refused.value.detail, (expected, refused.value.detail)
    assert world.run_store.list(10, 0) == []  # nothing was stored


async def test_a_run_plans_models_cases_and_variants_and_is_audited() -> None:
    world = World()
    task = await world.dataset()

    record = await world.runs.start(
        ADMIN,
        RunRequest(task, models=["test:a", "test:b", "test:a"], robustness=["typos"], limit=2),
    )

    assert record.status == "queued" and record.models == ("test:a", "test:b")
    assert record.total == 2 * 2 * 2  # models x first two cases x (clean, typos)
    assert world.run_store.get(record.run_id) == record
    assert [e.action for e in world.audit_log.entries] == ["eval_dataset.upload", "eval_run.start"]


async def test_a_start_past_the_run_queues_cap_stores_and_audits_nothing() -> None:
    world = World(limits=QueueLimits("evaluation runs", max_pending=5, per_user=1))
    task = await world.dataset()
    first = await world.runs.start(ADMIN, RunRequest(task))  # queued: no worker runs it here

    with pytest.raises(ServiceBusy, match="You already have 1 evaluation runs") as refused:
        await world.runs.start(ADMIN, RunRequest(task))
    assert refused.value.retry_after_s == 30
    assert [r.run_id for r in world.run_store.list(10, 0)] == [first.run_id]
    assert [e.action for e in world.audit_log.entries].count("eval_run.start") == 1
    other = await world.runs.start(Caller("bob", "admin", None), RunRequest(task))
    assert other.created_by == "bob"  # one admin's full share leaves room for another


async def test_a_run_executes_every_item_once_and_its_export_scores_them() -> None:
    world = World(
        {"q1": "It is 100,000 a day.", "q2": RuntimeError("down"), "q3": NOT_FOUND_ANSWER}
    )
    task = await world.dataset()
    record = await world.runs.start(ADMIN, RunRequest(task))
    seen: list[str] = []

    finished = await world.runs.execute(
        record.run_id, on_row=lambda row: seen.append(row["case_id"])
    )

    assert finished.status == "completed" and finished.started_at and finished.finished_at
    assert sorted(seen) == ["q1", "q2", "q3"]
    export = await world.runs.export(ADMIN, "latest-completed")
    overall = export["aggregates"]["offline-extractive"]["overall"]
    assert export["progress"]["done"] == 3 and export["progress"]["failed"] == 1
    assert overall["cases"] == 3 and overall["errors"] == 1
    assert overall["correct"] == pytest.approx(round(2 / 3, 4))  # q1, and q3's refusal
    csv = await world.runs.export_csv(ADMIN, record.run_id)
    header, *lines = csv.splitlines()
    assert "case_id" in header.split(",") and len(lines) == 3


async def test_a_resumed_run_executes_only_the_items_without_a_row() -> None:
    world = World()
    task = await world.dataset()
    record = await world.runs.start(ADMIN, RunRequest(task))
    first = ("offline-extractive", "q1", "clean")
    world.run_store.add_row(record.run_id, first, {"case_id": "q1", "model": first[0]})

    await world.runs.execute(record.run_id)

    assert sorted(world.executor.executed) == [
        ("offline-extractive", "q2", "clean"),
        ("offline-extractive", "q3", "clean"),
    ]


async def test_closing_stops_a_run_which_stays_running_and_finishes_when_resumed() -> None:
    world = World()
    task = await world.dataset()
    record = await world.runs.start(ADMIN, RunRequest(task, concurrency=1))
    world.executor.gate = asyncio.Event()
    running = asyncio.create_task(world.runs.execute(record.run_id))
    await asyncio.wait_for(world.executor.waiting.wait(), 30)  # an item is held at the gate

    await world.runs.close()
    world.executor.gate.set()
    with pytest.raises(asyncio.CancelledError):
        await running

    assert present(world.run_store.get(record.run_id)).status == "running"
    assert world.run_store.done(record.run_id) == set()  # the item in flight was not kept
    assert await world.runs.resume_unfinished() == [record.run_id]
    await world.jobs.run_all()
    assert present(world.run_store.get(record.run_id)).status == "completed"
    assert len(world.run_store.done(record.run_id)) == 3


async def test_a_cancelled_run_stops_keeps_its_rows_and_is_never_taken_up_again() -> None:
    world = World()
    task = await world.dataset()
    record = await world.runs.start(ADMIN, RunRequest(task, concurrency=1))
    world.executor.gate, world.executor.held = asyncio.Event(), {"q2"}
    running = asyncio.create_task(world.runs.execute(record.run_id))
    await asyncio.wait_for(world.executor.waiting.wait(), 30)  # q2 is held at the gate
    for _ in range(6000):  # and q1's row is recorded
        if world.run_store.done(record.run_id):
            break
        await asyncio.sleep(0.005)

    with pytest.raises(Forbidden):
        await world.runs.cancel(USER, record.run_id)
    cancelled = await world.runs.cancel(ADMIN, record.run_id)
    assert cancelled.status == "cancelled" and cancelled.finished_at is not None
    world.executor.gate.set()
    finished = await running
    assert finished.status == "cancelled"
    assert world.run_store.done(record.run_id) == {("offline-extractive", "q1", "clean")}
    assert [k[1] for k in world.executor.executed] == ["q1", "q2"]  # q3 never started
    export = await world.runs.export(ADMIN, record.run_id)
    assert export["status"] == "cancelled" and len(export["cases"]) == 1
    assert ("eval_run.cancel", f"eval_run:{record.run_id}") in [
        (e.action, e.target) for e in world.audit_log.entries
    ]

    with pytest.raises(Conflict, match="is cancelled"):
        await world.runs.cancel(ADMIN, record.run_id)
    assert await world.runs.resume_unfinished() == []
    world.runs.schedule(record.run_id)
    await world.jobs.run_all()
    assert len(world.executor.executed) == 2
    with pytest.raises(NotFound):
        await world.runs.cancel(ADMIN, "run_000000000000")


async def test_a_queued_run_cancelled_before_it_starts_runs_nothing() -> None:
    world = World()
    task = await world.dataset()
    record = await world.runs.start(ADMIN, RunRequest(task))
    await world.runs.cancel(ADMIN, record.run_id)
    world.runs.schedule(record.run_id)
    await world.jobs.run_all()
    assert world.executor.executed == []
    assert present(world.run_store.get(record.run_id)).status == "cancelled"


async def test_a_run_whose_prompt_version_is_gone_fails_with_the_reason() -> None:
    world = World()
    task = await world.dataset()
    world.prompts.create_version(
        "chat", "Answer well. Today is {{today}}.", "root", datetime.now(UTC)
    )
    record = await world.runs.start(ADMIN, RunRequest(task, prompt_version=PromptRef("chat", 1)))
    world.prompts.versions["chat"].clear()

    with pytest.raises(NotFound):
        await world.runs.execute(record.run_id)

    failed = world.run_store.get(record.run_id)
    assert failed is not None and failed.status == "failed"
    assert failed.error == "Prompt 'chat' version 1 is gone."


async def test_a_prompt_needing_a_variable_no_case_gives_is_refused_at_the_start() -> None:
    world = World()
    task = await world.dataset()
    world.prompts.create_version("chat", "You work for {{company}}.", "root", datetime.now(UTC))

    with pytest.raises(InvalidRequest) as refused:
        await world.runs.start(ADMIN, RunRequest(task, prompt_version=PromptRef("chat", 1)))

    assert "gives no value for company" in refused.value.detail


async def test_latest_names_say_what_is_missing_and_a_malformed_id_is_not_found() -> None:
    world = World()

    with pytest.raises(NotFound) as none_yet:
        world.runs.record("latest")
    with pytest.raises(NotFound):
        world.runs.record("../etc/passwd")

    assert "POST /api/v1/benchmark-runs" in none_yet.value.detail


class HeldExecutor(Executor):
    """Holds each item at `gate` and says (`entered`) when the first one is held."""

    def __init__(self, answers: dict[str, str | Exception]) -> None:
        super().__init__(answers)
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()

    async def execute(self, item: Item, context: ItemContext) -> dict[str, object]:
        self.entered.set()
        return await super().execute(item, context)


async def test_a_cancelled_run_starts_no_other_item_says_so_and_is_not_resumed() -> None:
    world = World(executor=HeldExecutor)
    held = world.executor
    assert isinstance(held, HeldExecutor)
    task = await world.dataset()
    record = await world.runs.start(ADMIN, RunRequest(task, concurrency=1))
    executing = asyncio.create_task(world.runs.execute(record.run_id))
    await held.entered.wait()

    with pytest.raises(Forbidden):
        await world.runs.cancel(USER, record.run_id)
    cancelled = await world.runs.cancel(ADMIN, record.run_id)
    assert held.gate is not None
    held.gate.set()
    finished = await executing

    assert cancelled.status == "cancelled" and cancelled.error == "cancelled by root"
    assert finished.status == "cancelled"
    assert [key[1] for key in held.executed] == ["q1"]  # the item in flight ended, no other
    assert await world.runs.resume_unfinished() == []
    assert (await world.runs.execute(record.run_id)).status == "cancelled"
    assert [e.action for e in world.audit_log.entries][-1] == "eval_run.cancel"
    with pytest.raises(Conflict, match="only a queued or running run"):
        await world.runs.cancel(ADMIN, record.run_id)
    with pytest.raises(NotFound):
        await world.runs.cancel(ADMIN, "run_000000000000")


async def test_a_finished_run_is_deleted_with_its_rows_and_a_running_one_is_not() -> None:
    world = World()
    task = await world.dataset()
    record = await world.runs.start(ADMIN, RunRequest(task))
    with pytest.raises(Conflict, match="cancel it first"):
        await world.runs.delete(ADMIN, record.run_id)
    await world.runs.execute(record.run_id)
    with pytest.raises(Forbidden):
        await world.runs.delete(USER, record.run_id)

    await world.runs.delete(ADMIN, record.run_id)

    assert world.run_store.get(record.run_id) is None
    assert world.run_store.rows(record.run_id) == []
    with pytest.raises(NotFound):
        await world.runs.delete(ADMIN, record.run_id)
    assert world.audit_log.entries[-1].action == "eval_run.delete"
    assert world.audit_log.entries[-1].before["status"] == "completed"
