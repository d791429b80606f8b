"""A fake `MemorySearch` (the conversation backend's Mem0): each user's memories with the score the
service would give them, and the searches it was asked."""

from __future__ import annotations

from use_cases.conversations.memory import Memory


class FakeMemorySearch:
    def __init__(self, memories: dict[str, list[Memory]] | None = None) -> None:
        self.memories = memories or {}
        self.asked: list[tuple[str, str, int]] = []
        self.fail = False

    async def search(self, user_id: str, query: str, limit: int) -> list[Memory]:
        self.asked.append((user_id, query, limit))
        if self.fail:
            raise ConnectionError("the memory service is down")
        return self.memories.get(user_id, [])[:limit]
