"""A chat turn's events as OpenAI's streamed chat completion: Server-Sent Events, each
`data:` a `chat.completion.chunk`, ending with `data: [DONE]`.

- The first chunk opens the assistant's message (`delta.role`), each text delta of the turn
  is one chunk's `delta.content` (the tool calls the turn runs are Almanac's own and are not
  sent: OpenAI's clients would try to run them);
- the last chunk has `finish_reason` and Almanac's answer fields under `almanac` (the
  sources with their links, the confidence, `answer`: the answer as stored, which a client
  may settle on when a draft was sent back to the model);
- with `stream_options.include_usage`, one more chunk with no choices carries `usage`, as
  the model reported it (null when it reported none);
- a turn that fails after the stream began sends `data: {"error": {...}}` (OpenAI's SDKs raise
  it as an `APIError`), then `[DONE]`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from pydantic_ai.messages import PartDeltaEvent, PartStartEvent, TextPart, TextPartDelta

from backend.api.errors import status_for
from backend.api.openai_api.errors import error_body
from backend.api.openai_api.schemas import (
    EXTENSION,
    answer_fields,
    completion_id,
    finish_reason,
    usage,
)
from use_cases.chat.chat_turns import ChatEvent
from use_cases.chat.turn_runner import TurnFailed, TurnFinished, TurnStarted

DONE = "data: [DONE]\n\n"


def _event(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


async def encode_chunks(
    events: AsyncGenerator[ChatEvent, None],
    *,
    model_id: str,
    created: int,
    include_usage: bool,
    document_link: str,
) -> AsyncGenerator[str, None]:
    """The turn's events as `chat.completion.chunk` events (see the module)."""
    chunk_id = completion_id("")

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        return _event(
            {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model_id,
                "system_fingerprint": None,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
                **extra,
            }
        )

    async with aclosing(events) as stream:
        async for event in stream:
            text = ""
            if isinstance(event, TurnStarted):
                chunk_id = completion_id(event.message_id)
                yield chunk({"role": "assistant", "content": ""})
            elif isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
                text = event.part.content
            elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
                text = event.delta.content_delta
            elif isinstance(event, TurnFinished):
                result = event.result
                fields = answer_fields(result, document_link)
                yield chunk({}, finish_reason(result), **{EXTENSION: fields})
                if include_usage:
                    yield _event(
                        {
                            "id": chunk_id,
                            "object": "chat.completion.chunk",
                            "created": created,
                            "model": model_id,
                            "system_fingerprint": None,
                            "choices": [],
                            "usage": usage(result),
                        }
                    )
            elif isinstance(event, TurnFailed):
                error = event.error
                yield _event(
                    error_body(status_for(error), error.detail, param=None, code=error.type)
                )
            if text:
                yield chunk({"content": text})
    yield DONE
