"""Stored answers a reader may no longer be shown: the one rule every path that returns an
answer's stored text applies (the history and its export, earlier versions, chat search,
summaries, project drafts, the history a new turn sends the model).

Rules:
- A stored answer's document sources are checked against the knowledge base as it is now
  (`Source.status`): a citation names the document id and the version (content hash) it
  quoted, and ids are never reused, so an old answer's citation stays true: `deleted` when
  the document is gone, `replaced` (with `replaced_by`, the version now stored under that
  id) when it was replaced in place, `superseded` (with `superseded_by`) when a newer
  document supersedes it, `current` otherwise. An answer stored before versions were
  recorded cannot tell `replaced` from `current`.
- A source whose document the reader may no longer read (its collection's grant revoked) is
  `unavailable`: its title, source, section and versions are withheld, and the client says
  it is no longer available to them; so is a table lookup's source once one of its tables
  is in a collection the reader may not read (its rows were stored with the answer).
- The answer that cited it is withheld whole (`WITHHELD_ANSWER` in place of its text, the
  knowledge-base searches' and table lookups' results `WITHHELD_RESULT`), whichever of its
  sources became unreadable: an answer quotes and paraphrases its sources anywhere in its
  text, so no part of it can be shown safely. The same holds for an answer's earlier
  versions, for a document and for a table alike.
- A withheld answer is not searchable either: a search reads what the reader may be shown,
  never the hidden text (`withheld`), so it neither matches on it nor quotes it in a snippet.
- Granted again, the answer reads as it did: nothing stored is changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace

from use_cases.access.domain import Caller
from use_cases.chat.citations import TABLE_TITLE, titled_tables
from use_cases.chat.domain import CitedAnswer, Message, MessageVersion, Source, ToolCall
from use_cases.knowledge.collections import ResolveReadScope, reader_of
from use_cases.knowledge.domain import DocumentRecord, DocumentRef
from use_cases.knowledge.ports import KnowledgeStore
from use_cases.knowledge.scope import EVERYTHING, ReadScope
from use_cases.tables.domain import may_read
from use_cases.tables.ports import TableLoader

__all__ = [
    "WITHHELD_ANSWER",
    "WITHHELD_RESULT",
    "WITHHELD_SUMMARY",
    "StoredAnswers",
    "Withholding",
]

#: What a stored answer reads once a source it cited may no longer be read by its reader.
WITHHELD_ANSWER = (
    "This answer is withheld: a source it cited is no longer available to you. "
    "Ask again to get an answer from what you can read now."
)

#: What a stored search's result says once a document it returned may no longer be read.
WITHHELD_RESULT = "Withheld: what this tool read is no longer available to you."

#: What a conversation's stored summary reads while an answer of its chat is withheld: the
#: summary may repeat that answer, and does not record which answers it read.
WITHHELD_SUMMARY = (
    "This summary is withheld: an answer of this conversation cited a source that is no "
    "longer available to you."
)

#: The tools whose kept results quote what they read: a document's passages, a table's rows.
_QUOTING_TOOLS = frozenset({"search_knowledge_base", "lookup_structured_data"})


class Withholding:
    """What one reader (`scope`, as of now) may be shown of stored answers (module rules).
    Without a knowledge store nothing is checked; documents and tables are read once each."""

    def __init__(
        self,
        documents: KnowledgeStore | None,
        scope: ReadScope = EVERYTHING,
        tables: TableLoader | None = None,
    ) -> None:
        self._documents = documents
        self._scope = scope
        self._tables = tables
        self._records: dict[int, DocumentRecord | None] = {}
        self._hidden_tables: frozenset[str] | None = None

    @property
    def restricted(self) -> bool:
        """Whether anything stored can be withheld from this reader (not an admin's scope)."""
        return self._documents is not None and self._scope.collections is not None

    def messages(self, messages: Sequence[Message]) -> list[Message]:
        """`messages` with each document source's status, the answers that cited what the
        reader may no longer read withheld."""
        if self._documents is None:
            return list(messages)
        self._read([s for m in messages for s in m.sources], with_newer=True)
        return [self._checked(m) if m.sources else m for m in messages]

    def versions(
        self, versions: Mapping[str, list[MessageVersion]]
    ) -> dict[str, list[MessageVersion]]:
        """Earlier versions of answers, each withheld as an answer is."""
        if not self.restricted:
            return dict(versions)
        self._read([s for kept in versions.values() for v in kept for s in v.sources])
        return {
            message_id: [
                replace(
                    v,
                    content=WITHHELD_ANSWER,
                    sources=tuple(_unavailable(s) if self._hidden(s) else s for s in v.sources),
                )
                if any(self._hidden(s) for s in v.sources)
                else v
                for v in kept
            ]
            for message_id, kept in versions.items()
        }

    def withheld(self, answers: Sequence[CitedAnswer]) -> frozenset[str]:
        """The ids of the answers of `answers` the reader may not be shown."""
        if not self.restricted:
            return frozenset()
        self._read([s for a in answers for s in a.sources])
        return frozenset(a.message_id for a in answers if any(map(self._hidden, a.sources)))

    def hides(self, document_ids: Sequence[int | None], tables: Sequence[str]) -> bool:
        """Whether an answer citing these documents and looking up these tables (by name)
        is withheld from the reader: what a kept advice, which records no `Source`, needs."""
        if not self.restricted:
            return False
        sources = [Source(0, "document", "", "", document_id=i) for i in document_ids if i]
        sources += [Source(0, "table", TABLE_TITLE + name, "") for name in tables]
        self._read(sources)
        return any(self._hidden(s) for s in sources)

    # -- the rule ------------------------------------------------------------------------

    def _read(self, sources: Sequence[Source], *, with_newer: bool = False) -> None:
        """Read the records of the documents `sources` cite (and, `with_newer`, of those
        superseding them: a `superseded` status names its newer document)."""
        assert self._documents is not None
        ids = {s.document_id for s in sources if s.document_id is not None} - set(self._records)
        self._records.update({i: self._documents.get_record(i) for i in ids})
        if with_newer:
            newer = {r.superseded_by_id for r in self._records.values() if r and r.superseded_by_id}
            newer -= set(self._records)
            self._records.update({i: self._documents.get_record(i) for i in newer})

    def _hidden(self, source: Source) -> bool:
        """Whether `source` cites a document or names a table the reader may not read."""
        if self._scope.collections is None:
            return False
        if source.document_id is not None:
            record = self._records.get(source.document_id)
            if record is not None and not self._scope.may_read(record.collection_id):
                return True
        named = titled_tables(source)
        return bool(named) and any(t in self._unreadable_tables() for t in named)

    def _unreadable_tables(self) -> frozenset[str]:
        """The tables (lower case) the reader may not read, listed once."""
        if self._hidden_tables is None:
            collections = self._scope.collections
            self._hidden_tables = frozenset(
                t.name.lower()
                for t in (self._tables.list_tables() if self._tables is not None else ())
                if collections is not None and not may_read(collections, t)
            )
        return self._hidden_tables

    def _checked(self, message: Message) -> Message:
        sources = tuple(
            _unavailable(s) if self._hidden(s) else self._status(s) for s in message.sources
        )
        if any(self._hidden(s) for s in message.sources):
            return replace(
                message,
                content=WITHHELD_ANSWER,
                sources=sources,
                tool_calls=_withheld(message.tool_calls),
            )
        return replace(message, sources=sources)

    def _status(self, source: Source) -> Source:
        if source.kind != "document" or source.document_id is None:
            return source
        record = self._records.get(source.document_id)
        if record is None:
            return replace(source, status="deleted")
        if source.document_version is not None and record.content_hash != source.document_version:
            return replace(source, status="replaced", replaced_by=_ref(record))
        if record.superseded_by_id is not None:
            newer = self._visible(record.superseded_by_id)
            ref = _ref(newer) if newer is not None else source.superseded_by
            return replace(source, status="superseded", superseded_by=ref)
        return replace(source, status="current")

    def _visible(self, document_id: int) -> DocumentRecord | None:
        """The record of a document the reader may read (None: gone, or not theirs)."""
        record = self._records.get(document_id)
        if record is None or not self._scope.may_read(record.collection_id):
            return None
        return record


class StoredAnswers:
    """Makes the `Withholding` of a stored answer's reader: the chat's owner, with the
    caller's rights when they act as themselves (`reader_of`)."""

    def __init__(
        self,
        documents: KnowledgeStore | None = None,
        readers: ResolveReadScope | None = None,
        tables: TableLoader | None = None,
    ) -> None:
        self._documents = documents
        self._readers = readers
        self._tables = tables

    async def for_reader(self, user_id: str, reader: Caller | None = None) -> Withholding:
        return await asyncio.to_thread(self.of, reader_of(user_id, reader))

    def of(self, reader: Caller) -> Withholding:
        """The `Withholding` of `reader` (blocking: from a worker thread)."""
        scope = EVERYTHING if self._readers is None else self._readers.run(reader)
        return Withholding(self._documents, scope, self._tables)

    def misses_a_collection(self, reader: Caller) -> bool:
        """Whether a collection exists that `reader` may not read (blocking): nothing can
        have been revoked from a reader of every collection, so what cannot be checked is
        shown to them (a deployment without collections withholds nothing)."""
        if self._readers is None:
            return False
        readable = self._readers.run(reader).collections
        return readable is not None and not set(self._readers.names()) <= readable


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


def _ref(record: DocumentRecord) -> DocumentRef:
    return DocumentRef(record.id, record.title, record.source, record.updated_at)
