"""HTTP schemas of conversation import (`backend/api/routes/conversation_import.py`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from backend.api.chat_schemas import ChatSummaryOut
from backend.api.errors import status_for_code
from backend.api.problems import Problem, problem_body
from use_cases.conversations.import_domain import ImportJobView, ImportOutcome
from use_cases.conversations.imports import MAX_URL_CHARS


class ImportUrlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1,
        max_length=MAX_URL_CHARS,
        description="A share link on an allowed host (IMPORT_ALLOWED_HOSTS).",
        examples=["https://chatgpt.com/share/6744c0de-0000-8000-9000-0123456789ab"],
    )


class ImportedChatOut(BaseModel):
    chat: ChatSummaryOut
    created: bool = Field(
        description="false: you had imported this conversation before; that chat is "
        "answered and nothing was written."
    )
    messages: int = Field(description="Messages of the chat as imported.", examples=[12])

    @classmethod
    def of(cls, outcome: ImportOutcome) -> ImportedChatOut:
        return cls(
            chat=ChatSummaryOut.of(outcome.chat),
            created=outcome.created,
            messages=outcome.messages,
        )


class ImportProgressOut(BaseModel):
    conversations_done: int = Field(examples=[120])
    conversations_total: int | None = Field(
        description="Known once the job has read the file.", examples=[500]
    )
    imported: int | None = Field(None, description="When done: chats created.")
    skipped_duplicates: int | None = Field(
        None, description="When done: conversations you had already imported."
    )


class ImportJobOut(BaseModel):
    id: str
    kind: str = Field(default="conversation_import", examples=["conversation_import"])
    name: str = Field(description="The uploaded file name.", examples=["conversations.json"])
    status: str = Field(description="`queued`, `running`, `done` or `failed`.")
    created_at: datetime
    created_by: str | None
    started_at: datetime | None
    finished_at: datetime | None
    progress: ImportProgressOut
    result: dict[str, Any] | None = Field(
        description="When done: `conversations_total`, `imported`, `skipped_duplicates`, "
        "`messages_imported` and `chat_ids` (one per conversation, in the file's order)."
    )
    error: Problem | None = Field(description="When failed: why, as a problem document.")

    @classmethod
    def of(cls, job: ImportJobView) -> ImportJobOut:
        result = job.result or {}
        error = None
        if job.error_type is not None:
            body = problem_body(
                status_for_code(job.error_type),
                job.error_type,
                job.error_detail or "",
                instance=f"/api/conversations/import/jobs/{job.id}",
            )
            error = Problem.model_validate(body)
        return cls(
            id=job.id,
            name=job.name,
            status=job.status,
            created_at=job.created_at,
            created_by=job.created_by,
            started_at=job.started_at,
            finished_at=job.finished_at,
            progress=ImportProgressOut(
                conversations_done=job.conversations_done,
                conversations_total=job.conversations_total,
                imported=result.get("imported"),
                skipped_duplicates=result.get("skipped_duplicates"),
            ),
            result=job.result,
            error=error,
        )


class SlackMessageIn(BaseModel):
    """One message of `conversations.replies`; Slack's other fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    text: str = Field("", max_length=40_000)
    ts: str = Field(min_length=1, max_length=32, pattern=r"^\d+(\.\d+)?$")
    user: str | None = Field(None, max_length=64)
    thread_ts: str | None = Field(None, max_length=32, pattern=r"^\d+(\.\d+)?$")
    bot_id: str | None = Field(None, max_length=64)
    subtype: str | None = Field(None, max_length=64)


class SlackThreadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    messages: list[SlackMessageIn] = Field(min_length=1, max_length=5000)
    permalink: str | None = Field(None, max_length=MAX_URL_CHARS)
    title: str | None = Field(None, max_length=200)
    user_id: str | None = Field(
        None,
        max_length=64,
        description="The Almanac user whose chats get the thread (audited); omitted: the "
        "key's own user.",
    )
    ok: bool | None = Field(None, description="Slack's own flag; accepted and ignored.")
    has_more: bool | None = Field(None, description="Slack's own flag; accepted and ignored.")

    def payload(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "messages": [m.model_dump() for m in self.messages],
            "permalink": self.permalink,
            "title": self.title,
        }
