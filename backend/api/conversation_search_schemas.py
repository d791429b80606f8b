"""HTTP schemas of conversation summaries and chat search (`/api/conversations/{id}/summary`,
`GET /api/search?scope=chats`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from use_cases.conversations.search import ChatSearchPage, FoundChat
from use_cases.conversations.search_ports import ConversationSummary
from use_cases.conversations.summaries import MAX_SUMMARY_CHARS


class SummaryOut(BaseModel):
    chat_id: str = Field(examples=["c1"])
    text: str = Field(examples=["The team moved the quarterly offsite to Lisbon."])
    summary: str = Field(description="The same text, by the conversation backend's name for it.")
    model: str = Field(
        examples=["offline-extractive"], description="The model that made the summary."
    )
    edited: bool = Field(description="A person changed the text (`PATCH`) since it was made.")
    stale: bool = Field(
        description="The chat has changed since the summary was made (it covered "
        "`message_count` messages, up to `last_message_id`)."
    )
    message_count: int
    last_message_id: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, summary: ConversationSummary) -> SummaryOut:
        return cls(
            chat_id=summary.chat_id,
            text=summary.text,
            summary=summary.text,
            model=summary.model,
            edited=summary.edited,
            stale=summary.stale,
            message_count=summary.message_count,
            last_message_id=summary.last_message_id,
            created_at=summary.created_at,
            updated_at=summary.updated_at,
        )


class SummaryRegenerateIn(BaseModel):
    model: str | None = Field(
        None,
        max_length=200,
        description="An allowed model; default: the chat's last answer's model if still "
        "allowed, else the chat default. offline-extractive makes an extractive summary.",
        examples=["offline-extractive"],
    )


class SummaryEditIn(BaseModel):
    """The new text as `text`, or as `summary` (the conversation backend's name), not both."""

    text: str | None = Field(None, min_length=1, max_length=MAX_SUMMARY_CHARS)
    summary: str | None = Field(None, min_length=1, max_length=MAX_SUMMARY_CHARS)

    @model_validator(mode="after")
    def _one_text(self) -> SummaryEditIn:
        if (self.text is None) == (self.summary is None):
            raise ValueError("send the new text as `text` (or `summary`), once")
        return self

    @property
    def new_text(self) -> str:
        return self.text if self.text is not None else str(self.summary)


class ChatHitOut(BaseModel):
    chat_id: str = Field(examples=["c1"])
    title: str
    matched: Literal["title", "summary", "message"] = Field(
        description="What matched best: the chat's title, its summary or one of its messages."
    )
    snippet: str = Field(description="A passage of the matched text.")
    message_id: str | None = Field(description="The matched message (when `matched` is message).")
    score: float = Field(description="The fused relevance (RRF of BM25 and vector ranks).")
    status: Literal["complete", "streaming", "interrupted", "failed", "empty"] = Field(
        description="The status of the chat's last message (`empty`: no messages)."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, found: FoundChat) -> ChatHitOut:
        hit = found.hit
        return cls(
            chat_id=hit.chat_id,
            title=hit.title,
            matched=hit.matched,
            snippet=found.snippet,
            message_id=hit.message_id,
            score=hit.score,
            status=hit.status,
            created_at=hit.created_at,
            updated_at=hit.updated_at,
        )


class ChatSearchOut(BaseModel):
    scope: Literal["chats"] = "chats"
    query: str
    total: int = Field(description="Chats found in all (before limit and offset).")
    limit: int
    offset: int
    hits: list[ChatHitOut]

    @classmethod
    def of(cls, page: ChatSearchPage) -> ChatSearchOut:
        return cls(
            query=page.query,
            total=page.total,
            limit=page.limit,
            offset=page.offset,
            hits=[ChatHitOut.of(found) for found in page.hits],
        )
