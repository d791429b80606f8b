"""Structured advice over HTTP: `POST /advice` (SSE whose data add up to one StructuredAdvice)
and `POST /advice-non-streaming`, on the offline model and on FunctionModels that stream
structured output, fail validation, rewrite their advice or fail outright. The stream is read
with an independent SSE parser (httpx-sse), with a plain reader that concatenates every `data:`
line, and with a WHATWG EventSource (Node's)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse
from pydantic_ai.exceptions import ModelUnavailableError
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart, UserPromptPart
from pydantic_ai.models.function import (
    AgentInfo,
    DeltaToolCall,
    DeltaToolCalls,
    FunctionModel,
    StreamFunctionDef,
)

from backend.api.app import create_app
from backend.api.problems import PROBLEM_MEDIA_TYPE
from backend.bootstrap import Container, bootstrap
from tests.conftest import FixedClock, asgi_client, make_settings
from tests.js_clients import JsClients
from tests.unit.test_rate_limit import ManualClock
from use_cases.advice.agent import ADVICE_SYSTEM_PROMPT
from use_cases.advice.domain import StructuredAdvice
from use_cases.advice.give_advice import FALLBACK_INVALID
from use_cases.chat.prompts import NOT_FOUND_ANSWER, NOT_SEARCHED_ANSWER, SEARCH_TOOL

QUESTION = "Can I deploy to production on Friday?"
UNANSWERABLE = "What is the parental leave policy?"
ALLOWED = (
    "offline-extractive,test:adviser,test:never-valid,test:no-fields,test:rewrites,test:down,"
    "test:inventor"
)

#: Quotes, a newline, a backslash, non-ASCII and an emoji: all must survive the escaping.
TRICKY_ADVICE = (
    'Rotate the key "now": within 24 hours of exposure [1].\n'
    "Then tell #security \\ on-call — ça va ✅ 🔑"
)


@dataclass
class Advised:
    """One `POST /advice`, read as a client would."""

    status: int
    content_type: str
    pieces: list[str] = field(default_factory=list)  # data of the unnamed events, in order
    end: str | None = None  # data of the `end` event (empty: it adds nothing to the data)
    after_end: int = 0  # events after `end` (there must be none)

    @property
    def advice(self) -> StructuredAdvice:
        return StructuredAdvice.model_validate_json("".join(self.pieces))


async def advise(client: httpx.AsyncClient, body: dict[str, Any]) -> Advised:
    async with aconnect_sse(client, "POST", "/advice", json=body) as source:
        response = source.response
        result = Advised(response.status_code, response.headers.get("content-type", ""))
        if response.status_code != 200:
            await response.aread()
            return result
        async for event in source.aiter_sse():
            if result.end is not None:
                result.after_end += 1
            elif event.event == "end":
                result.end = event.data
            else:
                assert event.event == "message"
                result.pieces.append(event.data)
    return result


def ask(question: str, **extra: Any) -> dict[str, Any]:
    return {"conversation": [{"role": "user", "content": question}], **extra}


# --- FunctionModels ------------------------------------------------------------------------


def _tool_returned(messages: list[ModelMessage]) -> bool:
    latest = max(
        i
        for i, m in enumerate(messages)
        if isinstance(m, ModelRequest) and any(isinstance(p, UserPromptPart) for p in m.parts)
    )
    return any(
        isinstance(p, ToolReturnPart) and p.tool_name == SEARCH_TOOL
        for m in messages[latest:]
        if isinstance(m, ModelRequest)
        for p in m.parts
    )


def _output_chunks(
    info: AgentInfo, args: dict[str, Any], size: int = 5
) -> Iterator[DeltaToolCalls]:
    text = json.dumps(args, ensure_ascii=False)
    for start in range(0, len(text), size):
        first = start == 0
        yield {
            0: DeltaToolCall(
                name=info.output_tools[0].name if first else None,
                json_args=text[start : start + size],
                tool_call_id=f"out_{len(info.output_tools)}" if first else None,
            )
        }


async def adviser(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[DeltaToolCalls]:
    """Searches, then streams its advice through the output tool five characters at a time."""
    if not _tool_returned(messages):
        yield {
            0: DeltaToolCall(
                SEARCH_TOOL, '{"query": "service account key rotation"}', tool_call_id="s1"
            )
        }
        return
    args = {
        "main_advice": TRICKY_ADVICE,
        "reasoning": "The rotation runbook [1] sets the 24-hour limit.",
        "alternatives": [
            {"option": "Wait for the 90-day rotation", "reason": "Only if unexposed."}
        ],
        "cited_passages": [1],
    }
    for chunk in _output_chunks(info, args):
        yield chunk


async def never_valid(
    messages: list[ModelMessage], info: AgentInfo
) -> AsyncIterator[DeltaToolCalls]:
    """Starts well, then gives a number where the reasoning should be: every time."""
    for chunk in _output_chunks(info, {"main_advice": "Deploy on Friday.", "reasoning": 5}):
        yield chunk


async def no_fields(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[DeltaToolCalls]:
    for chunk in _output_chunks(info, {"advice": "Deploy on Friday."}):
        yield chunk


async def rewrites(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[DeltaToolCalls]:
    """First cites a passage it never searched for (a retry), then advises without it."""
    retried = any(  # the validator's answer to the first attempt came back
        getattr(p, "tool_name", None) == info.output_tools[0].name
        for m in messages
        if isinstance(m, ModelRequest)
        for p in m.parts
    )
    args = (
        {"main_advice": "Keep the freeze.", "reasoning": "No passage.", "cited_passages": []}
        if retried
        else {"main_advice": "Lift the freeze [9].", "reasoning": "See [9].", "cited_passages": [9]}
    )
    for chunk in _output_chunks(info, args):
        yield chunk


INVENTING = {
    "main_advice": "Rotate the key within 24 hours [1] and tell the auditors [7].",
    "reasoning": "The runbook [1] sets the limit; the audit rule [7] the notice.",
    "alternatives": [{"option": "Wait for the quarterly rotation [7]", "reason": "Never [7]."}],
    "cited_passages": [1, 7],
}


async def inventor(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[DeltaToolCalls]:
    """Searches (one passage comes back as [1] or more), then cites [7] as well: every time,
    its retry included. Told honestly (`honest` in the question), it cites only [1]."""
    if not _tool_returned(messages):
        yield {0: DeltaToolCall(SEARCH_TOOL, '{"query": "key rotation"}', tool_call_id="s1")}
        return
    honest = any(
        isinstance(p, UserPromptPart) and "honest" in str(p.content)
        for m in messages
        if isinstance(m, ModelRequest)
        for p in m.parts
    )
    args = (
        {
            "main_advice": "Rotate the key within 24 hours [1] and tell the auditors.",
            "reasoning": "The runbook [1] sets the limit.",
            "alternatives": [{"option": "Wait for the quarterly rotation", "reason": "Never."}],
            "cited_passages": [1],
        }
        if honest
        else INVENTING
    )
    for chunk in _output_chunks(info, args, size=3):
        yield chunk


async def down(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
    raise ModelUnavailableError("test:down", "503 from the provider")
    yield ""  # pragma: no cover


@pytest.fixture
def container(data_dir: Path) -> Iterator[Container]:
    built = bootstrap(make_settings(data_dir, allowed_models=ALLOWED), clock=FixedClock())
    functions: dict[str, StreamFunctionDef] = {
        "test:adviser": adviser,
        "test:never-valid": never_valid,
        "test:no-fields": no_fields,
        "test:rewrites": rewrites,
        "test:down": down,
        "test:inventor": inventor,
    }
    for name, function in functions.items():
        built.adapters.models.register(name, FunctionModel(stream_function=function))
    yield built
    built.close()


# --- the offline model ---------------------------------------------------------------------


async def test_streamed_advice_adds_up_to_the_same_advice_as_the_whole_one(
    client: httpx.AsyncClient,
) -> None:
    streamed = await advise(client, ask(QUESTION))
    assert streamed.status == 200 and streamed.content_type.startswith("text/event-stream")
    assert streamed.end == "" and streamed.after_end == 0
    assert not streamed.advice.fallback
    assert streamed.pieces[0] == '{"main_advice":"'
    # The opening, then the advice as the model writes it (the offline model: a sentence at a
    # time, one here), then the rest of the object.
    assert len(streamed.pieces) >= 3 and streamed.pieces[1].endswith("[1].")
    advice = streamed.advice
    assert "Friday" in advice.main_advice and "[1]" in advice.main_advice
    assert advice.model_identifier == "offline-extractive"
    assert advice.search_decision == "MANDATORY"  # an organisation question
    assert advice.response_id.startswith("resp_")
    assert advice.sources[0].n == 1
    assert advice.sources[0].document == "Production Change Management Policy"
    assert advice.sources[0].date == "2025-08-25"
    assert 0.5 <= advice.confidence_score <= 1 and advice.confidence_phrase
    assert "Production Change Management Policy" in advice.reasoning

    response = await client.post("/advice-non-streaming", json=ask(QUESTION))
    assert response.status_code == 200, response.text
    whole = StructuredAdvice.model_validate(response.json())
    assert whole.response_id != advice.response_id
    assert whole.model_dump(exclude={"response_id"}) == advice.model_dump(exclude={"response_id"})


async def test_a_question_the_knowledge_base_cannot_answer_gets_low_confidence(
    client: httpx.AsyncClient,
) -> None:
    advice = (await advise(client, ask(UNANSWERABLE))).advice
    assert advice.main_advice.startswith(NOT_FOUND_ANSWER)
    assert advice.sources == [] and advice.alternatives == []
    assert advice.confidence_score <= 0.1
    assert advice.confidence_phrase == "very low"


async def test_offline_advice_names_other_documents_as_alternatives(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/advice-non-streaming", json=ask("Do we have to rotate passwords every 90 days?")
    )
    advice = StructuredAdvice.model_validate(response.json())
    assert advice.alternatives, advice
    numbers = {s.n for s in advice.sources}
    for alternative in advice.alternatives:
        cited = int(alternative.option.split("[")[1].split("]")[0])
        assert cited in numbers  # every [n] a client sees resolves to a source


async def test_a_table_answer_cites_the_table(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/advice-non-streaming", json=ask("Who is the manager of Fleur Janssen?")
    )
    advice = StructuredAdvice.model_validate(response.json())
    assert "Ifeoma Adeyemi" in advice.main_advice
    assert [(s.document, s.section, s.date) for s in advice.sources] == [
        ("table: directory", "", None)
    ]


async def test_search_override_false_takes_the_search_tool_away(
    client: httpx.AsyncClient,
) -> None:
    advice = (await advise(client, ask(QUESTION, search_override=False))).advice
    assert advice.search_decision == "USER_OVERRIDE_NO"
    assert advice.main_advice.startswith(NOT_SEARCHED_ANSWER)  # nothing could be searched
    assert advice.confidence_score <= 0.1 and advice.sources == []
    forced = (await advise(client, ask(QUESTION, search_override=True))).advice
    assert forced.search_decision == "USER_OVERRIDE_YES" and forced.sources


# --- FunctionModels streaming structured output ---------------------------------------------


async def test_structured_output_is_streamed_as_it_arrives_and_escaped_exactly(
    client: httpx.AsyncClient,
) -> None:
    streamed = await advise(client, ask("Do I rotate this key now?", model="test:adviser"))
    assert streamed.end == "" and not streamed.advice.fallback
    advice = streamed.advice
    assert advice.main_advice == TRICKY_ADVICE
    assert advice.model_identifier == "test:adviser"
    assert [s.n for s in advice.sources] == [1]
    assert advice.alternatives[0].option == "Wait for the 90-day rotation"
    # The advice came in many pieces, before the closing piece with the other fields.
    middle = streamed.pieces[1:-1]
    assert len(middle) >= 10
    assert json.loads('"' + "".join(middle) + '"') == TRICKY_ADVICE
    assert streamed.pieces[-1].startswith('","response_id":"resp_')


async def test_output_that_never_validates_ends_in_a_schema_valid_fallback(
    client: httpx.AsyncClient,
) -> None:
    streamed = await advise(client, ask(QUESTION, model="test:never-valid"))
    assert streamed.end == ""
    advice = streamed.advice  # valid, whatever the model sent
    assert advice.fallback
    # What was already shown stays; the fallback says plainly there is no advice.
    assert advice.main_advice == f"Deploy on Friday.\n\n{FALLBACK_INVALID}"
    assert advice.confidence_score == 0.0 and advice.sources == []
    assert advice.confidence_phrase == "very low"

    response = await client.post(
        "/advice-non-streaming", json=ask(QUESTION, model="test:no-fields")
    )
    assert response.status_code == 200
    whole = StructuredAdvice.model_validate(response.json())
    assert whole.main_advice == FALLBACK_INVALID and whole.confidence_score == 0.0
    assert whole.fallback


async def test_a_retry_that_rewrites_the_advice_never_takes_back_what_was_sent(
    client: httpx.AsyncClient,
) -> None:
    # This model never searches: the turn is told not to (search discipline).
    streamed = await advise(
        client, ask("Can we lift the freeze?", model="test:rewrites", search_override=False)
    )
    assert streamed.end == ""
    advice = streamed.advice
    assert not advice.fallback
    # [9] was never a passage of this turn: the stream never sent it, so what was sent is
    # "Lift the freeze." and the retry's advice follows it.
    assert advice.main_advice == "Lift the freeze.\n\nKeep the freeze."
    assert "[9]" not in "".join(streamed.pieces)
    assert advice.sources == []
    assert advice.confidence_score <= 0.1  # nothing grounded: the estimator's refusal figure


async def test_citations_no_tool_returned_are_never_sent_and_lower_the_confidence(
    client: httpx.AsyncClient,
) -> None:
    """[n] markers inside the advice's text are checked like chat answers' are. The
    model cites [7], which no tool returned, in its advice, reasoning and alternatives, on its
    retry too: the stream never sends it, the advice is stored without it, the sources hold
    only real passages, and the confidence is lower than for the same advice without it."""
    question = "How fast must a leaked service account key be rotated?"
    streamed = await advise(client, ask(question, model="test:inventor"))
    assert streamed.end == "" and not streamed.advice.fallback
    advice = streamed.advice
    assert "[7]" not in "".join(streamed.pieces)
    assert advice.main_advice == "Rotate the key within 24 hours [1] and tell the auditors."
    assert advice.reasoning == "The runbook [1] sets the limit; the audit rule the notice."
    assert [(a.option, a.reason) for a in advice.alternatives] == [
        ("Wait for the quarterly rotation", "Never.")
    ]
    assert [s.n for s in advice.sources] == [1]

    whole = await client.post("/advice-non-streaming", json=ask(question, model="test:inventor"))
    assert StructuredAdvice.model_validate(whole.json()).main_advice == advice.main_advice
    honest = await client.post(
        "/advice-non-streaming", json=ask(question + " (honest)", model="test:inventor")
    )
    assert (
        0
        < advice.confidence_score
        < StructuredAdvice.model_validate(honest.json()).confidence_score
    )


async def test_a_provider_failure_mid_stream_is_a_fallback_and_a_problem_when_whole(
    client: httpx.AsyncClient,
) -> None:
    streamed = await advise(client, ask(QUESTION, model="test:down"))
    assert streamed.status == 200 and streamed.end == ""
    advice = streamed.advice
    assert advice.fallback
    assert advice.main_advice.startswith("Almanac could not produce advice: ")
    assert "unavailable" in advice.main_advice and "503 from the provider" not in advice.main_advice
    assert advice.confidence_score == 0.0

    response = await client.post("/advice-non-streaming", json=ask(QUESTION, model="test:down"))
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE


# --- the contract, read by clients that know nothing of Almanac ---------------------------


def plain_sse_data(body: str) -> str:
    """What a plain reader gets: the value of every `data:` line, concatenated, whatever the
    event (one optional space after the colon is not part of the value)."""
    values = []
    for line in body.splitlines():
        if line == "data" or line.startswith("data:"):
            value = line[len("data:") :]
            values.append(value[1:] if value.startswith(" ") else value)
    return "".join(values)


@pytest.mark.parametrize("model", ["offline-extractive", "test:adviser", "test:never-valid"])
async def test_every_data_line_concatenated_is_exactly_one_advice(
    client: httpx.AsyncClient, js_clients: JsClients, model: str
) -> None:
    response = await client.post("/advice", json=ask(QUESTION, model=model))
    assert response.status_code == 200
    body = response.text

    plain = StructuredAdvice.model_validate_json(plain_sse_data(body))
    browser = js_clients.read_event_source(body)
    rebuilt = StructuredAdvice.model_validate_json(browser["data"])

    assert rebuilt == plain
    assert browser["end"] == ""  # the end event carries no data
    assert plain.fallback is (model == "test:never-valid")  # the status is in the object
    assert body.endswith("event: end\ndata:\n\n")


# --- what the model is sent ------------------------------------------------------------------


async def test_the_model_gets_the_date_the_conversation_and_the_advice_prompt(
    data_dir: Path,
) -> None:
    seen: list[tuple[list[ModelMessage], AgentInfo]] = []

    async def recording(
        messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[DeltaToolCalls]:
        seen.append((messages, info))
        for chunk in _output_chunks(info, {"main_advice": "Noted.", "reasoning": ""}):
            yield chunk

    settings = make_settings(data_dir, allowed_models="offline-extractive,test:recording")
    built = bootstrap(settings, clock=FixedClock())
    built.adapters.models.register("test:recording", FunctionModel(stream_function=recording))
    try:
        async with asgi_client(built) as client:
            put = await client.put("/api/llm-defaults/advice", json={"model": "test:recording"})
            assert put.status_code == 200, put.text
            conversation = [
                {"role": "user", "content": "We froze deploys on Monday."},
                {"role": "assistant", "content": "Understood."},
                {"role": "user", "content": "  Can I deploy on Friday?  "},
            ]
            response = await client.post(
                "/advice-non-streaming", json={"conversation": conversation}
            )
    finally:
        built.close()
    assert response.status_code == 200, response.text
    assert response.json()["model_identifier"] == "test:recording"  # the advice default
    messages, info = seen[0]
    prompts = [
        p.content
        for m in messages
        if isinstance(m, ModelRequest)
        for p in m.parts
        if isinstance(p, UserPromptPart)
    ]
    assert prompts == [
        "We froze deploys on Monday.",
        "Current Date: 2026-03-02\n\nCan I deploy on Friday?",
    ]
    assert (info.instructions or "").startswith(ADVICE_SYSTEM_PROMPT.strip())
    assert {t.name for t in info.function_tools} == {SEARCH_TOOL, "lookup_structured_data"}
    assert [t.name for t in info.output_tools] == ["give_advice"]


# --- bad requests ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/advice", "/advice-non-streaming"])
@pytest.mark.parametrize(
    ("payload", "status", "fragment"),
    [
        ({"conversation": []}, 422, "The conversation is empty"),
        ({}, 422, "conversation"),
        (
            {
                "conversation": [
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Yes?"},
                ]
            },
            422,
            "The last message must be the user's question",
        ),
        ({"conversation": [{"role": "system", "content": "Obey."}]}, 422, "role"),
        ({"conversation": [{"role": "user", "content": "   "}]}, 422, "is empty"),
        ({"conversation": [{"role": "user", "content": "x" * 8001}]}, 422, "MAX_MESSAGE_CHARS"),
        (
            {"conversation": [{"role": "user", "content": "hi"}] * 501},
            413,
            "MAX_CONVERSATION_MESSAGES",
        ),
        (ask("hi", model="openai:gpt-5-ultra"), 422, "Allowed models: offline-extractive"),
    ],
)
async def test_bad_advice_requests_are_problems_before_any_stream(
    client: httpx.AsyncClient, path: str, payload: dict[str, Any], status: int, fragment: str
) -> None:
    response = await client.post(path, json=payload)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert fragment in json.dumps(response.json())


async def test_advice_shares_the_chat_rate_limit(data_dir: Path) -> None:
    built = bootstrap(make_settings(data_dir, rate_limit_per_minute=2), clock=FixedClock())
    app = create_app(container=built, clock=ManualClock())
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://almanac.test") as http:
            assert (await http.post("/chat", json={"message": QUESTION})).status_code == 200
            assert (await http.post("/advice-non-streaming", json=ask(QUESTION))).status_code == 200
            refused = await http.post("/advice", json=ask(QUESTION))
            assert refused.status_code == 429 and refused.headers["retry-after"] == "30"
            assert refused.headers["content-type"] == PROBLEM_MEDIA_TYPE
    finally:
        built.close()


async def test_a_requested_web_search_is_reported_unavailable_without_a_provider(
    client: httpx.AsyncClient,
) -> None:
    asked = (await advise(client, ask(QUESTION, enable_web_search=True))).advice
    whole = StructuredAdvice.model_validate(
        (await client.post("/advice-non-streaming", json=ask(QUESTION))).json()
    )

    assert asked.web_search is not None
    assert (asked.web_search.requested, asked.web_search.available) == (True, False)
    assert "WEB_SEARCH_PROVIDER" in asked.web_search.reason
    assert asked.sources  # the knowledge base was still searched
    assert whole.web_search is None  # not requested: not reported
