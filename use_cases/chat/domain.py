"""Domain types of chat: chats and messages (with the tool calls and sources of an answer).

`ToolCall.as_dict()` and `Source.as_dict()` are the one JSON shape of a tool call and of a
cited source: the HTTP responses, the CLI's `--json` and the stored messages all use them, and
`from_dict` reads every shape ever stored (keys added later default to empty).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from use_cases.knowledge.domain import DocumentRef, web_link

MessageRole = Literal["user", "assistant"]


@dataclass(frozen=True)
class ConversationMessage:
    """One message of a conversation a client sends whole (advice, useChat)."""

    role: str
    content: str


MessageStatus = Literal["complete", "streaming", "interrupted", "failed"]


#: How a tool call ended: PydanticAI's outcome of the tool's return ("retried": the tool asked
#: the model to try again, e.g. a rejected SQL query).
ToolStatus = Literal["success", "failed", "denied", "interrupted", "retried"]


@dataclass(frozen=True)
class Chat:
    id: str
    user_id: str
    title: str
    created_at: datetime
    updated_at: datetime
    source: str | None = None
    """Where an imported chat came from (`chatgpt`, `claude-export`, `slack`, ...); None for a
    chat begun here (see use_cases/conversations/import_domain.py)."""
    source_url: str | None = None
    """The share link or permalink an imported chat came from, if it had one."""
    external_id: str | None = None
    """The id the source gave the conversation (an import of it again finds this chat)."""


@dataclass(frozen=True)
class TokenUsage:
    """Tokens a turn's model read and wrote, as its provider reported them. `reported` is
    False when the provider reported none (some OpenAI-compatible servers): the counts are
    then unknown, not 0, and are shown as such."""

    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0
    reported: bool = True


@dataclass(frozen=True)
class ToolCall:
    """One call the model made to a tool during a turn. `status` and `result_preview` stay
    None until the tool has answered (a turn cut short can leave a call without them)."""

    id: str
    name: str
    args: dict[str, Any] = field(default_factory=dict)
    status: ToolStatus | None = None
    result_preview: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """`result` repeats `result_preview` under the name the knowledge-assistant contract
        gives it (docs/seeds.md): the kept, bounded part of what the tool answered."""
        return {
            "id": self.id,
            "name": self.name,
            "args": self.args,
            "status": self.status,
            "result_preview": self.result_preview,
            "result": self.result_preview,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolCall:
        return cls(
            id=str(data.get("id") or ""),
            name=str(data.get("name") or ""),
            args=dict(data.get("args") or {}),
            status=data.get("status"),
            result_preview=data.get("result_preview"),
        )


#: Rows of a table lookup kept with its citation (`Source.rows`), for a reader to see.
TABLE_SOURCE_ROWS = 50


def cell(value: Any) -> Any:
    """A table cell as JSON holds it: numbers, text, true/false and null as they are,
    anything else (bytes, dates) as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


#: What became of a cited document since the answer quoted it (see `Source.status`).
CitedStatus = Literal["current", "replaced", "superseded", "deleted", "unavailable"]


@dataclass(frozen=True)
class Source:
    """A passage or table lookup an answer cites by `[n]` (or `[table: name]`): what a reader
    needs to find it again, and which version of its document it is."""

    number: int
    kind: Literal["document", "table"]
    title: str
    source: str
    section: str = ""
    category: str | None = None
    updated_at: str | None = None
    score: float | None = None
    document_id: int | None = None
    superseded_by: DocumentRef | None = None
    supersedes: tuple[DocumentRef, ...] = ()
    version_note: str = ""
    document_version: str | None = None
    """The content hash of the document version the answer quoted (None: a table, or an
    answer stored before versions were recorded)."""
    status: CitedStatus | None = None
    """Set when a stored answer is read back: whether the quoted document is still there as
    quoted (`current`), was replaced in place (`replaced`, see `replaced_by`), superseded by
    another document (`superseded`, see `superseded_by`) or deleted (`deleted`); or that the
    reader may no longer read it (`unavailable`: its collection's grant was revoked; nothing
    of the document is shown then)."""
    replaced_by: DocumentRef | None = None
    """The version of the same document id now stored, when `status` is `replaced`."""
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()
    """A table lookup's result as the answer read it: its columns and its first
    `TABLE_SOURCE_ROWS` rows (`truncated` when there were more)."""
    truncated: bool = False
    cited: bool = True
    """False for a passage the model was given but did not cite: listed when an answer
    after a search cites none of its passages, so a client still sees what it rests on."""
    extraction: str | None = None
    """"ocr" when the passage's document was read by OCR (a scan or an image): its words may
    hold misreadings. Absent from the JSON otherwise."""
    link: str | None = None
    """Where the citation points a reader: a synced web page's http(s) URL. Absent from the
    JSON for files and uploads (and for a stored link of any other scheme)."""

    def as_dict(self) -> dict[str, Any]:
        """`document` and `date` repeat `title` and `updated_at` under the names the
        knowledge-assistant contract gives them (`{document, section, date}`, docs/seeds.md)."""
        return {
            "number": self.number,
            "kind": self.kind,
            "title": self.title,
            "document": self.title,
            "source": self.source,
            "section": self.section,
            "date": self.updated_at,
            "category": self.category,
            "updated_at": self.updated_at,
            "score": self.score,
            "document_id": self.document_id,
            "superseded_by": _ref_dict(self.superseded_by) if self.superseded_by else None,
            "supersedes": [_ref_dict(ref) for ref in self.supersedes],
            "version_note": self.version_note,
            "document_version": self.document_version,
            "cited": self.cited,
            **({"status": self.status} if self.status is not None else {}),
            **({"replaced_by": _ref_dict(self.replaced_by)} if self.replaced_by else {}),
            **({"extraction": self.extraction} if self.extraction else {}),
            **({"link": link} if (link := web_link(self.link)) else {}),
            **(
                {
                    "columns": list(self.columns),
                    "rows": [list(row) for row in self.rows],
                    "truncated": self.truncated,
                }
                if self.kind == "table"
                else {}
            ),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Source:
        superseded_by = data.get("superseded_by")
        return cls(
            number=int(data.get("number") or 0),
            kind="table" if data.get("kind") == "table" else "document",
            title=str(data.get("title") or ""),
            source=str(data.get("source") or ""),
            section=str(data.get("section") or ""),
            category=data.get("category"),
            updated_at=data.get("updated_at"),
            score=data.get("score"),
            document_id=data.get("document_id"),
            superseded_by=_ref(superseded_by) if superseded_by else None,
            supersedes=tuple(_ref(ref) for ref in data.get("supersedes") or ()),
            version_note=str(data.get("version_note") or ""),
            document_version=data.get("document_version"),
            columns=tuple(str(c) for c in data.get("columns") or ()),
            rows=tuple(tuple(row) for row in data.get("rows") or ()),
            truncated=bool(data.get("truncated")),
            cited=bool(data.get("cited", True)),
            extraction=data.get("extraction") or None,
            link=web_link(data.get("link")),
        )


def _ref_dict(ref: DocumentRef) -> dict[str, Any]:
    return {
        "document_id": ref.document_id,
        "title": ref.title,
        "source": ref.source,
        "updated_at": ref.updated_at.isoformat() if ref.updated_at else None,
    }


def _ref(data: Mapping[str, Any]) -> DocumentRef:
    updated = data.get("updated_at")
    return DocumentRef(
        document_id=int(data.get("document_id") or 0),
        title=str(data.get("title") or ""),
        source=str(data.get("source") or ""),
        updated_at=date.fromisoformat(updated) if updated else None,
    )


@dataclass(frozen=True)
class NewMessage:
    """A message to append. Assistant turns may start as `streaming` and be finalised later."""

    role: MessageRole
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    sources: tuple[Source, ...] = ()
    model: str | None = None
    latency_ms: int | None = None
    usage: TokenUsage | None = None
    status: MessageStatus = "complete"
    not_found: bool = False
    """The answer is the can't-find answer, as its turn decided it (stored with it, so a
    history reads the decision back instead of guessing it from the text)."""


@dataclass(frozen=True)
class Message:
    id: str
    chat_id: str
    role: MessageRole
    content: str
    tool_calls: tuple[ToolCall, ...]
    sources: tuple[Source, ...]
    model: str | None
    latency_ms: int | None
    usage: TokenUsage | None
    status: MessageStatus
    created_at: datetime
    not_found: bool = False
    """The answer is the can't-find answer, as its turn decided it when it was stored (a
    question never is)."""


#: The highest position a message can have (PostgreSQL's `seq` is an INTEGER): a cursor past
#: it is refused, not sent to the database.
MAX_POSITION = 2**31 - 1


@dataclass(frozen=True)
class MessagePage:
    """Some of a chat's messages, oldest first, and the cursors to the pages beside it: a
    cursor is a message's position in the chat (its `seq`: 1, 2, ... in conversation order,
    with gaps where messages were deleted), never an offset, so each page is one indexed
    range read however long the chat is.

    `earlier`: the position of this page's first message, to read the page before it
    (`before=earlier`); None when no message comes before. `later`: the position of its last
    message, to read the page after it (`after=later`); None when no message comes after.
    An empty page has neither (it has no edge to step from), and a cursor is always a
    position a request may name (0 to `MAX_POSITION`): following one is never refused."""

    messages: list[Message]
    earlier: int | None
    later: int | None


@dataclass(frozen=True)
class MessageVersion:
    """An earlier answer in an answer's place: kept when its exchange was answered again
    ("Retry", or the question edited), with the question it answered."""

    question: str
    content: str
    sources: tuple[Source, ...]
    model: str | None
    status: MessageStatus
    created_at: datetime


def replaced_answers(messages: Sequence[Message]) -> list[tuple[str, Message]]:
    """The answers with text among an exchange's messages (in order), each with the question
    it answered: what a replaced exchange leaves as previous versions."""
    kept: list[tuple[str, Message]] = []
    question = ""
    for message in messages:
        if message.role == "user":
            question = message.content
        elif message.content.strip():
            kept.append((question, message))
    return kept


@dataclass(frozen=True)
class CitedAnswer:
    """A stored answer that cited something (a document or a table lookup): what deciding
    whether its reader may still be shown it needs, without its text."""

    chat_id: str
    message_id: str
    """The answer's id; an earlier version's own id (`earlier`), which names no message."""
    sources: tuple[Source, ...]
    """What deciding reads of them at least: kind, title, document id."""
    earlier: bool = False
    """An earlier version of an answer (answered again): its chat's summary and log entries
    may still hold its text."""
