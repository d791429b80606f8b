"""Advice threads kept on the server: list, reopen, delete (as chats are managed).

A thread is made by the first advice that names it (`AdviceRequest.thread_id`, see
`use_cases/advice.py`); each finished advice is added to it as the client received it, so a
reopened thread shows the same cards, oldest first, with the same response ids for feedback.
A user only ever sees their own threads: someone else's answers exactly like a missing one
(404), so ids leak nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from use_cases.advice_domain import AdviceEntry, AdviceThread
from use_cases.errors import InvalidRequest, NotFound
from use_cases.ports import AdviceThreadStore

#: Threads per page, as for chats.
MAX_PAGE = 500


def thread_not_found(thread_id: str) -> NotFound:
    """The one answer for a thread that is missing or someone else's."""
    return NotFound(f"No advice thread with id {thread_id}.")


@dataclass(frozen=True)
class AdviceTranscript:
    """A thread and its advice, oldest first."""

    thread: AdviceThread
    entries: list[AdviceEntry]


class ManageAdviceThreads:
    def __init__(self, threads: AdviceThreadStore) -> None:
        self._threads = threads

    async def list(self, user_id: str, *, limit: int = 50, offset: int = 0) -> list[AdviceThread]:
        """The user's threads, most recently active first."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}.")
        if offset < 0:
            raise InvalidRequest("offset must not be negative.")
        return await asyncio.to_thread(
            self._threads.list_threads, user_id, limit=limit, offset=offset
        )

    async def transcript(self, user_id: str, thread_id: str) -> AdviceTranscript:
        thread = await self._owned(user_id, thread_id)
        entries = await asyncio.to_thread(self._threads.list_entries, thread.id)
        return AdviceTranscript(thread, entries)

    async def delete(self, user_id: str, thread_id: str) -> None:
        await self._owned(user_id, thread_id)
        await asyncio.to_thread(self._threads.delete_thread, thread_id)

    async def _owned(self, user_id: str, thread_id: str) -> AdviceThread:
        thread = await asyncio.to_thread(self._threads.get_thread, thread_id)
        if thread is None or thread.user_id != user_id:
            raise thread_not_found(thread_id)
        return thread
