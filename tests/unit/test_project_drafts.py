"""Project drafts without I/O: the offline model's drafting and instructions, the patch rules,
the conversation window, the export, and the interactors on fakes (the offline draft model
runs for real: it is a pure function of the messages)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from services.conversations.draft_offline import (
    build_offline_draft_model,
    compose_draft,
    instruction_patches,
)
from tests.fakes.project_drafts import NOW, FakeChats, FakeProjectDrafts
from use_cases.chat.agent import AgentLimits
from use_cases.chat.domain import Message
from use_cases.chat.prompts import NOT_FOUND_ANSWER
from use_cases.conversations.draft_agent import (
    DRAFT_TOOL,
    DraftPatch,
    ItemEdit,
    PatchRejected,
    apply_patch,
    build_draft_agent,
    build_update_agent,
)
from use_cases.conversations.draft_domain import (
    DraftVersion,
    Milestone,
    ProjectDraftContent,
)
from use_cases.conversations.draft_export import render_markdown
from use_cases.conversations.drafts import (
    DraftProject,
    DraftRequest,
    DraftSettings,
    DraftTurnRequest,
    EditDraft,
    EditDraftRequest,
    ManageDraftVersions,
    UpdateDraftByTurn,
    conversation_window,
)
from use_cases.prompts.ports import ResolvedModel
from use_cases.shared.errors import Conflict, InvalidRequest, NotFound


def conversation(*texts: tuple[str, str]) -> dict[str, object]:
    messages = [{"id": f"m{i}", "role": r, "content": t} for i, (r, t) in enumerate(texts, 1)]
    return {"title": texts[0][1][:80], "messages": messages}


def test_the_offline_draft_takes_goals_dated_and_ordered_steps_and_unanswered_questions() -> None:
    draft = compose_draft(
        conversation(
            ("user", "Can you help me organise the spring hackathon? Our goal is to ship "
             "three prototypes. We need a venue for 80 people."),
            ("assistant", "Sure. First, book the venue by 15 January 2027. Then, open "
             "registration on 2027-02-01. Finally, run the event."),
            ("user", "How much does catering cost?"),
            ("assistant", NOT_FOUND_ANSWER + " Which caterer do you mean?"),
        )
    )  # fmt: skip
    assert draft["title"] == "Organise the spring hackathon"
    assert draft["goals"] == ["Ship three prototypes", "A venue for 80 people"]
    assert [(m["title"], m["due"]) for m in draft["milestones"]] == [
        ("Book the venue", "2027-01-15"),
        ("Open registration", "2027-02-01"),
        ("Run the event", None),
    ]
    # Met with the can't-find answer, whose clarifying question plans nothing itself.
    assert draft["open_questions"] == ["How much does catering cost?"]
    assert [s["message_id"] for s in draft["sources"]] == ["m1", "m2", "m3"]
    ProjectDraftContent.model_validate(draft)


def test_an_answered_question_is_not_open_and_a_question_is_never_a_goal() -> None:
    draft = compose_draft(
        conversation(
            ("user", "Do we need to rent chairs?"),
            ("assistant", "No, the venue has chairs."),
        )
    )
    assert draft["open_questions"] == [] and draft["goals"] == []


def test_the_offline_model_reads_plain_instructions_as_patches() -> None:
    current = {"goals": ["a", "b"], "milestones": [{"title": "x"}], "open_questions": ["q"]}
    patches = instruction_patches(
        "Please add a goal: print 200 copies.\nremove the last goal; rename the project to "
        "Town Letter and then move milestone 1 to March 3, 2027; delete the first question; "
        "change goal 1 to Reach 600 readers; add an open question: Which platform?",
        current,
    )
    assert [DraftPatch.model_validate(p).model_dump(exclude_defaults=True) for p in patches] == [
        {"add_goals": ["Print 200 copies"], "note": "Added goal 'Print 200 copies'."},
        {"remove_goals": [2], "note": "Removed goal 2."},
        {"set_title": "Town Letter", "note": "Renamed the project to 'Town Letter'."},
        {
            "edit_milestones": [{"number": 1, "due": date(2027, 3, 3)}],
            "note": "Moved milestone 1 to 2027-03-03.",
        },
        {"remove_open_questions": [1], "note": "Removed open question 1."},
        {"edit_goals": [{"number": 1, "text": "Reach 600 readers"}], "note": "Changed goal 1."},
        {
            "add_open_questions": ["Which platform?"],
            "note": "Added open question 'Which platform?'.",
        },
    ]
    assert instruction_patches("what do you think?", current) == []


def test_a_patch_edits_then_removes_then_adds_by_the_numbers_the_person_saw() -> None:
    draft = ProjectDraftContent(title="P", goals=["a", "b", "c"])
    patch = DraftPatch(edit_goals=[ItemEdit(number=3, text="C")], remove_goals=[1], add_goals=["d"])
    assert apply_patch(draft, patch).goals == ["b", "C", "d"]
    with pytest.raises(PatchRejected, match="no goal 4: the draft has goals 1 to 3"):
        apply_patch(draft, DraftPatch(remove_goals=[4]))
    with pytest.raises(PatchRejected, match="no milestones"):
        apply_patch(draft, DraftPatch(remove_milestones=[1]))
    full = ProjectDraftContent(title="P", goals=[str(i) for i in range(50)])
    with pytest.raises(PatchRejected, match="invalid draft"):
        apply_patch(full, DraftPatch(add_goals=["one too many"]))


def test_the_window_keeps_the_first_message_and_the_latest_that_fit() -> None:
    def msg(i: int, text: str) -> Message:
        return Message(f"m{i}", "c", "user", text, (), (), None, None, None, "complete", NOW)

    messages = [msg(1, "a" * 10), msg(2, "b" * 50), msg(3, " "), msg(4, "c" * 30)]
    assert [m.id for m in conversation_window(messages, 45)] == ["m1", "m4"]
    assert [len(m.content) for m in conversation_window([msg(1, "x" * 99)], 20)] == [20]
    assert conversation_window([msg(1, "  ")], 20) == []


def test_markdown_export_has_a_heading_per_part_and_cannot_be_broken_by_a_line_break() -> None:
    content = ProjectDraftContent(
        title="Town\n# Letter",
        goals=["Reach 500"],
        milestones=[Milestone(title="Beta", due=date(2027, 3, 1), description="Small\ngroup")],
    )
    text = render_markdown(DraftVersion("c", 2, content, "user", None, "Edited", "ana", NOW))
    assert text.splitlines()[0] == "# Town # Letter"
    assert "1. Beta (due 2027-03-01)\n   Small group" in text
    assert "## Open questions\n\nNone yet." in text
    assert text.rstrip().endswith("Version 2, 2026-11-25, by user: Edited")


class Models:
    def __init__(self, model: object, identifier: str = "offline-extractive") -> None:
        self.model, self.identifier = model, identifier

    def resolve(self, requested: str | None) -> ResolvedModel:
        return ResolvedModel(self.identifier, self.model)


def use_cases(model: object | None = None, identifier: str = "offline-extractive"):
    chats, drafts = FakeChats(), FakeProjectDrafts()
    models = Models(model or build_offline_draft_model(), identifier)
    limits, settings = AgentLimits(), DraftSettings(max_versions=4)
    return (
        chats,
        drafts,
        DraftProject(chats, drafts, models, build_draft_agent(limits), limits, settings),  # type: ignore[arg-type]  # fakes of the chat and model reads drafting makes
        UpdateDraftByTurn(chats, drafts, models, build_update_agent(limits), limits, settings),  # type: ignore[arg-type]  # fakes of the chat and model reads drafting makes
        EditDraft(chats, drafts, settings),  # type: ignore[arg-type]  # fakes of the chat reads drafting makes
        ManageDraftVersions(chats, drafts, settings),  # type: ignore[arg-type]  # fakes of the chat reads drafting makes
    )


async def test_interactors_draft_update_edit_and_go_back_on_fakes() -> None:
    chats, _, draft, update, edit, versions = use_cases()
    chats.add("c1", "ana", ("user", "Plan the move. We need to pack the lab by 2027-05-01."))
    state = await draft.execute(DraftRequest("ana", "c1"))
    assert state.version.content.milestones[0].due == date(2027, 5, 1)
    turn = await update.execute(DraftTurnRequest("ana", "c1", "add a goal: label boxes"))
    assert [v.number for v in turn.versions] == [2] and "label boxes" in turn.reply.lower()
    edited = await edit.execute(EditDraftRequest("ana", "c1", {"goals": []}))
    assert edited.version.content.goals == [] and edited.version.author == "user"
    back = await versions.activate("ana", "c1", 1)
    assert back.draft.active_version == 1 and back.version.content == state.version.content
    with pytest.raises(NotFound, match="No chat"):
        await versions.active("bob", "c1")
    await edit.execute(EditDraftRequest("ana", "c1", {"title": "Four"}))
    with pytest.raises(Conflict, match="at most 4"):
        await edit.execute(EditDraftRequest("ana", "c1", {"title": "Five"}))
    with pytest.raises(InvalidRequest, match="Unknown draft fields"):
        await edit.execute(EditDraftRequest("ana", "c1", {"colour": "red"}))


async def test_a_models_invented_message_ids_are_dropped_from_the_sources() -> None:
    def invents(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        args = {
            "title": "T",
            "sources": [{"message_id": "c1-m1", "quote": "real"}, {"message_id": "made-up"}],
        }
        return ModelResponse(parts=[ToolCallPart(DRAFT_TOOL, json.dumps(args))])

    chats, _, draft, *_ = use_cases(FunctionModel(invents), "test:invents")
    chats.add("c1", "ana", ("user", "Plan it."))
    state = await draft.execute(DraftRequest("ana", "c1"))
    assert [s.message_id for s in state.version.content.sources] == ["c1-m1"]
    assert state.version.model == "test:invents"
