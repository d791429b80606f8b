"""The agent's MCP tools (MCP_SERVERS, MCP_TOOLS_ALLOWED): the toolbox every turn's
dependencies carry, or None when no tool is allowed (`use_cases/chat/external_tools.py`)."""

from __future__ import annotations

import os

from backend.config import McpToolSettings
from services.chat.mcp_tools import McpServer, McpTools
from use_cases.chat.external_tools import ExternalLimits, ExternalToolbox, ExternalToolObserver
from use_cases.shared.errors import ConfigurationError


def external_toolbox(
    settings: McpToolSettings, observer: ExternalToolObserver
) -> ExternalToolbox | None:
    """The servers of MCP_SERVERS that MCP_TOOLS_ALLOWED names, their header and environment
    values read from the environment now (a variable that is not set stops the start-up,
    naming it); None when no tool is allowed."""
    allowed = settings.allowed_tool_list
    if not allowed:
        return None
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
    tools = McpTools(servers, allowed, timeout_s=settings.mcp_tool_timeout)
    limits = ExternalLimits(settings.mcp_tool_timeout, settings.mcp_tool_max_chars)
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
