"""Project drafts with an OpenAI model: the real OpenAI SDK and PydanticAI model, HTTP mocked
with respx at the httpcore2 layer (PITFALLS). The drafting turn's structured output is the
`write_project_draft` tool call; an update turn's `update_project_draft` call is applied as a
new version; a provider failure writes nothing."""

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
from tests.conftest import FixedClock, make_settings
from tests.respx_httpcore2 import HTTPCore2Mocker  # noqa: F401 - registers the mocker
from use_cases.chat.domain import NewMessage
from use_cases.conversations.draft_agent import DRAFT_TOOL, UPDATE_TOOL
from use_cases.conversations.drafts import DraftRequest, DraftTurnRequest
from use_cases.shared.errors import UpstreamUnavailable

COMPLETIONS = "https://api.openai.com/v1/chat/completions"
MODEL = "openai:gpt-4.1-mini"


@pytest.fixture(scope="module")
def container(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    settings = make_settings(
        Path(tmp_path_factory.mktemp("drafts-openai")),
        openai_api_key="sk-test",
        allowed_models=f"{MODEL},offline-extractive",
        provider_max_retries=0,
        provider_timeout=5.0,
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


def completion(message: dict[str, Any], finish: str) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "gpt-4.1-mini",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 300, "completion_tokens": 40, "total_tokens": 340},
        },
    )


def tool_call(name: str, args: dict[str, Any]) -> httpx.Response:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(args)},
    }
    return completion({"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls")


def text(content: str) -> httpx.Response:
    return completion({"role": "assistant", "content": content}, "stop")


def a_conversation(container: Container) -> tuple[str, str]:
    history = container.adapters.history
    history.ensure_user("ana")
    chat = history.get_or_create_chat(None, "ana", "Plan the office move")
    first = history.append_message(chat.id, NewMessage("user", "We must move by June."))
    return chat.id, first.id


async def test_the_model_drafts_through_the_output_tool_and_updates_through_its_tool(
    container: Container, mock_openai: respx.Router
) -> None:
    chat_id, message_id = a_conversation(container)
    drafted = {
        "title": "Office move",
        "description": "Move the office.",
        "goals": ["Move by June"],
        "milestones": [{"title": "Pick movers", "due": "2027-04-01"}],
        "open_questions": [],
        "sources": [{"message_id": message_id, "quote": "We must move by June."}],
    }
    route = mock_openai.post(COMPLETIONS).mock(return_value=tool_call(DRAFT_TOOL, drafted))
    state = await container.conversation_drafts.draft_project.execute(
        DraftRequest("ana", chat_id, model=MODEL)
    )
    assert state.version.model == MODEL and state.version.content.title == "Office move"
    sent = json.loads(route.calls[0].request.content)
    assert [t["function"]["name"] for t in sent["tools"]] == [DRAFT_TOOL]
    prompt = next(m for m in sent["messages"] if m["role"] == "user")["content"]
    assert message_id in prompt and "We must move by June." in prompt

    patch = {"add_milestones": [{"title": "Beta", "due": "2027-03-01"}], "note": "Added beta."}
    route = mock_openai.post(COMPLETIONS).mock(
        side_effect=[tool_call(UPDATE_TOOL, patch), text("I added the beta milestone.")]
    )
    turn = await container.conversation_drafts.update_draft.execute(
        DraftTurnRequest("ana", chat_id, "add a milestone: beta by 2027-03-01", model=MODEL)
    )
    assert turn.reply == "I added the beta milestone."
    assert [(v.number, v.note, v.model) for v in turn.versions] == [(2, "Added beta.", MODEL)]
    assert [m.title for m in turn.state.version.content.milestones] == ["Pick movers", "Beta"]
    first, second = (json.loads(call.request.content) for call in route.calls[-2:])
    assert [t["function"]["name"] for t in first["tools"]] == [UPDATE_TOOL]
    assert any(m["role"] == "tool" and "Applied" in m["content"] for m in second["messages"])


async def test_a_provider_failure_writes_no_version(
    container: Container, mock_openai: respx.Router
) -> None:
    chat_id, _ = a_conversation(container)
    mock_openai.post(COMPLETIONS).mock(return_value=httpx.Response(503, json={"error": {}}))
    with pytest.raises(UpstreamUnavailable):
        await container.conversation_drafts.draft_project.execute(
            DraftRequest("ana", chat_id, model=MODEL)
        )
    assert container.adapters.project_draft_store.get_draft(chat_id) is None
