"""The evaluation adapters: the LLM judge (FunctionModel, and the real OpenAI model over
respx-mocked HTTP) and genai-prices pricing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx
from openai import AsyncOpenAI
from pydantic_ai import models as ai_models
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from backend.config import Settings
from backend.features.evaluation import build_eval_judge
from services.chat.models import ModelConfig, PydanticAIModelResolver
from services.evaluation.judge import PydanticAIJudge
from services.evaluation.pricing import GenaiPricesPricing
from tests.conftest import make_settings
from tests.respx_httpcore2 import HTTPCore2Mocker  # noqa: F401 - registers the mocker
from use_cases.evaluation.assertions import AssertionSpec
from use_cases.evaluation.checks import check
from use_cases.evaluation.domain import CaseOutcome, EvalCase
from use_cases.shared.errors import ConfigurationError, UpstreamBadResponse, UpstreamUnavailable

COMPLETIONS = "https://api.openai.com/v1/chat/completions"


def _verdict_model(seen: list[str], *, correct: bool) -> FunctionModel:
    def reply(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        request = messages[-1]
        assert isinstance(request, ModelRequest)
        seen.append(str(request.parts[-1].content))  # type: ignore[union-attr]  # a prompt or a tool's return: both have content
        args = {"correct": correct, "reason": "It gives the 5-minute acknowledgement."}
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, args)])

    return FunctionModel(reply)


async def test_the_judge_returns_the_models_verdict_on_fenced_inputs() -> None:
    seen: list[str] = []
    judge = PydanticAIJudge(_verdict_model(seen, correct=True))
    verdict = await judge.judge("sev1 ack?", "Within 5 minutes [1].", ["5 minutes", "five"])
    assert verdict == (True, "It gives the 5-minute acknowledgement.")
    assert seen == [
        "<question>\nsev1 ack?\n</question>\n"
        "<expected>\n- 5 minutes\n- five\n</expected>\n"
        "<answer>\nWithin 5 minutes [1].\n</answer>"
    ]


async def test_the_llm_judge_assertion_uses_the_adapter() -> None:
    judge = PydanticAIJudge(_verdict_model([], correct=False))
    case = EvalCase("k1", "sev1 ack?", "kb", ("5 minutes",))
    result = await check(AssertionSpec("llm_judge"), case, CaseOutcome("Ten minutes."), judge)
    assert result.passed is False
    assert result.detail == "It gives the 5-minute acknowledgement."


@pytest.fixture
def mock_openai(monkeypatch: pytest.MonkeyPatch) -> Iterator[respx.Router]:
    monkeypatch.setattr(ai_models, "ALLOW_MODEL_REQUESTS", True)
    with respx.mock(using="httpcore2", assert_all_called=False) as router:
        yield router


def _openai_judge() -> PydanticAIJudge:
    client = AsyncOpenAI(api_key="sk-test", max_retries=0, timeout=5.0)
    model = OpenAIChatModel("gpt-4.1-mini", provider=OpenAIProvider(openai_client=client))
    return PydanticAIJudge(model, timeout_s=10.0)


def _tool_call(arguments: str) -> httpx.Response:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "final_result", "arguments": arguments},
    }
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4.1-mini",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                    "finish_reason": "tool_calls",
                }
            ],
            "usage": {"prompt_tokens": 90, "completion_tokens": 12, "total_tokens": 102},
        },
    )


async def test_the_judge_over_openai_reads_the_output_tool(mock_openai: respx.Router) -> None:
    route = mock_openai.post(COMPLETIONS).mock(
        return_value=_tool_call(json.dumps({"correct": True, "reason": "Matches."}))
    )
    assert await _openai_judge().judge("q?", "a", ["a"]) == (True, "Matches.")
    sent = json.loads(route.calls.last.request.content)
    assert "untrusted data" in sent["messages"][0]["content"]


@pytest.mark.parametrize(
    ("response", "error", "message"),
    [
        (
            httpx.Response(429, json={"error": {"message": "slow down"}}),
            UpstreamUnavailable,
            "rate",
        ),
        (httpx.Response(500, json={"error": {"message": "boom"}}), UpstreamUnavailable, "HTTP 500"),
        (_tool_call('{"verdict": "yes"}'), UpstreamBadResponse, "could not use"),
    ],
)
async def test_a_failing_judge_raises_a_domain_error_without_the_providers_text(
    mock_openai: respx.Router, response: httpx.Response, error: type[Exception], message: str
) -> None:
    mock_openai.post(COMPLETIONS).mock(return_value=response)
    with pytest.raises(error, match=message) as raised:
        await _openai_judge().judge("q?", "a", ["a"])
    assert "boom" not in str(raised.value) and "slow down" not in str(raised.value)


def test_prices_come_from_genai_prices_and_the_offline_model_is_free() -> None:
    pricing = GenaiPricesPricing()
    # gpt-4.1-mini: $0.40 per million input tokens, $1.60 per million output tokens
    assert pricing.cost_usd("openai:gpt-4.1-mini", 1_000_000, 0) == pytest.approx(0.4)
    assert pricing.cost_usd("openai:gpt-4.1-mini", 1000, 500) == pytest.approx(0.0012)
    assert pricing.cost_usd("offline-extractive", 10_000, 10_000) == 0.0
    assert pricing.cost_usd("openai:no-such-model", 10, 10) is None
    assert pricing.cost_usd("google-gla:gemini-2.0-flash", 1000, 500) == pytest.approx(0.0003)


def _resolver(settings: Settings) -> PydanticAIModelResolver:
    key = settings.providers.openai_api_key
    config = ModelConfig(
        default_model=None,
        allowed_models=(),
        openai_api_key=key.get_secret_value() if key else None,
        openai_base_url=None,
        timeout_s=5.0,
        max_retries=0,
    )
    return PydanticAIModelResolver(config, offline_factory=lambda: None)


def _judge(settings: Settings) -> object:
    return build_eval_judge(
        settings.evaluation, _resolver(settings), timeout_s=settings.models.agent_timeout
    )


def test_the_judge_is_built_from_eval_judge_model(tmp_path: Path) -> None:
    none = make_settings(tmp_path)
    assert _judge(none) is None
    # the judge need not be a model that chat requests may choose
    openai = make_settings(tmp_path, eval_judge_model="openai:gpt-4.1-mini", openai_api_key="sk")
    assert isinstance(_judge(openai), PydanticAIJudge)
    keyless = make_settings(tmp_path, eval_judge_model="openai:gpt-4.1-mini")
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        _judge(keyless)
    offline = make_settings(tmp_path, eval_judge_model="offline-extractive")
    with pytest.raises(ConfigurationError, match="cannot be offline-extractive"):
        _judge(offline)
