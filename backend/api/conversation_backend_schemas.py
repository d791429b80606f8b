"""HTTP shapes of the conversation backend's API (`compat/conversations_002.py`, and the draft
chat of `routes/conversation_drafts.py`): its field names (`url`, `import_date`, `imported_chat`
...) beside Almanac's own, each read from the one result of the use case that serves it
(docs/seeds.md, "002")."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from backend.api.chat_schemas import ChatSummaryOut, MessageOut, MessagePageFields
from backend.api.conversation_drafts_schemas import ProjectDraftOut
from use_cases.chat.domain import Chat
from use_cases.chat.manage_chats import ChatTranscript
from use_cases.conversations.draft_chat import DraftChatReply
from use_cases.conversations.draft_domain import DraftChatMessage, TrackedProject


class ConversationOut(ChatSummaryOut):
    """A conversation as the document's `conversations` table names it, with Almanac's
    chat fields (`id`, `title`, `created_at`, `updated_at`, `source`, `source_url`)."""

    url: str = Field(
        description="The share link it was imported from; empty for a chat begun here."
    )
    import_date: datetime = Field(description="When it was imported (or begun): `created_at`.")
    is_locked: bool = Field(
        description="Its project was created from its draft (`POST .../project`): the draft "
        "no longer changes."
    )

    @classmethod
    def of(cls, chat: Chat, *, is_locked: bool = False) -> ConversationOut:
        summary = ChatSummaryOut.of(chat)
        return cls(
            **summary.model_dump(),
            url=chat.source_url or "",
            import_date=chat.created_at,
            is_locked=is_locked,
        )


class ConversationDetailOut(ConversationOut, MessagePageFields):
    imported_chat: list[MessageOut] = Field(
        description="A page of the conversation's messages, oldest first: the whole of a "
        "conversation of up to `limit` messages (as `GET /chats/{id}/messages`; `earlier` "
        "and `later` lead to the rest)."
    )

    @classmethod
    def of_transcript(cls, transcript: ChatTranscript, *, is_locked: bool) -> ConversationDetailOut:
        messages = [
            MessageOut.of(m, transcript.responses.get(m.id), transcript.versions.get(m.id, ()))
            for m in transcript.messages
        ]
        head = ConversationOut.of(transcript.chat, is_locked=is_locked)
        return cls(
            **head.model_dump(),
            imported_chat=messages,
            earlier=transcript.earlier,
            later=transcript.later,
        )


class ConversationPageOut(BaseModel):
    conversations: list[ConversationOut] = Field(description="Most recently active first.")
    limit: int
    offset: int
    has_more: bool = Field(description="More conversations follow this page (ask at offset+limit).")


class ConversationUpdateIn(BaseModel):
    model_config = {"extra": "forbid"}

    title: str = Field(min_length=1, max_length=200)


class DraftChatMessageOut(BaseModel):
    """A stored message of the draft chat, by the document's `chat_messages` names."""

    id: int = Field(description="Its number in the conversation's draft chat (1, 2, ...).")
    sequence_number: int = Field(description="The same as `id`.")
    role: Literal["user", "assistant"]
    content: str
    sent_by_user_id: str = Field(description="The user whose turn it was.")
    model: str | None = Field(description="The model that wrote a reply (null for the user's).")
    created_at: datetime

    @classmethod
    def of(cls, message: DraftChatMessage) -> DraftChatMessageOut:
        return cls(
            id=message.seq,
            sequence_number=message.seq,
            role=message.role,
            content=message.content,
            sent_by_user_id=message.sent_by,
            model=message.model,
            created_at=message.created_at,
        )


class DraftChatOut(BaseModel):
    conversation_id: str
    messages: list[DraftChatMessageOut] = Field(description="Oldest first.")


class DraftChatIn(BaseModel):
    """A turn of the draft chat: what to change, in words."""

    model_config = {"extra": "forbid"}

    message: str = Field(min_length=1, examples=["add a goal: publish the rota"])
    model: str | None = Field(None, max_length=200, description="An allowed model; default.")


class DraftChatResponseOut(BaseModel):
    """The `done` event's `response`: the stored exchange and the draft after it."""

    content: str = Field(description="The reply (the `content` events' text, whole).")
    model: str
    message: DraftChatMessageOut = Field(description="The stored reply.")
    user_message: DraftChatMessageOut = Field(description="The stored request.")
    versions_added: list[int] = Field(description="Versions the turn added (empty: none).")
    project_draft: ProjectDraftOut

    @classmethod
    def of(cls, reply: DraftChatReply) -> DraftChatResponseOut:
        return cls(
            content=reply.message.content,
            model=reply.model,
            message=DraftChatMessageOut.of(reply.message),
            user_message=DraftChatMessageOut.of(reply.user_message),
            versions_added=reply.versions_added,
            project_draft=ProjectDraftOut.of(reply.state),
        )


class TrackedProjectOut(BaseModel):
    """A conversation's project in the outside tracker, by the document's `projects` names."""

    conversation_id: str
    linear_project_id: str = Field(description="The tracker's id of the project.")
    linear_url: str = Field(description="The project's page in the tracker.")
    title: str
    description: str
    draft_version: int = Field(description="The draft version the project was made from.")
    created_by_user_id: str
    created_at: datetime

    @classmethod
    def of(cls, project: TrackedProject) -> TrackedProjectOut:
        return cls(
            conversation_id=project.chat_id,
            linear_project_id=project.tracker_id,
            linear_url=project.url,
            title=project.title,
            description=project.description,
            draft_version=project.draft_version,
            created_by_user_id=project.created_by,
            created_at=project.created_at,
        )
