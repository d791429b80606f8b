"""Ports of chat: the conversation history, the optional web search, and what watches turns
end (metrics)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from use_cases.access.domain import User
from use_cases.chat.domain import (
    Chat,
    CitedAnswer,
    Message,
    MessagePage,
    MessageVersion,
    NewMessage,
)


class HistoryStore(Protocol):
    """Users, chats and messages. Appends are safe under concurrent writers."""

    def ensure_user(
        self, user_id: str, name: str | None = None, email: str | None = None
    ) -> User: ...

    def get_chat(self, chat_id: str) -> Chat | None: ...

    def get_or_create_chat(self, chat_id: str | None, user_id: str, first_message: str) -> Chat:
        """Return the chat, creating it (title from `first_message`, 80 chars) if new."""
        ...

    def list_chats(self, user_id: str, *, limit: int = 50, offset: int = 0) -> list[Chat]: ...

    def search_chats(
        self,
        user_id: str,
        terms: Sequence[str],
        *,
        limit: int = 50,
        offset: int = 0,
        withheld: frozenset[str] = frozenset(),
    ) -> list[tuple[Chat, str | None]]:
        """The user's chats in which every term (compared case-folded) is in the title or in
        a message, most recently active first, each with the first message holding a term
        (None when the title alone holds them). The `withheld` messages are not read."""
        ...

    def cited_answers(self, user_id: str, chat_id: str | None = None) -> list[CitedAnswer]:
        """The user's stored answers (of one chat, with `chat_id`) that cite any source, and
        then their earlier versions that do (`CitedAnswer.earlier`), without their text."""
        ...

    def rename_chat(self, chat_id: str, title: str) -> Chat: ...

    def delete_chat(self, chat_id: str) -> bool: ...

    def append_message(self, chat_id: str, message: NewMessage) -> Message: ...

    def finalize_message(self, message_id: str, message: NewMessage) -> Message:
        """Overwrite a `streaming` message with its final content and status."""
        ...

    def list_messages(self, chat_id: str, *, limit: int | None = None) -> list[Message]: ...

    def count_messages(self, chat_id: str) -> int:
        """How many messages the chat holds (0 for an unknown chat), without reading them."""
        ...

    def page_messages(
        self, chat_id: str, *, limit: int, before: int | None = None, after: int | None = None
    ) -> MessagePage:
        """At most `limit` messages, oldest first: the first ones after position `after`, or
        the last ones before position `before`, or (neither) the chat's last `limit`; each
        page one range read of the `(chat_id, seq)` index (`MessagePage`). Both cursors:
        `InvalidRequest`. An unknown chat has an empty page; an empty page has no cursors."""
        ...

    def delete_messages(
        self, chat_id: str, message_ids: Sequence[str], *, versions_of: str | None = None
    ) -> int:
        """Delete these messages of the chat (an exchange answered again); how many were.
        With `versions_of` (the new answer's id), the deleted answers that have text, and the
        earlier versions they kept, become that message's previous versions, in the same
        transaction."""
        ...

    def list_versions(
        self, chat_id: str, message_ids: Sequence[str] | None = None
    ) -> dict[str, list[MessageVersion]]:
        """The previous versions of the chat's answers, by answer id, oldest first; with
        `message_ids` (messages of this chat: a page's), only those of these answers."""
        ...

    def interrupt_abandoned(self, started_before: datetime) -> int:
        """Mark `streaming` messages created before `started_before`, or whose process the
        store knows is dead, as `interrupted` (their turn's process died); returns how many."""
        ...


@dataclass(frozen=True)
class WebResult:
    """One result of a web search: untrusted text, like a passage."""

    title: str
    url: str
    snippet: str


class WebSearch(Protocol):
    """A web search provider. None is configured by default (WEB_SEARCH_PROVIDER=none); a
    provider plugs in through `services/chat/web_search.py`. Raises an `Upstream*` error when the
    provider fails."""

    @property
    def name(self) -> str: ...

    def search(self, query: str, limit: int) -> Sequence[WebResult]: ...


#: How a turn ended: an answer (or, for advice, a fallback), a content filter's refusal, an
#: error, or the client went away mid-answer.
TurnOutcome = Literal["answered", "refused", "failed", "interrupted"]


@dataclass(frozen=True)
class TurnEnded:
    """One finished turn, as an operator counts it. `kind`: "chat", "advice", ...;
    `model`: the model's label; tokens are 0 where the run reported none (a failure)."""

    kind: str
    model: str
    outcome: TurnOutcome
    seconds: float
    input_tokens: int = 0
    output_tokens: int = 0


class TurnObserver(Protocol):
    """Told once of every turn's end (metrics). Must not raise, nor block."""

    def turn_ended(self, ended: TurnEnded) -> None: ...


class NoTurnObserver:
    """Watches nothing (tests and tools that count no turns)."""

    def turn_ended(self, ended: TurnEnded) -> None:
        return None
