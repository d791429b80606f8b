"""Advice threads kept on the server: list, reopen, delete (as chats are managed).

A thread is made by the first advice that names it (`AdviceRequest.thread_id`, see
`use_cases/advice/give_advice.py`); each finished advice is added to it as the client received it,
so a reopened thread shows the same cards, oldest first, with the same response ids for feedback. A
user only ever sees their own threads: someone else's answers exactly like a missing one (404), so
ids leak nothing. A reopened thread carries the verdict its asker gave each advice (`POST
/feedback`), read from the response log, so the card shows it as it was left.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field

from use_cases.advice.domain import AdviceEntry, AdviceThread
from use_cases.advice.ports import AdviceThreadStore
from use_cases.confidence.ports import ResponseLog
from use_cases.shared.errors import InvalidRequest, NotFound

#: Threads per page, as for chats.
MAX_PAGE = 500


def thread_not_found(thread_id: str) -> NotFound:
    """The one answer for a thread that is missing or someone else's."""
    return NotFound(f"No advice thread with id {thread_id}.")


@dataclass(frozen=True)
class AdviceTranscript:
    """A thread and its advice, oldest first; `feedback`: the asker's verdict on each advice
    that has one, by entry id."""

    thread: AdviceThread
    entries: list[AdviceEntry]
    feedback: Mapping[str, bool] = field(default_factory=dict)


class ManageAdviceThreads:
    def __init__(self, threads: AdviceThreadStore, responses: ResponseLog | None = None) -> None:
        self._threads = threads
        self._responses = responses

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
        feedback = await asyncio.to_thread(self._verdicts, entries)
        return AdviceTranscript(thread, entries, feedback)

    def _verdicts(self, entries: builtins.list[AdviceEntry]) -> dict[str, bool]:
        verdicts: dict[str, bool] = {}
        if self._responses is None:
            return verdicts
        for entry in entries:
            logged = self._responses.get(entry.advice.response_id)
            if logged is not None and logged.feedback is not None:
                verdicts[entry.id] = logged.feedback.outcome
        return verdicts

    async def delete(self, user_id: str, thread_id: str) -> None:
        await self._owned(user_id, thread_id)
        await asyncio.to_thread(self._threads.delete_thread, thread_id)

    async def _owned(self, user_id: str, thread_id: str) -> AdviceThread:
        thread = await asyncio.to_thread(self._threads.get_thread, thread_id)
        if thread is None or thread.user_id != user_id:
            raise thread_not_found(thread_id)
        return thread
