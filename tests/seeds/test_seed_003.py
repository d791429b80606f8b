"""Seed 003, the data-cleaning benchmark: its client, unchanged.

Written from the document alone (`../shared/seeds/003_*.txt`, "API Endpoints" and "Results
Storage"): every endpoint it lists, called as it shows it, reading the fields it shows. Where
Almanac differs on purpose, docs/seeds.md says so and why.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from backend.bootstrap import Container

DIMENSIONS = {"accuracy", "completeness", "consistency", "uniqueness"}
DIFFICULTIES = {"easy", "medium", "hard"}
TASK_RESULT_FIELDS = {
    "task_id", "dimension", "difficulty", "f1", "precision", "recall", "corruption_rate",
    "drift_score", "justification", "auditability_score",
}  # fmt: skip
SCORES = ("f1", "precision", "recall", "corruption_rate", "drift_score", "auditability_score")
#: The run each backend's module triggers once (the document's client triggers one, then reads).
_RUNS: dict[int, str] = {}


async def finished_run(client: httpx.AsyncClient, container: Container) -> str:
    """`POST /api/benchmark/run` as the document shows it (no body), then its results polled
    until the run is done."""
    if id(container) not in _RUNS:
        started = await client.post("/api/benchmark/run")
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        assert started.headers["location"] == f"/api/results/{run_id}"
        for _ in range(3000):
            body = (await client.get(f"/api/results/{run_id}")).json()
            if body["status"] not in ("queued", "running"):
                break
            await asyncio.sleep(0.02)
        assert body["status"] == "completed", body["progress"]
        _RUNS[id(container)] = run_id
    return _RUNS[id(container)]


async def test_tasks_are_every_dimension_at_every_difficulty(
    seed_client: httpx.AsyncClient,
) -> None:
    response = await seed_client.get("/api/tasks")
    assert response.status_code == 200, response.text
    tasks = response.json()["tasks"]
    assert {(t["dimension"], t["difficulty"]) for t in tasks} == {
        (d, level) for d in DIMENSIONS for level in DIFFICULTIES
    }
    assert len({t["task_id"] for t in tasks}) == len(tasks)


async def test_a_task_has_its_details(seed_client: httpx.AsyncClient) -> None:
    listed = (await seed_client.get("/api/tasks")).json()["tasks"]
    task = next(t for t in listed if t["dimension"] == "accuracy" and t["difficulty"] == "easy")

    response = await seed_client.get(f"/api/tasks/{task['task_id']}")

    assert response.status_code == 200, response.text
    detail = response.json()
    assert (detail["task_id"], detail["dimension"], detail["difficulty"]) == (
        task["task_id"], "accuracy", "easy",
    )  # fmt: skip
    assert detail["instructions"] and detail["dirty"]["rows"] and "truth" not in detail
    assert (await seed_client.get("/api/tasks/no.such.task")).status_code == 404


async def test_models_include_the_offline_cleaner(seed_client: httpx.AsyncClient) -> None:
    response = await seed_client.get("/api/models")
    assert response.status_code == 200
    models = {m["id"]: m for m in response.json()["models"]}
    assert models["offline-rules"]["usable"] is True


async def test_a_triggered_run_stores_a_result_per_task_with_its_justification(
    seed_client: httpx.AsyncClient, seed_container: Container
) -> None:
    run_id = await finished_run(seed_client, seed_container)
    tasks = (await seed_client.get("/api/tasks")).json()["tasks"]

    response = await seed_client.get(f"/api/results/{run_id}")

    assert response.status_code == 200
    results = response.json()
    assert results["run_id"] == run_id and results["model"] == "offline-rules"
    assert results["timestamp"]
    task_results = results["task_results"]
    assert sorted(r["task_id"] for r in task_results) == sorted(t["task_id"] for t in tasks)
    for result in task_results:
        assert result.keys() >= TASK_RESULT_FIELDS
        assert all(0.0 <= result[score] <= 1.0 for score in SCORES), result
        assert result["dimension"] in result["justification"]  # the cleaner's own account
    repaired = [r for r in task_results if r["f1"] > 0]
    assert repaired and all(
        "the offline rules changed" in r["justification"]
        or "the offline rules removed" in r["justification"]
        for r in repaired
    )


async def test_the_metrics_endpoints_read_the_stored_run(
    seed_client: httpx.AsyncClient, seed_container: Container
) -> None:
    run_id = await finished_run(seed_client, seed_container)
    overall = (await seed_client.get(f"/api/results/{run_id}")).json()["aggregates"]

    overview = (await seed_client.get("/api/metrics/overview")).json()
    assert overview["run_id"] == run_id
    assert overview["models"]["offline-rules"]["f1"] == overall["offline-rules"]["overall"]["f1"]
    tasks = (await seed_client.get("/api/tasks")).json()["tasks"]
    for dimension in DIMENSIONS:
        response = await seed_client.get(f"/api/metrics/dimension/{dimension}")
        assert response.status_code == 200, response.text
        ran = sum(1 for t in tasks if t["dimension"] == dimension)
        assert response.json()["models"]["offline-rules"]["tasks"] == ran

    metrics: dict[str, dict[str, Any]] = {}
    for name in ("f1", "corruption", "drift", "reliability", "robustness"):
        response = await seed_client.get(f"/api/metrics/{name}/offline-rules")
        assert response.status_code == 200, (name, response.text)
        metrics[name] = response.json()
        assert metrics[name]["run_id"] == run_id and metrics[name]["model"] == "offline-rules"
    assert {"f1", "precision", "recall"} <= metrics["f1"].keys()
    assert 0.0 <= metrics["corruption"]["corruption_rate"] <= 1.0
    assert 0.0 <= metrics["drift"]["drift_score"] <= 1.0
    assert metrics["reliability"]["valid_rate"] == 1.0
    assert set(metrics["robustness"]["f1_by_difficulty"]) == DIFFICULTIES
    unknown = await seed_client.get("/api/metrics/f1/no-such-model")
    assert unknown.status_code == 404 and "offline-rules" in unknown.json()["detail"]
