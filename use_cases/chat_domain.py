"""Domain types of chat: users, chats, messages, and structured-data lookups."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

MessageRole = Literal["user", "assistant"]
MessageStatus = Literal["complete", "streaming", "interrupted", "failed"]


@dataclass(frozen=True)
class User:
    id: str
    name: str | None
    email: str | None
    created_at: datetime


@dataclass(frozen=True)
class Chat:
    id: str
    user_id: str
    title: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class TokenUsage:
    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0


@dataclass(frozen=True)
class NewMessage:
    """A message to append. Assistant turns may start as `streaming` and be finalised later."""

    role: MessageRole
    content: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    model: str | None = None
    latency_ms: int | None = None
    usage: TokenUsage | None = None
    status: MessageStatus = "complete"


@dataclass(frozen=True)
class Message:
    id: str
    chat_id: str
    role: MessageRole
    content: str
    tool_calls: list[dict[str, Any]]
    sources: list[dict[str, Any]]
    model: str | None
    latency_ms: int | None
    usage: TokenUsage | None
    status: MessageStatus
    created_at: datetime


@dataclass(frozen=True)
class TableColumn:
    """`samples`: a few distinct values (shown to a model); `values`: every distinct value of
    a text column with few enough of them (at most `MAX_COLUMN_VALUES`), for matching a
    question's words against the table; empty otherwise."""

    name: str
    type: str
    samples: tuple[str, ...] = ()
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: tuple[TableColumn, ...]
    row_count: int


@dataclass(frozen=True)
class QueryResult:
    """Rows of one read-only SELECT. `truncated` means more rows existed than were returned."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    truncated: bool
