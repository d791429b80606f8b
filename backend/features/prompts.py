"""Prompts: the prompt types and versions, and each type's default model (`use_cases/prompts`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from backend.config import ChatSettings
from backend.features import INTERNAL
from backend.features.access import AccessUseCases
from backend.features.adapters import Wiring
from use_cases.advice.agent import ADVICE_PROMPT_VERSION, ADVICE_SYSTEM_PROMPT
from use_cases.chat.prompts import PROMPT_VERSION, SYSTEM_PROMPT
from use_cases.prompts.domain import ADVICE, CHAT, PromptDefault, PromptTypes
from use_cases.prompts.library import ManagePromptLibrary
from use_cases.prompts.manage_prompts import ManagePrompts
from use_cases.prompts.model_defaults import ManageModelDefaults, ModelsForPromptType


@dataclass(frozen=True)
class PromptUseCases:
    prompts: ManagePrompts
    model_defaults: ManageModelDefaults
    chat_models: ModelsForPromptType = field(metadata=INTERNAL)
    """The model of a chat turn (the request's, else the chat type's default)."""
    advice_models: ModelsForPromptType = field(metadata=INTERNAL)
    prompt_library: ManagePromptLibrary


def build_prompt_types(settings: ChatSettings) -> PromptTypes:
    """The prompt types and their defaults: SYSTEM_PROMPT if set, else each type's built-in
    prompt (chat's, advice's). (A new type is one more entry here.)"""
    configured = (settings.system_prompt or "").strip()

    def default(built_in: str, revision: str) -> PromptDefault:
        if configured:
            return PromptDefault(configured, source="setting")
        return PromptDefault(built_in, source="built-in", revision=revision)

    return PromptTypes(
        {
            CHAT: default(SYSTEM_PROMPT, PROMPT_VERSION),
            ADVICE: default(ADVICE_SYSTEM_PROMPT, ADVICE_PROMPT_VERSION),
        }
    )


def build(w: Wiring, access: AccessUseCases, settings: ChatSettings) -> PromptUseCases:
    a = w.adapters
    types = build_prompt_types(settings)
    prompts = ManagePrompts(types, a.prompt_store, access.audit, w.clock)
    return PromptUseCases(
        prompts=prompts,
        model_defaults=ManageModelDefaults(
            types, a.model_default_store, a.models, access.audit, w.clock
        ),
        chat_models=ModelsForPromptType(a.models, a.model_default_store, CHAT),
        advice_models=ModelsForPromptType(a.models, a.model_default_store, ADVICE),
        prompt_library=ManagePromptLibrary(
            a.prompt_library_store, a.prompt_store, a.run_store, prompts, access.audit, w.clock
        ),
    )
