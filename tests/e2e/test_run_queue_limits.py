"""Evaluation and cleaning runs queued or running are capped, each admin's and everyone's: a
start past a cap is 503 `service_busy` with `Retry-After` and a message naming the run queue,
and stores nothing; another admin still starts runs while one admin's share is full. With
authentication off (the local admin) and on (admins by API key)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from backend.bootstrap import Container
from backend.features.cleaning import CLEANING_RUN_LIMITS
from backend.features.evaluation import EVAL_RUN_LIMITS
from tests.conftest import issue_key
from use_cases.cleaning.ports import CleaningRun
from use_cases.evaluation.run_domain import RunRecord, RunSettings

AT = "2026-03-02T12:00:00+00:00"
EVAL_START = {"task_id": "answers", "tags": ["dev"], "limit": 1}
CLEAN_START = {"tables": ["services"], "dimensions": ["uniqueness"], "difficulties": ["easy"]}


def waiting_eval_runs(container: Container, user_id: str, count: int) -> None:
    """`count` runs of `user_id` left queued, as runs whose jobs no worker has taken yet."""
    for _ in range(count):
        container.adapters.run_store.create(
            RunRecord(
                run_id=f"run_{uuid.uuid4().hex[:12]}",
                status="queued",
                task_id="answers",
                task_version="v0",
                models=("offline-extractive",),
                prompt_version=None,
                settings=RunSettings(concurrency=1, k=5, robustness=(), seed=0),
                created_by=user_id,
                created_at=AT,
                total=1,
            )
        )


def waiting_cleaning_runs(container: Container, user_id: str, count: int) -> None:
    for _ in range(count):
        container.adapters.cleaning_store.create(
            CleaningRun(
                run_id=f"clean_{uuid.uuid4().hex[:12]}",
                status="queued",
                models=("offline-rules",),
                task_ids=("services.uniqueness.easy",),
                settings={"seed": 0, "repeats": 1, "concurrency": 1},
                created_by=user_id,
                created_at=AT,
                total=1,
            )
        )


def assert_busy(response: httpx.Response, *words: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "60"
    body: dict[str, Any] = response.json()
    assert body["code"] == "service_busy" and "Traceback" not in response.text
    for word in words:
        assert word in body["detail"], body["detail"]


async def until_finished(client: httpx.AsyncClient, run_id: str, **headers: Any) -> None:
    for _ in range(3000):
        body = (await client.get(f"/api/v1/eval-runs/{run_id}", **headers)).json()
        if body["status"] not in ("queued", "running"):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} did not finish")


async def test_the_local_admins_full_share_refuses_a_new_run_with_retry_after(
    client: httpx.AsyncClient, container: Container
) -> None:
    me = container.settings.auth.default_user_id
    waiting_eval_runs(container, me, EVAL_RUN_LIMITS.per_user or 0)
    waiting_cleaning_runs(container, me, CLEANING_RUN_LIMITS.per_user or 0)

    evaluation = await client.post("/api/v1/benchmark-runs", json=EVAL_START)
    assert_busy(evaluation, "You already have 4 evaluation runs", "at most 4 per user")
    cleaning = await client.post("/api/cleaning/runs", json=CLEAN_START)
    assert_busy(cleaning, "You already have 2 cleaning runs", "at most 2 per user")
    # The data-cleaning benchmark API's start.
    seed_client = await client.post("/api/benchmark/run", json=CLEAN_START)
    assert_busy(seed_client, "You already have 2 cleaning runs", "at most 2 per user")

    assert len((await client.get("/api/v1/eval-runs")).json()) == 4
    assert len((await client.get("/api/cleaning/runs")).json()["runs"]) == 2


async def test_one_admins_runs_cannot_fill_the_queue_for_every_admin(
    auth_client: httpx.AsyncClient, auth_container: Container
) -> None:
    ann: dict[str, Any] = {"headers": await issue_key(auth_container, "ann", role="admin")}
    bob: dict[str, Any] = {"headers": await issue_key(auth_container, "bob", role="admin")}
    per_user, everyone = EVAL_RUN_LIMITS.per_user or 0, EVAL_RUN_LIMITS.max_pending or 0
    waiting_eval_runs(auth_container, "ann", per_user)
    waiting_cleaning_runs(auth_container, "ann", CLEANING_RUN_LIMITS.per_user or 0)

    refused = await auth_client.post("/api/v1/benchmark-runs", json=EVAL_START, **ann)
    assert_busy(refused, "You already have 4 evaluation runs")
    started = await auth_client.post("/api/v1/benchmark-runs", json=EVAL_START, **bob)
    assert started.status_code == 202, started.text
    await until_finished(auth_client, started.json()["run_id"], **bob)
    assert_busy(
        await auth_client.post("/api/cleaning/runs", json=CLEAN_START, **ann),
        "You already have 2 cleaning runs",
    )
    cleaning = await auth_client.post("/api/cleaning/runs", json=CLEAN_START, **bob)
    assert cleaning.status_code == 202, cleaning.text

    # Everyone's cap: other admins' runs fill it, and bob is turned away too.
    for n in range(everyone - per_user):
        waiting_eval_runs(auth_container, f"admin{n:02d}", 1)
    assert_busy(
        await auth_client.post("/api/v1/benchmark-runs", json=EVAL_START, **bob),
        f"{everyone} evaluation runs are already queued or running",
        f"at most {everyone} at once",
    )
    listed = await auth_client.get("/api/v1/eval-runs", params={"limit": 100}, **bob)
    assert len(listed.json()) == everyone + 1  # the waiting ones and bob's finished run


async def test_every_run_start_documents_its_503_and_retry_after(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    starts = ["/api/v1/benchmark-runs", "/api/cleaning/runs", "/api/benchmark/run"]
    starts += [p for p in paths if p.endswith("/eval-runs") and "post" in paths[p]]
    assert len(starts) >= 4
    for path in starts:
        busy = paths[path]["post"]["responses"]["503"]
        assert "service_busy" in busy["description"], path
        assert "Retry-After" in busy["headers"], path
