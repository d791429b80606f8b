"""The rules of `RunPlayground` (use_cases/evaluation/playground.py) on in-memory fakes and
FunctionModels: one question and one compiled prompt on several models side by side, each failing
alone, admins only, and nothing stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic_ai.exceptions import ModelUnavailableError
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

from tests.fakes import (
    InMemoryAuditLog,
    InMemoryPromptStore,
    InMemoryRetriever,
    SteppingClock,
    search_hit,
)
from use_cases.access.audit import RecordAudit
from use_cases.access.domain import Caller
from use_cases.chat.agent import CHAT_TURN, AgentLimits, build_agent
from use_cases.chat.prompts import SEARCH_TOOL
from use_cases.chat.tools import AgentDeps
from use_cases.evaluation.playground import PlaygroundPrompt, PlaygroundRequest, RunPlayground
from use_cases.prompts.domain import CHAT, PromptDefault, PromptTypes, ProviderInfo
from use_cases.prompts.manage_prompts import ManagePrompts
from use_cases.prompts.ports import ResolvedModel
from use_cases.shared.errors import ConfigurationError, Forbidden, InvalidRequest
from use_cases.shared.sampling import Sampling

ROOT = Caller("root", "admin", "key_root")
ANA = Caller("ana", "user", "key_ana")
HITS = [
    search_hit(1, "Password Policy", "Passwords have at least 14 characters."),
    search_hit(2, "Rotation Policy", "Passwords change only on compromise."),
]


class Models:
    """A `ModelResolver` over named FunctionModels; `unusable` ones fail as a model with no
    key does, and any other name is not allowed."""

    def __init__(self, models: dict[str, FunctionModel], unusable: tuple[str, ...] = ()) -> None:
        self._models = models
        self._unusable = unusable

    @property
    def default_identifier(self) -> str:
        return next(iter(self._models))

    @property
    def internal_default(self) -> str:
        return self.default_identifier

    @property
    def default_sources(self) -> tuple[tuple[str, str | None], ...]:
        return (("built-in", self.default_identifier),)

    @property
    def allowed(self) -> tuple[str, ...]:
        return tuple(self._models)

    def providers(self) -> list[ProviderInfo]:
        return []

    def resolve(self, requested: str | None) -> ResolvedModel:
        name = requested or self.default_identifier
        if name in self._unusable:
            raise ConfigurationError(f"{name} needs an API key.")
        if name not in self._models:
            raise InvalidRequest(f"Model {name} is not allowed.")
        return ResolvedModel(name, self._models[name])


def citing(number: int, seen: list[str]) -> FunctionModel:
    """Searches, then answers citing passage `number`; keeps the system prompts it got."""

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[Any]:
        seen.append(info.instructions or "")
        searched = any(
            isinstance(p, ToolReturnPart)
            for m in messages
            if isinstance(m, ModelRequest)
            for p in m.parts
        )
        if not searched:
            yield {
                0: DeltaToolCall(SEARCH_TOOL, '{"query": "password passwords"}', tool_call_id="s")
            }
            return
        yield f"The rule is in the policy [{number}]."

    return FunctionModel(stream_function=stream)


async def down(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
    raise ModelUnavailableError("test:down", "503 from the provider")
    yield ""  # pragma: no cover


class Prices:
    def cost_usd(self, model: str, input_tokens: int, output_tokens: int) -> float | None:
        return 0.5 if model == "test:a" else None


def playground(models: Models, store: InMemoryPromptStore | None = None) -> RunPlayground:
    clock = SteppingClock()
    types = PromptTypes(
        {
            CHAT: PromptDefault("You answer for {{team}}.", "built-in", revision="r1"),
            "advice": PromptDefault("You advise.", "built-in", revision="r1"),
        }
    )
    prompts = ManagePrompts(
        types, store or InMemoryPromptStore(), RecordAudit(InMemoryAuditLog(), clock), clock
    )
    return RunPlayground(
        build_agent(CHAT_TURN, limits=AgentLimits()),
        prompts,
        models,
        lambda: AgentDeps(retriever=InMemoryRetriever(HITS), sql=None, clock=clock),
        clock,
        AgentLimits(),
        pricing=Prices(),
    )


def ask(**extra: Any) -> PlaygroundRequest:
    values: dict[str, Any] = {
        "prompt": PlaygroundPrompt(template="You answer for the {{team}} team."),
        "question": "  How long must passwords be?  ",
        "variables": {"team": "Security"},
        "models": ["test:a", "test:b", "test:a"],
    }
    values.update(extra)
    return PlaygroundRequest(**values)


async def test_every_model_answers_the_same_compiled_prompt_side_by_side() -> None:
    seen: list[str] = []
    store = InMemoryPromptStore()
    models = Models({"test:a": citing(2, seen), "test:b": citing(1, seen)})
    sampling = Sampling(temperature=0.2)
    result = await playground(models, store).run(ROOT, ask(sampling=sampling))

    assert result.instructions == "You answer for the Security team."
    assert result.variables == {"team": "Security"} and result.source == "template"
    assert result.question == "How long must passwords be?"
    assert [r.model for r in result.results] == ["test:a", "test:b"]  # duplicates dropped
    assert all(s.startswith("You answer for the Security team.") for s in seen)
    first, second = result.results
    # Each answer's citations numbered from 1, with the passage it cited.
    assert first.output == second.output == "The rule is in the policy [1]."
    assert [(s.number, s.title) for s in first.sources] == [(1, "Rotation Policy")]
    assert [(s.number, s.title) for s in second.sources] == [(1, "Password Policy")]
    assert (first.cost_usd, second.cost_usd) == (0.5, None)
    assert first.sampling == second.sampling == result.sampling == sampling
    assert store.versions == {}  # nothing stored


async def test_a_model_that_fails_or_cannot_run_fails_alone() -> None:
    seen: list[str] = []
    models = Models(
        {
            "test:a": citing(1, seen),
            "test:down": FunctionModel(stream_function=down),
            "test:keyless": citing(1, seen),
        },
        unusable=("test:keyless",),
    )
    result = await playground(models).run(ROOT, ask(models=["test:a", "test:down", "test:keyless"]))
    answered, failed, keyless = result.results
    assert answered.error is None and answered.output
    assert failed.output is None and failed.error and "503" not in failed.error
    assert keyless.output is None and keyless.error == "test:keyless needs an API key."


async def test_bad_requests_are_refused_before_any_model_runs() -> None:
    seen: list[str] = []
    run = playground(Models({"test:a": citing(1, seen)}))
    with pytest.raises(Forbidden):
        await run.run(ANA, ask(models=["test:a"]))
    with pytest.raises(InvalidRequest, match="not allowed"):
        await run.run(ROOT, ask(models=["test:a", "test:nope"]))
    with pytest.raises(InvalidRequest, match="team"):
        await run.run(ROOT, ask(models=["test:a"], variables={}))
    with pytest.raises(InvalidRequest, match="chat prompts"):
        await run.run(ROOT, ask(models=["test:a"], prompt=PlaygroundPrompt("advice")))
    with pytest.raises(InvalidRequest, match="empty"):
        await run.run(ROOT, ask(models=["test:a"], question="  "))
    assert seen == []


async def test_the_prompt_in_force_and_a_stored_version_can_be_tried() -> None:
    seen: list[str] = []
    store = InMemoryPromptStore()
    run = playground(Models({"test:a": citing(1, seen)}), store)
    default = await run.run(ROOT, ask(prompt=PlaygroundPrompt(), models=[]))
    assert (default.source, default.version) == ("built-in", None)
    assert default.instructions == "You answer for Security."
    assert [r.model for r in default.results] == ["test:a"]  # the default model
    store.create_version(CHAT, "Draft for {{team}}.", "root", datetime.now(UTC), activate=False)
    draft = await run.run(ROOT, ask(prompt=PlaygroundPrompt(version=1), models=["test:a"]))
    assert (draft.source, draft.version, draft.instructions) == (
        "version",
        1,
        "Draft for Security.",
    )
    assert len(store.versions[CHAT]) == 1  # trying it stored nothing more
