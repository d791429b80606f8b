"""The PydanticAI toolset of outside tools (the rules: `use_cases/chat/external_tools.py`)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from pydantic_ai import RunContext
from pydantic_ai.messages import ToolReturn
from pydantic_ai.tools import ToolDefinition
from pydantic_ai.toolsets import AbstractToolset
from pydantic_ai.toolsets.abstract import ToolsetTool
from pydantic_core import SchemaValidator, core_schema

from use_cases.chat.external_tools import (
    ExternalCall,
    ExternalOutcome,
    ExternalTool,
    fenced_result,
    without_instructions,
)
from use_cases.chat.tools import AgentDeps

__all__ = ["ExternalToolset"]

_ANY_ARGUMENTS = SchemaValidator(core_schema.dict_schema(core_schema.str_schema()))


class ExternalToolset(AbstractToolset[AgentDeps]):
    """The outside tools of a run's toolbox, as PydanticAI tools (see the module rules)."""

    @property
    def id(self) -> str:
        return "external"

    async def get_tools(self, ctx: RunContext[AgentDeps]) -> dict[str, ToolsetTool[AgentDeps]]:
        box = ctx.deps.external
        if box is None or not ctx.deps.search_policy.allow_tools:
            return {}
        return {
            tool.name: _ExternalToolsetTool(
                toolset=self,
                tool_def=ToolDefinition(
                    name=tool.name,
                    description=without_instructions(tool.description),
                    parameters_json_schema=dict(tool.parameters),
                ),
                max_retries=1,
                args_validator=_ANY_ARGUMENTS,
                tool=tool,
            )
            for tool in await box.tools.list_tools()
        }

    async def call_tool(
        self,
        name: str,
        tool_args: dict[str, Any],
        ctx: RunContext[AgentDeps],
        tool: ToolsetTool[AgentDeps],
    ) -> ToolReturn:
        box = ctx.deps.external
        assert box is not None and isinstance(tool, _ExternalToolsetTool)  # offered above
        outside, limits = tool.tool, box.limits
        started = time.monotonic()
        outcome: ExternalOutcome
        cut_from: int | None = None
        try:
            async with asyncio.timeout(limits.timeout_s):
                reply = await box.tools.call(outside, tool_args, max_chars=limits.max_chars)
        except TimeoutError:
            outcome, text = "timeout", f"The tool did not answer within {limits.timeout_s:g} s."
        except Exception as exc:  # the other server's failure is the model's to read
            outcome, text = "failed", f"The tool could not be called: {str(exc)[:300]}"
        else:
            outcome = "error" if reply.is_error else "ok"
            text = reply.text[: limits.max_chars]
            if reply.total_chars > len(text):
                cut_from = reply.total_chars
        seconds = time.monotonic() - started
        box.observer.external_tool_called(
            ExternalCall(
                outside.server, outside.tool, outcome, seconds, len(text), cut_from is not None
            )
        )
        if outcome == "error":
            text = f"The tool reported an error: {text}"
        return ToolReturn(
            return_value=fenced_result(outside, text, cut_from=cut_from),
            metadata={
                "external": {
                    "server": outside.server,
                    "tool": outside.tool,
                    "outcome": outcome,
                    "cut": cut_from is not None,
                }
            },
        )


@dataclass(kw_only=True)
class _ExternalToolsetTool(ToolsetTool[AgentDeps]):
    tool: ExternalTool
