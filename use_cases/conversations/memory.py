"""Semantic memory of a user (the conversation backend's Mem0): what is remembered about them,
recalled by meaning as context when a conversation's project draft is written.

Rules:
- The memory service is a port (`MemorySearch`); no adapter ships, so no setting names one
  and `RecallMemories.execute` is `NotConfigured` (501) until one is wired in. Drafting asks
  it only when one is (`configured`), so drafts are written as before without it.
- A recall keeps the memories whose score is at least `threshold` (the MEM0_SCORE_THRESHOLD
  setting, 0.38 by default as in the conversation backend's API), best first, at most
  `limit`; a blank query recalls nothing.
- Memories are context, never instructions: drafting hands them to the model as data beside
  the conversation (`conversation_prompt`'s `memories`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from use_cases.shared.errors import NotConfigured

__all__ = ["NO_MEMORY", "Memory", "MemorySearch", "RecallMemories"]

NO_MEMORY = (
    "No semantic memory service (the conversation backend's Mem0) is configured on this server: "
    "project drafts are written from the conversation alone."
)


@dataclass(frozen=True)
class Memory:
    id: str
    text: str
    score: float
    """How close the memory is to the query, as the service scores it (higher is closer)."""


class MemorySearch(Protocol):
    """A semantic memory service searched for one user's memories."""

    async def search(self, user_id: str, query: str, limit: int) -> list[Memory]:
        """Up to `limit` of the user's memories nearest in meaning to `query`, scored."""
        ...


class RecallMemories:
    """The user's memories that matter for a query (module rules)."""

    def __init__(self, search: MemorySearch | None, *, threshold: float, limit: int = 5) -> None:
        self._search = search
        self._threshold = threshold
        self._limit = limit

    @property
    def configured(self) -> bool:
        return self._search is not None

    async def execute(self, user_id: str, query: str) -> list[Memory]:
        if self._search is None:
            raise NotConfigured(NO_MEMORY)
        if not query.strip():
            return []
        found = await self._search.search(user_id, query.strip(), self._limit)
        kept = [m for m in found if m.score >= self._threshold]
        return sorted(kept, key=lambda m: -m.score)[: self._limit]
