"""Chat: turns, chats, the abandoned-turn sweep, the search discipline, the response log
each turn writes to, and the MCP tools its model may call (`use_cases/chat`)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic_ai import Agent

from backend.agents import turn_agent
from backend.config import ChatSettings, McpToolSettings, RetrievalSettings
from backend.features import INTERNAL
from backend.features.adapters import Wiring
from backend.features.conversation_files import ConversationFileUseCases
from backend.features.prompts import PromptUseCases
from use_cases.access.domain import CLI_ADMIN
from use_cases.chat.agent import CHAT_TURN
from use_cases.chat.chat_turns import ChatTurns
from use_cases.chat.external_tools import (
    ExternalLimits,
    ExternalToolbox,
    ExternalToolObserver,
)
from use_cases.chat.manage_chats import ManageChats, SweepAbandonedTurns
from use_cases.chat.responses import RecordResponse
from use_cases.chat.search_discipline import DecideSearch
from use_cases.chat.tools import AgentDeps
from use_cases.confidence.estimator import rrf_score_ceiling
from use_cases.knowledge.collections import ResolveReadScope
from use_cases.prompts.domain import CHAT
from use_cases.shared.errors import ConfigurationError


@dataclass(frozen=True)
class ChatUseCases:
    chat: ChatTurns
    chats: ManageChats
    sweep_turns: SweepAbandonedTurns
    """Marks answers a dead process left `streaming` as `interrupted` (run periodically)."""
    search_discipline: DecideSearch
    record_response: RecordResponse = field(metadata=INTERNAL)
    """What a chat or advice turn calls once it has its answer (see `RecordResponse`)."""
    agent: Agent[AgentDeps, str] = field(metadata=INTERNAL)
    """The chat agent (the playground's runs use it too)."""
    agent_deps: Callable[[], AgentDeps] = field(metadata=INTERNAL)
    """A chat run's dependencies (the playground's runs too)."""
    external_tools: ExternalToolbox | None = field(default=None, metadata=INTERNAL)
    """The MCP tools an admin allowed (advice turns are offered them too)."""


def build(
    w: Wiring,
    prompts: PromptUseCases,
    files: ConversationFileUseCases | None = None,
    *,
    settings: ChatSettings,
    retrieval: RetrievalSettings,
    mcp_tools: McpToolSettings,
) -> ChatUseCases:
    a, clock = w.adapters, w.clock
    external = external_toolbox(mcp_tools, a.telemetry.metrics)
    readers = ResolveReadScope(a.collection_store)
    admin_narrow = functools.partial(readers.run, CLI_ADMIN)

    def agent_deps() -> AgentDeps:
        """A run's dependencies as an admin's (the playground's); a chat or advice turn binds
        the retriever and the search tool's filters to its reader."""
        return AgentDeps(
            retriever=a.observed_retriever,
            sql=a.sql,
            clock=clock,
            search_limit=retrieval.final_results_limit,
            offload=a.answer_pool.run,
            external=external,
            narrow=admin_narrow,
        )

    record_response = RecordResponse(
        a.response_log,
        a.calibration_store,
        clock,
        score_ceiling=rrf_score_ceiling(retrieval.rrf_k, retrieval.reranker_enabled),
    )
    agent = turn_agent(CHAT_TURN, w.limits)
    chat = ChatTurns(
        agent,
        a.history,
        prompts.chat_models,
        agent_deps,
        clock,
        w.limits,
        history_window=settings.history_window,
        instructions=lambda: prompts.prompts.instructions(CHAT),
        max_message_chars=settings.max_message_chars,
        responses=record_response,
        observer=a.telemetry.metrics,
        scope=files.scope if files is not None else None,
        readers=readers,
        answers=w.stored_answers(),
    )
    return ChatUseCases(
        chat=chat,
        chats=ManageChats(
            a.history,
            a.response_log,
            a.store,
            on_delete=files.forget_chat_files.execute if files is not None else None,
            readers=readers,
            tables=a.tables,
        ),
        sweep_turns=SweepAbandonedTurns(
            a.history, clock, turn_limit_s=a.models.longest_turn_s(w.limits.timeout_s)
        ),
        search_discipline=DecideSearch(w.web_search, max_query_chars=settings.max_message_chars),
        record_response=record_response,
        agent=agent,
        agent_deps=agent_deps,
        external_tools=external,
    )


def external_toolbox(
    settings: McpToolSettings, observer: ExternalToolObserver
) -> ExternalToolbox | None:
    """The servers of MCP_SERVERS that MCP_TOOLS_ALLOWED names, their header and environment
    values read from the environment now (a variable that is not set stops the start-up,
    naming it); None when no tool is allowed."""
    allowed = settings.allowed_tool_list
    if not allowed:
        return None
    # Imported here: the MCP SDK costs every process that imports it ~1 s of start-up.
    from services.chat.mcp_tools import McpServer, McpTools

    named = {tool.partition("__")[0] for tool in allowed}
    servers = []
    for name, config in settings.server_configs.items():
        if name not in named:
            continue
        servers.append(
            McpServer(
                name=name,
                command=config.command,
                args=tuple(config.args),
                env={**config.env, **_from_environment(name, config.env_from_env)},
                url=config.url,
                headers=_from_environment(name, config.headers_from_env),
            )
        )
    tools = McpTools(servers, allowed, timeout_s=settings.timeout)
    limits = ExternalLimits(settings.timeout, settings.max_chars)
    return ExternalToolbox(tools, limits, observer)


def _from_environment(server: str, variables: dict[str, str]) -> dict[str, str]:
    values = {}
    for key, variable in variables.items():
        value = os.environ.get(variable)
        if value is None:
            raise ConfigurationError(
                f"MCP_SERVERS[{server!r}] takes {key} from the environment variable "
                f"{variable}, which is not set."
            )
        values[key] = value
    return values
