"""Managing chats: list, search, read, rename, delete. A user only ever sees their own
chats; someone else's chat answers exactly like a missing one (404), so ids leak nothing.

A search finds the chats whose title or messages hold every word of the query (compared
case-folded, as substrings: "rotat" finds "rotation"), most recently active first, each with
a snippet of its first message holding a searched word.

An answer given again ("Retry", or the last question edited) keeps the answers it replaced
as its previous versions, each with the question it answered (`transcript.versions`).

A chat is read a page at a time (`page`): at most `MAX_MESSAGE_PAGE` messages (by default
`DEFAULT_MESSAGE_PAGE`), the chat's last ones unless a cursor says where (`MessagePage`):
`before` a message's position reads the page before it, `after` one the page after it. A
page costs one indexed range read however long the chat is; nothing reads a whole chat at
once (an export reads it page by page, `pages`).

Reading a chat (a page) also gives each stored answer its response-log entry, when it
has one (a complete answer; not an interrupted or failed one): its `response_id` for
feedback, its confidence and phrase, and the feedback already given, so a client can show a
past answer as it showed it live.

A stored answer's sources are checked against the knowledge base as it is now, and an
answer whose source its reader may no longer read is withheld, its earlier versions too
(`use_cases/chat/withholding.py`: the one rule of every path that returns stored answers).
A search (`search`) never matches on a withheld answer's hidden text.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta

from use_cases.access.domain import Caller
from use_cases.chat.domain import (
    MAX_POSITION,
    Chat,
    Message,
    MessagePage,
    MessageVersion,
)
from use_cases.chat.ports import HistoryStore
from use_cases.chat.withholding import StoredAnswers, Withholding
from use_cases.confidence.domain import LoggedResponse
from use_cases.confidence.ports import ResponseLog
from use_cases.knowledge.collections import ResolveReadScope
from use_cases.knowledge.ports import KnowledgeStore
from use_cases.shared.clock import Clock, utc
from use_cases.shared.errors import InvalidRequest, NotFound
from use_cases.tables.ports import TableLoader


def _followable(page: MessagePage) -> MessagePage:
    """`page` with only cursors a request may name: none on an empty page (whatever store
    read it), and none outside 0 to `MAX_POSITION` (a `Link` to a page the API refuses is
    worse than no link)."""
    if not page.messages:
        return MessagePage([], None, None)
    earlier, later = (
        c if c is not None and 0 <= c <= MAX_POSITION else None for c in (page.earlier, page.later)
    )
    if (earlier, later) == (page.earlier, page.later):
        return page
    return replace(page, earlier=earlier, later=later)


def chat_not_found(chat_id: str) -> NotFound:
    """The one answer for a chat that is missing or someone else's."""
    return NotFound(f"No chat with id {chat_id}.")


@dataclass(frozen=True)
class ChatTranscript:
    """A chat, a page of its messages (oldest first) and their logged answers by message id;
    `earlier` and `later` are the page's cursors (`MessagePage`)."""

    chat: Chat
    messages: list[Message]
    responses: Mapping[str, LoggedResponse] = field(default_factory=dict)
    versions: Mapping[str, list[MessageVersion]] = field(default_factory=dict)
    """The earlier answers in an answer's place (Retry, an edited question), by its id."""
    earlier: int | None = None
    later: int | None = None


#: Messages per page of a chat when the client names no `limit`, and the most it may name:
#: a page of 1,000 one-line messages is ~0.4 MB of JSON and ~35 ms of CPU; a whole
#: 500,000-message chat read at once was 183 MB, ~18 s of CPU and +1 GiB of server memory.
DEFAULT_MESSAGE_PAGE = 100
MAX_MESSAGE_PAGE = 1000


#: Chats per page: the bound of every list in the API (documents, audit, prompt versions).
MAX_PAGE = 500

#: A chat search: at most this many characters, and this many words (each must be found).
MAX_SEARCH_CHARS = 200
MAX_SEARCH_TERMS = 8
#: Characters of the matching message shown around its first match.
SNIPPET_BEFORE = 40
SNIPPET_CHARS = 160


@dataclass(frozen=True)
class ChatMatch:
    """A chat a search found, with the passage of its first message that holds a searched
    word (`snippet`, None when only the title holds them)."""

    chat: Chat
    snippet: str | None


def snippet_of(text: str, terms: list[str]) -> str:
    """`SNIPPET_CHARS` characters of `text` around the first of `terms` (case-folded), cut
    at words, with "…" where text was left out; whitespace collapsed."""
    flat = " ".join(text.split())
    folded = flat.casefold()
    hits = [i for i in (folded.find(t.casefold()) for t in terms) if i >= 0]
    at = min(hits) if hits else 0
    start = max(0, at - SNIPPET_BEFORE)
    if start > 0:
        space = flat.find(" ", start)
        start = space + 1 if 0 <= space < at else start
    end = min(len(flat), start + SNIPPET_CHARS)
    if end < len(flat):
        space = flat.rfind(" ", start, end)
        end = space if space > at else end
    return f"{'…' if start > 0 else ''}{flat[start:end]}{'…' if end < len(flat) else ''}"


class ManageChats:
    def __init__(
        self,
        history: HistoryStore,
        responses: ResponseLog | None = None,
        documents: KnowledgeStore | None = None,
        on_delete: Callable[[str], None] | None = None,
        readers: ResolveReadScope | None = None,
        tables: TableLoader | None = None,
    ) -> None:
        self._history = history
        self._on_delete = on_delete
        """Called (in a worker thread) with a deleted chat's id: what other features keep
        for a chat goes with it (its attached files)."""
        self._responses = responses
        self._answers = StoredAnswers(documents, readers, tables)

    async def list(self, user_id: str, *, limit: int = 50, offset: int = 0) -> list[Chat]:
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}.")
        if offset < 0:
            raise InvalidRequest("offset must not be negative.")
        return await asyncio.to_thread(
            self._history.list_chats, user_id, limit=limit, offset=offset
        )

    async def search(
        self,
        user_id: str,
        query: str,
        *,
        limit: int = 50,
        offset: int = 0,
        reader: Caller | None = None,
    ) -> builtins.list[ChatMatch]:
        """The user's chats whose title or messages hold every word of `query` (case-folded),
        most recently active first, each with a snippet of its first matching message; an
        answer withheld from the reader is not searched (`withholding.py`)."""
        if len(query) > MAX_SEARCH_CHARS:
            raise InvalidRequest(f"q has {len(query)} characters; at most {MAX_SEARCH_CHARS}.")
        terms = query.split()
        if not terms:
            raise InvalidRequest("q must hold a word to search for.")
        if len(terms) > MAX_SEARCH_TERMS:
            raise InvalidRequest(f"q has {len(terms)} words; at most {MAX_SEARCH_TERMS}.")
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}.")
        if offset < 0:
            raise InvalidRequest("offset must not be negative.")
        withheld = await self._withheld(user_id, reader)
        found = await asyncio.to_thread(
            self._history.search_chats,
            user_id,
            terms,
            limit=limit,
            offset=offset,
            withheld=withheld,
        )
        return [
            ChatMatch(chat, None if text is None else snippet_of(text, terms))
            for chat, text in found
        ]

    async def _withheld(self, user_id: str, reader: Caller | None) -> frozenset[str]:
        """The ids of the user's stored answers withheld from `reader`."""
        shown = await self._answers.for_reader(user_id, reader)
        if not shown.restricted:
            return frozenset()
        cited = await asyncio.to_thread(self._history.cited_answers, user_id)
        return await asyncio.to_thread(shown.withheld, cited)

    async def page(
        self,
        user_id: str,
        chat_id: str,
        *,
        limit: int = DEFAULT_MESSAGE_PAGE,
        before: int | None = None,
        after: int | None = None,
        reader: Caller | None = None,
    ) -> ChatTranscript:
        """A page of the chat (module docstring): its last `limit` messages, or those before
        position `before`, or after position `after` (not both), with their logged answers
        and earlier versions."""
        if not 1 <= limit <= MAX_MESSAGE_PAGE:
            raise InvalidRequest(f"limit must be between 1 and {MAX_MESSAGE_PAGE}.")
        if before is not None and after is not None:
            raise InvalidRequest("Give before or after, not both.")
        chat = await self._owned(user_id, chat_id)
        shown = await self._answers.for_reader(user_id, reader)
        return await asyncio.to_thread(self._page, user_id, chat, limit, before, after, shown)

    async def pages(
        self,
        user_id: str,
        chat_id: str,
        *,
        size: int = MAX_MESSAGE_PAGE,
        reader: Caller | None = None,
    ) -> tuple[Chat, AsyncIterator[builtins.list[Message]]]:
        """The chat (checked now: a missing chat fails here, not mid-way) and its messages
        page by page from the first, `size` at a time: what an export writes as it reads."""
        chat = await self._owned(user_id, chat_id)
        shown = await self._answers.for_reader(user_id, reader)

        async def every_page() -> AsyncIterator[list[Message]]:
            after: int | None = 0
            while after is not None:
                page = await asyncio.to_thread(self._page_of, chat.id, size, None, after, shown)
                if page.messages:
                    yield page.messages
                after = page.later

        return chat, every_page()

    def _page(
        self,
        user_id: str,
        chat: Chat,
        limit: int,
        before: int | None,
        after: int | None,
        shown: Withholding,
    ) -> ChatTranscript:
        page = self._page_of(chat.id, limit, before, after, shown)
        ids = [m.id for m in page.messages]
        versions = self._history.list_versions(chat.id, ids) if ids else {}
        if versions:
            versions = shown.versions(versions)
        responses: dict[str, LoggedResponse] = {}
        if self._responses is not None and ids:
            # The log's entries of this chat are its answered turns (one a model call each),
            # not its imported messages; those of this page are kept.
            on_page = set(ids)
            responses = {
                entry.message_id: entry
                for entry in self._responses.for_chat(chat.id)
                if entry.message_id in on_page and entry.user_id == user_id
            }
        return ChatTranscript(chat, page.messages, responses, versions, page.earlier, page.later)

    def _page_of(
        self,
        chat_id: str,
        limit: int,
        before: int | None,
        after: int | None,
        shown: Withholding,
    ) -> MessagePage:
        page = _followable(
            self._history.page_messages(chat_id, limit=limit, before=before, after=after)
        )
        if not page.messages:
            return page
        return replace(page, messages=shown.messages(page.messages))

    async def rename(self, user_id: str, chat_id: str, title: str) -> Chat:
        await self._owned(user_id, chat_id)
        return await asyncio.to_thread(self._history.rename_chat, chat_id, title)

    async def delete(self, user_id: str, chat_id: str) -> None:
        await self._owned(user_id, chat_id)
        await asyncio.to_thread(self._history.delete_chat, chat_id)
        if self._on_delete is not None:
            await asyncio.to_thread(self._on_delete, chat_id)

    async def owner(self, chat_id: str) -> str | None:
        """Whose chat `chat_id` is (None: no such chat). Only for development mode, where a
        `user_id` is a claim anyone may make (see `backend/api/deps.chat_reader_id`)."""
        chat = await asyncio.to_thread(self._history.get_chat, chat_id)
        return None if chat is None else chat.user_id

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
        cutoff = utc(self._clock.now()) - self._age
        return await asyncio.to_thread(self._history.interrupt_abandoned, cutoff)
