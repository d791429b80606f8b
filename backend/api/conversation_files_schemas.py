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
        examples=["text/markdown", "image/png"],
        description="What the loader read it as, or the image type its magic number shows "
        "(the bytes decide).",
    )
    size_bytes: int
    sha256: str
    chunk_count: int = Field(description="Passages indexed for this chat's search.")
    source: str = Field(
        examples=[f"{ATTACHMENT_PREFIX}notes.md"],
        description="How an answer in this chat cites the file's passages.",
    )
    created_at: datetime
    description: str | None = Field(
        description="An image's description by a vision-capable model: what the chat's "
        "search finds and cites. Null for text files and for an image nobody described."
    )
    description_note: str | None = Field(
        description="Why an image has no description (no vision-capable model, the model "
        "failed); null otherwise."
    )
    # The conversation backend's names (its `file_attachments`) for the same values.
    conversation_id: str = Field(description="The chat's id (the same as `chat_id`).")
    filename: str = Field(description="The same as `name`.")
    file_size: int = Field(description="The same as `size_bytes`.")
    file_type: str = Field(description="The same as `media_type`.")
    download_url: str = Field(
        description="Where its bytes are: `GET /api/conversations/files/{id}/download`."
    )

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
            description=file.description,
            description_note=file.description_note,
            conversation_id=file.chat_id,
            filename=file.name,
            file_size=file.size_bytes,
            file_type=file.media_type,
            download_url=f"/api/conversations/files/{file.id}/download",
        )


class AttachedOut(ChatFileOut):
    created: bool = Field(
        description="False when the chat already held these bytes: that file is returned."
    )

    @classmethod
    def attached(cls, outcome: Attached) -> AttachedOut:
        return cls(**ChatFileOut.of(outcome.file).model_dump(), created=outcome.created)
