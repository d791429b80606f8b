"""OpenAI-compatible servers as they are (llama.cpp, llama-cpp-python, Ollama, vLLM): an `openai:`
model behind OPENAI_BASE_URL, called through the real OpenAI SDK and PydanticAI model, HTTP faked
with respx at the httpcore2 layer. What a tiny real model cannot show on demand (a server that
cannot stream tool calls, one that reports no usage, a provider error) is faked here; the same
paths against a real llama.cpp server are in tests/local_model/."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic_ai import models as ai_models

from backend.bootstrap import Container, bootstrap
from tests.conftest import FixedClock, asgi_client, make_settings
from tests.integration.test_chat_openai import _chunk, error
from tests.respx_httpcore2 import HTTPCore2Mocker  # noqa: F401 - registers the mocker
from use_cases.advice.domain import ADVICE_MAX_CHARS
from use_cases.chat.prompts import NOT_FOUND_ANSWER
from use_cases.shared.errors import ConfigurationError

BASE_URL = "http://llm.test/v1"
COMPLETIONS = f"{BASE_URL}/chat/completions"
QUESTION = "How often do passwords have to be rotated?"
ANSWER = "Passwords are changed only on compromise [1]."


def _settings(data_dir: Path, **overrides: Any) -> Any:
    return make_settings(
        data_dir,
        openai_api_key="local",
        openai_base_url=BASE_URL,
        default_model="openai:tiny",
        provider_max_retries=0,
        **overrides,
    )


@pytest.fixture
def container(data_dir: Path) -> Iterator[Container]:
    built = bootstrap(_settings(data_dir), clock=FixedClock())
    yield built
    built.close()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[respx.Router]:
    monkeypatch.setattr(ai_models, "ALLOW_MODEL_REQUESTS", True)
    with respx.mock(using="httpcore2", assert_all_called=False) as router:
        yield router


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(container) as http:
        yield http


@asynccontextmanager
async def client_with(data_dir: Path, options: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose MODEL_OPTIONS are `options`."""
    settings = _settings(data_dir, model_options=json.dumps(options))
    container = bootstrap(settings, clock=FixedClock())
    try:
        async with asgi_client(container) as http:
            yield http
    finally:
        container.close()


DRAFT = {
    "main_advice": "Rotate them every 90 days [1].",
    "reasoning": "Passage [1] says so.",
    "alternatives": [],
    "cited_passages": [1],
}
ADVICE = {"conversation": [{"role": "user", "content": "Do we rotate keys every 90 days?"}]}


def streamed(content: str, *, usage: bool = True) -> httpx.Response:
    events = [_chunk({"role": "assistant", "content": ""}), _chunk({"content": content})]
    events.append(_chunk({}, "stop"))
    if usage:
        counts = {"prompt_tokens": 900, "completion_tokens": 12, "total_tokens": 912}
        events.append(f"data: {json.dumps({**_envelope([]), 'usage': counts})}\n\n")
    events.append("data: [DONE]\n\n")
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, text="".join(events))


def whole(content: str) -> httpx.Response:
    """An unstreamed completion."""
    body = {
        **_envelope([{"index": 0, "message": {"role": "assistant", "content": content}}]),
        "object": "chat.completion",
        "usage": {"prompt_tokens": 900, "completion_tokens": 12, "total_tokens": 912},
    }
    body["choices"][0]["finish_reason"] = "stop"
    return httpx.Response(200, json=body)


def _envelope(choices: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-local",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "tiny",
        "choices": choices,
    }


def _bodies(route: respx.Route) -> list[dict[str, Any]]:
    return [json.loads(call.request.content) for call in route.calls]


async def test_almanac_runs_the_required_search_and_sends_the_token_limit_as_max_tokens(
    client: httpx.AsyncClient, server: respx.Router
) -> None:
    """A small model seldom calls a tool: for a question that must search, Almanac runs the
    search through the real tool and gives the model its result; the model is asked once."""
    route = server.post(COMPLETIONS).mock(side_effect=[streamed(ANSWER)])
    response = await client.post("/chat", json={"message": QUESTION})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tool_calls"][0]["name"] == "search_knowledge_base"
    assert body["tool_calls"][0]["args"] == {"query": QUESTION}
    assert body["sources"][0]["title"] == "Password and Credential Rotation Policy"
    (sent,) = _bodies(route)
    assert sent["max_tokens"] == 512 and "max_completion_tokens" not in sent
    assert "tool_choice" not in sent or sent["tool_choice"] == "auto"
    assistant, tool = sent["messages"][-2:]
    assert assistant["tool_calls"][0]["function"]["name"] == "search_knowledge_base"
    assert assistant["content"] == ""  # llama-cpp-python's server refuses null (tool_call_text)
    assert (
        tool["role"] == "tool"
        and "[1] Password and Credential Rotation Policy" in (tool["content"])
    )


async def test_a_question_that_need_not_search_is_left_to_the_model(
    client: httpx.AsyncClient, server: respx.Router
) -> None:
    route = server.post(COMPLETIONS).mock(side_effect=[streamed("4.")])
    response = await client.post("/chat", json={"message": "What is 2 + 2?"})
    assert response.status_code == 200, response.text
    assert response.json()["tool_calls"] == []
    (sent,) = _bodies(route)
    assert sent["messages"][-1]["role"] == "user"


async def test_a_server_that_cannot_stream_tool_calls_is_asked_again_without_streaming(
    client: httpx.AsyncClient, server: respx.Router, logged: list[tuple[str, str, str]]
) -> None:
    """llama-cpp-python's server answers a streamed request with tools by an empty stream."""
    empty = httpx.Response(
        200, headers={"content-type": "text/event-stream"}, text="data: [DONE]\n\n"
    )

    def answer(request: httpx.Request) -> httpx.Response:
        return empty if json.loads(request.content)["stream"] else whole(ANSWER)

    route = server.post(COMPLETIONS).mock(side_effect=answer)
    first = await client.post("/chat", json={"message": QUESTION})
    second = await client.post("/chat/stream", json={"message": QUESTION})
    assert first.status_code == 200, first.text
    assert first.json()["answer"] == ANSWER and first.json()["sources"]
    assert second.status_code == 200 and ANSWER[:20] in second.text
    streamed_flags = [body["stream"] for body in _bodies(route)]
    assert streamed_flags == [True, False, False]  # the fallback sticks for that model
    warned = " ".join(m for level, name, m in logged if name == "services.chat.compat_model")
    assert "could not stream a response that may call tools" in warned
    assert "tool calls are asked for without streaming from now on" in warned


async def test_stream_tools_never_asks_for_tool_requests_without_streaming(
    data_dir: Path, server: respx.Router
) -> None:
    route = server.post(COMPLETIONS).mock(side_effect=lambda request: whole(ANSWER))
    options = {"openai:tiny": {"stream_tools": "never", "max_tokens": 64}}
    async with client_with(data_dir, options) as http:
        response = await http.post("/chat/stream", json={"message": QUESTION})
    assert response.status_code == 200 and ANSWER[:20] in response.text
    (sent,) = _bodies(route)
    assert sent["stream"] is False and sent["max_tokens"] == 64


async def test_advice_asks_for_json_schema_output_and_never_for_a_required_tool(
    client: httpx.AsyncClient, server: respx.Router
) -> None:
    route = server.post(COMPLETIONS).mock(side_effect=lambda request: whole(json.dumps(DRAFT)))
    response = await client.post("/advice-non-streaming", json=ADVICE)
    assert response.status_code == 200, response.text
    advice = response.json()
    assert advice["main_advice"] == "Rotate them every 90 days [1]."
    assert advice["fallback"] is False and advice["sources"]
    (sent,) = _bodies(route)
    assert sent["stream"] is False
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["name"] == "give_advice"
    assert sent.get("tool_choice") != "required"
    assert "give_advice" not in {t["function"]["name"] for t in sent.get("tools", [])}


async def test_advice_that_never_validates_falls_back_and_says_why(
    client: httpx.AsyncClient, server: respx.Router
) -> None:
    server.post(COMPLETIONS).mock(side_effect=lambda request: whole('{"main_advice": 3}'))
    conversation = [{"role": "user", "content": "Can I deploy to production on Friday?"}]
    response = await client.post("/advice-non-streaming", json={"conversation": conversation})
    assert response.status_code == 200, response.text
    advice = response.json()
    assert advice["fallback"] is True
    assert "failed validation after 1 retry" in advice["reasoning"]
    assert "main_advice" in advice["reasoning"]  # what the validation said


async def test_a_provider_failure_is_a_502_for_advice_logged_and_counted(
    client: httpx.AsyncClient, server: respx.Router, logged: list[tuple[str, str, str]]
) -> None:
    server.post(COMPLETIONS).mock(side_effect=lambda request: error(500))
    conversation = [{"role": "user", "content": "Can I deploy to production on Friday?"}]
    advice = await client.post("/advice-non-streaming", json={"conversation": conversation})
    chat = await client.post("/chat/stream", json={"message": QUESTION})
    assert advice.status_code == 502, advice.text
    assert advice.json()["code"] == "upstream_error"
    assert "mocked 500" not in advice.text  # the provider's words stay in the log
    assert chat.status_code == 200 and "3:" in chat.text  # the stream ends in an error part
    failures = [m for level, _, m in logged if level == "WARNING" and "Model call failed" in m]
    assert failures and "openai:tiny" in failures[0]
    assert "HTTP 500" in failures[0] and "mocked 500" in failures[0]
    metrics = (await client.get("/metrics")).text
    assert 'almanac_model_failures_total{kind="http_5xx",model="openai:tiny"}' in metrics


async def test_usage_a_server_does_not_report_is_unknown_not_zero(
    client: httpx.AsyncClient, server: respx.Router, container: Container
) -> None:
    server.post(COMPLETIONS).mock(side_effect=lambda request: streamed(ANSWER, usage=False))
    response = await client.post("/chat/stream", json={"message": QUESTION})
    finish = [line for line in response.text.splitlines() if line.startswith("d:")]
    assert finish == ['d:{"finishReason":"stop"}']
    chat_id = json.loads(
        next(line for line in response.text.splitlines() if line.startswith("2:"))[2:]
    )[0]["chat_id"]
    messages = (await client.get(f"/chats/{chat_id}/messages")).json()["messages"]
    assert messages[-1]["input_tokens"] is None and messages[-1]["output_tokens"] is None


def test_bad_model_options_stop_start_up_naming_them(data_dir: Path) -> None:
    options = json.dumps({"openai:tiny": {"stream_tools": "sometimes"}})
    with pytest.raises(ConfigurationError, match="stream_tools"):
        bootstrap(_settings(data_dir, model_options=options), clock=FixedClock())


def streamed_search(query: str) -> httpx.Response:
    call = {
        "index": 0,
        "id": f"call_{abs(hash(query))}",
        "type": "function",
        "function": {"name": "search_knowledge_base", "arguments": json.dumps({"query": query})},
    }
    events = [_chunk({"role": "assistant", "tool_calls": [call]}), _chunk({}, "tool_calls")]
    events.append("data: [DONE]\n\n")
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, text="".join(events))


async def test_after_its_tool_rounds_a_small_model_is_offered_no_tool_and_answers(
    client: httpx.AsyncClient, server: respx.Router
) -> None:
    """A small model imitates the tool calls it sees: past `tool_rounds` (2 on a compatible
    server, Almanac's opening search included) its request offers no tool."""
    route = server.post(COMPLETIONS).mock(
        side_effect=[streamed_search("rotation again"), streamed(ANSWER)]
    )
    response = await client.post("/chat", json={"message": QUESTION})
    assert response.status_code == 200, response.text
    assert [call["name"] for call in response.json()["tool_calls"]] == ["search_knowledge_base"] * 2
    first, second = _bodies(route)
    assert {tool["function"]["name"] for tool in first["tools"]} >= {"search_knowledge_base"}
    assert "tools" not in second  # two rounds: the opening search and the model's own


async def test_advice_cut_at_its_token_limit_says_so(
    client: httpx.AsyncClient, server: respx.Router
) -> None:
    def cut(request: httpx.Request) -> httpx.Response:
        response = whole('{"main_advice": "2025-10-25 12:47:24.7427646022634')
        body = json.loads(response.content)
        body["choices"][0]["finish_reason"] = "length"
        return httpx.Response(200, json=body)

    server.post(COMPLETIONS).mock(side_effect=cut)
    conversation = [{"role": "user", "content": "Can I deploy to production on Friday?"}]
    response = await client.post("/advice-non-streaming", json={"conversation": conversation})
    assert response.status_code == 502, response.text
    assert "cut off at its token limit" in response.json()["detail"]


def test_abandoned_turns_are_swept_only_after_the_longest_turn_a_model_may_take(
    container: Container,
) -> None:
    """A compatible server's turn may take 300 s (`turn_timeout_s`): the sweep waits that long,
    plus its margin, before it calls a `streaming` answer abandoned."""
    assert container.adapters.models.longest_turn_s(60.0) == 300.0
    sweep = container.chat.sweep_turns
    assert sweep._age.total_seconds() == 300.0 + 60


async def test_prompted_structured_output_asks_for_a_json_object_the_instructions_describe(
    data_dir: Path, server: respx.Router
) -> None:
    """For a server that refuses `json_schema` (llama-cpp-python's accepts only `text` and
    `json_object`): the schema goes into the instructions, the answer is a JSON object."""
    route = server.post(COMPLETIONS).mock(side_effect=lambda request: whole(json.dumps(DRAFT)))
    async with client_with(data_dir, {"openai:tiny": {"structured_output": "prompted"}}) as http:
        response = await http.post("/advice-non-streaming", json=ADVICE)
    assert response.status_code == 200, response.text
    assert response.json()["main_advice"] == DRAFT["main_advice"]
    assert response.json()["fallback"] is False
    (sent,) = _bodies(route)
    assert sent["response_format"] == {"type": "json_object"}
    system = "\n".join(m["content"] for m in sent["messages"] if m["role"] == "system")
    assert '"main_advice"' in system  # the schema, in the instructions


# --- structured output a small model can finish ------------------------------------------


def _strings_of(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Every string property of a JSON schema (following `$ref`s into `defs`), by name."""
    found: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        if prop.get("type") == "string":
            found[name] = prop
        items = prop.get("items", {})
        if "$ref" in items:
            found.update(_strings_of(defs[items["$ref"].rsplit("/", 1)[-1]], defs))
    return found


async def test_structured_advice_sends_string_limits_and_samples_greedily(
    client: httpx.AsyncClient, server: respx.Router
) -> None:
    """llama.cpp's server turns `maxLength` into its grammar, so a small model's strings end;
    greedy sampling keeps it from running on inside one."""
    route = server.post(COMPLETIONS).mock(side_effect=lambda request: whole(json.dumps(DRAFT)))
    response = await client.post("/advice-non-streaming", json=ADVICE)
    assert response.status_code == 200 and response.json()["fallback"] is False
    (sent,) = _bodies(route)
    schema = sent["response_format"]["json_schema"]["schema"]
    strings = _strings_of(schema, schema.get("$defs", {}))
    assert {name: prop.get("maxLength") for name, prop in strings.items()} == ADVICE_MAX_CHARS
    assert sent["temperature"] == 0


async def test_a_request_temperature_or_model_options_override_greedy_structured_sampling(
    data_dir: Path, server: respx.Router
) -> None:
    route = server.post(COMPLETIONS).mock(side_effect=lambda request: whole(json.dumps(DRAFT)))
    async with client_with(data_dir, {"*": {"structured_temperature": 0.7}}) as http:
        assert (await http.post("/advice-non-streaming", json=ADVICE)).status_code == 200
        assert (
            await http.post("/advice-non-streaming", json={**ADVICE, "temperature": 0.3})
        ).status_code == 200
    async with client_with(data_dir, {"openai:tiny": {"structured_temperature": None}}) as http:
        assert (await http.post("/advice-non-streaming", json=ADVICE)).status_code == 200
    options, asked, unset = _bodies(route)
    assert options["temperature"] == 0.7
    assert asked["temperature"] == 0.3
    assert "temperature" not in unset


async def test_a_chat_answer_is_not_sampled_greedily(
    client: httpx.AsyncClient, server: respx.Router
) -> None:
    route = server.post(COMPLETIONS).mock(side_effect=[streamed(ANSWER)])
    assert (await client.post("/chat", json={"message": QUESTION})).status_code == 200
    (sent,) = _bodies(route)
    assert "temperature" not in sent


def test_a_structured_temperature_out_of_range_stops_start_up(data_dir: Path) -> None:
    for bad in (3, -1, "hot", True):
        with pytest.raises(ConfigurationError, match="structured_temperature"):
            bootstrap(
                _settings(
                    data_dir, model_options=json.dumps({"*": {"structured_temperature": bad}})
                )
            )


# --- what an answer rests on -------------------------------------------------------------

UNCITED = "Passwords are changed only when they are compromised."


def _sources_of_stream(text: str) -> list[dict[str, Any]]:
    data = next(line for line in text.splitlines() if line.startswith("2:"))
    sources: list[dict[str, Any]] = json.loads(data[2:])[0]["sources"]
    return sources


async def test_an_answer_citing_nothing_after_a_search_lists_the_passages_it_was_given(
    client: httpx.AsyncClient, server: respx.Router
) -> None:
    """A small model rarely writes [n]: its answer still tells what it rests on, in `/chat`,
    the v4 stream, the UI message stream, `/v1` and the stored message alike."""
    server.post(COMPLETIONS).mock(side_effect=lambda request: streamed(UNCITED))
    reply = (await client.post("/chat", json={"message": QUESTION})).json()
    assert reply["answer"] == UNCITED
    sources = reply["sources"]
    assert sources and all(source["cited"] is False for source in sources)
    assert [source["number"] for source in sources] == list(range(1, len(sources) + 1))
    assert sources[0]["title"] == "Password and Credential Rotation Policy"
    assert reply["tool_calls"][0]["name"] == "search_knowledge_base"

    stored = (await client.get(f"/chats/{reply['chat_id']}/messages")).json()["messages"][-1]
    # read back, each source also says whether its document is still as quoted (`status`)
    assert [{k: v for k, v in s.items() if k != "status"} for s in stored["sources"]] == sources

    streamed_v4 = await client.post("/chat/stream", json={"message": QUESTION})
    assert _sources_of_stream(streamed_v4.text) == sources

    ui = await client.post(
        "/api/chat",
        json={
            "trigger": "submit-message",
            "id": "ui-uncited",
            "messages": [
                {"id": "m1", "role": "user", "parts": [{"type": "text", "text": QUESTION}]}
            ],
        },
    )
    data = next(
        json.loads(line[6:])
        for line in ui.text.splitlines()
        if line.startswith("data: {") and '"data-almanac"' in line
    )
    assert data["data"]["sources"] == sources

    completion = await client.post(
        "/v1/chat/completions",
        json={"model": "almanac", "messages": [{"role": "user", "content": QUESTION}]},
    )
    shown = completion.json()["choices"][0]["message"]["almanac"]["sources"]
    assert [{k: v for k, v in s.items() if k != "link"} for s in shown] == sources


async def test_cited_sources_come_first_and_the_response_log_counts_only_them(
    client: httpx.AsyncClient, server: respx.Router, container: Container
) -> None:
    server.post(COMPLETIONS).mock(side_effect=lambda request: streamed(ANSWER))  # cites [1]
    reply = (await client.post("/chat", json={"message": QUESTION})).json()
    assert [source["cited"] for source in reply["sources"]] == [True]
    server.post(COMPLETIONS).mock(side_effect=lambda request: streamed(UNCITED))
    uncited = (await client.post("/chat", json={"message": QUESTION})).json()
    assert uncited["confidence"] is not None
    assert uncited["confidence"] < reply["confidence"]  # nothing cited: less sure


async def test_the_can_t_find_answer_lists_no_sources(
    client: httpx.AsyncClient, server: respx.Router
) -> None:
    server.post(COMPLETIONS).mock(side_effect=lambda request: streamed(NOT_FOUND_ANSWER))
    reply = (await client.post("/chat", json={"message": QUESTION})).json()
    assert reply["not_found"] is True and reply["sources"] == []
    # A hosted model's can't-find answer is read from its text once, when stored.
    history = (await client.get(f"/chats/{reply['chat_id']}/messages")).json()
    assert [m["not_found"] for m in history["messages"]] == [False, True]


async def test_v1_usage_a_server_does_not_report_is_null(
    client: httpx.AsyncClient, server: respx.Router
) -> None:
    server.post(COMPLETIONS).mock(side_effect=lambda request: streamed(ANSWER, usage=False))
    body = {"model": "almanac", "messages": [{"role": "user", "content": QUESTION}]}
    whole_reply = (await client.post("/v1/chat/completions", json=body)).json()
    assert whole_reply["usage"] is None
    chunks = await client.post(
        "/v1/chat/completions",
        json={**body, "stream": True, "stream_options": {"include_usage": True}},
    )
    events = [line[6:] for line in chunks.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    last = json.loads(events[-2])
    assert last["choices"] == [] and last["usage"] is None
    server.post(COMPLETIONS).mock(side_effect=lambda request: streamed(ANSWER))
    reported = (await client.post("/v1/chat/completions", json=body)).json()
    assert reported["usage"] == {"prompt_tokens": 900, "completion_tokens": 12, "total_tokens": 912}


async def test_v1_a_provider_failure_is_an_error_status_or_an_error_event_and_stores_nothing(
    client: httpx.AsyncClient, server: respx.Router
) -> None:
    """Blocking: the mapped status in OpenAI's shape. Streamed (the stream had begun): one
    `data: {"error": ...}` event, then `[DONE]`, which OpenAI's SDKs raise as an APIError."""
    server.post(COMPLETIONS).mock(side_effect=lambda request: error(500))
    body = {"model": "almanac", "messages": [{"role": "user", "content": QUESTION}]}
    whole_reply = await client.post("/v1/chat/completions", json=body)
    assert whole_reply.status_code == 502
    assert whole_reply.json()["error"]["type"] == "server_error"
    assert "mocked" not in whole_reply.text  # never the provider's own words
    streamed_reply = await client.post("/v1/chat/completions", json={**body, "stream": True})
    events = [line[6:] for line in streamed_reply.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    failure = json.loads(events[-2])["error"]
    assert failure["type"] == "server_error" and failure["code"] == "upstream_error"
    assert (await client.get("/chats")).json() == []
