"""Project drafts of conversations (`use_cases/conversations/drafts.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from backend.agents import draft_agent, update_agent
from backend.config import ChatSettings, ProjectDraftSettings
from backend.features.adapters import Wiring
from backend.features.prompts import PromptUseCases
from services.conversations.draft_models import OfflineDraftingModels
from services.conversations.draft_offline import build_offline_draft_model
from use_cases.conversations.draft_chat import DraftChat, TrackProject
from use_cases.conversations.drafts import (
    DraftProject,
    DraftSettings,
    EditDraft,
    ManageDraftVersions,
    UpdateDraftByTurn,
)
from use_cases.conversations.memory import RecallMemories


@dataclass(frozen=True)
class ConversationDraftUseCases:
    draft_project: DraftProject
    update_draft: UpdateDraftByTurn
    edit_draft: EditDraft
    draft_versions: ManageDraftVersions
    draft_chat: DraftChat
    tracked_projects: TrackProject


def build(
    w: Wiring, prompts: PromptUseCases, *, settings: ProjectDraftSettings, chat: ChatSettings
) -> ConversationDraftUseCases:
    a = w.adapters
    history, store = a.history, a.project_draft_store
    draft_settings = DraftSettings(
        max_conversation_chars=settings.max_conversation_chars,
        max_versions=settings.max_versions,
        max_message_chars=chat.max_message_chars,
    )
    models = OfflineDraftingModels(prompts.chat_models, build_offline_draft_model())
    locks = a.draft_chat_store  # a conversation with a project is locked
    answers = w.stored_answers()  # a draft is withheld while its conversation is
    drafting = DraftProject(
        history,
        store,
        models,
        draft_agent(w.limits),
        w.limits,
        draft_settings,
        locks=locks,
        # No memory adapter ships (the conversation backend's Mem0): drafts come from the chat.
        memories=RecallMemories(None, threshold=settings.mem0_score_threshold),
        answers=answers,
    )
    updating = UpdateDraftByTurn(
        history,
        store,
        models,
        update_agent(w.limits),
        w.limits,
        draft_settings,
        locks=locks,
        answers=answers,
    )
    versions = ManageDraftVersions(history, store, draft_settings, locks=locks, answers=answers)
    return ConversationDraftUseCases(
        draft_project=drafting,
        update_draft=updating,
        edit_draft=EditDraft(history, store, draft_settings, locks=locks, answers=answers),
        draft_versions=versions,
        draft_chat=DraftChat(
            history,
            locks,
            store,
            drafting,
            updating,
            max_message_chars=chat.max_message_chars,
        ),
        # No tracker adapter ships (the conversation backend's Linear): creating a project is 501.
        tracked_projects=TrackProject(history, locks, versions, None, w.clock),
    )
