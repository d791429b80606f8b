"""`GET /api/v1/eval-runs/compare`: two real runs of the offline model compared over HTTP, the
same comparison `almanac eval compare` prints, with each metric's verdict and the fail-on
rules; bad requests are named problems."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.e2e.test_eval_runs_api import finished, upload

TWO_CASES = "".join(
    json.dumps(case) + "\n"
    for case in (
        {
            "id": "sev1",
            "question": "What is the SEV1 acknowledgement time?",
            "kind": "kb",
            "expect_any": ["5 minutes"],
            "expect_sources": ["runbooks/incident-response.md"],
        },
        {"id": "canteen", "question": "whats on the canteen menu today", "kind": "refuse"},
    )
)


async def completed_run(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    started = await client.post("/api/v1/benchmark-runs", json={"task_id": "smoke", **body})
    assert started.status_code == 202, started.text
    return await finished(client, started.json()["run_id"])


async def test_two_runs_are_compared_metric_by_metric_with_verdicts(
    client: httpx.AsyncClient,
) -> None:
    assert (await upload(client, TWO_CASES, "pair.jsonl")).status_code == 201
    both = await completed_run(client)
    first_only = await completed_run(client, limit=1)

    response = await client.get(
        "/api/v1/eval-runs/compare", params={"a": both["run_id"], "b": first_only["run_id"]}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["run_a"], body["run_b"]) == (both["run_id"], first_only["run_id"])
    [model] = body["models"]
    assert model["model"] == "offline-extractive"
    metrics = model["metrics"]
    a_overall = both["aggregates"]["offline-extractive"]["overall"]
    b_overall = first_only["aggregates"]["offline-extractive"]["overall"]
    # Every figure is the exports' own, and the delta is B - A.
    assert metrics["correct"]["a"] == a_overall["correct"]
    assert metrics["correct"]["b"] == b_overall["correct"]
    assert metrics["cases"] == {"a": 2, "b": 1, "delta": -1, "relative": -0.5, "verdict": None}
    assert metrics["correct"]["verdict"] == "unchanged"  # both answers were correct
    assert "ndcg@5" in metrics and "latency_p95_ms" in metrics
    assert body["warnings"] == [] and body["violations"] == [] and body["rules"] == []


async def test_fail_on_rules_report_their_violations(client: httpx.AsyncClient) -> None:
    assert (await upload(client, TWO_CASES, "pair.jsonl")).status_code == 201
    a = await completed_run(client)
    b = await completed_run(client, limit=1)

    response = await client.get(
        "/api/v1/eval-runs/compare",
        params={"a": a["run_id"], "b": b["run_id"], "fail_on": "cases<-0.5,correct<-0.02"},
    )

    body = response.json()
    assert body["rules"] == ["cases<-0.5", "correct<-0.02"]
    assert [(v["metric"], v["a"], v["b"]) for v in body["violations"]] == [("cases", 2, 1)]


async def test_bad_comparisons_are_named_problems(client: httpx.AsyncClient) -> None:
    assert (await upload(client, TWO_CASES, "pair.jsonl")).status_code == 201
    run = await completed_run(client, limit=1)

    missing = await client.get(
        "/api/v1/eval-runs/compare", params={"a": run["run_id"], "b": "run_000000000000"}
    )
    assert missing.status_code == 404 and "run_000000000000" in missing.json()["detail"]

    bad_rule = await client.get(
        "/api/v1/eval-runs/compare",
        params={"a": run["run_id"], "b": "latest", "fail_on": "corect<0"},
    )
    assert bad_rule.status_code == 422
    assert 'did you mean "correct"' in bad_rule.json()["detail"]

    not_an_id = await client.get("/api/v1/eval-runs/compare", params={"a": "x", "b": "latest"})
    assert not_an_id.status_code == 422
    without_b = await client.get("/api/v1/eval-runs/compare", params={"a": run["run_id"]})
    assert without_b.status_code == 422
