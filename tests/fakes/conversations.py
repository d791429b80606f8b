"""In-memory fakes of the conversation ports (`use_cases/conversations/search_ports.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from use_cases.conversations.search_ports import ConversationSummary


class InMemorySummaryStore:
    """`SummaryStore` in memory (its first `created_at` kept on a replace, as the SQL one)."""

    def __init__(self) -> None:
        self.rows: dict[str, ConversationSummary] = {}

    def get(self, chat_id: str) -> ConversationSummary | None:
        return self.rows.get(chat_id)

    def save(self, summary: ConversationSummary) -> ConversationSummary:
        old = self.rows.get(summary.chat_id)
        kept = replace(summary, created_at=old.created_at) if old else summary
        self.rows[summary.chat_id] = replace(kept, stale=False)
        return self.rows[summary.chat_id]

    def edit(self, chat_id: str, text: str, at: datetime) -> ConversationSummary | None:
        old = self.rows.get(chat_id)
        if old is None:
            return None
        self.rows[chat_id] = replace(old, text=text, edited=True, updated_at=at)
        return self.rows[chat_id]

    def close(self) -> None:
        pass


class FirstSentences:
    """`ExtractiveSummariser`: the first line's text (what a test can predict)."""

    def summarise(self, texts: Sequence[str], *, max_chars: int) -> str:
        return texts[0].split(": ", 1)[-1][:max_chars]
