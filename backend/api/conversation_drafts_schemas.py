"""HTTP schemas of project drafts (`/api/conversations/{chat_id}/project-draft...`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from use_cases.conversations.draft_domain import (
    MAX_DESCRIPTION_CHARS,
    MAX_ITEMS,
    MAX_NOTE_CHARS,
    MAX_TITLE_CHARS,
    DraftSource,
    DraftState,
    DraftVersion,
    Milestone,
    ProjectDraftContent,
)
from use_cases.conversations.drafts import DraftTurnResult, VersionPage

_MODEL_HELP = "A model from GET /model's allowed list; omit for the default (chat's)."


class DraftCreateIn(BaseModel):
    """Draft the project from the conversation (a new version by the model)."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, max_length=200, description=_MODEL_HELP)
    note: str | None = Field(
        None,
        max_length=MAX_NOTE_CHARS,
        description=f"Why this version (at most {MAX_NOTE_CHARS} characters); default "
        '"Drafted from the conversation."',
    )


class DraftTurnIn(BaseModel):
    """A request about the draft, in words ("add a milestone: beta by 2027-03-01")."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(
        min_length=1,
        description="What to change; at most MAX_MESSAGE_CHARS (default 8,000) characters.",
        examples=["add a milestone: beta by 2027-03-01"],
    )
    model: str | None = Field(None, max_length=200, description=_MODEL_HELP)


class DraftEditIn(BaseModel):
    """A person's edit: the fields given replace the active version's; the others stay."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=MAX_TITLE_CHARS)
    description: str | None = Field(None, max_length=MAX_DESCRIPTION_CHARS)
    goals: list[str] | None = Field(None, max_length=MAX_ITEMS)
    milestones: list[Milestone] | None = Field(None, max_length=MAX_ITEMS)
    open_questions: list[str] | None = Field(None, max_length=MAX_ITEMS)
    sources: list[DraftSource] | None = Field(None, max_length=MAX_ITEMS)
    note: str | None = Field(
        None,
        max_length=MAX_NOTE_CHARS,
        description=f"Why this edit (at most {MAX_NOTE_CHARS} characters); default names the "
        "fields changed.",
    )

    def changes(self) -> dict[str, Any]:
        given = self.model_dump(exclude_unset=True, exclude={"note"})
        return {name: value for name, value in given.items() if value is not None}


class DraftVersionOut(BaseModel):
    number: int
    author: Literal["model", "user"] = Field(description="Who made it: a model or a person.")
    model: str | None = Field(description="The model that wrote it (null for an edit).")
    note: str = Field(description="Why it was made.")
    created_by: str = Field(description="The user whose request made it.")
    created_at: datetime
    draft: ProjectDraftContent
    # The conversation backend's names (its `project_draft_versions`) for the same values.
    id: int = Field(description="The same as `number`: what `.../versions/{id}/activate` takes.")
    version_number: int = Field(description="The same as `number`.")
    title: str = Field(description="The draft's title (`draft.title`).")
    description: str = Field(description="The draft's description (`draft.description`).")
    is_manual_edit: bool = Field(description="A person's edit (`author` is `user`).")

    @classmethod
    def of(cls, version: DraftVersion) -> DraftVersionOut:
        return cls(
            id=version.number,
            version_number=version.number,
            title=version.content.title,
            description=version.content.description,
            is_manual_edit=version.author == "user",
            number=version.number,
            author=version.author,
            model=version.model,
            note=version.note,
            created_by=version.created_by,
            created_at=version.created_at,
            draft=version.content,
        )


class ProjectDraftOut(BaseModel):
    chat_id: str
    active_version: int = Field(description="The version in force (`version` below).")
    latest_version: int = Field(description="The highest version number.")
    updated_at: datetime
    version: DraftVersionOut
    # The conversation backend's names (its `project_drafts`) for the same values.
    conversation_id: str = Field(description="The same as `chat_id`.")
    active_version_id: int = Field(description="The same as `active_version`.")
    title: str = Field(description="The active version's title.")
    description: str = Field(description="The active version's description.")
    created_at: datetime

    @classmethod
    def of(cls, state: DraftState) -> ProjectDraftOut:
        return cls(
            conversation_id=state.draft.chat_id,
            active_version_id=state.draft.active_version,
            title=state.version.content.title,
            description=state.version.content.description,
            created_at=state.draft.created_at,
            chat_id=state.draft.chat_id,
            active_version=state.draft.active_version,
            latest_version=state.draft.latest_version,
            updated_at=state.draft.updated_at,
            version=DraftVersionOut.of(state.version),
        )


class DraftActivationOut(BaseModel):
    version: int = Field(description="The version made active.")
    previous: int | None = Field(description="The version active before.")
    by: str = Field(description="The user who activated it.")
    at: datetime


class DraftVersionPageOut(BaseModel):
    chat_id: str
    active_version: int
    total: int = Field(description="How many versions the draft has.")
    versions: list[DraftVersionOut] = Field(description="This page, newest first.")
    activations: list[DraftActivationOut] = Field(
        description="Every activation of an existing version, oldest first (a new version's "
        "own activation is its creation)."
    )

    @classmethod
    def of(cls, chat_id: str, page: VersionPage) -> DraftVersionPageOut:
        return cls(
            chat_id=chat_id,
            active_version=page.active_version,
            total=page.total,
            versions=[DraftVersionOut.of(v) for v in page.versions],
            activations=[
                DraftActivationOut(version=a.version, previous=a.previous, by=a.by, at=a.at)
                for a in page.activations
            ],
        )


class DraftTurnOut(BaseModel):
    reply: str = Field(description="What the model says it did.")
    model: str
    versions_added: list[int] = Field(
        description="The numbers of the versions the turn added, one per applied change "
        "(empty: nothing changed)."
    )
    project_draft: ProjectDraftOut

    @classmethod
    def of(cls, result: DraftTurnResult) -> DraftTurnOut:
        return cls(
            reply=result.reply,
            model=result.model,
            versions_added=[v.number for v in result.versions],
            project_draft=ProjectDraftOut.of(result.state),
        )
