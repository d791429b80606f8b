"""Seed 001, the prompt playground: its client, unchanged.

Written from the document alone (`../shared/seeds/001_*.txt`): its router puts projects,
use cases, prompts and versions, the playground, datasets, evaluation runs and exports under
`/api/v1` (`/projects`, `/playground`, `/eval-runs` as prefixes); its route pattern lists
with `skip` and `limit` and answers `list[...]`, creates with 201, reads by id with 404 for
an unknown one; its models carry `id`, `created_at`, `updated_at`, a prompt `use_case_id`,
`name`, `description`, `tags` (and, with its statistics, `version_count`, `latest_version`);
a prompt is updated with the fields given (`PromptUpdate`); a use case's prompts go with it
(`ondelete="CASCADE"`); templates use `{{variable}}`; a model's answer has `output`,
`latency_ms`, `prompt_tokens`, `completion_tokens`, `total_tokens`, `cost_usd`; a run has a
`status` and a `progress` of `total`, `completed`, `failed`, `percent`. Where it shows no path
or body (use cases, versions, datasets, runs, exports), the test calls Almanac's, listed in
docs/seeds.md with every difference left on purpose.
"""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from typing import Any

import httpx

MODEL = "gpt-4.1-mini"
TIMESTAMPS = {"created_at", "updated_at"}


def unique(name: str) -> str:
    """The module's app is shared by its tests: names taken once stay taken."""
    return f"{name} {uuid.uuid4().hex[:8]}"


async def created(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def tree(client: httpx.AsyncClient) -> tuple[dict[str, Any], ...]:
    """A project, a use case in it and a prompt in that."""
    project = await created(client, "/api/v1/projects", {"name": unique("Test Project")})
    use_case = await created(
        client, f"/api/v1/projects/{project['id']}/use-cases", {"name": "Summaries"}
    )
    prompt = await created(
        client,
        f"/api/v1/use-cases/{use_case['id']}/prompts",
        {"name": "Short summary", "description": None, "tags": ["summary"]},
    )
    return project, use_case, prompt


async def test_health_is_healthy(seed_client: httpx.AsyncClient) -> None:
    response = await seed_client.get("/health")
    assert response.status_code == 200 and response.json()["status"] == "healthy"


async def test_create_project(seed_client: httpx.AsyncClient) -> None:
    """The document's own example test."""
    name = unique("Test Project")
    response = await seed_client.post("/api/v1/projects", json={"name": name})
    assert response.status_code == 201
    data = response.json()
    assert data["name"] == name
    assert "id" in data and data.keys() >= TIMESTAMPS


async def test_projects_are_listed_as_an_array_with_skip_and_limit(
    seed_client: httpx.AsyncClient,
) -> None:
    project = await created(seed_client, "/api/v1/projects", {"name": unique("Listed")})
    slashed = await seed_client.get("/api/v1/projects/")  # the route as the document writes it
    assert slashed.status_code == 307
    assert slashed.headers["location"].endswith("/api/v1/projects")
    response = await seed_client.get("/api/v1/projects/", follow_redirects=True)
    assert response.status_code == 200
    listed = response.json()
    assert isinstance(listed, list) and project["id"] in {p["id"] for p in listed}
    first = await seed_client.get("/api/v1/projects", params={"skip": 0, "limit": 1})
    second = await seed_client.get("/api/v1/projects", params={"skip": 1, "limit": 1})
    assert len(first.json()) == len(second.json()) == 1
    assert first.json()[0]["id"] != second.json()[0]["id"]
    assert all({"id", "name", *TIMESTAMPS} <= p.keys() for p in listed)


async def test_a_project_is_read_updated_and_deleted_with_its_children(
    seed_client: httpx.AsyncClient,
) -> None:
    project, use_case, prompt = await tree(seed_client)
    path = f"/api/v1/projects/{project['id']}"
    read = await seed_client.get(path)
    assert read.status_code == 200 and read.json()["name"] == project["name"]
    renamed = await seed_client.patch(path, json={"name": unique("Renamed")})
    assert renamed.status_code == 200 and renamed.json()["id"] == project["id"]
    assert (await seed_client.get(path)).json()["name"] == renamed.json()["name"]

    assert (await seed_client.delete(path)).status_code == 204
    for gone in (
        path,
        f"/api/v1/use-cases/{use_case['id']}",
        f"/api/v1/prompts/{prompt['id']}",
    ):
        response = await seed_client.get(gone)
        assert response.status_code == 404 and response.json()["detail"]
    missing = await seed_client.get("/api/v1/projects/proj_000000000000")
    assert missing.status_code == 404 and "not found" in missing.json()["title"].lower()
    for other_shape in ("Not-A-Project", "PROJ%20X", "x" * 300):  # as the document: 404
        for route in ("projects", "use-cases", "prompts"):
            response = await seed_client.get(f"/api/v1/{route}/{other_shape}")
            assert response.status_code == 404, (route, other_shape, response.text)


async def test_use_cases_are_created_listed_updated_and_deleted(
    seed_client: httpx.AsyncClient,
) -> None:
    project, use_case, prompt = await tree(seed_client)
    listed = await seed_client.get(f"/api/v1/projects/{project['id']}/use-cases")
    assert [u["id"] for u in listed.json()] == [use_case["id"]]
    assert use_case["project_id"] == project["id"] and use_case.keys() >= TIMESTAMPS
    path = f"/api/v1/use-cases/{use_case['id']}"
    assert (await seed_client.get(path)).json()["name"] == "Summaries"
    updated = await seed_client.patch(path, json={"description": "Shorter texts"})
    assert updated.json()["description"] == "Shorter texts"
    assert (await seed_client.delete(path)).status_code == 204
    assert (await seed_client.get(f"/api/v1/prompts/{prompt['id']}")).status_code == 404
    assert (await seed_client.get(f"/api/v1/projects/{project['id']}")).status_code == 200


async def test_prompts_carry_their_fields_and_version_statistics(
    seed_client: httpx.AsyncClient,
) -> None:
    _, use_case, prompt = await tree(seed_client)
    assert {"id", "use_case_id", "name", "description", "tags", *TIMESTAMPS} <= prompt.keys()
    assert (prompt["use_case_id"], prompt["tags"]) == (use_case["id"], ["summary"])
    assert (prompt["version_count"], prompt["latest_version"]) == (0, None)

    versions = f"/api/v1/prompts/{prompt['id']}/versions"
    one = await created(seed_client, versions, {"text": "Summarise for {{audience}}."})
    assert one["version"] == 1 and one["variables"] == ["audience"]
    await created(seed_client, versions, {"text": "Summarise in one line for {{audience}}."})
    listed = await seed_client.get(f"/api/v1/use-cases/{use_case['id']}/prompts")
    (with_stats,) = listed.json()
    assert (with_stats["version_count"], with_stats["latest_version"]) == (2, 2)
    assert (await seed_client.get(f"{versions}/1")).json()["text"] == "Summarise for {{audience}}."

    path = f"/api/v1/prompts/{prompt['id']}"
    updated = await seed_client.patch(path, json={"tags": ["summary", "short"]})
    assert updated.status_code == 200
    assert updated.json()["tags"] == ["summary", "short"] and updated.json()["name"] == (
        "Short summary"
    )
    assert (await seed_client.delete(path)).status_code == 204
    assert (await seed_client.get(path)).status_code == 404


async def test_the_playground_compiles_a_template_and_reports_each_models_metrics(
    seed_client: httpx.AsyncClient,
) -> None:
    response = await seed_client.post(
        "/api/v1/playground/run",
        json={
            "prompt": {"template": "You answer for the {{team}} team."},
            "variables": {"team": "Security"},
            "question": "How often must passwords be rotated?",
            "models": [MODEL],
            "temperature": 0.7,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["instructions"] == "You answer for the Security team."
    (result,) = body["results"]
    assert result["output"] and result["error"] is None
    assert isinstance(result["latency_ms"], int)
    assert result["total_tokens"] == result["prompt_tokens"] + result["completion_tokens"]
    assert "cost_usd" in result


async def test_datasets_and_their_items_are_created_read_updated_and_deleted(
    seed_client: httpx.AsyncClient,
) -> None:
    dataset = await created(seed_client, "/api/v1/datasets", {"name": unique("Smoke")})
    assert dataset["cases"] == 0
    assert dataset["id"] in {d["id"] for d in (await seed_client.get("/api/v1/datasets")).json()}
    items = f"/api/v1/datasets/{dataset['id']}/items"
    item = await created(
        seed_client,
        items,
        {"id": "sev1", "question": "What is the SEV1 acknowledgement time?",
         "expect_any": ["5 minutes"]},
    )  # fmt: skip
    assert item["id"] == "sev1" and item["expect_any"] == ["5 minutes"]
    other = await created(seed_client, items, {"question": "Who won in 1850?", "kind": "refuse"})
    assert [i["id"] for i in (await seed_client.get(items)).json()] == ["sev1", other["id"]]
    assert (await seed_client.get(f"{items}/sev1")).json()["question"].startswith("What is")
    patched = await seed_client.patch(f"{items}/sev1", json={"tags": ["dev"]})
    assert patched.status_code == 200 and patched.json()["tags"] == ["dev"]
    assert (await seed_client.delete(f"{items}/{other['id']}")).status_code == 204
    assert (await seed_client.get(f"{items}/{other['id']}")).status_code == 404

    path = f"/api/v1/datasets/{dataset['id']}"
    renamed = await seed_client.patch(path, json={"description": "One case"})
    assert renamed.json()["description"] == "One case"
    assert (await seed_client.get(path)).json()["cases"] == 1
    assert (await seed_client.delete(path)).status_code == 204
    assert (await seed_client.get(path)).status_code == 404


async def _dataset_of(client: httpx.AsyncClient, count: int) -> str:
    dataset = await created(client, "/api/v1/datasets", {"name": unique("Run set")})
    questions = [
        "What is the SEV1 acknowledgement time?",
        "How often must passwords be rotated?",
        "How many days of annual leave do employees get?",
    ]
    for n in range(count):
        body = {"question": questions[n % 3] + f" ({n})", "kind": "refuse"}
        await created(client, f"/api/v1/datasets/{dataset['id']}/items", body)
    return str(dataset["id"])


async def _versioned_prompt(client: httpx.AsyncClient) -> str:
    _, _, prompt = await tree(client)
    await created(client, f"/api/v1/prompts/{prompt['id']}/versions", {"text": "Be brief."})
    return str(prompt["id"])


async def _finished(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    for _ in range(3000):
        run: dict[str, Any] = (await client.get(f"/api/v1/eval-runs/{run_id}")).json()
        if run["status"] not in ("queued", "running"):
            return run
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} did not finish")


async def test_an_evaluation_run_is_created_listed_read_and_exported(
    seed_client: httpx.AsyncClient,
) -> None:
    prompt_id, dataset_id = await _versioned_prompt(seed_client), await _dataset_of(seed_client, 2)
    started = await seed_client.post(
        "/api/v1/eval-runs",
        json={"prompt_id": prompt_id, "version": 1, "dataset": dataset_id, "models": [MODEL]},
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    assert started.headers["location"] == f"/api/v1/eval-runs/{run_id}"
    run = await _finished(seed_client, run_id)
    assert run["status"] == "completed"
    assert run["progress"]["total"] == 2
    assert run["progress"]["completed"] + run["progress"]["failed"] == 2
    assert run["progress"]["percent"] == 100

    listed = (await seed_client.get("/api/v1/eval-runs", params={"skip": 0, "limit": 100})).json()
    assert run_id in {r["run_id"] for r in listed}
    exported = await seed_client.get(f"/api/v1/eval-runs/{run_id}/export", params={"format": "csv"})
    assert exported.status_code == 200
    assert len(list(csv.DictReader(io.StringIO(exported.text)))) == 2
    assert (await seed_client.get(f"/api/v1/eval-runs/{run_id}/export")).json()["run_id"] == run_id
    # A dataset a run used is kept: its results read it.
    assert (await seed_client.delete(f"/api/v1/datasets/{dataset_id}")).status_code == 409


async def test_a_running_evaluation_is_cancelled_and_keeps_what_it_did(
    seed_client: httpx.AsyncClient,
) -> None:
    prompt_id = await _versioned_prompt(seed_client)
    dataset_id = await _dataset_of(seed_client, 30)
    started = await seed_client.post(
        "/api/v1/eval-runs",
        json={"prompt_id": prompt_id, "version": 1, "dataset": dataset_id, "models": [MODEL]},
    )
    run_id = started.json()["run_id"]
    cancelled = await seed_client.post(f"/api/v1/eval-runs/{run_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    run = (await seed_client.get(f"/api/v1/eval-runs/{run_id}")).json()
    assert run["status"] == "cancelled" and run["progress"]["percent"] < 100
    again = await seed_client.post(f"/api/v1/eval-runs/{run_id}/cancel")
    assert again.status_code == 409
