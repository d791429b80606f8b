"""Cleaning benchmarks over HTTP, offline: list tables and tasks, run the offline cleaner over
the sample tables and the real table, poll the results, read every cleaning metric; bad
input gets named problems; the answer metrics keep answering."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from backend.bootstrap import Container

OFFLINE = "offline-rules"


async def finished(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    for _ in range(3000):
        response = await client.get(f"/api/results/{run_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] not in ("queued", "running"):
            return body
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} did not finish: {body['progress']}")


async def test_a_cleaning_run_over_sample_and_real_tables_is_scored_and_its_metrics_answer(
    client: httpx.AsyncClient,
) -> None:
    tables = (await client.get("/api/cleaning/tables")).json()["tables"]
    names = {t["name"] for t in tables}
    assert {"directory", "kpi_catalog", "services", "seattle-weather"} <= names
    weather = next(t for t in tables if t["name"] == "seattle-weather")
    assert weather["rows"] == 1461 and weather["key"] == "date"
    assert "NOAA" in weather["source"] and len(weather["version"]) == 64

    tasks = (await client.get("/api/cleaning/tasks", params={"difficulty": "easy"})).json()
    assert len(tasks["tasks"]) == len(names) * 4
    assert all(t["errors"] >= 1 for t in tasks["tasks"])

    started = await client.post(
        "/api/cleaning/runs",
        json={"tables": ["services", "seattle-weather"], "difficulties": ["easy", "hard"]},
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    assert run_id.startswith("clean_") and started.json()["total"] == 16
    assert started.headers["location"] == f"/api/cleaning/runs/{run_id}"

    export = await finished(client, run_id)
    assert export["status"] == "completed" and export["kind"] == "cleaning"
    assert export["model"] == OFFLINE and export["timestamp"] == started.json()["created_at"]
    assert export["progress"]["done"] == 16 and export["progress"]["failed"] == 0
    results = export["task_results"]
    assert len(results) == 16
    keys = {"task_id", "dimension", "difficulty", "f1", "precision", "recall"}
    assert all(keys | {"corruption_rate", "drift_score", "latency_ms"} <= set(r) for r in results)
    by_id = {r["task_id"]: r for r in results}
    dedupe = by_id["seattle-weather.uniqueness.hard"]
    assert dedupe["f1"] == 1.0 and dedupe["corruption_rate"] == 0.0
    assert dedupe["drift_score"] < dedupe["drift_dirty"]
    assert dedupe["actions"][0]["justification"]
    assert dedupe["justification"].startswith("For uniqueness, the offline rules removed")
    assert dedupe["auditability_score"] == 1.0

    block = export["aggregates"][OFFLINE]
    for metric in ("f1", "corruption", "drift", "reliability", "robustness"):
        response = await client.get(f"/api/metrics/{metric}/{OFFLINE}")
        assert response.status_code == 200, (metric, response.text)
        body = response.json()
        assert body["run_id"] == run_id and body["kind"] == "cleaning"
        assert body["metric"] == metric
    f1 = (await client.get(f"/api/metrics/f1/{OFFLINE}", params={"run_id": run_id})).json()
    assert f1["f1"] == block["overall"]["f1"]
    assert set(f1["by_dimension"]) == {"accuracy", "completeness", "consistency", "uniqueness"}
    corruption = (await client.get(f"/api/metrics/corruption/{OFFLINE}")).json()
    assert corruption["corruption_rate"] == block["overall"]["corruption_rate"]
    reliability = (await client.get(f"/api/metrics/reliability/{OFFLINE}")).json()
    assert reliability["valid_rate"] == 1.0 and reliability["f1_std"] == 0.0
    robustness = (await client.get(f"/api/metrics/robustness/{OFFLINE}")).json()
    assert set(robustness["f1_by_difficulty"]) == {"easy", "hard"}

    assert (await client.get(f"/api/cleaning/runs/{run_id}")).json() == export
    as_csv = await client.get(f"/api/cleaning/runs/{run_id}/export", params={"format": "csv"})
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.text.splitlines()[0].startswith("model,task_id,table,dimension,difficulty")
    assert len(as_csv.text.splitlines()) == 17  # the header and one line per result
    as_json = await client.get(f"/api/cleaning/runs/{run_id}/export")
    assert as_json.json()["task_results"] == results

    report = await client.get(f"/api/cleaning/runs/{run_id}/report")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in report.headers["content-security-policy"]
    assert report.text.count("<svg") >= 6 and "seattle-weather.uniqueness.hard" in report.text

    listed = (await client.get("/api/cleaning/runs")).json()["runs"]
    assert listed[0]["run_id"] == run_id and listed[0]["status"] == "completed"


async def test_bad_cleaning_requests_get_named_problems_and_store_nothing(
    client: httpx.AsyncClient,
) -> None:
    for body, field in [
        ({"tables": ["nope"]}, "tables"),
        ({"dimensions": ["beauty"]}, "dimensions"),
        ({"difficulties": ["extreme"]}, "difficulties"),
        ({"models": ["no-such-model"]}, "models"),
    ]:
        response = await client.post("/api/cleaning/runs", json=body)
        assert response.status_code == 422, response.text
        assert field in response.json()["detail"]
    assert (await client.post("/api/cleaning/runs", json={"repeats": 9})).status_code == 422
    assert (await client.post("/api/cleaning/runs", json={"extra": 1})).status_code == 422
    assert (await client.get("/api/cleaning/runs")).json()["runs"] == []
    bad = await client.get("/api/cleaning/tasks", params={"dimension": "beauty"})
    assert bad.status_code == 422 and "Traceback" not in bad.text
    missing = await client.get("/api/results/clean_000000000000")
    assert missing.status_code == 404
    none_yet = await client.get(f"/api/metrics/corruption/{OFFLINE}")
    assert none_yet.status_code == 404 and "POST /api/cleaning/runs" in none_yet.json()["detail"]
    answers = await client.get("/api/v1/eval-metrics/f1/offline-extractive")
    assert answers.status_code == 404  # no answer run yet: the answer metrics still answer
    assert "POST /api/v1/benchmark-runs" in answers.json()["detail"]


async def test_an_admin_cancels_a_running_cleaning_run_and_it_says_so(
    client: httpx.AsyncClient, container: Container
) -> None:
    started = (await client.post("/api/cleaning/runs", json={})).json()  # every task: seconds
    run_id = started["run_id"]

    cancelled = await client.post(f"/api/cleaning/runs/{run_id}/cancel")

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    await container.cleaning.cleaning_runs.wait(run_id)
    export = (await client.get(f"/api/cleaning/runs/{run_id}")).json()
    assert (
        export["status"] == "cancelled"
        and export["error"] == f"cancelled by {container.settings.auth.default_user_id}"
    )
    assert export["progress"]["done"] < export["progress"]["total"] == started["total"]
    again = await client.post(f"/api/cleaning/runs/{run_id}/cancel")
    assert again.status_code == 409 and "only a queued or running run" in again.json()["detail"]
    missing = await client.post("/api/cleaning/runs/clean_000000000000/cancel")
    assert missing.status_code == 404

    deleted = await client.delete(f"/api/cleaning/runs/{run_id}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert (await client.get(f"/api/results/{run_id}")).status_code == 404
    assert (await client.delete(f"/api/cleaning/runs/{run_id}")).status_code == 404
