"""Ports of advice: the advice threads kept on the server."""

from __future__ import annotations

from typing import Protocol

from use_cases.advice.domain import AdviceEntry, AdviceThread, StructuredAdvice


class AdviceThreadStore(Protocol):
    """Advice threads kept on the server (`use_cases/advice/manage_threads.py`). Adding is
    safe under concurrent writers: two advice added to one thread at once both keep their place."""

    def get_thread(self, thread_id: str) -> AdviceThread | None: ...

    def list_threads(self, user_id: str, *, limit: int = 50, offset: int = 0) -> list[AdviceThread]:
        """The user's threads, most recently active first."""
        ...

    def list_entries(self, thread_id: str, *, limit: int | None = None) -> list[AdviceEntry]:
        """The thread's advice, oldest first; with `limit`, the last `limit` of them."""
        ...

    def add_entry(
        self, thread_id: str, user_id: str, question: str, advice: StructuredAdvice
    ) -> AdviceEntry:
        """Append one advice, creating the thread (titled from `question`) if it is new, in
        one transaction; another user's thread raises `NotFound`, as a missing one would."""
        ...

    def delete_thread(self, thread_id: str) -> bool: ...
