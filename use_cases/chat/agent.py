"""The builder of the grounded-answer agent: a PydanticAI agent whose dependencies are ports.

One builder makes the agent of every kind of turn: `build_agent(kind)`, where a `TurnKind` says
what differs (output type, which texts may cite, the search tool's `prepare` hook): `CHAT_TURN`
here, `ADVICE_TURN` in `use_cases/advice/agent.py` (a structured output instead of text). Every
agent gets the same instructions (the run's system prompt, from `use_cases/chat/prompts.py`, then
the structured tables, then the search policy's), the same two tools (`use_cases/chat/tools.py`)
and two output validators: an output citing a passage number no tool returned goes back to the
model once (`use_cases/chat/citations.py` says what happens to a citation after that), and the
search policy's "search first": when search is required an answer given before any search in
this run goes back to the model as a retry; if the model still has not searched when its output
retries run out, the answer is replaced by `SEARCH_REQUIRED_ANSWER`, never an ungrounded one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic_ai import Agent, ModelRetry, RunContext
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart, UserPromptPart
from pydantic_ai.tools import ToolDefinition

from use_cases.chat.citations import invented_citations, invented_citations_retry
from use_cases.chat.external_tools import EXTERNAL_TOOLS_RULE
from use_cases.chat.external_toolset import ExternalToolset
from use_cases.chat.prompts import (
    SEARCH_FIRST,
    SEARCH_REQUIRED_ANSWER,
    SEARCH_TOOL,
    SQL_TOOL,
    tables_for,
)
from use_cases.chat.search_discipline import SearchPolicy
from use_cases.chat.tools import (
    AgentDeps,
    lookup_structured_data,
    offer_lookup,
    offer_search,
    search_knowledge_base,
)
from use_cases.prompts.ports import ResolvedModel

__all__ = [
    "CHAT_TURN",
    "AgentLimits",
    "TurnKind",
    "build_agent",
    "install_search_policy",
    "opening_search",
    "searched_this_run",
]


@dataclass(frozen=True)
class AgentLimits:
    request_limit: int = 8
    tool_retries: int = 2
    output_retries: int = 1
    timeout_s: float = 60.0


DepsT = TypeVar("DepsT", bound=AgentDeps)
OutputT = TypeVar("OutputT")


def _cites_nothing(output: object) -> Sequence[int]:
    return ()


@dataclass(frozen=True)
class TurnKind(Generic[DepsT, OutputT]):
    """What makes one kind of turn (chat, advice) different; everything else is shared.

    `output_type`: PydanticAI's output (text, or a structured output tool); `cited_texts`:
    the texts of an output that may cite passages inline ([n]); `cited_numbers`: passages an
    output cites outside its text; `offer_search`: the `prepare` hook of the search tool.
    The system prompts are built from the shared rule blocks (`use_cases/chat/prompts.py`);
    the turns' stream encoders are the presentation layer's (chat's in
    `backend/api/streams.py`)."""

    name: str
    deps_type: type[DepsT]
    output_type: Any
    cited_texts: Callable[[OutputT], list[str]]
    offer_search: Callable[..., Awaitable[ToolDefinition | None]]
    cited_numbers: Callable[[OutputT], Sequence[int]] = _cites_nothing


def build_agent(kind: TurnKind[DepsT, OutputT], *, limits: AgentLimits) -> Agent[DepsT, OutputT]:
    """The agent of one kind of turn. It has no model and no fixed prompt of its own: each run
    names the model resolved for its request, and its instructions are the run's system
    prompt (`AgentDeps.instructions`, read per turn so a new prompt version applies to the
    next request), then the description of the structured tables, then the search policy's.
    Its tools are the same for every kind, and the outside tools of a run's toolbox
    (`use_cases/chat/external_toolset.py`). An output citing a passage number no tool
    returned in this turn goes back to the model once, as a retry."""
    agent: Agent[DepsT, OutputT] = Agent(
        deps_type=kind.deps_type,
        output_type=kind.output_type,
        retries={"tools": limits.tool_retries, "output": limits.output_retries},
        name=kind.name,
        toolsets=[ExternalToolset()],  # other servers' tools, when a run has them
    )

    @agent.instructions
    async def _system_prompt(ctx: RunContext[DepsT]) -> str:
        return ctx.deps.instructions

    @agent.instructions
    def _tables(ctx: RunContext[DepsT]) -> str:
        return tables_for(ctx.deps.sql)

    @agent.instructions
    def _external_tools(ctx: RunContext[DepsT]) -> str:
        offered = ctx.deps.external is not None and ctx.deps.search_policy.allow_tools
        return EXTERNAL_TOOLS_RULE if offered else ""

    agent.tool(name=SEARCH_TOOL, prepare=kind.offer_search)(search_knowledge_base)
    agent.tool(name=SQL_TOOL, prepare=offer_lookup)(lookup_structured_data)
    install_search_policy(agent)  # type: ignore[arg-type]  # every DepsT is an AgentDeps

    @agent.output_validator
    async def _cites_real_passages(ctx: RunContext[DepsT], output: OutputT) -> OutputT:
        # On the last attempt the output is kept; the turn removes what it still invents
        # (`without_citations`; advice: `checked_draft`) and lowers its confidence.
        if ctx.partial_output or ctx.retry >= ctx.max_retries:
            return output
        citations = ctx.deps.citations
        invented = invented_citations(kind.cited_texts(output), citations)
        if invented:
            raise ModelRetry(invented_citations_retry(invented, citations))
        known = {c.number for c in citations}
        unknown = sorted(set(kind.cited_numbers(output)) - known)
        if unknown:
            shown = ", ".join(f"[{n}]" for n in unknown)
            offered = ", ".join(f"[{n}]" for n in sorted(known)) or "none"
            raise ModelRetry(
                f"Passage(s) {shown} were not returned by a tool in this turn (returned: "
                f"{offered}). Cite only those, or search first."
            )
        return output

    return agent


def opening_search(resolved: ResolvedModel, policy: SearchPolicy, question: str) -> str | None:
    """The query Almanac searches with before the model answers (`AgentCall.opening_search`):
    the question, when the turn must search and the model is one whose required search Almanac
    runs itself (`ResolvedModel.searches_first`); else None (the model searches, and the
    "search first" validator holds it to it)."""
    searching = policy.require_search and policy.allow_search and policy.allow_tools
    if resolved.searches_first and searching:
        return question
    return None


def searched_this_run(messages: Sequence[ModelMessage]) -> bool:
    """Whether a knowledge-base search returned (hits or none) since the latest user prompt."""
    for message in reversed(messages):
        if not isinstance(message, ModelRequest):
            continue
        for part in message.parts:
            if (
                isinstance(part, ToolReturnPart)
                and part.tool_name == SEARCH_TOOL
                and part.outcome == "success"
            ):
                return True
        if any(isinstance(part, UserPromptPart) for part in message.parts):
            return False
    return False


def install_search_policy(agent: Agent[AgentDeps, Any]) -> None:
    """Add the search policy's instructions and its "search first" output validator to `agent`
    (any output type; a non-text output that still has not searched fails the run)."""

    @agent.instructions
    async def _search_policy(ctx: RunContext[AgentDeps]) -> str:
        return ctx.deps.search_policy.instructions

    @agent.output_validator
    async def _search_first(ctx: RunContext[AgentDeps], output: Any) -> Any:
        policy = ctx.deps.search_policy
        if not policy.require_search or ctx.partial_output or searched_this_run(ctx.messages):
            return output
        if ctx.retry >= ctx.max_retries and isinstance(output, str):
            return SEARCH_REQUIRED_ANSWER
        raise ModelRetry(SEARCH_FIRST)


#: A chat turn: a text answer citing passages inline.
CHAT_TURN: TurnKind[AgentDeps, str] = TurnKind(
    "almanac", AgentDeps, str, cited_texts=lambda answer: [answer], offer_search=offer_search
)
