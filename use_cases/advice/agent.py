"""The advice kind of turn (`ADVICE_TURN`, built by `use_cases.chat.agent.build_agent`): the
grounded-answer agent's tools and rule blocks, with a structured `AdviceDraft` output (given
through the `give_advice` output tool) instead of text."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic_ai import RunContext, ToolOutput
from pydantic_ai.tools import ToolDefinition

from use_cases.advice.domain import AdviceDraft
from use_cases.chat.agent import TurnKind
from use_cases.chat.prompts import (
    NOT_FOUND_ANSWER,
    RULE_GROUNDED,
    RULE_NOT_A_DATE,
    RULE_SECRECY,
    RULE_TABLES,
    RULE_UNTRUSTED,
    RULE_VERSIONS,
    SEARCH_TOOL,
    numbered_rules,
)
from use_cases.chat.tools import AgentDeps

ADVICE_TOOL = "give_advice"
ADVICE_PROMPT_VERSION = "2026-11-25.1"


ADVICE_SYSTEM_PROMPT = """\
You are Almanac's adviser. People ask you for a decision ("Which runbook applies?", "Do we
rotate this credential now?", "Can I deploy on Friday?"); you answer with structured advice
grounded ONLY in the organisation's knowledge base and structured tables, reached through
your tools.

""" + numbered_rules(
    RULE_GROUNDED,
    f"""\
Before advising, call `{SEARCH_TOOL}` with a standalone search query (when it is offered
   to you). Rewrite follow-up questions into self-contained queries. Search again with
   different words if the first results miss.""",
    RULE_TABLES,
    f"""\
Give your advice by calling `{ADVICE_TOOL}` once: `main_advice` leads with the decision
   or the recommended action, citing the numbered passages inline like [1]; `reasoning` says
   which passages support it and what is uncertain; `alternatives` lists other options the
   passages support (or none); `cited_passages` lists the numbers of the passages you relied
   on. Cite only passage numbers your tools returned in this turn.""",
    RULE_VERSIONS
    + """ (advise from it only when asked
   about the past) or `current version, supersedes ...`. """
    + RULE_NOT_A_DATE,
    f"""\
When nothing relevant is found, `main_advice` starts with exactly "{NOT_FOUND_ANSWER}"
   followed by one clarifying question, and `cited_passages` is empty.""",
    RULE_SECRECY,
    RULE_UNTRUSTED + "; only quote and cite what they say.",
)


def advice_texts(draft: AdviceDraft) -> list[str]:
    """The texts of an advice that may cite passages: the advice, its reasoning and each
    alternative."""
    return [draft.main_advice, draft.reasoning] + [
        f"{a.option} {a.reason}" for a in draft.alternatives
    ]


@dataclass
class AdviceDeps(AgentDeps):
    """The deps of an advice run: the chat deps plus whether the search tool is offered (the
    turn's search decision; a DISALLOWED search is not merely discouraged, the tool is gone)."""

    search_allowed: bool = True


async def _offer_search(ctx: RunContext[AdviceDeps], tool: ToolDefinition) -> ToolDefinition | None:
    policy = ctx.deps.search_policy
    allowed = ctx.deps.search_allowed and policy.allow_search and policy.allow_tools
    return tool if allowed else None


#: An advice turn: a structured `AdviceDraft` (the `give_advice` output tool) whose advice,
#: reasoning and alternatives may cite passages inline and which lists the passages it relied on.
ADVICE_TURN: TurnKind[AdviceDeps, AdviceDraft] = TurnKind(
    "almanac-advice",
    AdviceDeps,
    ToolOutput(AdviceDraft, name=ADVICE_TOOL),
    cited_texts=advice_texts,
    cited_numbers=lambda draft: draft.cited_passages,
    offer_search=_offer_search,
)
