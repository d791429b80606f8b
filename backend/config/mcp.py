"""Tools of other MCP servers offered to the agent's models."""

from __future__ import annotations

import json
import re

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from backend.config.base import SettingsGroup


class McpServerConfig(BaseModel):
    """One MCP server of MCP_SERVERS: a local command (stdio) or a streamable-HTTP URL."""

    model_config = ConfigDict(extra="forbid")

    command: str | None = Field(None, min_length=1, description="The program to start (stdio).")
    args: list[str] = Field(default_factory=list, description="Its arguments.")
    env: dict[str, str] = Field(
        default_factory=dict, description="Variables set for it (not secrets: see env_from_env)."
    )
    env_from_env: dict[str, str] = Field(
        default_factory=dict,
        description="Its variables taken from Almanac's environment: its name -> the variable.",
    )
    url: str | None = Field(None, pattern=r"^https?://", description="Its streamable-HTTP URL.")
    headers_from_env: dict[str, str] = Field(
        default_factory=dict,
        description="HTTP headers taken from Almanac's environment: header -> the variable "
        "holding its value (e.g. Authorization -> LINEAR_MCP_AUTH), so no secret is written "
        "in MCP_SERVERS.",
    )

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError("give either `command` (stdio) or `url` (streamable HTTP)")
        if self.url is None and self.headers_from_env:
            raise ValueError("`headers_from_env` is for a `url` server")
        if self.command is None and (self.args or self.env or self.env_from_env):
            raise ValueError("`args`, `env` and `env_from_env` are for a `command` server")
        return self


#: An MCP server's name in MCP_SERVERS: it prefixes its tools' names (`server__tool`).
MCP_SERVER_NAME = r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$"


class McpToolSettings(SettingsGroup):
    """Tools of other MCP servers offered to the agent's models beside search and SQL
    (docs/mcp.md). The offline model never calls them."""

    model_config = ConfigDict(title="MCP tools for the agent")

    servers: str = Field("", max_length=20_000, description='MCP servers whose tools the agent may call: a JSON object of name -> {"command", "args", "env", "env_from_env"} (stdio) or {"url", "headers_from_env"} (streamable HTTP, each header\'s value read from the variable named). Names are letters, digits and hyphens; their tools are offered as NAME__TOOL. Empty: none.', validation_alias="mcp_servers")  # noqa: E501  # fmt: skip
    allowed: str = Field(
        "",
        max_length=20_000,
        description="Comma-separated tools of MCP_SERVERS the agent may call, as SERVER__TOOL, "
        "or SERVER__* for all of one server's tools. A tool not listed is never offered. "
        "Empty: none.",
        validation_alias="mcp_tools_allowed",
    )
    timeout: float = Field(
        10.0,
        gt=0,
        le=600,
        description="Seconds one MCP tool call may take, connecting included (and listing a "
        "server's tools); past it the call is abandoned and the model told so.",
        validation_alias="mcp_tool_timeout",
    )
    max_chars: int = Field(
        20_000,
        ge=100,
        le=1_000_000,
        description="Characters of one MCP tool result the model reads; the rest is cut, and "
        "the model told how much.",
        validation_alias="mcp_tool_max_chars",
    )

    @field_validator("servers")
    @classmethod
    def _servers_parse(cls, value: str) -> str:
        if value.strip():
            cls.parse_servers(value)
        return value

    @model_validator(mode="after")
    def _allowed_tools_name_servers(self) -> McpToolSettings:
        servers = self.server_configs
        for name in self.allowed_tool_list:
            server, sep, tool = name.partition("__")
            if not sep or not tool:
                raise ValueError(f"MCP_TOOLS_ALLOWED: {name!r} is not SERVER__TOOL")
            if server not in servers:
                raise ValueError(f"MCP_TOOLS_ALLOWED: {name!r} names no server of MCP_SERVERS")
        return self

    @staticmethod
    def parse_servers(value: str) -> dict[str, McpServerConfig]:
        try:
            raw = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"MCP_SERVERS is not JSON: {exc.msg} at character {exc.pos}") from None
        if not isinstance(raw, dict):
            raise ValueError("MCP_SERVERS must be a JSON object of name -> server")
        servers = {}
        for name, config in raw.items():
            if not re.fullmatch(MCP_SERVER_NAME, name):
                raise ValueError(
                    f"MCP_SERVERS: {name[:40]!r} is not a server name (letters, digits and "
                    "hyphens, at most 32)"
                )
            try:
                servers[name] = McpServerConfig.model_validate(config)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(part) for part in first["loc"])
                message = str(first["msg"]).removeprefix("Value error, ")
                raise ValueError(
                    f"MCP_SERVERS[{name!r}]: {where + ': ' if where else ''}{message}"
                ) from None
        return servers

    @property
    def server_configs(self) -> dict[str, McpServerConfig]:
        return self.parse_servers(self.servers) if self.servers.strip() else {}

    @property
    def allowed_tool_list(self) -> tuple[str, ...]:
        return tuple(t.strip() for t in self.allowed.split(",") if t.strip())
