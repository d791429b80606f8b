"""Conversation summaries and search across chats (`use_cases/conversations`)."""

from __future__ import annotations

from dataclasses import dataclass

from backend.config import ConversationSearchSettings
from backend.features.adapters import Wiring
from backend.features.prompts import PromptUseCases
from services.chat.models import OFFLINE_MODEL
from services.offline.summary import CentroidSummariser
from use_cases.conversations.search import SearchChats
from use_cases.conversations.summaries import ManageSummaries


@dataclass(frozen=True)
class ConversationSearchUseCases:
    conversation_summaries: ManageSummaries
    """Read, regenerate, edit a conversation's summary; `summarise(chat_id)` for imports."""
    search_chats: SearchChats


def build(
    w: Wiring, prompts: PromptUseCases, settings: ConversationSearchSettings
) -> ConversationSearchUseCases:
    a = w.adapters
    summaries = ManageSummaries(
        a.history,
        a.summary_store,
        prompts.chat_models,
        CentroidSummariser(a.embedder),
        w.clock,
        offline_identifier=OFFLINE_MODEL,
        chunk_tokens=settings.summary_chunk_tokens,
        max_chars=settings.summary_max_chars,
        timeout_s=settings.summary_timeout,
        answers=w.stored_answers(),
    )
    return ConversationSearchUseCases(
        conversation_summaries=summaries,
        search_chats=SearchChats(a.chat_search_index, a.history, w.stored_answers()),
    )
