"""The typed decisions of a turn, carried to the model and back as values.

What a turn decides before any model runs (`TurnDecisions`: declined with this answer, may
search, must search, may use tools) comes from its search-discipline decision
(`use_cases/chat/search_discipline.py`). What a model that composes its answer itself knows
about that answer (`AnswerFacts`: its confidence, whether it is the can't-find answer) comes
back the same way. Neither travels inside the conversation: no decision is written into the
instructions for a model to read back, and no fact rides on a response's `provider_details`
or on a tool call's id.

How they travel: a model that answers per turn implements `BindsTurns`. The turn binds it
(`bind_turn`) to its decisions before the run and gets a `TurnModel`: the model the run uses,
and, once the run has answered, the facts of its latest answer. Any other model (a hosted
LLM) is bound as it is and reports no facts; the turn reads what it needs from its output.
A declined turn never reaches a model in chat (`ChatTurns` answers it itself); a kind of turn
that still runs one for it (advice, for its structured output) hands the model the decline
in `TurnDecisions.declined`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from use_cases.chat.search_discipline import UNDECIDED, SearchPolicy

__all__ = [
    "NO_DECISIONS",
    "AnswerFacts",
    "BindsTurns",
    "TurnDecisions",
    "TurnModel",
    "bind_turn",
]


@dataclass(frozen=True)
class TurnDecisions:
    """What a turn decided before the model: `declined`, the answer of a declined
    (DISALLOWED) turn word for word (None otherwise); `allow_search` and `allow_tools`, which
    tools the run offers; `require_search`, an answer given before a search goes back."""

    declined: str | None = None
    allow_search: bool = True
    require_search: bool = False
    allow_tools: bool = True

    @classmethod
    def of(cls, policy: SearchPolicy) -> TurnDecisions:
        """The decisions a search policy stands for."""
        return cls(
            declined=policy.declined or None,
            allow_search=policy.allow_search,
            require_search=policy.require_search,
            allow_tools=policy.allow_tools,
        )


#: No decision made (tools, evaluation scripts): search allowed, nothing declined.
NO_DECISIONS = TurnDecisions.of(UNDECIDED)


@dataclass(frozen=True)
class AnswerFacts:
    """What a model reports about its final answer besides the text: `confidence`, its own
    estimate from the evidence (0..1); `not_found`, the answer is the can't-find answer
    (nothing relevant was found, said plainly)."""

    confidence: float
    not_found: bool


class TurnModel(Protocol):
    """A model bound to one turn."""

    @property
    def model(self) -> Any:
        """The PydanticAI model (or model name) the turn's run uses."""
        ...

    def answer_facts(self) -> AnswerFacts | None:
        """The facts of the latest answer the run produced; None before an answer, or for
        a model that reports none."""
        ...


@runtime_checkable
class BindsTurns(Protocol):
    """A model that answers per turn (the offline model): bound to a turn's decisions, it
    reports the facts of its answers."""

    def for_turn(self, decisions: TurnDecisions) -> TurnModel: ...


@dataclass(frozen=True)
class _Unbound:
    """A model that takes no decisions and reports no facts (a hosted LLM): it reads its
    instructions and answers in text."""

    model: Any

    def answer_facts(self) -> AnswerFacts | None:
        return None


def bind_turn(model: Any, decisions: TurnDecisions) -> TurnModel:
    """`model` bound to one turn with `decisions` (see the module docstring)."""
    if isinstance(model, BindsTurns):
        return model.for_turn(decisions)
    return _Unbound(model)
