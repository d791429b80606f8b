"""The two kinds of draft turn: drafting a project from a conversation (a structured output,
the `write_project_draft` output tool) and updating the draft by instruction (a chat-like
turn whose model calls the `update_project_draft` tool; each applied call is one change).

Rules:
- The model reads the conversation as JSON (ids, roles, texts) after `CONVERSATION_MARKER`,
  and for an update the current draft as JSON after `DRAFT_MARKER` and the person's request
  after `REQUEST_MARKER`; the offline model reads the same (`services/conversations`).
- A patch numbers list items from 1 as the current draft shows them. Within one patch, edits
  apply first, then removals, then additions, so every number means the item the person saw.
  A number that names no item is refused back to the model (`ModelRetry`), nothing applied.
- Update calls run one after the other in the order the model made them (`sequential`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_ai import Agent, ModelRetry, RunContext, ToolOutput

from use_cases.chat.agent import AgentLimits
from use_cases.chat.domain import Message
from use_cases.conversations.draft_domain import (
    MAX_DESCRIPTION_CHARS,
    MAX_ITEM_CHARS,
    MAX_ITEMS,
    MAX_NOTE_CHARS,
    MAX_TITLE_CHARS,
    Milestone,
    ProjectDraftContent,
)

T = TypeVar("T")

DRAFT_TOOL = "write_project_draft"
UPDATE_TOOL = "update_project_draft"
CONVERSATION_MARKER = "Conversation (JSON):"
DRAFT_MARKER = "Current draft (JSON):"
REQUEST_MARKER = "Request:"

DRAFT_INSTRUCTIONS = f"""\
You turn a conversation into a project draft. Read the conversation (JSON, each message with
its id) and call `{DRAFT_TOOL}` once with: a short `title`; a `description` of a few lines;
`goals` the people said they want or need; `milestones` in order, each with its `due` date
(YYYY-MM-DD) only when the conversation gives one; `open_questions` the conversation asked
but did not answer; `sources` naming the ids of the messages you used (`message_id`, with a
short `quote`). Use only what the conversation says; invent no dates, goals or ids."""

UPDATE_INSTRUCTIONS = f"""\
You keep a project draft up to date. The current draft (JSON) and a person's request follow.
For every change the request asks for, call `{UPDATE_TOOL}` once with a patch: set the title
or description, add goals, milestones (with a YYYY-MM-DD `due` date when one is given) or open
questions, and remove or edit them by their number in the current draft (1 is the first).
Give each call a short `note` saying what changed. Then answer in one or two sentences saying
what you changed. If the request asks for no change to the draft, call no tool and say so."""


class ItemEdit(BaseModel):
    """A new text for the list item numbered `number` (1 is the first)."""

    model_config = ConfigDict(extra="forbid")

    number: int = Field(ge=1, le=MAX_ITEMS)
    text: str = Field(min_length=1, max_length=MAX_ITEM_CHARS)


class MilestoneEdit(BaseModel):
    """New values for the milestone numbered `number`; what is not given stays."""

    model_config = ConfigDict(extra="forbid")

    number: int = Field(ge=1, le=MAX_ITEMS)
    title: str | None = Field(None, min_length=1, max_length=MAX_ITEM_CHARS)
    due: date | None = None
    description: str | None = Field(None, max_length=MAX_DESCRIPTION_CHARS)


class DraftPatch(BaseModel):
    """One change to the draft (the arguments of `update_project_draft`)."""

    model_config = ConfigDict(extra="forbid")

    set_title: str | None = Field(None, min_length=1, max_length=MAX_TITLE_CHARS)
    set_description: str | None = Field(None, max_length=MAX_DESCRIPTION_CHARS)
    add_goals: list[str] = Field(default_factory=list, max_length=MAX_ITEMS)
    remove_goals: list[int] = Field(default_factory=list, max_length=MAX_ITEMS)
    edit_goals: list[ItemEdit] = Field(default_factory=list, max_length=MAX_ITEMS)
    add_milestones: list[Milestone] = Field(default_factory=list, max_length=MAX_ITEMS)
    remove_milestones: list[int] = Field(default_factory=list, max_length=MAX_ITEMS)
    edit_milestones: list[MilestoneEdit] = Field(default_factory=list, max_length=MAX_ITEMS)
    add_open_questions: list[str] = Field(default_factory=list, max_length=MAX_ITEMS)
    remove_open_questions: list[int] = Field(default_factory=list, max_length=MAX_ITEMS)
    edit_open_questions: list[ItemEdit] = Field(default_factory=list, max_length=MAX_ITEMS)
    note: str = Field(
        "", max_length=MAX_NOTE_CHARS, description="What this change does, in a few words."
    )


class PatchRejected(ValueError):
    """A patch that cannot apply to the draft (a number naming no item, a list too long)."""


def apply_patch(content: ProjectDraftContent, patch: DraftPatch) -> ProjectDraftContent:
    """`content` changed by `patch` (see the module rules); `PatchRejected` says why not."""
    goals = _edited_list(content.goals, patch.edit_goals, patch.remove_goals, "goal")
    questions = _edited_list(
        content.open_questions, patch.edit_open_questions, patch.remove_open_questions, "question"
    )
    milestones = list(content.milestones)
    for edit in patch.edit_milestones:
        _check_number(edit.number, len(milestones), "milestone")
        old = milestones[edit.number - 1]
        changes = edit.model_dump(exclude={"number"}, exclude_unset=True)
        milestones[edit.number - 1] = old.model_copy(update=changes)
    milestones = _without(milestones, patch.remove_milestones, "milestone")
    data = content.model_dump()
    data.update(
        goals=goals + [g.strip() for g in patch.add_goals],
        milestones=[m.model_dump() for m in milestones + patch.add_milestones],
        open_questions=questions + [q.strip() for q in patch.add_open_questions],
    )
    if patch.set_title is not None:
        data["title"] = patch.set_title.strip()
    if patch.set_description is not None:
        data["description"] = patch.set_description.strip()
    try:
        return ProjectDraftContent.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PatchRejected(
            f"The change makes an invalid draft ({where}: {first['msg']})."
        ) from exc


def _edited_list(
    items: list[str], edits: Sequence[ItemEdit], removals: Sequence[int], what: str
) -> list[str]:
    items = list(items)
    for edit in edits:
        _check_number(edit.number, len(items), what)
        items[edit.number - 1] = edit.text.strip()
    return _without(items, removals, what)


def _without(items: list[T], numbers: Sequence[int], what: str) -> list[T]:
    for number in numbers:
        _check_number(number, len(items), what)
    gone = set(numbers)
    return [item for index, item in enumerate(items, start=1) if index not in gone]


def _check_number(number: int, count: int, what: str) -> None:
    if not 1 <= number <= count:
        have = f"{what}s 1 to {count}" if count else f"no {what}s"
        raise PatchRejected(f"There is no {what} {number}: the draft has {have}.")


def patch_summary(patch: DraftPatch) -> str:
    """The patch's note, or a plain account of what it changes."""
    if patch.note.strip():
        return patch.note.strip()
    parts: list[str] = []
    if patch.set_title is not None:
        parts.append(f"renamed to {patch.set_title.strip()!r}")
    if patch.set_description is not None:
        parts.append("description set")
    for name, label in (
        ("add_goals", "goal added"),
        ("remove_goals", "goal removed"),
        ("edit_goals", "goal edited"),
        ("add_milestones", "milestone added"),
        ("remove_milestones", "milestone removed"),
        ("edit_milestones", "milestone edited"),
        ("add_open_questions", "open question added"),
        ("remove_open_questions", "open question removed"),
        ("edit_open_questions", "open question edited"),
    ):
        count = len(getattr(patch, name))
        if count:
            parts.append(label if count == 1 else f"{count} x {label}")
    return "; ".join(parts) or "no change"


# --- prompts -------------------------------------------------------------------------------


def conversation_prompt(
    title: str, messages: Sequence[Message], memories: Sequence[str] = ()
) -> str:
    """The drafting turn's prompt: the conversation as JSON, with what is remembered about
    the user (`memories`, context only) when there is any."""
    body: dict[str, object] = {
        "title": title,
        "messages": [{"id": m.id, "role": m.role, "content": m.content} for m in messages],
    }
    if memories:
        body["remembered_about_the_user"] = list(memories)
    return f"{CONVERSATION_MARKER}\n{json.dumps(body, ensure_ascii=False)}"


def update_prompt(content: ProjectDraftContent, request: str) -> str:
    """The update turn's prompt: the current draft (items numbered by position) and the
    request."""
    return f"{DRAFT_MARKER}\n{content.model_dump_json()}\n\n{REQUEST_MARKER}\n{request}"


# --- agents --------------------------------------------------------------------------------


def build_draft_agent(limits: AgentLimits) -> Agent[None, ProjectDraftContent]:
    """The drafting agent: no tools, one structured output. It has no model of its own: each
    run names the model resolved for its request."""
    return Agent(
        output_type=ToolOutput(ProjectDraftContent, name=DRAFT_TOOL),
        instructions=DRAFT_INSTRUCTIONS,
        retries={"output": limits.output_retries},
        name="almanac-project-draft",
    )


@dataclass
class UpdateDeps:
    """The draft an update turn works on: each applied patch leaves its result here."""

    content: ProjectDraftContent
    applied: list[tuple[DraftPatch, ProjectDraftContent]] = field(default_factory=list)

    @property
    def current(self) -> ProjectDraftContent:
        return self.applied[-1][1] if self.applied else self.content


def update_project_draft(ctx: RunContext[UpdateDeps], patch: DraftPatch) -> str:
    """Apply one change to the project draft. Numbers name items of the draft as it is now
    (1 is the first); edits apply first, then removals, then additions."""
    try:
        updated = apply_patch(ctx.deps.current, patch)
    except PatchRejected as exc:
        raise ModelRetry(str(exc)) from exc
    ctx.deps.applied.append((patch, updated))
    return f"Applied ({patch_summary(patch)}). The draft is now: {updated.model_dump_json()}"


def build_update_agent(limits: AgentLimits) -> Agent[UpdateDeps, str]:
    """The update agent: text output, one tool (`update_project_draft`)."""
    agent: Agent[UpdateDeps, str] = Agent(
        deps_type=UpdateDeps,
        output_type=str,
        instructions=UPDATE_INSTRUCTIONS,
        retries={"tools": limits.tool_retries, "output": limits.output_retries},
        name="almanac-project-draft-update",
    )
    agent.tool(name=UPDATE_TOOL, sequential=True)(update_project_draft)
    return agent
