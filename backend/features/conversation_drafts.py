"""Project drafts of conversations (`use_cases/conversations/drafts.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from backend.features.adapters import Wiring
from backend.features.prompts import PromptUseCases
from services.conversations.draft_models import OfflineDraftingModels
from services.conversations.draft_offline import build_offline_draft_model
from use_cases.conversations.draft_agent import build_draft_agent, build_update_agent
from use_cases.conversations.drafts import (
    DraftProject,
    DraftSettings,
    EditDraft,
    ManageDraftVersions,
    UpdateDraftByTurn,
)


@dataclass(frozen=True)
class ConversationDraftUseCases:
    draft_project: DraftProject
    update_draft: UpdateDraftByTurn
    edit_draft: EditDraft
    draft_versions: ManageDraftVersions


def build(w: Wiring, prompts: PromptUseCases) -> ConversationDraftUseCases:
    settings, a = w.settings, w.adapters
    history, store = a.history, a.project_draft_store
    draft_settings = DraftSettings(
        max_conversation_chars=settings.project_draft_max_conversation_chars,
        max_versions=settings.project_draft_max_versions,
        max_message_chars=settings.max_message_chars,
    )
    models = OfflineDraftingModels(prompts.chat_models, build_offline_draft_model())
    return ConversationDraftUseCases(
        draft_project=DraftProject(
            history, store, models, build_draft_agent(w.limits), w.limits, draft_settings
        ),
        update_draft=UpdateDraftByTurn(
            history, store, models, build_update_agent(w.limits), w.limits, draft_settings
        ),
        edit_draft=EditDraft(history, store, draft_settings),
        draft_versions=ManageDraftVersions(history, store, draft_settings),
    )
