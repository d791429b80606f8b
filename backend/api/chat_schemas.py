"""HTTP shapes of the chat endpoints."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.api.answers import AnswerFields, turn_data
from backend.api.conversation_search_schemas import SummaryOut
from backend.api.fields import (
    SEARCH_OVERRIDE_HELP,
    SamplingFields,
    SearchOverride,
    sampling_from_extras,
)
from backend.api.filters import FiltersIn
from use_cases.access.domain import Caller
from use_cases.chat.chat_turns import ChatRequest, ChatResult
from use_cases.chat.domain import Chat, Message, MessageVersion
from use_cases.chat.manage_chats import ChatMatch
from use_cases.confidence.domain import LoggedResponse

TOOL_CALLS = (
    "The tools the model called in this turn: `{id, name, args, status, result_preview, "
    "result}` (`result`: the preview again, the knowledge assistant's name for it); "
    "`status` is success, failed, denied, interrupted or retried (e.g. a rejected SQL query), "
    "null if the tool never answered."
)
SOURCES = (
    "What the answer cites, by `[n]` or `[table: name]`: `{number, kind, title, document, "
    "source, section, date, category, updated_at, score, document_id, superseded_by, "
    "supersedes, version_note}` (`document`, `date`: the title and date again, the knowledge "
    "assistant's names); a table lookup (`kind: table`, `source` its SQL) also has `columns`, "
    "`rows` (the first 50 the answer read) and `truncated`; a synced web page's passage has "
    "`link`, the page's http(s) URL (no `link` key otherwise)."
)


class ChatIn(SamplingFields):
    """A chat turn. Unknown fields are refused (422 naming them)."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(
        min_length=1,
        description="The new message; at most MAX_MESSAGE_CHARS (default 8,000) characters.",
        examples=["How often do we have to rotate passwords?"],
    )
    chat_id: str | None = Field(
        None,
        max_length=64,
        description="Continue this chat of yours; omit to start a new one. A chat that does "
        "not exist or is someone else's answers 404.",
    )
    model: str | None = Field(
        None, max_length=200, description="One of ALLOWED_MODELS; default otherwise."
    )
    search_override: SearchOverride = Field(
        None, description=SEARCH_OVERRIDE_HELP + " See POST /search-discipline."
    )
    user_id: str | None = Field(
        None,
        max_length=64,
        description="Omit to act as yourself (the API key's user). Only an admin may name "
        "another user, to act for them; that is recorded in the audit log.",
    )
    filters: FiltersIn | None = Field(
        None,
        description="Narrow what this turn's searches may find, within what you may read "
        "(docs/collections.md): `collection`, `category`, `source_prefix`, `updated_after`, "
        "`updated_before`, `meta`.",
    )
    replace_last: bool = Field(
        False,
        description="Answer `message` in place of the chat's last exchange (its last question "
        "and its answer): a retry with the same text, or the last question edited. Needs the "
        "`chat_id` of an existing chat (422 otherwise; 409 while that answer is still being "
        "written); the old exchange is removed once the new one is stored.",
    )

    def to_request(
        self, user_id: str, *, start_if_missing: bool = False, reader: Caller | None = None
    ) -> ChatRequest:
        """The turn this body asks for, answered for `user_id` (the user the caller acts
        as); with `start_if_missing`, a `chat_id` no chat has yet starts that chat."""
        return ChatRequest(
            user_id,
            self.message,
            self.chat_id,
            self.model,
            start_if_missing=start_if_missing,
            search_override=self.search_override,
            sampling=self.sampling(),
            replace_last=self.replace_last,
            reader=reader,
            filters=self.filters.to_filter() if self.filters is not None else None,
        )

    @classmethod
    def of_use_chat(cls, run_input: Any, question: str) -> ChatIn:
        """A useChat body (`POST /api/chat`) as a chat turn: `question` (its last message,
        already checked), its `id` as the chat, `model`, `user_id` and the sampling settings
        from its extra fields, and `regenerate()` (the last question again, maybe edited) as
        `replace_last`. Its fields are not validated again: the useChat body has its own
        rules (PydanticAI's run input, `checked_conversation`, `sampling_from_extras`)."""
        extra = run_input.model_extra or {}
        sampling = sampling_from_extras(extra)
        named = extra.get("user_id")
        return cls.model_construct(
            message=question,
            chat_id=run_input.id,
            model=extra.get("model"),
            user_id=None if named is None else str(named),
            replace_last=run_input.trigger == "regenerate-message",
            **sampling.as_dict(),
        )


class ChatOut(BaseModel):
    chat_id: str
    message_id: str
    answer: str = Field(examples=["Passwords are no longer rotated on a schedule [1]. ..."])
    tool_calls: list[dict[str, Any]] = Field(description=TOOL_CALLS)
    sources: list[dict[str, Any]] = Field(description=SOURCES)
    model: str = Field(examples=["offline-extractive"])
    response_id: str | None = Field(
        None,
        description="The answer's entry in the response log: send it to POST /feedback.",
        examples=["resp_3f9a0c1d2e4b5a6978877665"],
    )
    confidence: float | None = Field(
        None, ge=0, le=1, description="Calibrated confidence that the answer is right."
    )
    confidence_phrase: str | None = Field(None, examples=["high"])
    not_found: bool = Field(
        False,
        description="The answer is the can't-find answer: nothing relevant was found in the "
        "knowledge base (a right refusal, not an error).",
    )

    @classmethod
    def of(cls, result: ChatResult) -> ChatOut:
        return cls.model_validate(turn_data(result))


class ChatSummaryOut(BaseModel):
    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    source: str | None = Field(
        None,
        description="Where an imported chat came from (`chatgpt`, `claude`, `grok`, `slack`, "
        "`chatgpt-export`, `claude-export`); null for a chat begun here.",
    )
    source_url: str | None = Field(
        None, description="The share link or permalink it was imported from, if any."
    )

    @classmethod
    def of(cls, chat: Chat) -> ChatSummaryOut:
        return cls(
            id=chat.id,
            title=chat.title,
            created_at=chat.created_at,
            updated_at=chat.updated_at,
            source=chat.source,
            source_url=chat.source_url,
        )


class ChatListItemOut(ChatSummaryOut):
    match: str | None = Field(
        None,
        description="With `q`: the passage of the chat's first message holding a searched "
        "word (null when only the title holds them, and without `q`).",
    )

    @classmethod
    def found(cls, match: ChatMatch) -> ChatListItemOut:
        summary = ChatSummaryOut.of(match.chat)
        return cls(**summary.model_dump(), match=match.snippet)


class MessageVersionOut(BaseModel):
    """An earlier answer in this answer's place, and the question it answered."""

    question: str
    content: str
    sources: list[dict[str, Any]] = Field(description=SOURCES)
    model: str | None
    status: str
    created_at: datetime

    @classmethod
    def of(cls, version: MessageVersion) -> MessageVersionOut:
        return cls(
            question=version.question,
            content=version.content,
            sources=[source.as_dict() for source in version.sources],
            model=version.model,
            status=version.status,
            created_at=version.created_at,
        )


class MessageOut(BaseModel):
    id: str
    role: str
    content: str
    status: str = Field(description="complete, streaming, interrupted or failed")
    model: str | None
    tool_calls: list[dict[str, Any]] = Field(description=TOOL_CALLS)
    sources: list[dict[str, Any]] = Field(description=SOURCES)
    latency_ms: int | None
    input_tokens: int | None
    output_tokens: int | None
    created_at: datetime
    response_id: str | None = Field(
        None,
        description="A complete answer's entry in the response log (for POST /feedback); "
        "null for user messages and for interrupted or failed answers.",
    )
    confidence: float | None = Field(
        None, ge=0, le=1, description="The answer's calibrated confidence, as shown live."
    )
    confidence_phrase: str | None = Field(None, examples=["high"])
    feedback: bool | None = Field(
        None, description="The asker's verdict on the answer (POST /feedback); null if none."
    )
    not_found: bool = Field(
        False,
        description="The answer is the can't-find answer: nothing relevant was found in the "
        "knowledge base (a right refusal, not an error).",
    )
    previous_versions: list[MessageVersionOut] = Field(
        default_factory=list,
        description="The answers this one replaced (Retry, or the question edited), oldest "
        "first, each with the question it answered.",
    )

    @classmethod
    def of(
        cls,
        message: Message,
        logged: LoggedResponse | None = None,
        versions: Sequence[MessageVersion] = (),
    ) -> MessageOut:
        return cls(
            id=message.id,
            role=message.role,
            content=message.content,
            status=message.status,
            latency_ms=message.latency_ms,
            input_tokens=message.usage.input_tokens if message.usage else None,
            output_tokens=message.usage.output_tokens if message.usage else None,
            created_at=message.created_at,
            feedback=logged.feedback.outcome if logged and logged.feedback else None,
            previous_versions=[MessageVersionOut.of(version) for version in versions],
            **AnswerFields.of_message(message, logged).as_dict(),
        )


class MessagePageFields(BaseModel):
    """The cursors of a page of messages (oldest first on the page)."""

    earlier: int | None = Field(
        description="More messages come before this page: ask again with `before` set to "
        'this (the `Link` header\'s `rel="prev"`). Null: the page begins the chat.'
    )
    later: int | None = Field(
        description="More messages come after this page: ask again with `after` set to this "
        '(the `Link` header\'s `rel="next"`). Null: the page ends the chat.'
    )


class ChatMessagesOut(MessagePageFields):
    """A page of the chat's messages (`backend/api/message_pages.py`)."""

    chat: ChatSummaryOut
    messages: list[MessageOut] = Field(description="This page's messages, oldest first.")
    summary: SummaryOut | None = Field(
        None,
        description="On the page read without `before` or `after` (the one a chat opens "
        "on), the chat's stored summary (as `GET /api/conversations/{id}/summary`), or null "
        "until one is made: a client showing the chat need not ask for it apart. Null on "
        "the other pages.",
    )


class ChatRenameIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)


DefaultSource = Literal["setting", "DEFAULT_MODEL", "OPENAI_DEFAULT_MODEL", "built-in"]


class DefaultCandidateOut(BaseModel):
    source: DefaultSource = Field(
        description="`setting`: the admin's default for chat (`PUT /api/llm-defaults/chat`); "
        "`DEFAULT_MODEL`, `OPENAI_DEFAULT_MODEL`: the environment variables; `built-in`: "
        "openai:gpt-4.1-mini with an OpenAI key, else offline-extractive."
    )
    model: str | None = Field(description="Its model; null when unset.")


class ModelOut(BaseModel):
    """What a chat request that names no model gets, and why (`GET /model` and
    `GET /api/v1/settings/default-model` answer the same)."""

    model: str = Field(
        description="The model a chat request that names none gets: the first candidate of "
        "`precedence` with a model (an admin's setting that is no longer allowed is passed "
        "over).",
        examples=["offline-extractive"],
    )
    source: DefaultSource = Field(description="Which candidate `model` is.")
    precedence: list[DefaultCandidateOut] = Field(
        description="Every candidate, highest first: setting, DEFAULT_MODEL, "
        "OPENAI_DEFAULT_MODEL, built-in. A request's own `model` beats them all."
    )
    internal_default: str = Field(
        description="The built-in default: openai:gpt-4.1-mini with an OpenAI key, else "
        "offline-extractive.",
        examples=["offline-extractive"],
    )
    allowed: list[str] = Field(
        description="The models a request may name (by identifier, or by the bare name when "
        "one allowed model has it: `gpt-4.1-mini` for `openai:gpt-4.1-mini`)."
    )
