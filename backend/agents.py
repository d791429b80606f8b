"""The agents of a process, built once for each kind of turn and its limits and shared by every
container made in it. An agent holds no state of a container: each run is handed its model,
its dependencies (stores, retriever, clock) and its instructions. Building one registers its
tools and output schema with PydanticAI (2-4 ms of CPU each, four a container): a server
builds them once either way, a test run makes thousands of containers."""

from __future__ import annotations

import functools
import threading
from typing import Any

from pydantic_ai import Agent

from use_cases.chat.agent import AgentLimits, TurnKind, build_agent
from use_cases.conversations.draft_agent import build_draft_agent, build_update_agent

__all__ = ["draft_agent", "turn_agent", "update_agent"]


_TURN_AGENTS: dict[tuple[str, AgentLimits], Agent[Any, Any]] = {}
_TURN_AGENTS_LOCK = threading.Lock()


def turn_agent(kind: TurnKind[Any, Any], limits: AgentLimits) -> Agent[Any, Any]:
    """`build_agent(kind, limits=limits)`, once per process (kinds are told apart by their
    name, which is also the agent's name in traces)."""
    with _TURN_AGENTS_LOCK:
        agent = _TURN_AGENTS.get((kind.name, limits))
        if agent is None:
            agent = _TURN_AGENTS[kind.name, limits] = build_agent(kind, limits=limits)
        return agent


@functools.cache
def draft_agent(limits: AgentLimits) -> Agent[Any, Any]:
    """`build_draft_agent(limits)`, once per process."""
    return build_draft_agent(limits)


@functools.cache
def update_agent(limits: AgentLimits) -> Agent[Any, Any]:
    """`build_update_agent(limits)`, once per process."""
    return build_update_agent(limits)
