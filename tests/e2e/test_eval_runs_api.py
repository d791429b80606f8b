"""Evaluation runs over HTTP on the offline model: upload a small dataset, start a run, poll
it, read the results, exports and metrics; bad input gets named problems."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from typing import Any

import httpx

from backend.bootstrap import Container

CASES: list[dict[str, Any]] = [
    {
        "id": "sev1",
        "question": "What is the SEV1 acknowledgement time?",
        "kind": "kb",
        "expect_any": ["5 minutes"],
        "expect_sources": ["runbooks/incident-response.md", "domain/kpi-definitions.md"],
        "dimension": "incidents",
        "tags": ["smoke"],
    },
    {"id": "canteen", "question": "whats on the canteen menu today in rotterdam", "kind": "refuse"},
    {
        "id": "quota",
        "question": "starter plan daily api quota?",
        "kind": "kb",
        "expect_any": ["100,000", "100000", "100k"],
        "expect_sources": ["domain/api-rate-limits.md"],
        "tags": ["smoke"],
    },
]
JSONL = "".join(json.dumps(c) + "\n" for c in CASES)


async def upload(client: httpx.AsyncClient, text: str = JSONL, name: str = "smoke.jsonl"):
    files = {"file": (name, text.encode(), "application/x-ndjson")}
    return await client.post("/api/v1/datasets/upload", files=files, data={"name": "Smoke"})


async def finished(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    """Poll the run as a client would until it is no longer queued or running."""
    for _ in range(2000):
        response = await client.get(f"/api/v1/eval-runs/{run_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] not in ("queued", "running"):
            return body
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} did not finish: {body['progress']}")


async def test_a_run_on_the_offline_model_is_started_polled_and_reported(
    client: httpx.AsyncClient,
) -> None:
    uploaded = await upload(client)
    assert uploaded.status_code == 201, uploaded.text
    task = uploaded.json()
    assert task["id"] == "smoke" and task["cases"] == 3 and task["created"] is True

    started = await client.post(
        "/api/v1/benchmark-runs",
        json={
            "task_id": "smoke",
            "models": ["offline-extractive"],
            "assertions": [{"type": "not_contains", "value": "Traceback"}],
            "robustness": ["filler"],
            "concurrency": 2,
        },
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    assert started.headers["location"] == f"/api/v1/eval-runs/{run_id}"
    assert started.json()["total"] == 6  # 3 cases x (clean + filler)

    export = await finished(client, run_id)

    assert export["status"] == "completed"
    assert export["progress"] == {
        "total": 6,
        "done": 6,
        "completed": 6,
        "failed": 0,
        "percent": 100.0,
    }
    assert export["task"] == {
        "id": "smoke",
        "name": "Smoke",
        "version": task["version"],
        "cases": 3,
    }
    assert export["models"] == ["offline-extractive"]
    assert export["settings"]["robustness"] == ["filler"]
    rows = {(r["case_id"], r["variant"]): r for r in export["cases"]}
    assert set(rows) == {(c["id"], v) for c in CASES for v in ("clean", "filler")}
    sev1 = rows[("sev1", "clean")]
    assert sev1["correct"] is True and sev1["cited"] is True and sev1["error"] is None
    assert sev1["retrieved"] and sev1["attempts"] == 1 and sev1["cost_usd"] == 0.0
    assert sev1["assertions"] == [
        {"type": "not_contains", "passed": True, "detail": sev1["assertions"][0]["detail"]}
    ]
    assert rows[("canteen", "clean")]["refused"] is True
    assert rows[("canteen", "clean")]["correct"] is True
    assert rows[("sev1", "filler")]["question"] != sev1["question"]
    block = export["aggregates"]["offline-extractive"]
    assert block["overall"]["cases"] == 3  # clean rows only
    assert (
        block["overall"]["correct"] == sum(rows[(c["id"], "clean")]["correct"] for c in CASES) / 3
    )
    assert set(block["by_dimension"]) == {"incidents", "refuse", "kb"}
    assert block["robustness"]["perturbations"] == ["filler"]

    # The chats of the run are gone; the latest-run alias and both exports agree.
    assert (await client.get("/api/v1/eval-runs/latest")).json()["run_id"] == run_id
    as_json = await client.get(f"/api/v1/eval-runs/{run_id}/export?format=json")
    assert as_json.json()["cases"] == export["cases"]
    assert "attachment" in as_json.headers["content-disposition"]
    as_csv = await client.get(f"/api/v1/eval-runs/{run_id}/export", params={"format": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(lines) == 6 and {line["case_id"] for line in lines} == {"sev1", "canteen", "quota"}

    # Metrics are cut from the same export.
    overview = (await client.get("/api/v1/eval-metrics/overview")).json()
    assert overview["run_id"] == run_id
    assert overview["models"]["offline-extractive"] == block["overall"]
    dimension = (await client.get("/api/v1/eval-metrics/dimension/incidents")).json()
    assert dimension["models"]["offline-extractive"] == block["by_dimension"]["incidents"]
    f1 = (await client.get("/api/v1/eval-metrics/f1/offline-extractive")).json()
    assert f1["token_f1"] == block["overall"]["token_f1"]
    drift_path = f"/api/v1/eval-metrics/drift/offline-extractive?run_id={run_id}"
    drift = (await client.get(drift_path)).json()
    assert drift["answer_drift"] == block["robustness"]["answer_drift"]
    calibration = (await client.get("/api/v1/eval-metrics/calibration/offline-extractive")).json()
    assert calibration["brier"] == block["overall"]["brier"]
    assert (await client.get("/api/v1/eval-metrics/f1/openai:gpt-4.1")).status_code == 404
    assert (await client.get("/api/v1/eval-metrics/dimension/nope")).status_code == 404

    # The HTML report draws the same run: figures inline, nothing fetched from elsewhere.
    page = await client.get(f"/api/v1/eval-runs/{run_id}/report")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src" not in page.headers["content-security-policy"]
    assert run_id in page.text and "data:image/svg+xml;base64," in page.text
    assert "http://" not in page.text.replace("http://www.w3.org", "")
    assert (await client.get("/api/v1/eval-runs/run_000000000000/report")).status_code == 404


async def test_a_run_leaves_no_chat_behind(client: httpx.AsyncClient, container: Container) -> None:
    await upload(client)
    started = await client.post("/api/v1/benchmark-runs", json={"task_id": "smoke", "limit": 1})
    await finished(client, started.json()["run_id"])
    assert await container.chat.chats.list("almanac-eval") == []


async def test_the_same_upload_twice_is_one_version(client: httpx.AsyncClient) -> None:
    first = (await upload(client)).json()
    again = await upload(client)
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["version"] == first["version"]
    listed = (await client.get("/api/v1/datasets")).json()
    assert {t["id"] for t in listed} == {"answers", "smoke"}
    detail = (await client.get("/api/v1/datasets/smoke", params={"limit": 2})).json()
    assert detail["cases"] == 3 and [c["id"] for c in detail["items"]] == ["sev1", "canteen"]


async def test_the_bundled_set_is_registered_with_its_splits_as_tags(
    client: httpx.AsyncClient,
) -> None:
    first = (await client.get("/api/v1/datasets/answers", params={"limit": 500})).json()
    assert first["source"] == "bundled" and first["cases"] > 100
    items = list(first["items"])
    while len(items) < first["cases"]:  # the set outgrows one page: read it all
        page = await client.get(
            "/api/v1/datasets/answers", params={"limit": 500, "offset": len(items)}
        )
        assert page.status_code == 200 and page.json()["items"]
        items += page.json()["items"]
    assert len(items) == first["cases"] == len({c["id"] for c in items})
    assert {tag for c in items for tag in c["tags"]} == {"dev", "test"}


async def problem(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    detail = response.json()["detail"]
    for word in words:
        assert word in detail, detail


async def test_bad_runs_are_refused_with_named_problems_and_store_nothing(
    client: httpx.AsyncClient,
) -> None:
    await upload(client)
    run = "/api/v1/benchmark-runs"
    await problem(await client.post(run, json={"task_id": "nope"}), 422, "nope", "answers")
    await problem(
        await client.post(run, json={"task_id": "smoke", "models": ["openai:gpt-9"]}),
        422,
        "models",
        "not allowed",
    )
    await problem(
        await client.post(
            run, json={"task_id": "smoke", "prompt_version": {"type": "chat", "version": 99}}
        ),
        422,
        "prompt_version",
        "99",
    )
    await problem(
        await client.post(run, json={"task_id": "smoke", "assertions": [{"type": "psychic"}]}),
        422,
        "assertions",
        "psychic",
    )
    await problem(
        await client.post(run, json={"task_id": "smoke", "robustness": ["shouting"]}),
        422,
        "shouting",
    )
    await problem(
        await client.post(run, json={"task_id": "smoke", "tags": ["absent"]}), 422, "absent"
    )
    assert (await client.get("/api/v1/eval-runs")).json() == []
    await problem(await client.get("/api/v1/eval-runs/run_000000000000"), 404, "run_000000000000")
    await problem(await client.get("/api/v1/eval-runs/latest"), 404, "No run")
    await problem(await client.get("/api/v1/eval-metrics/overview"), 404, "completed")
    await problem(await client.get("/api/v1/datasets/nope"), 404, "nope")


async def test_a_prompt_version_must_get_its_variables_from_every_case(
    client: httpx.AsyncClient,
) -> None:
    await upload(client)
    # {{team}} is no variable the service fills, so the version can only be a draft.
    created = await client.post(
        "/api/llm-prompts/chat",
        json={"text": "Answer for {{team}} as of {{today}}. Cite.", "activate": False},
    )
    version = created.json()["version"]
    response = await client.post(
        "/api/v1/benchmark-runs",
        json={"task_id": "smoke", "prompt_version": {"type": "chat", "version": version}},
    )
    await problem(response, 422, "sev1", "team")


async def test_bad_dataset_files_are_refused_naming_the_line_and_field(
    client: httpx.AsyncClient,
) -> None:
    bad_kind = JSONL + json.dumps({"id": "x", "question": "q?", "kind": "psychic"}) + "\n"
    await problem(await upload(client, bad_kind), 422, "line 4", "kind")
    await problem(await upload(client, "{not json\n"), 422, "line 1")
    await problem(await upload(client, JSONL, name="cases.txt"), 415, ".jsonl or .csv")
    await problem(await upload(client, "", name="empty.csv"), 422)
    assert [t["id"] for t in (await client.get("/api/v1/datasets")).json()] == ["answers"]


async def test_models_lists_the_offline_model_and_the_offline_cleaner_as_usable(
    client: httpx.AsyncClient,
) -> None:
    models = (await client.get("/api/models")).json()["models"]
    offline = next(m for m in models if m["id"] == "offline-extractive")
    assert offline == {
        "id": "offline-extractive",
        "provider": "offline",
        "usable": True,
        "default": True,
        "reason": None,
        "uses": ["answers"],
    }
    cleaner = next(m for m in models if m["id"] == "offline-rules")
    assert cleaner["usable"] is True and cleaner["uses"] == ["cleaning"]


async def test_an_admin_cancels_a_running_evaluation_run_and_it_says_so(
    client: httpx.AsyncClient, container: Container
) -> None:
    started = await client.post(
        "/api/v1/benchmark-runs", json={"task_id": "answers", "concurrency": 1}
    )
    run_id = started.json()["run_id"]

    cancelled = await client.post(f"/api/v1/eval-runs/{run_id}/cancel")

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    await container.evaluation.benchmark.wait(run_id)
    export = await finished(client, run_id)
    assert export["status"] == "cancelled"
    assert export["error"] == f"cancelled by {container.settings.auth.default_user_id}"
    assert export["progress"]["done"] < export["progress"]["total"]
    again = await client.post(f"/api/v1/eval-runs/{run_id}/cancel")
    assert again.status_code == 409 and "only a queued or running run" in again.json()["detail"]
    assert (await client.post("/api/v1/eval-runs/run_000000000000/cancel")).status_code == 404

    deleted = await client.delete(f"/api/v1/eval-runs/{run_id}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert (await client.get(f"/api/v1/eval-runs/{run_id}")).status_code == 404
    assert (await client.delete(f"/api/v1/eval-runs/{run_id}")).status_code == 404
