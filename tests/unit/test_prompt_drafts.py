"""Prompt templates as prompt versions (use_cases/prompts/manage_prompts.py on in-memory fakes):
drafts, the variables of a version, built-in variables filled at turn time, and the refusal to put
in force a version whose variables the service cannot fill."""

from __future__ import annotations

import pytest

from tests.fakes import InMemoryAuditLog, InMemoryPromptStore, SteppingClock
from use_cases.access.audit import RecordAudit
from use_cases.access.domain import Caller
from use_cases.prompts.domain import CHAT, PromptDefault, PromptTypes
from use_cases.prompts.manage_prompts import ManagePrompts
from use_cases.prompts.templates import fill_known, required_variables
from use_cases.shared.errors import InvalidRequest, NotFound

ROOT = Caller("root", "admin", "key_root")
BUILT_IN = "You are the built-in assistant. Today is {{today}}."
TEMPLATE = "You answer for the {{team}} team in a {{tone}} tone. Today is {{ today }}."


@pytest.fixture
def store() -> InMemoryPromptStore:
    return InMemoryPromptStore()


@pytest.fixture
def log() -> InMemoryAuditLog:
    return InMemoryAuditLog()


@pytest.fixture
def prompts(store: InMemoryPromptStore, log: InMemoryAuditLog) -> ManagePrompts:
    clock = SteppingClock()  # 2026-03-02
    types = PromptTypes({CHAT: PromptDefault(BUILT_IN, "built-in", revision="r1")})
    return ManagePrompts(types, store, RecordAudit(log, clock), clock)


async def test_a_draft_is_numbered_and_stored_but_leaves_the_prompt_in_force(
    prompts: ManagePrompts, store: InMemoryPromptStore, log: InMemoryAuditLog
) -> None:
    await prompts.create(ROOT, CHAT, "Version one.")
    draft = await prompts.create(ROOT, CHAT, TEMPLATE, activate=False)
    assert (draft.changed, draft.prompt.version, draft.prompt.active) == (True, 2, False)
    assert draft.prompt.variables == ("team", "tone", "today")
    assert prompts.current(CHAT).text == "Version one." and store.active[CHAT] == 1
    assert (log.entries[-1].before, log.entries[-1].after) == (
        {"version": 1},
        {"version": 1, "draft": 2, "chars": len(TEMPLATE)},
    )
    shown = prompts.template(CHAT, 2)
    assert (shown.text, shown.active) == (TEMPLATE, False)
    assert prompts.template(CHAT, 1).active is True


@pytest.mark.parametrize("activate", [True, False])
async def test_a_template_with_variables_the_service_cannot_fill_never_goes_in_force(
    prompts: ManagePrompts, store: InMemoryPromptStore, log: InMemoryAuditLog, activate: bool
) -> None:
    if activate:
        with pytest.raises(InvalidRequest) as refused:
            await prompts.create(ROOT, CHAT, TEMPLATE)
        assert store.versions == {} and log.entries == []
    else:
        await prompts.create(ROOT, CHAT, TEMPLATE, activate=False)
        with pytest.raises(InvalidRequest) as refused:
            await prompts.activate(ROOT, CHAT, 1)
        assert CHAT not in store.active and len(log.entries) == 1  # only the draft's creation
    assert "would need a value for team, tone" in refused.value.detail
    assert "built-in variables (today)" in refused.value.detail
    assert "activate: false" in refused.value.detail


async def test_a_version_using_only_built_in_variables_goes_in_force_and_is_filled_per_turn(
    prompts: ManagePrompts,
) -> None:
    await prompts.create(ROOT, CHAT, "Answer as of {{today}}; cite {{ today }} too.")
    assert prompts.instructions(CHAT) == "Answer as of 2026-03-02; cite 2026-03-02 too."
    assert prompts.current(CHAT).text == "Answer as of {{today}}; cite {{ today }} too."


async def test_the_default_is_filled_too_and_says_whether_it_is_in_force(
    prompts: ManagePrompts,
) -> None:
    assert prompts.instructions(CHAT) == "You are the built-in assistant. Today is 2026-03-02."
    assert (await prompts.default(ROOT, CHAT)).active is True
    await prompts.create(ROOT, CHAT, "Version one.")
    assert (await prompts.default(ROOT, CHAT)).active is False


async def test_an_unknown_version_or_type_is_not_found(prompts: ManagePrompts) -> None:
    with pytest.raises(NotFound, match="has no version 3"):
        prompts.template(CHAT, 3)
    with pytest.raises(NotFound, match="No prompt type 'summary'"):
        prompts.template("summary", None)
    with pytest.raises(NotFound, match="has no version 3"):
        await prompts.activate(ROOT, CHAT, 3)


def test_fill_known_fills_what_it_is_given_and_leaves_the_rest_and_json_braces() -> None:
    text = 'Team {{team}}, day {{ today }}, JSON {"a": {"b": 1}} and {{ other }}.'
    assert fill_known(text, {"today": "2026-03-02"}) == (
        'Team {{team}}, day 2026-03-02, JSON {"a": {"b": 1}} and {{ other }}.'
    )
    assert required_variables(text) == ("team", "other")
