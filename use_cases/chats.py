"""Managing chats: list, read, rename, delete. A user only ever sees their own chats;
someone else's chat answers exactly like a missing one (404), so ids leak nothing.

Reading a chat (`transcript`) also gives each stored answer its response-log entry, when it
has one (a complete answer; not an interrupted or failed one): its `response_id` for
feedback, its confidence and phrase, and the feedback already given, so a client can show a
past answer as it showed it live.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from use_cases.calibration_domain import LoggedResponse
from use_cases.chat_domain import Chat, Message
from use_cases.errors import InvalidRequest, NotFound
from use_cases.ports import Clock, HistoryStore, ResponseLog


def chat_not_found(chat_id: str) -> NotFound:
    """The one answer for a chat that is missing or someone else's."""
    return NotFound(f"No chat with id {chat_id}.")


@dataclass(frozen=True)
class ChatTranscript:
    """A chat, its messages (oldest first) and the logged answers by message id."""

    chat: Chat
    messages: list[Message]
    responses: Mapping[str, LoggedResponse] = field(default_factory=dict)


class ManageChats:
    def __init__(self, history: HistoryStore, responses: ResponseLog | None = None) -> None:
        self._history = history
        self._responses = responses

    async def list(self, user_id: str, *, limit: int = 50, offset: int = 0) -> list[Chat]:
        if not 1 <= limit <= 200:
            raise InvalidRequest("limit must be between 1 and 200.")
        if offset < 0:
            raise InvalidRequest("offset must not be negative.")
        return await asyncio.to_thread(
            self._history.list_chats, user_id, limit=limit, offset=offset
        )

    async def messages(self, user_id: str, chat_id: str) -> tuple[Chat, list[Message]]:
        chat = await self._owned(user_id, chat_id)
        return chat, await asyncio.to_thread(self._history.list_messages, chat.id)

    async def transcript(self, user_id: str, chat_id: str) -> ChatTranscript:
        chat, messages = await self.messages(user_id, chat_id)
        if self._responses is None:
            return ChatTranscript(chat, messages)
        logged = await asyncio.to_thread(self._responses.for_chat, chat.id)
        responses = {
            entry.message_id: entry
            for entry in logged
            if entry.message_id is not None and entry.user_id == user_id
        }
        return ChatTranscript(chat, messages, responses)

    async def rename(self, user_id: str, chat_id: str, title: str) -> Chat:
        await self._owned(user_id, chat_id)
        return await asyncio.to_thread(self._history.rename_chat, chat_id, title)

    async def delete(self, user_id: str, chat_id: str) -> None:
        await self._owned(user_id, chat_id)
        await asyncio.to_thread(self._history.delete_chat, chat_id)

    async def _owned(self, user_id: str, chat_id: str) -> Chat:
        chat = await asyncio.to_thread(self._history.get_chat, chat_id)
        if chat is None or chat.user_id != user_id:
            raise chat_not_found(chat_id)
        return chat


class SweepAbandonedTurns:
    """Answers left `streaming` by a process that died (a crash, `kill -9`, a lost replica)
    are marked `interrupted`, like a turn the client abandoned.

    Only answers older than any live turn can be are touched: a turn ends within the turn time
    limit (AGENT_TIMEOUT), so `turn_limit_s` plus a margin later nobody can still finish it.
    Any replica may sweep at any time, as often as it likes: the update is idempotent.
    """

    def __init__(
        self, history: HistoryStore, clock: Clock, *, turn_limit_s: float, margin_s: float = 60
    ) -> None:
        self._history = history
        self._clock = clock
        self._age = timedelta(seconds=turn_limit_s + margin_s)

    async def execute(self) -> int:
        """How many answers were marked `interrupted`."""
        cutoff = self._clock.now() - self._age
        return await asyncio.to_thread(self._history.interrupt_abandoned, cutoff)
