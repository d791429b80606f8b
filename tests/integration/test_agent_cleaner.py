"""The LLM cleaner end to end: the real OpenAI SDK and PydanticAI model behind a cleaning run,
HTTP mocked with respx at the httpcore2 layer (PITFALLS): the structured output is scored, a
large table is sampled and read with the SQL tool, an invalid answer and a provider failure
are scored as no repair with the reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic_ai import models as ai_models

from backend.bootstrap import Container, bootstrap
from services.cleaning.agent_cleaner import query
from tests.conftest import FixedClock, make_settings
from tests.respx_httpcore2 import HTTPCore2Mocker  # noqa: F401 - registers the mocker
from use_cases.access.domain import CLI_ADMIN
from use_cases.cleaning.domain import Table
from use_cases.cleaning.runs import CleaningRunRequest
from use_cases.cleaning.tasks import TaskSelection

COMPLETIONS = "https://api.openai.com/v1/chat/completions"
MODEL = "openai:gpt-4.1-mini"


@pytest.fixture
def container(data_dir: Path) -> Iterator[Container]:
    settings = make_settings(
        data_dir,
        openai_api_key="sk-test",
        allowed_models=f"{MODEL},offline-extractive",
        provider_max_retries=0,
        provider_timeout=5.0,
        cleaning_sample_rows=50,
        load_sample_data=False,
    )
    built = bootstrap(settings, clock=FixedClock())
    yield built
    built.close()


@pytest.fixture
def mock_openai(monkeypatch: pytest.MonkeyPatch) -> Iterator[respx.Router]:
    monkeypatch.setattr(ai_models, "ALLOW_MODEL_REQUESTS", True)
    with respx.mock(using="httpcore2", assert_all_called=False) as router:
        yield router


def tool_call(name: str, args: dict[str, Any], call_id: str = "call_1") -> httpx.Response:
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
        ],
    }
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "gpt-4.1-mini",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050},
        },
    )


async def run_one(
    container: Container, table: str, dimension: str, model: str = MODEL
) -> dict[str, Any]:
    run = await container.cleaning.cleaning_runs.start(
        CLI_ADMIN,
        CleaningRunRequest(
            models=(model,), tables=(table,), dimensions=(dimension,), difficulties=("easy",)
        ),
    )
    await container.cleaning.cleaning_runs.execute(run.run_id)
    export = await container.cleaning.cleaning_runs.export(CLI_ADMIN, run.run_id)
    [row] = export["task_results"]
    return row


async def test_the_models_structured_answer_is_scored_with_its_tokens_and_cost(
    container: Container, mock_openai: respx.Router
) -> None:
    [task] = container.cleaning.cleaning_tasks.build(
        TaskSelection(("services",), ("uniqueness",), ("easy",))
    )
    [copy] = [e.row for e in task.truth.errors]
    answer = {
        "changes": [],
        "removals": [{"row": copy, "justification": "a copy of a row"}],
        "justification": "One row repeated another; I removed it.",
    }
    route = mock_openai.post(COMPLETIONS).mock(return_value=tool_call("final_result", answer))

    row = await run_one(container, "services", "uniqueness", model="gpt-4.1-mini")

    assert row["model"] == MODEL  # the canonical name
    assert row["valid"] is True and row["error"] is None
    assert (row["tp"], row["fp"], row["fn"], row["f1"]) == (1, 0, 0, 1.0)
    assert (row["input_tokens"], row["output_tokens"]) == (1000, 50)
    assert row["cost_usd"] > 0  # genai-prices knows gpt-4.1-mini
    assert row["actions"] == [{"action": "remove", "row": copy, "justification": "a copy of a row"}]
    assert row["justification"] == "One row repeated another; I removed it."
    assert row["auditability_score"] == 1.0
    sent = json.loads(route.calls[0].request.content)
    schema = next(t for t in sent["tools"] if t["function"]["name"] == "final_result")
    assert "justification" in schema["function"]["parameters"]["properties"]
    user = next(m for m in sent["messages"] if m["role"] == "user")["content"]
    assert "row,service_id,name" in user and "Key column: service_id" in user


async def test_a_large_table_is_sampled_and_read_with_the_sql_tool(
    container: Container, mock_openai: respx.Router
) -> None:
    mock_openai.post(COMPLETIONS).mock(
        side_effect=[
            tool_call("query_table", {"sql": "SELECT count(*) AS n FROM t"}),
            tool_call("final_result", {"changes": [], "removals": []}, "call_2"),
        ]
    )

    row = await run_one(container, "seattle-weather", "completeness")

    calls = mock_openai.calls
    first = json.loads(calls[0].request.content)
    user = next(m for m in first["messages"] if m["role"] == "user")["content"]
    assert "The table has 1461 rows; you see rows 0 to 49." in user
    second = json.loads(calls[1].request.content)
    tool_reply = next(m for m in second["messages"] if m["role"] == "tool")["content"]
    assert '"rows":[[1461]]' in tool_reply.replace(" ", "")
    assert row["valid"] is True and row["tp"] == 0 and row["fn"] == row["errors_injected"]


async def test_an_invalid_answer_or_a_failing_provider_scores_no_repair_with_the_reason(
    container: Container, mock_openai: respx.Router
) -> None:
    bad = {"changes": [{"row": 999, "column": "name", "value": "x", "justification": "?"}]}
    mock_openai.post(COMPLETIONS).mock(return_value=tool_call("final_result", bad))
    row = await run_one(container, "services", "accuracy")
    assert row["valid"] is False and "row 999" in row["error"]
    assert row["tp"] == 0 and row["fn"] == row["errors_injected"]

    mock_openai.post(COMPLETIONS).mock(return_value=httpx.Response(500, json={"error": {}}))
    row = await run_one(container, "services", "accuracy")
    assert row["valid"] is False and row["error"].startswith("The model provider failed")


def test_the_sql_tool_reads_the_table_and_nothing_else() -> None:
    table = Table("t", ("a", "b"), tuple((str(i), "x") for i in range(250)))
    found = query(table, "SELECT row, a FROM t WHERE a = '7'")
    assert found == {"columns": ["row", "a"], "rows": [[7, "7"]], "truncated": False}
    assert query(table, "SELECT * FROM t")["truncated"] is True
    for sql in ("DELETE FROM t", "PRAGMA table_info(t)", "ATTACH ':memory:' AS x",
                "SELECT * FROM sqlite_master"):  # fmt: skip
        with pytest.raises(Exception, match=r"not authorized|prohibited"):
            query(table, sql)
