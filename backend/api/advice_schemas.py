"""HTTP shapes of the advice endpoints, and the Server-Sent Events encoding of an advice.

The stream (`POST /advice`, `text/event-stream`): every event without a name carries in its
`data` a piece of ONE JSON object, a `StructuredAdvice`; concatenating the data of those
events in order gives exactly that object. Then one `end` event with empty data
(`event: end` / `data:`) marks the end: it adds nothing to the data a client accumulates, so
even a reader that concatenates every `data:` line, whatever the event, gets exactly the
object. Whether the advice is the schema-valid stand-in is in the object (`fallback`), not in
the end event.

- The first piece opens the object and its `main_advice` string: `{"main_advice":"`.
- Each following piece is more of `main_advice`, JSON-escaped, as the model writes it.
- The last piece is the rest of `main_advice`, the closing quote, and every other field:
  `...","response_id":"resp_...",...,"search_decision":"DEFAULT_YES"}`.

JSON escaping leaves no line break in a piece, so each piece is exactly one `data:` line.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import datetime
from typing import Literal

from loguru import logger
from pydantic import BaseModel, ConfigDict, Field

from backend.api.fields import SEARCH_OVERRIDE_HELP, SamplingFields, SearchOverride
from backend.api.filters import FiltersIn
from backend.api.streams import Pacer
from use_cases.access.domain import Caller
from use_cases.advice.domain import (
    AdviceDelta,
    AdviceEntry,
    AdviceEvent,
    AdviceFinished,
    AdviceRequest,
    AdviceStarted,
    AdviceThread,
    StructuredAdvice,
)
from use_cases.chat.domain import ConversationMessage
from use_cases.prompts.domain import ADVICE

OPENING = '{"main_advice":"'


class AdviceMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str = Field(description="The message text.")


class AdviceIn(SamplingFields):
    """An advice request. Unknown fields are refused (422 naming them)."""

    model_config = ConfigDict(extra="forbid")

    conversation: list[AdviceMessageIn] = Field(
        description="The conversation so far, oldest first, ending with the user's question "
        "(at most MAX_MESSAGE_CHARS characters); at most MAX_CONVERSATION_MESSAGES messages "
        "and MAX_CONVERSATION_CHARS characters in all.",
        examples=[[{"role": "user", "content": "Can I deploy to production on Friday?"}]],
    )
    model: str | None = Field(
        None, max_length=200, description="One of ALLOWED_MODELS; default otherwise."
    )
    enable_web_search: bool = Field(
        False, description="Accepted; no web search provider is configured yet."
    )
    search_override: SearchOverride = Field(None, description=SEARCH_OVERRIDE_HELP)
    thread_id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Keep the advice in your advice thread with this id (1 to 64 letters, "
        "digits, `_` or `-`; the first advice that names a new id creates it). The thread's "
        "earlier questions and advice are then the conversation, so `conversation` holds only "
        "the new question. Someone else's thread answers 404. Omit to store nothing.",
        examples=["f3b0c2d1e4a5"],
    )

    prompt_type: str = Field(
        ADVICE,
        min_length=1,
        max_length=64,
        description="The prompt type whose system prompt in force the advice runs under: "
        "`advice` (default) or `chat` (see GET /api/llm-prompts/{type}); another is a 422.",
        examples=["advice"],
    )

    filters: FiltersIn | None = Field(
        None,
        description="Narrow what the advice's searches may find, within what you may read "
        "(as a chat turn's `filters`; docs/collections.md).",
    )

    def to_request(self, user_id: str, reader: Caller | None = None) -> AdviceRequest:
        return AdviceRequest(
            user_id=user_id,
            reader=reader,
            filters=self.filters.to_filter() if self.filters is not None else None,
            conversation=tuple(ConversationMessage(m.role, m.content) for m in self.conversation),
            model=self.model,
            enable_web_search=self.enable_web_search,
            search_override=self.search_override,
            sampling=self.sampling(),
            thread_id=self.thread_id,
            prompt_type=self.prompt_type,
        )


class AdviceThreadOut(BaseModel):
    """An advice thread: its title is its first question, on one line."""

    id: str
    title: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, thread: AdviceThread) -> AdviceThreadOut:
        return cls(
            id=thread.id,
            title=thread.title,
            created_at=thread.created_at,
            updated_at=thread.updated_at,
        )


class AdviceEntryOut(BaseModel):
    """One question of a thread and the advice it got, as it was sent."""

    id: str
    question: str
    advice: StructuredAdvice
    created_at: datetime
    feedback: bool | None = Field(
        None, description="The asker's verdict on the advice (POST /feedback); null if none."
    )

    @classmethod
    def of(cls, entry: AdviceEntry, feedback: bool | None = None) -> AdviceEntryOut:
        return cls(
            id=entry.id,
            question=entry.question,
            advice=entry.advice,
            created_at=entry.created_at,
            feedback=feedback,
        )


class AdviceTranscriptOut(BaseModel):
    thread: AdviceThreadOut
    entries: list[AdviceEntryOut] = Field(description="The thread's advice, oldest first.")


def _escaped(text: str) -> str:
    """`text` as the inside of a JSON string."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


#: The last event: named, so EventSource's `onmessage` does not see it, and with empty data
#: (`data:` is needed: an EventSource dispatches no event without a data line).
END_EVENT = "event: end\ndata:\n\n"


def _event(data: str) -> str:
    return f"data: {data}\n\n"


async def _whole(text: str) -> AsyncGenerator[str, None]:
    yield text


async def encode_advice_sse(
    events: AsyncGenerator[AdviceEvent, None], pacer: Pacer | None = None
) -> AsyncGenerator[str, None]:
    """The advice stream as SSE (see the module docstring); with a `pacer`, the advice's
    text goes a word at a time (`backend.api.streams.Pacer`)."""
    sent = ""
    async with aclosing(events) as stream:
        async for event in stream:
            if isinstance(event, AdviceStarted):
                yield _event(OPENING)
            elif isinstance(event, AdviceDelta) and event.text:
                pieces = pacer.pieces(event.text) if pacer is not None else _whole(event.text)
                async for piece in pieces:
                    sent += piece
                    yield _event(_escaped(piece))
            elif isinstance(event, AdviceFinished):
                advice = event.advice
                if advice.main_advice.startswith(sent):
                    rest = advice.main_advice[len(sent) :]
                else:  # never expected: the use case keeps the deltas a prefix
                    logger.error("Advice deltas were not a prefix of the final advice")
                    rest = "\n\n" + advice.main_advice
                fields = advice.model_dump_json(exclude={"main_advice"})
                yield _event(f'{_escaped(rest)}",{fields[1:]}')
                yield END_EVENT
