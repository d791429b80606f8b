"""Project drafts: the structured plan a conversation turns into, and its versions.

Rules:
- A draft belongs to one conversation (an Almanac chat; its id is the chat id) and has
  versions numbered 1..n. A version is never changed or deleted: every change (a model's
  draft, an applied `update_project_draft` call, a user's edit) adds the next version.
- Exactly one version is active. A new version becomes active; activating an older version
  only moves the pointer (no copy), and the move is recorded (`DraftActivation`).
- `ProjectDraftContent` is both the structured output a model fills and what a user edits;
  its bounds (`MAX_*`) are the API's and the store's.
- A source names a message of the conversation (`message_id`) or a document (`document`),
  never both, with an optional quote.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from use_cases.confidence.domain import LoggedSources

MAX_TITLE_CHARS = 200
MAX_DESCRIPTION_CHARS = 4000
MAX_ITEM_CHARS = 500
MAX_ITEMS = 50
MAX_NOTE_CHARS = 500

#: Who made a version: a model (a drafting or update turn) or a person (an edit).
DraftAuthor = Literal["model", "user"]


class Milestone(BaseModel):
    """A step of the project, with its due date when one was said."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=MAX_ITEM_CHARS, description="What is done.")
    due: date | None = Field(None, description="When it is due (YYYY-MM-DD), if said.")
    description: str | None = Field(
        None, max_length=MAX_DESCRIPTION_CHARS, description="More about the step, if any."
    )


class DraftSource(BaseModel):
    """Where part of the draft comes from: a message of the conversation or a document."""

    model_config = ConfigDict(extra="forbid")

    message_id: str | None = Field(
        None, max_length=64, description="The id of the conversation's message used."
    )
    document: str | None = Field(
        None, max_length=MAX_ITEM_CHARS, description="A document's title or source."
    )
    quote: str | None = Field(
        None, max_length=MAX_ITEM_CHARS, description="The words used, quoted."
    )

    @model_validator(mode="after")
    def _one_origin(self) -> DraftSource:
        if (self.message_id is None) == (self.document is None):
            raise ValueError("a source names either message_id or document (one of them)")
        return self


class ProjectDraftContent(BaseModel):
    """A project draft: what the model writes (the drafting turn's output type) and what a
    person edits."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(
        min_length=1, max_length=MAX_TITLE_CHARS, description="The project's name, short."
    )
    description: str = Field(
        "", max_length=MAX_DESCRIPTION_CHARS, description="What the project is, in a few lines."
    )
    goals: list[str] = Field(
        default_factory=list,
        max_length=MAX_ITEMS,
        description="What the project must achieve, one per item, as the conversation says.",
    )
    milestones: list[Milestone] = Field(
        default_factory=list,
        max_length=MAX_ITEMS,
        description="The steps in order, each with its due date when one was said.",
    )
    open_questions: list[str] = Field(
        default_factory=list,
        max_length=MAX_ITEMS,
        description="Questions the conversation raised but did not answer.",
    )
    sources: list[DraftSource] = Field(
        default_factory=list,
        max_length=MAX_ITEMS,
        description="The messages (by id) or documents the draft rests on.",
    )

    @model_validator(mode="after")
    def _bounded_items(self) -> ProjectDraftContent:
        for name in ("goals", "open_questions"):
            for item in getattr(self, name):
                if not item.strip() or len(item) > MAX_ITEM_CHARS:
                    raise ValueError(f"each of {name} has 1 to {MAX_ITEM_CHARS} characters")
        if not self.title.strip():
            raise ValueError("title must not be blank")
        if any("\x00" in text for text in _texts(self.model_dump())):
            raise ValueError("text must not contain NUL characters")  # PostgreSQL refuses it
        return self


def _texts(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


@dataclass(frozen=True)
class DraftVersion:
    """One immutable version of a conversation's draft."""

    chat_id: str
    number: int
    content: ProjectDraftContent
    author: DraftAuthor
    model: str | None
    """The model that wrote it (None for a person's edit)."""
    note: str
    """Why it was made: the drafting request, the applied change, the edit's note."""
    created_by: str
    """The user whose request made it."""
    created_at: datetime
    drafted_from: LoggedSources | None = None
    """What the answers it was drafted from cited (an edit's or a turn's: its base version's),
    for withholding; None for a version made before that was recorded."""


@dataclass(frozen=True)
class ProjectDraft:
    """A conversation's draft: which version is active, how many there are, and the latest
    move of the pointer."""

    chat_id: str
    active_version: int
    latest_version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DraftActivation:
    """A recorded move of the active pointer to a version that already existed (a new
    version's own activation is its creation, recorded by the version itself)."""

    chat_id: str
    version: int
    previous: int | None
    by: str
    at: datetime


@dataclass(frozen=True)
class NewDraftVersion:
    """A version to add: its content and who or what made it, and why."""

    content: ProjectDraftContent
    author: DraftAuthor
    note: str
    created_by: str
    model: str | None = None
    drafted_from: LoggedSources | None = None


@dataclass(frozen=True)
class DraftState:
    """The draft and its active version, as a client reads it."""

    draft: ProjectDraft
    version: DraftVersion


#: Who wrote a message of the draft chat (the user's request, or the model's reply).
DraftChatRole = Literal["user", "assistant"]


@dataclass(frozen=True)
class NewDraftChatMessage:
    role: DraftChatRole
    content: str
    sent_by: str
    """The user whose turn it was (the reply's too)."""
    model: str | None = None


@dataclass(frozen=True)
class DraftChatMessage:
    """A stored message of a conversation's draft chat, numbered 1..n in order."""

    chat_id: str
    seq: int
    role: DraftChatRole
    content: str
    sent_by: str
    model: str | None
    created_at: datetime


@dataclass(frozen=True)
class TrackedProject:
    """The project an outside tracker made from a conversation's draft. Its existence locks
    the conversation: the draft is final (no chat turn, edit or activation changes it)."""

    chat_id: str
    tracker_id: str
    url: str
    title: str
    description: str
    draft_version: int
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class TrackerLink:
    """A project as the outside tracker identifies it."""

    id: str
    url: str
