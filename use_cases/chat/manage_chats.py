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

A stored answer's document sources are checked against the knowledge base as it is now
(`Source.status`): a citation names the document id and the version (content hash) it
quoted, and ids are never reused, so an old answer's citation stays true: `deleted` when the
document is gone, `replaced` (with `replaced_by`, the version now stored under that id) when
it was replaced in place, `superseded` (with `superseded_by`) when a newer document
supersedes it, `current` otherwise. An answer stored before versions were recorded cannot
tell `replaced` from `current`. A source whose document the reader may no longer read (its
collection's grant revoked) is `unavailable`: its title, source, section and versions are
withheld, and the client says it is no longer available to them; so is a table lookup's
source once one of its tables is in a collection the reader may not read (its rows were
stored with the answer). The answer that cited it is
withheld whole (`WITHHELD_ANSWER` in place of its text, the knowledge-base searches' results
withheld too), whichever of its sources became unreadable: an answer quotes and paraphrases
its sources anywhere in its text, so no part of it can be shown safely. The same holds for
an answer's earlier versions. Granted again, the answer reads as it did.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta

from use_cases.access.domain import Caller
from use_cases.chat.citations import titled_tables
from use_cases.chat.domain import (
    MAX_POSITION,
    Chat,
    Message,
    MessagePage,
    MessageVersion,
    Source,
    ToolCall,
)
from use_cases.chat.ports import HistoryStore
from use_cases.confidence.domain import LoggedResponse
from use_cases.confidence.ports import ResponseLog
from use_cases.knowledge.collections import ResolveReadScope, reader_of
from use_cases.knowledge.domain import DocumentRecord, DocumentRef
from use_cases.knowledge.ports import KnowledgeStore
from use_cases.knowledge.scope import EVERYTHING, ReadScope
from use_cases.shared.clock import Clock, utc
from use_cases.shared.errors import InvalidRequest, NotFound
from use_cases.tables.domain import may_read
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


def _with_source_status(
    messages: list[Message],
    documents: KnowledgeStore,
    scope: ReadScope = EVERYTHING,
    hidden_tables: frozenset[str] = frozenset(),
) -> list[Message]:
    """`messages` with each document source's `status` as of now (module docstring); a
    table lookup naming one of `hidden_tables` (lower case) is unavailable too."""
    ids = {s.document_id for m in messages for s in m.sources if s.document_id is not None}
    records = {document_id: documents.get_record(document_id) for document_id in ids}
    newer = {r.superseded_by_id for r in records.values() if r and r.superseded_by_id} - ids
    records.update({document_id: documents.get_record(document_id) for document_id in newer})
    hidden = _unreadable(records, scope)
    shown = {i: (None if i in hidden else r) for i, r in records.items()}
    return [_checked(m, hidden, shown, hidden_tables) if m.sources else m for m in messages]


def _unreadable(records: Mapping[int, DocumentRecord | None], scope: ReadScope) -> set[int]:
    """The ids of the documents of `records` that `scope` may not read."""
    return {i for i, r in records.items() if r is not None and not scope.may_read(r.collection_id)}


def _checked(
    message: Message,
    hidden: set[int],
    shown: Mapping[int, DocumentRecord | None],
    hidden_tables: frozenset[str] = frozenset(),
) -> Message:
    """`message` with its sources' status, withheld whole if it cited a `hidden` document or
    looked up a hidden table."""

    def unreadable(source: Source) -> bool:
        named = titled_tables(source)
        return source.document_id in hidden or any(t in hidden_tables for t in named)

    sources = tuple(
        _unavailable(s) if unreadable(s) else _source_status(s, shown) for s in message.sources
    )
    if any(unreadable(s) for s in message.sources):
        return replace(
            message,
            content=WITHHELD_ANSWER,
            sources=sources,
            tool_calls=_withheld(message.tool_calls),
        )
    return replace(message, sources=sources)


#: What a stored answer reads once a source it cited may no longer be read by its reader.
WITHHELD_ANSWER = (
    "This answer is withheld: a source it cited is no longer available to you. "
    "Ask again to get an answer from what you can read now."
)


def _readable_versions(
    versions: Mapping[str, builtins.list[MessageVersion]],
    documents: KnowledgeStore,
    scope: ReadScope,
) -> dict[str, builtins.list[MessageVersion]]:
    """Earlier versions of answers, each withheld as an answer is (`_with_source_status`)."""
    if scope == EVERYTHING:
        return dict(versions)
    ids = {
        s.document_id
        for kept in versions.values()
        for v in kept
        for s in v.sources
        if s.document_id is not None
    }
    hidden = _unreadable({i: documents.get_record(i) for i in ids}, scope)
    return {
        message_id: [
            replace(
                v,
                content=WITHHELD_ANSWER,
                sources=tuple(_unavailable(s) if s.document_id in hidden else s for s in v.sources),
            )
            if any(s.document_id in hidden for s in v.sources)
            else v
            for v in kept
        ]
        for message_id, kept in versions.items()
    }


#: What a stored search's result says once a document it returned may no longer be read.
WITHHELD_RESULT = "Withheld: what this tool read is no longer available to you."


#: The tools whose kept results quote what they read: a document's passages, a table's rows.
_QUOTING_TOOLS = frozenset({"search_knowledge_base", "lookup_structured_data"})


def _withheld(calls: Sequence[ToolCall]) -> tuple[ToolCall, ...]:
    """The turn's tool calls, the searches' and the table lookups' results withheld (one of
    them quoted what the reader may no longer read)."""
    return tuple(
        replace(c, result_preview=WITHHELD_RESULT) if c.name in _QUOTING_TOOLS else c for c in calls
    )


def _unavailable(source: Source) -> Source:
    """A cited source the reader may no longer read: its number and nothing of the document."""
    return Source(
        number=source.number,
        kind=source.kind,
        title="No longer available to you",
        source="",
        status="unavailable",
        cited=source.cited,
    )


def _source_status(source: Source, records: Mapping[int, DocumentRecord | None]) -> Source:
    if source.kind != "document" or source.document_id is None:
        return source
    record = records.get(source.document_id)
    if record is None:
        return replace(source, status="deleted")
    if source.document_version is not None and record.content_hash != source.document_version:
        return replace(source, status="replaced", replaced_by=_ref(record))
    if record.superseded_by_id is not None:
        newer = records.get(record.superseded_by_id)
        ref = _ref(newer) if newer is not None else source.superseded_by
        return replace(source, status="superseded", superseded_by=ref)
    return replace(source, status="current")


def _ref(record: DocumentRecord) -> DocumentRef:
    return DocumentRef(record.id, record.title, record.source, record.updated_at)


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
        self._tables = tables
        self._readers = readers
        self._history = history
        self._on_delete = on_delete
        """Called (in a worker thread) with a deleted chat's id: what other features keep
        for a chat goes with it (its attached files)."""
        self._responses = responses
        self._documents = documents

    async def list(self, user_id: str, *, limit: int = 50, offset: int = 0) -> list[Chat]:
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}.")
        if offset < 0:
            raise InvalidRequest("offset must not be negative.")
        return await asyncio.to_thread(
            self._history.list_chats, user_id, limit=limit, offset=offset
        )

    async def search(
        self, user_id: str, query: str, *, limit: int = 50, offset: int = 0
    ) -> builtins.list[ChatMatch]:
        """The user's chats whose title or messages hold every word of `query` (case-folded),
        most recently active first, each with a snippet of its first matching message."""
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
        found = await asyncio.to_thread(
            self._history.search_chats, user_id, terms, limit=limit, offset=offset
        )
        return [
            ChatMatch(chat, None if text is None else snippet_of(text, terms))
            for chat, text in found
        ]

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
        scope = await self._scope(user_id, reader)
        return await asyncio.to_thread(self._page, user_id, chat, limit, before, after, scope)

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
        scope = await self._scope(user_id, reader)

        async def every_page() -> AsyncIterator[list[Message]]:
            after: int | None = 0
            while after is not None:
                page = await asyncio.to_thread(self._page_of, chat.id, size, None, after, scope)
                if page.messages:
                    yield page.messages
                after = page.later

        return chat, every_page()

    async def _scope(self, user_id: str, reader: Caller | None) -> ReadScope:
        """What the chat's reader may read now (their sources' documents are checked)."""
        if self._readers is None:
            return EVERYTHING
        return await self._readers.execute(reader_of(user_id, reader))

    def _page(
        self,
        user_id: str,
        chat: Chat,
        limit: int,
        before: int | None,
        after: int | None,
        scope: ReadScope = EVERYTHING,
    ) -> ChatTranscript:
        page = self._page_of(chat.id, limit, before, after, scope)
        ids = [m.id for m in page.messages]
        versions = self._history.list_versions(chat.id, ids) if ids else {}
        if self._documents is not None and versions:
            versions = _readable_versions(versions, self._documents, scope)
        responses: dict[str, LoggedResponse] = {}
        if self._responses is not None and ids:
            # The log's entries of this chat are its answered turns (one a model call each),
            # not its imported messages; those of this page are kept.
            shown = set(ids)
            responses = {
                entry.message_id: entry
                for entry in self._responses.for_chat(chat.id)
                if entry.message_id in shown and entry.user_id == user_id
            }
        return ChatTranscript(chat, page.messages, responses, versions, page.earlier, page.later)

    def _page_of(
        self,
        chat_id: str,
        limit: int,
        before: int | None,
        after: int | None,
        scope: ReadScope = EVERYTHING,
    ) -> MessagePage:
        page = _followable(
            self._history.page_messages(chat_id, limit=limit, before=before, after=after)
        )
        if self._documents is None or not page.messages:
            return page
        hidden_tables = self._hidden_tables(page.messages, scope)
        return replace(
            page,
            messages=_with_source_status(page.messages, self._documents, scope, hidden_tables),
        )

    def _hidden_tables(self, messages: builtins.list[Message], scope: ReadScope) -> frozenset[str]:
        """The tables (lower case) the scope may not read, when `messages` looked any up."""
        looked_up = any(s.kind == "table" for m in messages for s in m.sources)
        if self._tables is None or scope.collections is None or not looked_up:
            return frozenset()
        return frozenset(
            t.name.lower() for t in self._tables.list_tables() if not may_read(scope.collections, t)
        )

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
