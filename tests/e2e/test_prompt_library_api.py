"""The prompt library over HTTP, on SQLite and on PostgreSQL: a project with two use cases,
tagged prompts and three versions, created through `/api/v1`; a version run over a dataset
on the offline model; its statistics updated; two versions compared; bad input answered with
problems and nothing written."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.bootstrap import Container, bootstrap
from tests.conftest import FixedClock, asgi_client, make_settings

CASES = [
    {"id": "sev1", "question": "What is the SEV1 acknowledgement time?", "kind": "kb",
     "expect_any": ["5 minutes"]},
    {"id": "canteen", "question": "whats on the canteen menu today in rotterdam",
     "kind": "refuse"},
]  # fmt: skip
JSONL = "".join(json.dumps(c) + "\n" for c in CASES)


@pytest.fixture
def library_container(backend: str, data_dir: Path, request: pytest.FixtureRequest):
    overrides: dict[str, object] = {}
    if backend == "postgresql":
        overrides["database_url"] = request.getfixturevalue("pg_url")
    built = bootstrap(make_settings(data_dir, **overrides), clock=FixedClock())
    yield built
    built.close()


@pytest.fixture
async def http(library_container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(library_container) as client:
        yield client


async def _created(http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(path, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def _finished(http: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    for _ in range(2000):
        body: dict[str, Any] = (await http.get(f"/api/v1/eval-runs/{run_id}")).json()
        if body["status"] not in ("queued", "running"):
            return body
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} did not finish")


async def _run(http: httpx.AsyncClient, prompt_id: str, version: int) -> dict[str, Any]:
    started = await http.post(
        "/api/v1/eval-runs",
        json={
            "prompt_id": prompt_id,
            "version": version,
            "dataset": "smoke",
            "models": ["offline-extractive"],
            "sampling": {"temperature": 0, "seed": 7},
        },
    )
    assert started.status_code == 202, started.text
    run = started.json()
    assert started.headers["location"] == f"/api/v1/eval-runs/{run['run_id']}"
    finished = await _finished(http, run["run_id"])
    # The prompt playground's own read of a run is the same export.
    assert (await http.get(f"/api/v1/eval-runs/{run['run_id']}")).json() == finished
    return finished


async def test_a_project_with_use_cases_tagged_prompts_and_versions_whose_stats_follow_runs(
    http: httpx.AsyncClient,
) -> None:
    project = await _created(http, "/api/v1/projects", {"name": "Support", "description": "Desk"})
    triage = await _created(http, f"/api/v1/projects/{project['id']}/use-cases", {"name": "triage"})
    replies = await _created(
        http, f"/api/v1/projects/{project['id']}/use-cases", {"name": "replies"}
    )
    short = await _created(
        http,
        "/api/v1/prompts",
        {"use_case_id": triage["id"], "name": "short", "tags": ["Terse", "en", "terse"]},
    )
    polite = await _created(
        http, "/api/v1/prompts", {"use_case_id": replies["id"], "name": "polite", "tags": ["en"]}
    )
    assert short["tags"] == ["terse", "en"] and short["key"] == short["id"]
    assert short["built_in"] is False

    versions = f"/api/v1/prompts/{short['id']}/versions"
    one = await _created(http, versions, {"text": "Answer in one sentence."})
    two = await _created(
        http, versions, {"text": "Answer for the {{team}} team.", "activate": False}
    )
    three = await _created(http, versions, {"text": "Answer briefly, citing [n]."})
    assert [one["version"], two["version"], three["version"]] == [1, 2, 3]
    assert (two["active"], two["variables"], three["active"]) == (False, ["team"], True)
    same = await http.post(versions, json={"text": "Answer briefly, citing [n]."})
    assert same.status_code == 200 and same.json()["changed"] is False

    listed = (await http.get(versions)).json()
    assert (listed["total"], listed["active"]) == (3, 3)
    assert [v["version"] for v in listed["items"]] == [3, 2, 1]
    assert all(v["stats"]["runs"] == 0 and v["stats"]["pass_rate"] is None for v in listed["items"])

    # Browsing: the default project's built-in prompts, filters by use case and by tag.
    projects = (await http.get("/api/v1/projects")).json()
    assert [p["name"] for p in projects] == ["Default", "Support"]
    use_cases = await http.get(f"/api/v1/projects/{project['id']}/use-cases?limit=1&skip=0")
    assert use_cases.headers["X-Total-Count"] == "2"
    assert [u["name"] for u in use_cases.json()] == ["replies"]
    tagged = (await http.get("/api/v1/prompts?tag=en")).json()
    assert {p["id"] for p in tagged} == {short["id"], polite["id"]}
    terse = (await http.get("/api/v1/prompts", params={"tag": "TERSE"})).json()
    assert [(p["id"], p["version_count"], p["latest_version"]) for p in terse] == [
        (short["id"], 3, 3)
    ]
    builtin = (await http.get("/api/v1/prompts?use_case_id=uc_chat")).json()
    assert [(p["id"], p["key"], p["built_in"]) for p in builtin] == [("prm_chat", "chat", True)]

    # A run of version 3 over a dataset: the version's statistics follow it.
    files = {"file": ("smoke.jsonl", JSONL.encode(), "application/x-ndjson")}
    uploaded = await http.post("/api/v1/datasets/upload", files=files, data={"name": "Smoke"})
    assert uploaded.status_code == 201
    export = await _run(http, short["id"], 3)
    assert export["status"] == "completed"
    assert export["prompt_version"] == {"type": short["id"], "version": 3}
    assert export["settings"]["sampling"]["temperature"] == 0
    assert export["settings"]["sampling"]["seed"] == 7
    stats = (await http.get(f"{versions}/3")).json()["stats"]
    rows = export["cases"]
    assert stats["runs"] == 1 and stats["cases"] == 2
    assert stats["pass_rate"] == round(sum(r["correct"] for r in rows) / 2, 4)
    assert stats["mean_latency_ms"] == round(sum(r["latency_ms"] for r in rows) / 2, 1)
    assert stats["last_run_id"] == stats["last_completed_run_id"] == export["run_id"]
    assert stats["last_run_at"] == export["created_at"]
    untouched = (await http.get(f"{versions}/1")).json()["stats"]
    assert untouched["runs"] == 0

    # Version 1 too, then the compare gate over the two versions' latest runs.
    first = await _run(http, short["id"], 1)
    compared = await http.get(f"/api/v1/prompts/{short['id']}/compare?a=1&b=3")
    assert compared.status_code == 200, compared.text
    body = compared.json()
    assert body["a"] == {"version": 1, "run_id": first["run_id"]}
    assert body["b"] == {"version": 3, "run_id": export["run_id"]}
    assert body["models"][0]["model"] == "offline-extractive"
    gated = await http.get(
        f"/api/v1/prompts/{short['id']}/compare", params={"a": 1, "b": 3, "fail_on": "cases<0"}
    )
    assert gated.status_code == 200 and gated.json()["violations"] == []

    listed_runs = await http.get("/api/v1/eval-runs?limit=1")
    runs = listed_runs.json()
    assert listed_runs.headers["X-Total-Count"] == "2" and runs[0]["run_id"] == first["run_id"]
    assert runs[0]["prompt_version"] == {"type": short["id"], "version": 1}
    assert runs[0]["sampling"]["seed"] == 7
    assert (await http.get("/api/v1/eval-runs?skip=1")).json()[0]["run_id"] == export["run_id"]
    datasets = (await http.get("/api/v1/datasets")).json()
    assert "smoke" in {d["id"] for d in datasets}


async def _problem(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert words in response.json()["detail"]


async def test_bad_input_gets_problems_and_writes_nothing(http: httpx.AsyncClient) -> None:
    await _problem(
        await http.post("/api/v1/projects", json={"name": "Default"}), 409, "named 'Default'"
    )
    await _problem(
        await http.post("/api/v1/projects/proj_nope/use-cases", json={"name": "x"}),
        404,
        "No project 'proj_nope'",
    )
    await _problem(
        await http.post("/api/v1/projects/proj_default/use-cases", json={"name": "chat"}),
        409,
        "has a use case 'chat'",
    )
    await _problem(
        await http.post("/api/v1/prompts", json={"use_case_id": "uc_nope", "name": "x"}),
        404,
        "No use case",
    )
    assert (await http.post("/api/v1/projects", json={"name": "x" * 101})).status_code == 422
    assert (await http.post("/api/v1/projects", json={"name": "   "})).status_code == 422
    assert (await http.get("/api/v1/projects?limit=0")).status_code == 422
    await _problem(await http.get("/api/v1/prompts/prm_nope/versions"), 404, "No prompt")
    await _problem(await http.get("/api/v1/eval-runs/run_000000000000"), 404, "run_000000000000")
    assert (await http.get("/api/v1/eval-runs/clean_000000000000")).status_code == 422
    await _problem(
        await http.post("/api/v1/prompts/prm_chat/versions/999/activate"), 404, "no version 999"
    )
    # The built-in chat prompt keeps its rule: a version put in force uses only `today`.
    await _problem(
        await http.post("/api/v1/prompts/prm_chat/versions", json={"text": "For {{team}}."}),
        422,
        "team",
    )
    await _problem(
        await http.post(
            "/api/v1/eval-runs", json={"prompt_id": "prm_chat", "version": 4, "dataset": "answers"}
        ),
        422,
        "no version 4",
    )
    await _problem(await http.get("/api/v1/prompts/prm_chat/compare?a=1&b=2"), 404, "no version 1")
    assert len((await http.get("/api/v1/projects")).json()) == 1
    assert (await http.get("/api/v1/prompts/prm_chat/versions")).json()["total"] == 0
    assert (await http.get("/api/v1/eval-runs")).json() == []


async def test_updates_and_deletes_over_http_answer_problems_and_keep_the_built_ins(
    http: httpx.AsyncClient,
) -> None:
    project = await _created(http, "/api/v1/projects", {"name": "Support"})
    use_case = await _created(http, f"/api/v1/projects/{project['id']}/use-cases", {"name": "x"})
    prompt = await _created(http, f"/api/v1/use-cases/{use_case['id']}/prompts", {"name": "p"})
    assert (prompt["use_case_id"], prompt["version_count"]) == (use_case["id"], 0)

    renamed = await http.patch(f"/api/v1/projects/{project['id']}", json={"name": "Desk"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Desk"
    put = await http.put(f"/api/v1/use-cases/{use_case['id']}", json={"description": "Sorting"})
    assert put.json()["description"] == "Sorting" and put.json()["name"] == "x"
    tagged = await http.patch(f"/api/v1/prompts/{prompt['id']}", json={"tags": ["EN"]})
    assert tagged.json()["tags"] == ["en"] and tagged.json()["updated_at"]
    await _problem(
        await http.patch(f"/api/v1/projects/{project['id']}", json={"name": "Default"}),
        409,
        "named 'Default'",
    )
    await _problem(await http.patch("/api/v1/use-cases/uc_nope", json={"name": "y"}), 404, "No")
    bad = await http.patch(f"/api/v1/prompts/{prompt['id']}", json={"colour": "red"})
    assert bad.status_code == 422
    await _problem(await http.delete("/api/v1/prompts/prm_chat"), 409, "built in")
    await _problem(await http.delete("/api/v1/use-cases/uc_advice"), 409, "built-in")
    await _problem(await http.delete("/api/v1/projects/proj_default"), 409, "built-in")

    deleted = await http.delete(f"/api/v1/projects/{project['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    for gone in (
        f"/api/v1/projects/{project['id']}",
        f"/api/v1/use-cases/{use_case['id']}",
        f"/api/v1/prompts/{prompt['id']}",
    ):
        await _problem(await http.get(gone), 404, "No ")
    await _problem(await http.delete(f"/api/v1/projects/{project['id']}"), 404, "No project")
    assert [p["id"] for p in (await http.get("/api/v1/projects")).json()] == ["proj_default"]


async def test_a_queued_run_is_cancelled_over_http_and_a_run_is_exported(
    http: httpx.AsyncClient, library_container: Container
) -> None:
    from use_cases.access.domain import CLI_ADMIN
    from use_cases.evaluation.prompt_versions import VersionRunRequest

    await _created(http, "/api/v1/prompts/prm_chat/versions", {"text": "Answer briefly."})
    queued = await library_container.evaluation.prompt_evaluations.create(
        CLI_ADMIN, VersionRunRequest("prm_chat", 1, "answers", limit=1, tags=("dev",))
    )
    cancel = f"/api/v1/eval-runs/{queued.run_id}/cancel"
    cancelled = await http.post(cancel)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert (await http.get(f"/api/v1/eval-runs/{queued.run_id}")).json()["status"] == "cancelled"
    await _problem(await http.post(cancel), 409, "only a queued or running run")
    await _problem(await http.post("/api/v1/eval-runs/run_000000000000/cancel"), 404, "No run")

    files = {"file": ("smoke.jsonl", JSONL.encode(), "application/x-ndjson")}
    uploaded = await http.post("/api/v1/datasets/upload", files=files, data={"name": "Smoke"})
    assert uploaded.status_code == 201
    done = await _run(http, "prm_chat", 1)
    await _problem(await http.post(f"/api/v1/eval-runs/{done['run_id']}/cancel"), 409, "completed")
    as_json = await http.get(f"/api/v1/eval-runs/{done['run_id']}/export")
    assert as_json.status_code == 200 and as_json.json()["run_id"] == done["run_id"]
    assert as_json.headers["content-disposition"].endswith(f'{done["run_id"]}.json"')
    as_csv = await http.get(f"/api/v1/eval-runs/{done['run_id']}/export", params={"format": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert sorted(r["case_id"] for r in rows) == sorted(c["case_id"] for c in done["cases"])
