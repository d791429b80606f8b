"""The run engine on real stores: resume after a crash, retries with backoff and the
per-provider rate limit against a respx-mocked OpenAI, and per-case failure isolation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic_ai import models as ai_models

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from tests.conftest import FixedClock, make_settings
from tests.integration.test_chat_openai import COMPLETIONS, completion
from use_cases.access.domain import CLI_ADMIN
from use_cases.evaluation.datasets import DatasetUpload
from use_cases.evaluation.runs import RunRequest

CASES: list[dict[str, Any]] = [
    {"id": "sev1", "question": "What is the SEV1 acknowledgement time?", "kind": "kb",
     "expect_any": ["5 minutes"]},
    {"id": "canteen", "question": "whats on the canteen menu today", "kind": "refuse"},
    {"id": "quota", "question": "starter plan daily api quota?", "kind": "kb",
     "expect_any": ["100,000"]},
]  # fmt: skip


class Crash(Exception):
    """The process dies after the first row is stored."""


async def _start(container: Container, **options: Any) -> str:
    text = "".join(json.dumps(c) + "\n" for c in CASES)
    await container.evaluation.datasets.upload(
        CLI_ADMIN, DatasetUpload("three.jsonl", text.encode())
    )
    record = await container.evaluation.benchmark.start(
        CLI_ADMIN, RunRequest(task_id="three", concurrency=1, **options)
    )
    return record.run_id


async def _crash_after_one_row(container: Container, run_id: str) -> dict[str, Any]:
    stored: list[dict[str, Any]] = []

    def on_row(row: Any) -> None:
        stored.append(dict(row))
        raise Crash

    with pytest.raises(Crash):
        await container.evaluation.benchmark.execute(run_id, on_row)
    return stored[0]


async def test_a_crashed_run_resumes_at_the_next_start_with_only_its_unfinished_cases(
    data_dir: Path,
) -> None:
    first = bootstrap(make_settings(data_dir), clock=FixedClock())
    run_id = await _start(first)
    done = await _crash_after_one_row(first, run_id)
    first.close()

    again = bootstrap(make_settings(data_dir), clock=FixedClock())
    try:
        left = await again.evaluation.benchmark.export(CLI_ADMIN, run_id)
        assert left["status"] == "running" and left["progress"]["completed"] == 1
        executed: list[str] = []
        await again.evaluation.benchmark.execute(
            run_id, lambda row: executed.append(row["case_id"])
        )
        export = await again.evaluation.benchmark.export(CLI_ADMIN, run_id)
    finally:
        again.close()

    assert sorted(executed) == sorted(c["id"] for c in CASES if c["id"] != done["case_id"])
    assert export["status"] == "completed" and export["finished_at"] is not None
    assert export["progress"] == {
        "total": 3,
        "done": 3,
        "completed": 3,
        "failed": 0,
        "percent": 100.0,
    }
    kept = next(r for r in export["cases"] if r["case_id"] == done["case_id"])
    assert kept == done  # the row stored before the crash, not a second execution


async def test_the_app_resumes_runs_left_running_when_it_starts(data_dir: Path) -> None:
    first = bootstrap(make_settings(data_dir), clock=FixedClock())
    run_id = await _start(first)
    await _crash_after_one_row(first, run_id)
    first.close()

    again = bootstrap(make_settings(data_dir), clock=FixedClock())
    app = create_app(container=again)
    try:
        async with app.router.lifespan_context(app):
            await again.evaluation.benchmark.wait(run_id)
            export = await again.evaluation.benchmark.export(CLI_ADMIN, run_id)
    finally:
        again.close()
    assert export["status"] == "completed"
    assert sorted(r["case_id"] for r in export["cases"]) == sorted(c["id"] for c in CASES)


class FakeTime:
    """A monotonic clock that only moves when the engine sleeps: no test ever waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def openai_container(data_dir: Path, fake_time: FakeTime) -> Iterator[Container]:
    settings = make_settings(
        data_dir,
        openai_api_key="sk-test",
        default_model="openai:gpt-4.1-mini",
        provider_max_retries=0,
        provider_timeout=5.0,
        eval_max_attempts=3,
        eval_backoff_seconds=1.0,
        eval_rate_limit_per_minute=60,
    )
    built = bootstrap(
        settings, clock=FixedClock(), sleep=fake_time.sleep, monotonic=fake_time.monotonic
    )
    yield built
    built.close()


@pytest.fixture
def mock_openai(monkeypatch: pytest.MonkeyPatch) -> Iterator[respx.Router]:
    monkeypatch.setattr(ai_models, "ALLOW_MODEL_REQUESTS", True)
    with respx.mock(using="httpcore2", assert_all_called=True) as router:
        yield router


async def test_a_429_is_retried_after_a_jittered_backoff_and_a_bad_case_fails_alone(
    openai_container: Container, mock_openai: respx.Router, fake_time: FakeTime
) -> None:
    limited = httpx.Response(429, json={"error": {"message": "slow down", "type": "rate"}})
    refused = httpx.Response(400, json={"error": {"message": "bad request", "type": "invalid"}})
    seen: list[str] = []

    def reply(request: httpx.Request) -> httpx.Response:
        body = request.content.decode()
        if "SEV1" in body:
            seen.append("sev1")
            if seen.count("sev1") == 1:
                return limited
            return completion(content="Acknowledge a SEV1 within 5 minutes.")
        if "canteen" in body:
            seen.append("canteen")
            return refused
        seen.append("quota")
        return completion(content="The starter plan allows 100,000 requests a day.")

    mock_openai.post(COMPLETIONS).mock(side_effect=reply)
    run_id = await _start(openai_container)

    await openai_container.evaluation.benchmark.execute(run_id)
    export = await openai_container.evaluation.benchmark.export(CLI_ADMIN, run_id)

    rows = {r["case_id"]: r for r in export["cases"]}
    assert export["status"] == "completed"  # one failing case never fails the run
    assert rows["sev1"]["attempts"] == 2 and rows["sev1"]["error"] is None
    assert rows["sev1"]["answer"]
    assert (
        rows["sev1"]["input_tokens"] % 120 == 0 and rows["sev1"]["input_tokens"] > 0
    )  # usage summed
    assert rows["sev1"]["output_tokens"] % 30 == 0 and rows["sev1"]["output_tokens"] > 0
    assert rows["sev1"]["cost_usd"] is not None and rows["sev1"]["cost_usd"] > 0
    assert rows["canteen"]["attempts"] == 1 and rows["canteen"]["error"]  # a 400: no retry
    assert rows["canteen"]["correct"] is False
    assert rows["quota"]["error"] is None and rows["quota"]["attempts"] == 1
    # done = completed + failed, never above total ("completed" counted the
    # failed items too, so completed + failed came to more than total).
    assert export["progress"] == {
        "total": 3,
        "done": 3,
        "completed": 2,
        "failed": 1,
        "percent": 100.0,
    }
    assert export["aggregates"]["openai:gpt-4.1-mini"]["overall"]["errors"] == 1
    # Four attempts at 60 a minute (bursts of one) need three seconds of waiting in all;
    # the backoff after the 429 is at most base x 2^0 = 1 s (full jitter: 0 to 1 s).
    assert seen.count("canteen") == 1
    assert sum(fake_time.sleeps) == pytest.approx(3.0)
    assert all(0 <= s <= 1.0 for s in fake_time.sleeps)
    assert not await openai_container.chat.chats.list("almanac-eval")


async def test_retries_stop_after_the_configured_attempts(
    openai_container: Container, mock_openai: respx.Router, fake_time: FakeTime
) -> None:
    unavailable = httpx.Response(503, json={"error": {"message": "down", "type": "server"}})
    mock_openai.post(COMPLETIONS).mock(return_value=unavailable)
    run_id = await _start(openai_container)
    record = await openai_container.evaluation.benchmark.start(
        CLI_ADMIN, RunRequest(task_id="three", limit=1)
    )

    await openai_container.evaluation.benchmark.execute(record.run_id)
    export = await openai_container.evaluation.benchmark.export(CLI_ADMIN, record.run_id)

    (row,) = export["cases"]
    assert row["attempts"] == 3 and row["error"] and export["status"] == "completed"
    assert export["progress"] == {
        "total": 1,
        "done": 1,
        "completed": 0,
        "failed": 1,
        "percent": 100.0,
    }
    assert len(mock_openai.calls) == 3
    assert len(fake_time.sleeps) >= 2 and all(0 <= s <= 2.0 for s in fake_time.sleeps)
    assert run_id != record.run_id
