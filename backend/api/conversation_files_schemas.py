"""HTTP shapes of the files attached to a chat."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from use_cases.conversations.files import Attached
from use_cases.conversations.files_domain import ATTACHMENT_PREFIX, ChatFile


class ChatFileOut(BaseModel):
    id: str = Field(examples=["3f2b9c0d5e6a4b7c8d9e0f1a2b3c4d5e"])
    chat_id: str
    name: str = Field(description="The file name (its last path part), as uploaded.")
    media_type: str = Field(
        examples=["text/markdown"], description="What the loader read it as (the bytes decide)."
    )
    size_bytes: int
    sha256: str
    chunk_count: int = Field(description="Passages indexed for this chat's search.")
    source: str = Field(
        examples=[f"{ATTACHMENT_PREFIX}notes.md"],
        description="How an answer in this chat cites the file's passages.",
    )
    created_at: datetime

    @classmethod
    def of(cls, file: ChatFile) -> ChatFileOut:
        return cls(
            id=file.id,
            chat_id=file.chat_id,
            name=file.name,
            media_type=file.media_type,
            size_bytes=file.size_bytes,
            sha256=file.sha256,
            chunk_count=file.chunk_count,
            source=f"{ATTACHMENT_PREFIX}{file.name}",
            created_at=file.created_at,
        )


class AttachedOut(ChatFileOut):
    created: bool = Field(
        description="False when the chat already held these bytes: that file is returned."
    )

    @classmethod
    def attached(cls, outcome: Attached) -> AttachedOut:
        return cls(**ChatFileOut.of(outcome.file).model_dump(), created=outcome.created)
