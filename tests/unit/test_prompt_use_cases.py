"""Versioned system prompts per prompt type, on in-memory fakes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tests.fakes import InMemoryAuditLog, InMemoryPromptStore, SteppingClock
from use_cases.access.audit import RecordAudit
from use_cases.access.domain import CLI_ADMIN, Caller
from use_cases.prompts.domain import CHAT, PromptDefault, PromptTypes
from use_cases.prompts.manage_prompts import MAX_PROMPT_CHARS, ManagePrompts
from use_cases.shared.errors import Forbidden, InvalidRequest, NotFound

# One call of the use case, made by a parametrized test
PromptCall = Callable[[ManagePrompts], Awaitable[object]]
ROOT = Caller("root", "admin", "key_root")
ANA = Caller("ana", "user", "key_ana")
BUILT_IN = "You are the built-in assistant. Answer from the knowledge base only."
ADVICE = "You are the built-in adviser. Give structured advice."


@pytest.fixture
def store() -> InMemoryPromptStore:
    return InMemoryPromptStore()


@pytest.fixture
def log() -> InMemoryAuditLog:
    return InMemoryAuditLog()


@pytest.fixture
def prompts(store: InMemoryPromptStore, log: InMemoryAuditLog) -> ManagePrompts:
    clock = SteppingClock()
    types = PromptTypes(
        {
            CHAT: PromptDefault(BUILT_IN, "built-in", revision="r1"),
            "advice": PromptDefault(ADVICE, "built-in", revision="r1"),
        }
    )
    return ManagePrompts(types, store, RecordAudit(log, clock), clock)


def _audited(log: InMemoryAuditLog) -> list[tuple[str, str, object, object]]:
    return [(e.action, e.target, e.before, e.after) for e in log.entries]


async def test_the_default_is_in_force_until_a_version_is_created(prompts: ManagePrompts) -> None:
    shown = await prompts.show(ROOT, CHAT)
    assert (shown.text, shown.version, shown.label, shown.source) == (
        BUILT_IN,
        None,
        "default",
        "built-in",
    )
    assert prompts.current(CHAT).text == BUILT_IN


async def test_a_new_version_gets_the_next_number_is_in_force_at_once_and_is_audited(
    prompts: ManagePrompts, log: InMemoryAuditLog
) -> None:
    first = await prompts.create(ROOT, CHAT, "  Be brief.\n")
    second = await prompts.create(ROOT, CHAT, "Be thorough.")
    assert (first.changed, first.prompt.version, first.prompt.text) == (True, 1, "Be brief.")
    assert (second.prompt.version, second.prompt.author) == (2, "root")
    assert prompts.current(CHAT).text == "Be thorough."
    assert _audited(log) == [
        ("prompt.create", "prompt:chat", {"version": "default"}, {"version": 1, "chars": 9}),
        ("prompt.create", "prompt:chat", {"version": 1}, {"version": 2, "chars": 12}),
    ]
    assert log.entries[0].actor_key_id == "key_root"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        (" \n\t ", "empty"),
        ("x" * (MAX_PROMPT_CHARS + 1), "20,001 characters long; the limit is 20,000"),
        ("Be brief.\x00", "NUL"),
    ],
)
async def test_bad_text_is_refused_and_nothing_is_written(
    prompts: ManagePrompts,
    store: InMemoryPromptStore,
    log: InMemoryAuditLog,
    text: str,
    fragment: str,
) -> None:
    with pytest.raises(InvalidRequest, match=fragment):
        await prompts.create(ROOT, CHAT, text)
    assert store.versions == {} and log.entries == []


async def test_a_text_of_exactly_the_limit_is_accepted(prompts: ManagePrompts) -> None:
    written = await prompts.create(ROOT, CHAT, "x" * MAX_PROMPT_CHARS)
    assert written.prompt.version == 1


async def test_the_active_versions_text_again_is_no_change_and_is_not_audited(
    prompts: ManagePrompts, store: InMemoryPromptStore, log: InMemoryAuditLog
) -> None:
    await prompts.create(ROOT, CHAT, "Be brief.")
    again = await prompts.create(ROOT, CHAT, "Be brief.  ")
    assert (again.changed, again.prompt.version) == (False, 1)
    assert len(store.versions[CHAT]) == 1 and len(log.entries) == 1


async def test_the_defaults_own_text_makes_a_version_that_pins_it(prompts: ManagePrompts) -> None:
    pinned = await prompts.create(ROOT, CHAT, BUILT_IN)
    assert (pinned.changed, pinned.prompt.version, pinned.prompt.source) == (True, 1, "version")


async def test_activating_an_older_version_puts_it_in_force_and_audits_the_switch(
    prompts: ManagePrompts, log: InMemoryAuditLog
) -> None:
    await prompts.create(ROOT, CHAT, "Version one.")
    await prompts.create(ROOT, CHAT, "Version two.")
    switched = await prompts.activate(ROOT, CHAT, 1)
    assert (switched.changed, switched.prompt.version) == (True, 1)
    assert prompts.current(CHAT).text == "Version one."
    assert _audited(log)[-1] == (
        "prompt.activate",
        "prompt:chat",
        {"version": 2},
        {"version": 1},
    )


async def test_activating_the_active_version_changes_nothing_and_a_missing_one_is_not_found(
    prompts: ManagePrompts, log: InMemoryAuditLog
) -> None:
    await prompts.create(ROOT, CHAT, "Version one.")
    same = await prompts.activate(ROOT, CHAT, 1)
    assert same.changed is False
    with pytest.raises(NotFound, match="no version 9"):
        await prompts.activate(ROOT, CHAT, 9)
    assert [e.action for e in log.entries] == ["prompt.create"]


async def test_reset_puts_the_default_back_in_force_and_keeps_the_versions(
    prompts: ManagePrompts, log: InMemoryAuditLog
) -> None:
    await prompts.create(ROOT, CHAT, "Version one.")
    reset = await prompts.reset(ROOT, CHAT)
    assert (reset.changed, reset.prompt.label, reset.prompt.text) == (True, "default", BUILT_IN)
    assert prompts.current(CHAT).text == BUILT_IN
    page = await prompts.versions(ROOT, CHAT)
    assert (page.total, page.active) == (1, None)
    again = await prompts.reset(ROOT, CHAT)
    assert again.changed is False
    assert _audited(log)[1:] == [
        ("prompt.reset", "prompt:chat", {"version": 1}, {"version": "default"})
    ]


async def test_versions_are_listed_newest_first_in_pages(prompts: ManagePrompts) -> None:
    for n in range(1, 6):
        await prompts.create(ROOT, CHAT, f"Version {n}.")
    page = await prompts.versions(ROOT, CHAT, limit=2, offset=1)
    assert [v.version for v in page.versions] == [4, 3]
    assert (page.total, page.active, page.limit, page.offset) == (5, 5, 2, 1)
    with pytest.raises(InvalidRequest, match="limit"):
        await prompts.versions(ROOT, CHAT, limit=0)


async def test_each_prompt_type_has_its_own_default_and_its_own_versions(
    prompts: ManagePrompts,
) -> None:
    await prompts.create(ROOT, CHAT, "Chat version one.")
    assert (await prompts.show(ROOT, "advice")).text == ADVICE
    advice = await prompts.create(ROOT, "advice", "Advice version one.")
    assert advice.prompt.version == 1
    assert prompts.current(CHAT).text == "Chat version one."
    assert (await prompts.default(ROOT, CHAT)).text == BUILT_IN


@pytest.mark.parametrize(
    "call",
    [
        lambda p: p.show(ROOT, "summary"),
        lambda p: p.default(ROOT, "summary"),
        lambda p: p.create(ROOT, "summary", "Text."),
        lambda p: p.versions(ROOT, "summary"),
        lambda p: p.activate(ROOT, "summary", 1),
        lambda p: p.reset(ROOT, "summary"),
    ],
)
async def test_an_unknown_prompt_type_is_not_found_naming_the_known_ones(
    prompts: ManagePrompts,
    log: InMemoryAuditLog,
    call: PromptCall,
) -> None:
    with pytest.raises(NotFound, match="No prompt type 'summary'; the prompt types are: chat, "):
        await call(prompts)
    assert log.entries == []


@pytest.mark.parametrize(
    "call",
    [
        lambda p: p.show(ANA, CHAT),
        lambda p: p.default(ANA, CHAT),
        lambda p: p.create(ANA, CHAT, "Obey me."),
        lambda p: p.versions(ANA, CHAT),
        lambda p: p.activate(ANA, CHAT, 1),
        lambda p: p.reset(ANA, CHAT),
    ],
)
async def test_only_admins_read_or_change_prompts(
    prompts: ManagePrompts,
    store: InMemoryPromptStore,
    log: InMemoryAuditLog,
    call: PromptCall,
) -> None:
    await prompts.create(CLI_ADMIN, CHAT, "Version one.")
    await prompts.create(CLI_ADMIN, CHAT, "Version two.")
    with pytest.raises(Forbidden, match="admin role"):
        await call(prompts)
    assert prompts.current(CHAT).text == "Version two." and len(store.versions[CHAT]) == 2
    assert len(log.entries) == 2
