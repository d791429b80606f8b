"""Advice threads kept on the server: list, reopen, delete (as chats are managed).

A thread is made by the first advice that names it (`AdviceRequest.thread_id`, see
`use_cases/advice/give_advice.py`); each finished advice is added to it as the client received it,
so a reopened thread shows the same cards, oldest first, with the same response ids for feedback. A
user only ever sees their own threads: someone else's answers exactly like a missing one (404), so
ids leak nothing. A reopened thread carries the verdict its asker gave each advice (`POST
/feedback`), read from the response log, so the card shows it as it was left.

An advice whose cited document or table its reader may no longer read (a collection's grant
revoked) is withheld whole, as a stored chat answer is (`use_cases/chat/withholding.py`): its
advice, reasoning and alternatives read `WITHHELD_ANSWER`'s notice, its sources are gone.
Advice kept before sources recorded their document's id can be checked for tables only.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from use_cases.access.domain import Caller
from use_cases.advice.domain import AdviceEntry, AdviceThread
from use_cases.advice.ports import AdviceThreadStore
from use_cases.chat.citations import TABLE_TITLE
from use_cases.chat.withholding import WITHHELD_ANSWER, StoredAnswers, Withholding
from use_cases.confidence.ports import ResponseLog
from use_cases.shared.errors import InvalidRequest, NotFound

#: Threads per page, as for chats.
MAX_PAGE = 500


def readable_entries(entries: builtins.list[AdviceEntry], shown: Withholding) -> list[AdviceEntry]:
    """`entries`, each advice citing what the reader may no longer read withheld whole."""

    def withheld(entry: AdviceEntry) -> bool:
        sources = entry.advice.sources
        looked_up = [s.document for s in sources if s.document.startswith(TABLE_TITLE)]
        tables = [t.removeprefix(TABLE_TITLE) for t in looked_up]
        named = [t.strip().lower() for t in tables for t in t.split(",")]
        return shown.hides([s.document_id for s in sources], named)

    return [
        replace(
            entry,
            advice=entry.advice.model_copy(
                update={
                    "main_advice": WITHHELD_ANSWER,
                    "reasoning": WITHHELD_ANSWER,
                    "alternatives": [],
                    "sources": [],
                }
            ),
        )
        if withheld(entry)
        else entry
        for entry in entries
    ]


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
    def __init__(
        self,
        threads: AdviceThreadStore,
        responses: ResponseLog | None = None,
        answers: StoredAnswers | None = None,
    ) -> None:
        self._threads = threads
        self._responses = responses
        self._answers = answers or StoredAnswers()

    async def list(self, user_id: str, *, limit: int = 50, offset: int = 0) -> list[AdviceThread]:
        """The user's threads, most recently active first."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}.")
        if offset < 0:
            raise InvalidRequest("offset must not be negative.")
        return await asyncio.to_thread(
            self._threads.list_threads, user_id, limit=limit, offset=offset
        )

    async def transcript(
        self, user_id: str, thread_id: str, reader: Caller | None = None
    ) -> AdviceTranscript:
        thread = await self._owned(user_id, thread_id)
        entries = await asyncio.to_thread(self._threads.list_entries, thread.id)
        shown = await self._answers.for_reader(user_id, reader)
        if shown.restricted:
            entries = await asyncio.to_thread(readable_entries, entries, shown)
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
