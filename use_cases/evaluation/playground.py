"""The prompt playground: one question, one system prompt, several models, side by side.

Rules:
- Admins only (`Forbidden` otherwise): it runs any prompt text an admin writes.
- The prompt is a stored version of a prompt type (a draft or not), the prompt in force
  (`version` None), or an unsaved `template`. Only `chat` prompts are run: the playground
  runs the chat agent (grounded answers with citations); another registered type is
  `InvalidRequest`, an unknown type or version `NotFound`.
- The prompt is compiled with `compile_template` from the built-in variables (`today`) and
  the request's `variables` (which win over the built-in ones); a variable without a value is
  `InvalidRequest` naming it. An unsaved template is checked as a new version's text is.
- The question is checked as a chat message is (1 to `max_message_chars` characters).
- `models`: 1 to `MAX_PLAYGROUND_MODELS` names, duplicates dropped; none means the chat
  prompt type's default model. A model that may not be used (not allowed) is `InvalidRequest`
  for the whole request, before any model is called; a model that is allowed but cannot run
  (a missing provider package or key) is that model's `error` only.
- Every model answers the same turn, concurrently: the question (date-anchored, as a chat
  turn sends it) with no history, the search-discipline decision and tools a chat turn gets
  (with the same `search_override`), and the compiled prompt as its system prompt. Per
  model: the answer, the latency, the tokens, the cost (`Pricing`; None when the price is
  unknown), the sources the answer cites, and the error. A failing model never fails the
  others: its `error` says why (the domain error's detail, never the provider's raw text)
  and its `output` is None.
- The request's sampling settings (`use_cases/shared/sampling.py`) go to every model and come back
  with the result and each row, also where a model ignores them (the offline one does).
- Nothing is stored: no chat, no message, no response-log entry, no audit entry (a run
  changes nothing). An answer reciting the prompt is withheld as in chat.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from loguru import logger
from pydantic_ai import Agent
from pydantic_ai.run import AgentRunResult

from use_cases.access.domain import Caller, require_admin
from use_cases.chat.agent import AgentLimits, opening_search
from use_cases.chat.chat_turns import (
    MAX_MESSAGE_CHARS,
    REFUSAL_ANSWER,
    checked_question,
    turn_not_found,
)
from use_cases.chat.citations import checked_citations, cited_sources, numbered_answer
from use_cases.chat.decisions import TurnDecisions, TurnModel, bind_turn
from use_cases.chat.domain import Source, TokenUsage
from use_cases.chat.prompts import (
    INSTRUCTIONS_WITHHELD,
    anchored_prompt,
    leaks_instructions,
)
from use_cases.chat.search_discipline import decide
from use_cases.chat.tools import AgentDeps, deps_for_turn
from use_cases.chat.turn_runner import (
    AgentCall,
    TurnRecord,
    TurnRunner,
    TurnStarted,
    drain,
    token_usage,
)
from use_cases.evaluation.domain import Pricing
from use_cases.prompts.domain import CHAT
from use_cases.prompts.manage_prompts import ManagePrompts, clean_prompt_text
from use_cases.prompts.ports import ModelResolver, ResolvedModel
from use_cases.prompts.templates import builtin_variables, compile_template, template_variables
from use_cases.shared.clock import Clock
from use_cases.shared.errors import AlmanacError, InvalidRequest
from use_cases.shared.sampling import NO_SAMPLING, Sampling

__all__ = [
    "MAX_PLAYGROUND_MODELS",
    "MAX_VARIABLES",
    "ModelOutput",
    "PlaygroundPrompt",
    "PlaygroundRequest",
    "PlaygroundResult",
    "RunPlayground",
]


MAX_PLAYGROUND_MODELS = 8
MAX_VARIABLES = 50


@dataclass(frozen=True)
class PlaygroundPrompt:
    """Which prompt to try: a stored `version` of `prompt_type` (None: the prompt in force),
    or an unsaved `template` text."""

    prompt_type: str = CHAT
    version: int | None = None
    template: str | None = None


@dataclass(frozen=True)
class PlaygroundRequest:
    prompt: PlaygroundPrompt
    question: str
    variables: Mapping[str, str] = field(default_factory=dict)
    models: Sequence[str] = ()
    search_override: bool | None = None
    """As in chat: force (True) or forbid (False) the knowledge-base search."""
    sampling: Sampling = NO_SAMPLING
    """temperature, max_tokens, top_p, seed for every model (the offline one ignores them)."""


@dataclass(frozen=True)
class ModelOutput:
    """What one model answered (or why it did not: `error`)."""

    model: str
    output: str | None
    latency_ms: int
    input_tokens: int | None
    """None when the model's server reported no usage (unknown, not 0)."""
    output_tokens: int | None
    cost_usd: float | None
    sources: tuple[Source, ...]
    error: str | None = None
    sampling: Sampling = NO_SAMPLING
    """The sampling settings the model was run with (recorded even where ignored)."""


@dataclass(frozen=True)
class PlaygroundResult:
    prompt_type: str
    version: int | None
    """The stored version tried; None for an unsaved template or the default."""
    source: Literal["version", "template", "built-in", "setting"]
    variables: Mapping[str, str]
    """Every variable the prompt used, with the value it got."""
    instructions: str
    """The compiled system prompt the models were given."""
    question: str
    results: tuple[ModelOutput, ...]
    sampling: Sampling = NO_SAMPLING


DepsFactory = Callable[[], AgentDeps]


class RunPlayground:
    """Runs one question with one prompt on several models (see the module rules)."""

    def __init__(
        self,
        agent: Agent[AgentDeps, str],
        prompts: ManagePrompts,
        models: ModelResolver,
        deps_factory: DepsFactory,
        clock: Clock,
        limits: AgentLimits,
        *,
        pricing: Pricing | None = None,
        max_message_chars: int = MAX_MESSAGE_CHARS,
    ) -> None:
        self._runner = TurnRunner(agent, limits)
        self._prompts = prompts
        self._models = models
        self._deps_factory = deps_factory
        self._clock = clock
        self._pricing = pricing
        self._max_message_chars = max_message_chars

    async def run(self, caller: Caller, request: PlaygroundRequest) -> PlaygroundResult:
        require_admin(caller, "Running the prompt playground")
        question = checked_question(request.question, self._max_message_chars)
        names = _model_names(request.models)
        if len(request.variables) > MAX_VARIABLES:
            raise InvalidRequest(f"At most {MAX_VARIABLES} variables may be given.")
        text, version, source = await asyncio.to_thread(self._template, request.prompt)
        values = {**builtin_variables(self._clock.today()), **request.variables}
        instructions = compile_template(text, values)
        used = {name: values[name] for name in _used(text, values)}
        resolved = await asyncio.to_thread(self._resolve_all, names)
        outputs = await asyncio.gather(
            *(
                self._one(
                    label, model, question, instructions, request.search_override, request.sampling
                )
                for label, model in resolved
            )
        )
        return PlaygroundResult(
            prompt_type=request.prompt.prompt_type,
            version=version,
            source=source,
            variables=used,
            instructions=instructions,
            question=question,
            results=tuple(replace(output, sampling=request.sampling) for output in outputs),
            sampling=request.sampling,
        )

    # --- steps ----------------------------------------------------------------------------

    def _template(
        self, prompt: PlaygroundPrompt
    ) -> tuple[str, int | None, Literal["version", "template", "built-in", "setting"]]:
        known = self._prompts.template(prompt.prompt_type, None)  # NotFound for a bad type
        if prompt.prompt_type != CHAT:
            raise InvalidRequest(
                f"The playground runs chat prompts; {prompt.prompt_type!r} prompts are not "
                "run here."
            )
        if prompt.template is not None:
            if prompt.version is not None:
                raise InvalidRequest("Give either a prompt version or a template, not both.")
            return clean_prompt_text(prompt.template), None, "template"
        chosen = known if prompt.version is None else self._prompts.template(CHAT, prompt.version)
        return chosen.text, chosen.version, chosen.source

    def _resolve_all(self, names: Sequence[str]) -> list[tuple[str, ResolvedModel | Exception]]:
        """Each model resolved, or the error that keeps it from running. A model that is not
        allowed raises at once: nothing has run yet."""
        resolved: list[tuple[str, ResolvedModel | Exception]] = []
        requested: Sequence[str | None] = names or [None]
        for name in requested:
            try:
                model = self._models.resolve(name)
            except InvalidRequest:
                raise
            except AlmanacError as exc:
                resolved.append((name or self._models.default_identifier, exc))
                continue
            resolved.append((model.identifier, model))
        return resolved

    async def _one(
        self,
        label: str,
        model: ResolvedModel | Exception,
        question: str,
        instructions: str,
        search_override: bool | None,
        sampling: Sampling,
    ) -> ModelOutput:
        started = time.perf_counter()
        try:
            if isinstance(model, Exception):
                raise model
            decision = decide(question, search_override)
            deps = deps_for_turn(replace(self._deps_factory(), instructions=instructions), decision)
            decisions = TurnDecisions.of(deps.search_policy)
            bound = None if decisions.declined else bind_turn(model.model, decisions)
            call = AgentCall(
                prompt=anchored_prompt(decision.question, self._clock.today()),
                history=[],
                model=bound.model if bound is not None else None,
                deps=deps,
                sampling=sampling,
                opening_search=opening_search(model, deps.search_policy, decision.question),
                timeout_s=model.turn_timeout_s,
                fixed_answer=decisions.declined,  # declined as a chat turn is: no model
            )
            turn = _PlaygroundTurn(deps, bound)
            answer, usage, sources = await drain(
                self._runner.run(call, TurnStarted("", label), turn)
            )
        except AlmanacError as exc:
            return _failed(label, exc.detail, started)
        except Exception:
            logger.exception("A playground run of {} failed unexpectedly", label)
            return _failed(label, "The answer could not be produced (internal error).", started)
        return ModelOutput(
            model=label,
            output=answer,
            latency_ms=_elapsed_ms(started),
            input_tokens=usage.input_tokens if usage.reported else None,
            output_tokens=usage.output_tokens if usage.reported else None,
            cost_usd=self._cost(label, usage) if usage.reported else None,
            sources=sources,
        )

    def _cost(self, model: str, usage: TokenUsage) -> float | None:
        if self._pricing is None:
            return None
        return self._pricing.cost_usd(model, usage.input_tokens, usage.output_tokens)


_Answer = tuple[str, TokenUsage, tuple[Source, ...]]


@dataclass
class _PlaygroundTurn:
    """The `TurnHandler` of a playground turn: it keeps the answer and stores nothing. Its
    can't-find answer is decided as a chat turn's is (`turn_not_found`: the model's fact, or a
    hosted model's text), so the two cite alike."""

    deps: AgentDeps
    bound: TurnModel | None

    async def complete(self, run: AgentRunResult[str], record: TurnRecord) -> _Answer:
        answer = run.output
        if leaks_instructions(answer, self.deps.instructions):
            answer = INSTRUCTIONS_WITHHELD
        facts = self.bound.answer_facts() if self.bound is not None else None
        not_found = turn_not_found(answer, self.bound, facts)
        answer, _ = checked_citations(answer, self.deps.citations)
        cited = cited_sources(answer, self.deps.citations, not_found=not_found)
        answer, sources = numbered_answer(answer, cited)
        return answer, token_usage(run), sources

    async def refuse(self, record: TurnRecord) -> _Answer:
        return REFUSAL_ANSWER, TokenUsage(), ()

    def abandon(self, record: TurnRecord, status: Literal["interrupted", "failed"]) -> None:
        return None


def _model_names(models: Sequence[str]) -> list[str]:
    names = list(dict.fromkeys(m.strip() for m in models if m.strip()))
    if len(names) > MAX_PLAYGROUND_MODELS:
        raise InvalidRequest(
            f"{len(names)} models were given; the playground runs at most "
            f"{MAX_PLAYGROUND_MODELS} at once."
        )
    return names


def _used(text: str, values: Mapping[str, str]) -> list[str]:
    return [name for name in template_variables(text) if name in values]


def _failed(label: str, detail: str, started: float) -> ModelOutput:
    return ModelOutput(
        model=label,
        output=None,
        latency_ms=_elapsed_ms(started),
        input_tokens=0,
        output_tokens=0,
        cost_usd=None,
        sources=(),
        error=detail,
    )


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
