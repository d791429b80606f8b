"""Stream encodings of a chat turn, and the helpers every streaming route shares.

- `encode_data_stream_v4`: the Vercel AI SDK data stream protocol v4 (`0:` text, `9:` tool
  call, `a:` tool result, `2:` data, `3:` error, `e:` finish step, `d:` finish message, and
  `f:` start step). PydanticAI has no v4 encoder, so it is written here.
- `encode_ui_message_stream`: the v5+ UI message stream, through PydanticAI's own
  `VercelAIEventStream`; our turn metadata rides along as a `data-almanac` part.

Both read the typed events of a chat turn (`use_cases.chat.chat_turns.ChatEvent`) and the stored
`ChatResult`; they record nothing themselves (tool calls are recorded by the turn core). The
answer's fields in their data part are `backend.api.answers.turn_data`'s.

Shared by the streaming routes (chat, advice, a conversation import, the draft chat):
`started` runs a stream to its first event before the response begins (bad input is a problem
response, not an error mid-stream), `ClosingStreamingResponse` closes the stream when the
client leaves, and `V4_HEADERS`, `UI_HEADERS` and `SSE_HEADERS` are their headers.

`paced_chat` (and `Pacer`, which the advice stream uses too) sends a text delta that holds
several words a word at a time, `STREAM_WORD_DELAY_MS` apart, so an answer that arrives whole
(the offline model composes a sentence at once) is seen being written. A provider streaming a
word per delta is not slowed, and no answer is paced for more than `PACING_BUDGET_S`.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar, cast

import anyio
from pydantic_ai.messages import (
    AgentStreamEvent,
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
)
from pydantic_ai.run import AgentRunResultEvent
from pydantic_ai.ui.vercel_ai import VercelAIEventStream
from pydantic_ai.ui.vercel_ai.response_types import DataChunk
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from backend.api.answers import turn_data
from use_cases.chat.chat_turns import ChatEvent, ChatResult
from use_cases.chat.turn_runner import TurnFailed, TurnFinished, TurnStarted, tool_result_text

Event = TypeVar("Event")

V4_HEADERS = {"x-vercel-ai-data-stream": "v1", "cache-control": "no-cache"}

#: The longest one answer's stream is slowed down by pacing, in seconds.
PACING_BUDGET_S = 2.0
#: A word with the whitespace before it (and, for the last, the whitespace after it).
_WORD = re.compile(r"\s*\S+(?:\s+$)?")

if TYPE_CHECKING:
    from pydantic_ai.ui.vercel_ai.response_types import BaseChunk


@dataclass
class Pacer:
    """Splits the text of one answer's deltas into words, `delay_s` apart within a delta,
    until the answer has been paced for `budget_s` (then text goes as it comes)."""

    delay_s: float
    budget_s: float = PACING_BUDGET_S
    _spent: float = field(default=0.0, init=False)

    @classmethod
    def from_ms(cls, delay_ms: int) -> Pacer:
        return cls(delay_ms / 1000)

    async def pieces(self, text: str) -> AsyncGenerator[str, None]:
        paced = self.delay_s > 0 and self._spent < self.budget_s
        words = _WORD.findall(text) if paced else []
        if len(words) < 2 or "".join(words) != text:
            yield text
            return
        for index, word in enumerate(words):
            if index and self._spent < self.budget_s:
                started = time.perf_counter()
                await asyncio.sleep(self.delay_s)
                self._spent += time.perf_counter() - started
            if index and self._spent >= self.budget_s:
                yield "".join(words[index:])
                return
            yield word


async def paced_chat(
    events: AsyncGenerator[ChatEvent, None], pacer: Pacer
) -> AsyncGenerator[ChatEvent, None]:
    """The chat turn's events with its text deltas sent a word at a time (see the module)."""
    async with aclosing(events) as stream:
        async for event in stream:
            if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
                first = True
                async for piece in pacer.pieces(event.part.content):
                    if first:
                        first = False
                        yield replace(event, part=replace(event.part, content=piece))
                    else:
                        yield PartDeltaEvent(
                            index=event.index, delta=TextPartDelta(content_delta=piece)
                        )
            elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
                async for piece in pacer.pieces(event.delta.content_delta):
                    yield replace(event, delta=replace(event.delta, content_delta=piece))
            else:
                yield event


async def started(events: AsyncGenerator[Event, None]) -> AsyncGenerator[Event, None]:
    """Run a stream up to its first event, so bad input fails with a status code, not
    mid-stream; then hand back a stream that still begins with that event (and closes
    `events` when it ends)."""
    first = await anext(events)

    async def chained() -> AsyncGenerator[Event, None]:
        try:
            yield first
            async for event in events:
                yield event
        finally:
            await events.aclose()

    return chained()


def _line(code: str, value: Any) -> str:
    return f"{code}:{json.dumps(value, ensure_ascii=False, separators=(',', ':'))}\n"


def _usage(result: ChatResult | None) -> dict[str, int]:
    if result is None:
        return {"promptTokens": 0, "completionTokens": 0}
    return {
        "promptTokens": result.usage.input_tokens,
        "completionTokens": result.usage.output_tokens,
    }


def _finished(result: ChatResult) -> dict[str, Any]:
    """The finish of a turn: its usage when the model reported one (a server that reports
    none gives no usage, which the clients read as unknown, rather than 0 tokens)."""
    if not result.usage.reported:
        return {"finishReason": "stop"}
    return {"finishReason": "stop", "usage": _usage(result)}


def _tool_result_value(event: FunctionToolResultEvent) -> str | dict[str, str]:
    text = tool_result_text(event.part)
    return text if event.part.outcome == "success" else {"error": text}


async def encode_data_stream_v4(
    events: AsyncGenerator[ChatEvent, None],
) -> AsyncGenerator[str, None]:
    """Turn the chat use case's event stream into v4 data-stream lines, as they happen."""
    message_id = ""
    step_open = False
    pending_calls: set[str] = set()
    async with aclosing(events) as stream:
        async for event in stream:
            if isinstance(event, TurnStarted):
                message_id = event.message_id
                step_open = True
                yield _line("f", {"messageId": message_id})
            elif isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
                if not step_open:
                    step_open = True
                    yield _line("f", {"messageId": message_id})
                if event.part.content:
                    yield _line("0", event.part.content)
            elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
                if event.delta.content_delta:
                    yield _line("0", event.delta.content_delta)
            elif isinstance(event, FunctionToolCallEvent):
                part = event.part
                if not step_open:
                    step_open = True
                    yield _line("f", {"messageId": message_id})
                pending_calls.add(part.tool_call_id)
                yield _line(
                    "9",
                    {
                        "toolCallId": part.tool_call_id,
                        "toolName": part.tool_name,
                        "args": part.args_as_dict(),
                    },
                )
            elif isinstance(event, FunctionToolResultEvent):
                returned = event.part
                if returned.tool_call_id in pending_calls:
                    pending_calls.discard(returned.tool_call_id)
                    yield _line(
                        "a",
                        {"toolCallId": returned.tool_call_id, "result": _tool_result_value(event)},
                    )
                if not pending_calls and step_open:
                    step_open = False
                    yield _line(
                        "e",
                        {"finishReason": "tool-calls", "usage": _usage(None), "isContinued": False},
                    )
            elif isinstance(event, TurnFinished):
                result = event.result
                yield _line("2", [turn_data(result)])
                yield _line("e", {**_finished(result), "isContinued": False})
                yield _line("d", _finished(result))
            elif isinstance(event, TurnFailed):
                yield _line("3", event.error.detail)
                if step_open:
                    yield _line(
                        "e", {"finishReason": "error", "usage": _usage(None), "isContinued": False}
                    )
                yield _line("d", {"finishReason": "error", "usage": _usage(None)})


class TurnError(Exception):
    """Carries a domain error's safe message into PydanticAI's error chunk."""


@dataclass
class _Finished:
    """Where the UI encoder keeps the stored result until the `finish` chunk."""

    result: ChatResult | None = None


async def _native_events(
    events: AsyncGenerator[ChatEvent, None], finished: _Finished
) -> AsyncGenerator[AgentStreamEvent | AgentRunResultEvent[Any], None]:
    """PydanticAI's own events, for its encoder; our start/finish/failure are taken out."""
    async with aclosing(events) as stream:
        async for event in stream:
            if isinstance(event, TurnStarted):
                continue
            if isinstance(event, TurnFinished):
                finished.result = event.result
            elif isinstance(event, TurnFailed):
                raise TurnError(event.error.detail)
            else:
                yield event


async def encode_ui_message_stream(
    events: AsyncGenerator[ChatEvent, None], run_input: Any, *, sdk_version: int = 5
) -> AsyncGenerator[str, None]:
    """The UI message stream (SSE) for `useChat`, via PydanticAI's Vercel AI event stream."""
    finished = _Finished()
    stream = VercelAIEventStream(run_input, sdk_version=sdk_version)  # type: ignore[arg-type]  # the versions the route accepts are 5, 6 and 7

    # pydantic-ai declares an AsyncIterator; `transform_stream` is an async generator
    transformed = cast(
        "AsyncGenerator[BaseChunk, None]",
        stream.transform_stream(_native_events(events, finished)),
    )
    async with aclosing(transformed) as chunks:
        async for chunk in chunks:
            if chunk.type == "finish" and finished.result is not None:  # type: ignore[attr-defined]  # every chunk class has `type`, their base none
                # Sources are final once the answer is stored, just before `finish`.
                data = turn_data(finished.result)
                yield stream.encode_event(DataChunk(type="data-almanac", data=data))
            yield stream.encode_event(chunk)


#: The headers of a Server-Sent Events stream (advice, a conversation import, the draft chat).
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}

UI_HEADERS = {
    "x-vercel-ai-ui-message-stream": "v1",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
}


class ClosingStreamingResponse(StreamingResponse):
    """Streams the body while listening for the client's disconnect; on disconnect, or when
    the response ends for any reason, the body iterator is closed at once so the upstream
    model stream stops and the turn is stored as interrupted (see PITFALLS: with ASGI 2.4
    servers Starlette alone notices a disconnect only on the next send)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def stream_then_cancel() -> None:
                    await self.stream_response(send)
                    group.cancel_scope.cancel()

                async def listen_then_cancel() -> None:
                    while True:
                        message = await receive()
                        if message["type"] == "http.disconnect":
                            break
                    group.cancel_scope.cancel()

                group.start_soon(stream_then_cancel)
                group.start_soon(listen_then_cancel)
        except OSError:
            pass  # the client is gone; the iterator is closed below
        finally:
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                with anyio.CancelScope(shield=True):
                    await close()
        if self.background is not None:
            await self.background()
