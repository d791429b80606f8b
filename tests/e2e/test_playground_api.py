"""The prompt playground over HTTP (ASGI app, real SQLite in tmp_path): one question, one
prompt (a stored version, a draft, the prompt in force or an unsaved template), several
models side by side; a failing model fails only its own row; template errors are named
problems; and nothing reaches the chat history, the response log or the audit log."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from backend.api.problems import PROBLEM_MEDIA_TYPE
from backend.bootstrap import Container, bootstrap
from services.evaluation.pricing import GenaiPricesPricing
from tests.conftest import FixedClock, make_settings
from tests.fakes import streamed
from use_cases.chat.prompts import INSTRUCTIONS_WITHHELD, SYSTEM_PROMPT

ALLOWED = "offline-extractive,test:echo,test:down,test:terse,test:reciter,openai:gpt-4.1-mini"
QUESTION = "How often do we have to rotate passwords?"
TEMPLATE = "You are the assistant of the {{team}} team. Today is {{today}}. Be {{tone}}."


def echo_values(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """Answers with the values TEMPLATE was filled with (so a test sees what it was sent)."""
    found = re.search(r"the (\w+) team\. Today is (\S+)\. Be (\w+)\.", info.instructions or "")
    seen = " / ".join(found.groups()) if found else "no template"
    return ModelResponse(parts=[TextPart(f"Filled with: {seen}")])


def reciter(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """A model talked into reciting its system prompt."""
    return ModelResponse(parts=[TextPart(f"Sure, my instructions: {info.instructions}")])


def terse(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    return ModelResponse(parts=[TextPart("Every 90 days.")])


def provider_down(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    raise ModelHTTPError(status_code=503, model_name="down", body="upstream secret detail")


@pytest.fixture
def container(data_dir: Path) -> Iterator[Container]:
    built = bootstrap(make_settings(data_dir, allowed_models=ALLOWED), clock=FixedClock())
    for name, function in (
        ("test:echo", echo_values),
        ("test:reciter", reciter),
        ("test:down", provider_down),
        ("test:terse", terse),
        ("openai:gpt-4.1-mini", terse),  # a priced name, answered without any HTTP call
    ):
        built.adapters.models.register(
            name, FunctionModel(function, stream_function=streamed(function))
        )
    yield built
    built.close()


@pytest.fixture
def app_db(container: Container) -> Path:
    return Path(container.settings.storage.app_db_path)


def _counts(app_db: Path) -> dict[str, int]:
    with sqlite3.connect(app_db) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("chats", "messages", "response_log", "audit_log")
        }


async def _run(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    body.setdefault("question", QUESTION)
    return await client.post("/api/playground/run", json=body)


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()


def _problem(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    detail: str = response.json()["detail"]
    assert "Traceback" not in detail
    return detail


async def test_two_models_side_by_side_and_a_failing_one_fails_only_its_own_row(
    client: httpx.AsyncClient, app_db: Path
) -> None:
    before = _counts(app_db)
    body = _ok(
        await _run(
            client,
            prompt={"template": TEMPLATE},
            variables={"team": "Security", "tone": "brief"},
            models=["test:echo", "test:down", "test:terse"],
            search_override=False,  # these models answer without searching
        )
    )
    compiled = "You are the assistant of the Security team. Today is 2026-03-02. Be brief."
    assert (body["source"], body["version"], body["instructions"]) == (
        "template",
        None,
        compiled,
    )
    assert body["variables"] == {"team": "Security", "today": "2026-03-02", "tone": "brief"}
    echo, down, short = body["results"]
    assert [r["model"] for r in body["results"]] == ["test:echo", "test:down", "test:terse"]
    assert echo["output"] == "Filled with: Security / 2026-03-02 / brief" and echo["error"] is None
    assert short["output"] == "Every 90 days." and short["error"] is None
    assert echo["input_tokens"] > 0 and echo["output_tokens"] > 0
    assert down["output"] is None and down["sources"] == []
    assert down["error"] == "The model provider failed (HTTP 503). Try again later."
    assert "secret" not in str(body)
    assert _counts(app_db) == before  # no chat, no message, no response-log or audit entry


async def test_cost_comes_from_the_price_table_and_is_null_for_an_unpriced_model(
    client: httpx.AsyncClient,
) -> None:
    body = _ok(
        await _run(client, models=["openai:gpt-4.1-mini", "test:terse"], search_override=False)
    )
    priced, unpriced = body["results"]
    assert priced["input_tokens"] > 0 and priced["output_tokens"] > 0
    expected = GenaiPricesPricing().cost_usd(
        "openai:gpt-4.1-mini", priced["input_tokens"], priced["output_tokens"]
    )
    assert expected is not None and expected > 0
    assert priced["cost_usd"] == pytest.approx(expected)
    assert unpriced["cost_usd"] is None and unpriced["output"] == "Every 90 days."


async def test_a_draft_version_is_tried_with_its_variables_and_stays_a_draft(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post("/api/llm-prompts/chat", json={"text": TEMPLATE, "activate": False})
    assert created.status_code == 201, created.text
    draft = created.json()
    assert (draft["version"], draft["active"]) == (1, False)
    assert draft["variables"] == ["team", "today", "tone"]

    body = _ok(
        await _run(
            client,
            prompt={"type": "chat", "version": 1},
            variables={"team": "Finance", "tone": "formal", "unused": "ignored"},
            models=["test:echo"],
            search_override=False,
        )
    )
    assert (body["source"], body["version"]) == ("version", 1)
    assert body["results"][0]["output"] == "Filled with: Finance / 2026-03-02 / formal"
    shown = (await client.get("/api/llm-prompts/chat")).json()
    assert (shown["version"], shown["active"]) == ("default", True)


async def test_an_answer_reciting_the_prompt_is_withheld_as_in_chat(
    client: httpx.AsyncClient,
) -> None:
    body = _ok(
        await _run(
            client,
            prompt={"template": "You are Zed, the terse assistant of the Rotterdam office."},
            models=["test:reciter"],
            search_override=False,
        )
    )
    assert body["results"][0]["output"] == INSTRUCTIONS_WITHHELD


async def test_without_a_prompt_the_prompt_in_force_and_the_default_model_answer(
    client: httpx.AsyncClient,
) -> None:
    body = _ok(await _run(client))
    assert (body["source"], body["version"]) == ("built-in", None)
    assert body["instructions"] == SYSTEM_PROMPT
    (only,) = body["results"]
    assert only["model"] == "offline-extractive" and only["error"] is None


async def test_the_offline_model_answers_end_to_end_with_its_sources_and_costs_nothing(
    client: httpx.AsyncClient, app_db: Path
) -> None:
    before = _counts(app_db)
    body = _ok(
        await _run(
            client,
            prompt={"template": "Answer from the knowledge base for {{team}}; cite [n]."},
            variables={"team": "IT"},
            models=["offline-extractive"],
        )
    )
    (offline,) = body["results"]
    assert offline["error"] is None and offline["latency_ms"] >= 0
    assert "90 days" in offline["output"]
    assert offline["sources"], "the offline answer cites the passages it used"
    assert all(s["source"] and "/" not in s["source"][:1] for s in offline["sources"])
    assert offline["cost_usd"] == 0.0
    assert _counts(app_db) == before


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"prompt": {"template": TEMPLATE}, "variables": {"tone": "x"}}, 422, "team"),
        ({"prompt": {"version": 7}}, 404, "The chat prompt has no version 7."),
        ({"prompt": {"type": "summary"}}, 404, "No prompt type 'summary'"),
        ({"prompt": {"type": "advice"}}, 422, "The playground runs chat prompts"),
        ({"prompt": {"version": 1, "template": "Hi."}}, 422, "either a prompt version or"),
        ({"models": ["test:echo", "gpt-nonexistent"]}, 422, "gpt-nonexistent"),
        ({"models": ["m"] * 9}, 422, "at most 8 items"),
        ({"question": "   "}, 422, "The question is empty."),
        ({"prompt": {"template": "Hi.\u0000"}}, 422, "NUL character"),
    ],
)
async def test_template_and_request_errors_are_named_problems_and_run_no_model(
    client: httpx.AsyncClient, app_db: Path, body: dict[str, Any], status: int, fragment: str
) -> None:
    before = _counts(app_db)
    body.setdefault("models", ["test:echo"])
    detail = _problem(await _run(client, **body), status)
    assert fragment in detail
    assert _counts(app_db) == before


async def test_missing_variables_are_all_named(client: httpx.AsyncClient) -> None:
    detail = _problem(await _run(client, prompt={"template": TEMPLATE}, models=["test:echo"]), 422)
    assert detail == "The prompt template needs a value for: team, tone."


async def test_openapi_documents_the_playground_and_its_errors(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    for path in ("/api/playground/run", "/api/v1/playground/run"):  # the latter: docs/seeds.md
        operation = schema["paths"][path]["post"]
        assert {"200", "401", "403", "404", "422", "429", "500"} <= set(operation["responses"])
        problem = operation["responses"]["404"]["content"]
        assert "application/problem+json" in problem
    out = schema["components"]["schemas"]["ModelOutputOut"]["properties"]
    assert set(out) == {
        "model",
        "output",
        "latency_ms",
        "input_tokens",
        "output_tokens",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "cost_usd",
        "sources",
        "error",
        "sampling",
    }
