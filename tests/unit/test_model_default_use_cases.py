"""The default model per prompt type and the precedence of a request's model, on fakes."""

from __future__ import annotations

import pytest

from tests.fakes import (
    FakeModelResolver,
    InMemoryAuditLog,
    InMemoryModelDefaultStore,
    SteppingClock,
)
from use_cases.access.audit import RecordAudit
from use_cases.access.domain import Caller
from use_cases.prompts.domain import CHAT, PromptDefault, PromptTypes
from use_cases.prompts.model_defaults import ManageModelDefaults, ModelsForPromptType
from use_cases.shared.errors import Forbidden, InvalidRequest, NotFound

ROOT = Caller("root", "admin", "key_root")
ANA = Caller("ana", "user", "key_ana")


@pytest.fixture
def store() -> InMemoryModelDefaultStore:
    return InMemoryModelDefaultStore()


@pytest.fixture
def log() -> InMemoryAuditLog:
    return InMemoryAuditLog()


@pytest.fixture
def models() -> FakeModelResolver:
    return FakeModelResolver(unusable=("test:b",))


@pytest.fixture
def manage(
    store: InMemoryModelDefaultStore, log: InMemoryAuditLog, models: FakeModelResolver
) -> ManageModelDefaults:
    clock = SteppingClock()
    types = PromptTypes({CHAT: PromptDefault("Be helpful.")})
    return ManageModelDefaults(types, store, models, RecordAudit(log, clock), clock)


async def test_a_request_gets_its_own_model_then_the_type_default_then_the_environments(
    manage: ManageModelDefaults, store: InMemoryModelDefaultStore, models: FakeModelResolver
) -> None:
    chat_models = ModelsForPromptType(models, store, CHAT)
    assert chat_models.resolve(None).identifier == "offline-extractive"
    await manage.set(ROOT, CHAT, "test:a")
    assert chat_models.resolve(None).identifier == "test:a"
    assert chat_models.resolve("  ").identifier == "test:a"
    assert chat_models.default_identifier == "test:a"
    assert chat_models.resolve("offline-extractive").identifier == "offline-extractive"
    await manage.set(ROOT, CHAT, None)
    assert chat_models.resolve(None).identifier == "offline-extractive"


async def test_setting_and_clearing_are_audited_and_the_same_model_again_is_no_change(
    manage: ManageModelDefaults, log: InMemoryAuditLog
) -> None:
    first = await manage.set(ROOT, CHAT, " test:a ")
    assert (first.changed, first.effective.model, first.effective.source) == (
        True,
        "test:a",
        "setting",
    )
    assert first.effective.stored is not None and first.effective.stored.updated_by == "root"
    again = await manage.set(ROOT, CHAT, "test:a")
    assert again.changed is False
    cleared = await manage.set(ROOT, CHAT, None)
    assert (cleared.effective.model, cleared.effective.source) == (
        "offline-extractive",
        "environment",
    )
    assert [(e.action, e.target, e.before, e.after) for e in log.entries] == [
        ("model_default.set", "model_default:chat", {"model": None}, {"model": "test:a"}),
        ("model_default.set", "model_default:chat", {"model": "test:a"}, {"model": None}),
    ]


@pytest.mark.parametrize(
    ("model", "fragment"),
    [
        ("openai:gpt-9", "'openai:gpt-9' is not allowed. Allowed models: offline-extractive"),
        ("", "The model is empty"),
        ("x" * 300, "is not allowed"),
        ("test:b", "'test:b' is allowed but cannot be used: Model test:b needs a key"),
    ],
)
async def test_a_model_that_is_not_allowed_or_not_usable_is_refused_and_nothing_is_written(
    manage: ManageModelDefaults,
    store: InMemoryModelDefaultStore,
    log: InMemoryAuditLog,
    model: str,
    fragment: str,
) -> None:
    with pytest.raises(InvalidRequest, match=fragment):
        await manage.set(ROOT, CHAT, model)
    assert store.rows == {} and log.entries == []


async def test_a_stored_default_no_longer_allowed_is_passed_over_and_shown_stale(
    store: InMemoryModelDefaultStore, log: InMemoryAuditLog
) -> None:
    clock = SteppingClock()
    types = PromptTypes({CHAT: PromptDefault("Be helpful.")})
    before = ManageModelDefaults(types, store, FakeModelResolver(), RecordAudit(log, clock), clock)
    await before.set(ROOT, CHAT, "test:a")
    narrowed = FakeModelResolver(allowed=("offline-extractive",))  # ALLOWED_MODELS changed
    after = ManageModelDefaults(types, store, narrowed, RecordAudit(log, clock), clock)
    shown = await after.show(ROOT, CHAT)
    assert (shown.model, shown.source, shown.stale) == ("offline-extractive", "environment", True)
    assert ModelsForPromptType(narrowed, store, CHAT).resolve(None).identifier == (
        "offline-extractive"
    )


async def test_an_unknown_prompt_type_is_not_found(manage: ManageModelDefaults) -> None:
    with pytest.raises(NotFound, match="No prompt type 'advice'"):
        await manage.show(ROOT, "advice")
    with pytest.raises(NotFound, match="No prompt type 'advice'"):
        await manage.set(ROOT, "advice", "test:a")


async def test_only_admins_read_or_change_the_model_settings(
    manage: ManageModelDefaults, store: InMemoryModelDefaultStore
) -> None:
    with pytest.raises(Forbidden, match="admin role"):
        await manage.providers(ANA)
    with pytest.raises(Forbidden, match="admin role"):
        await manage.show(ANA, CHAT)
    with pytest.raises(Forbidden, match="admin role"):
        await manage.set(ANA, CHAT, "test:a")
    assert store.rows == {}
    assert (await manage.effective(CHAT)).model == "offline-extractive"  # public, like /model


async def test_a_prompt_types_models_show_the_environments_defaults_whatever_the_admin_chose(
    manage: ManageModelDefaults, store: InMemoryModelDefaultStore, models: FakeModelResolver
) -> None:
    chat_models = ModelsForPromptType(models, store, CHAT)
    await manage.set(ROOT, CHAT, "test:a")
    assert chat_models.default_identifier == "test:a"
    assert chat_models.internal_default == models.internal_default
    assert chat_models.default_sources == models.default_sources
