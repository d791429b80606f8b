"""In-memory fakes of the ports, shared by the unit tests of the use cases, and a recording
model function for the end-to-end tests of what the model is sent."""

from __future__ import annotations

import csv
import inspect
import io
import json
import re
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionDef, StreamFunctionDef

from services.chat.history_store import (
    RENAME_MAX_CHARS,
    chat_title,
    check_message,
    replaced_answers,
    require_valid_id,
    to_json,
)
from use_cases.access.domain import ApiKey, AuditEntry, AuditRecord, StoredApiKey, User, WebSession
from use_cases.chat.domain import (
    MAX_POSITION,
    Chat,
    CitedAnswer,
    Message,
    MessagePage,
    MessageVersion,
    NewMessage,
)
from use_cases.confidence.domain import (
    CalibrationFit,
    Feedback,
    LoggedResponse,
    ScoredResponse,
    StoredCalibration,
)
from use_cases.confidence.estimator import PhraseThresholds
from use_cases.jobs.queue import JobHandler, JobView, ResultDecoder
from use_cases.knowledge.domain import HitScores, SearchHit
from use_cases.knowledge.scope import EVERYTHING, ReadScope
from use_cases.prompts.domain import (
    ModelDefault,
    PromptChange,
    PromptVersion,
    ProviderInfo,
    canonical_model,
)
from use_cases.prompts.ports import ResolvedModel
from use_cases.shared.errors import (
    ConfigurationError,
    Conflict,
    InvalidRequest,
    NotFound,
    ToolRejected,
    UnsupportedDocument,
)
from use_cases.shared.leases import JobLease
from use_cases.tables.domain import (
    KEEP,
    Placement,
    QueryResult,
    TableCollections,
    TableColumn,
    TableSchema,
    may_read,
)
from use_cases.tables.tables import validate_table_name


class SteppingClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def today(self):
        return self.current.date()

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


class InMemoryApiKeyStore:
    def __init__(self) -> None:
        self.rows: dict[str, StoredApiKey] = {}
        self.touches = 0
        self.sessions: dict[str, WebSession] = {}

    def add(self, stored: StoredApiKey) -> ApiKey:
        self.rows[stored.key.id] = stored
        return stored.key

    def find_by_hash(self, key_hash: str) -> StoredApiKey | None:
        return next((row for row in self.rows.values() if row.key_hash == key_hash), None)

    def get(self, key_id: str) -> ApiKey | None:
        row = self.rows.get(key_id)
        return row.key if row else None

    def list_keys(self) -> list[ApiKey]:
        return [row.key for row in self.rows.values()]

    def revoke(self, key_id: str, at: datetime) -> ApiKey | None:
        row = self.rows.get(key_id)
        if row is None:
            return None
        if row.key.revoked_at is None:
            row = replace(row, key=replace(row.key, revoked_at=at))
            self.rows[key_id] = row
        return row.key

    def touch(self, key_id: str, at: datetime) -> None:
        row = self.rows[key_id]
        self.rows[key_id] = replace(row, key=replace(row.key, last_used_at=at))
        self.touches += 1

    def add_session(self, session: WebSession) -> None:
        self.sessions[session.id_hash] = session

    def find_session(self, id_hash: str) -> WebSession | None:
        return self.sessions.get(id_hash)

    def end_session(self, id_hash: str, at: datetime) -> bool:
        found = self.sessions.get(id_hash)
        if found is None or found.ended_at is not None:
            return False
        self.sessions[id_hash] = replace(found, ended_at=at)
        return True

    def remove_expired_sessions(self, now: datetime) -> int:
        expired = [h for h, found in self.sessions.items() if found.expires_at <= now]
        for id_hash in expired:
            del self.sessions[id_hash]
        return len(expired)


class InMemoryAuditLog:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def append(self, record: AuditRecord) -> AuditEntry:
        entry = AuditEntry(
            id=len(self.entries) + 1,
            at=record.at,
            actor_user_id=record.actor_user_id,
            actor_key_id=record.actor_key_id,
            action=record.action,
            target=record.target,
            before=record.before,
            after=record.after,
        )
        self.entries.append(entry)
        return entry

    def list_entries(
        self, *, limit: int, offset: int, action: str | None = None, family: str | None = None
    ) -> tuple[list[AuditEntry], int]:
        matching = [
            entry
            for entry in reversed(self.entries)
            if (action is None or entry.action == action)
            and (family is None or entry.action.startswith(f"{family}."))
        ]
        return matching[offset : offset + limit], len(matching)


class InMemoryUsers:
    """The `ensure_user` part of the history store."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}

    def ensure_user(self, user_id: str, name: str | None = None, email: str | None = None) -> User:
        if not user_id or " " in user_id:
            raise InvalidRequest("Invalid user id: use 1 to 64 letters, digits, '_' or '-'.")
        return self.users.setdefault(user_id, User(user_id, name, email, datetime.now(UTC)))


class InMemoryPromptStore:
    def __init__(self) -> None:
        self.versions: dict[str, list[PromptVersion]] = {}
        self.active: dict[str, int] = {}

    def create_version(
        self, prompt_type: str, text: str, author: str, at: datetime, *, activate: bool = True
    ) -> PromptChange:
        versions = self.versions.setdefault(prompt_type, [])
        version = PromptVersion(prompt_type, len(versions) + 1, text, author, at)
        versions.append(version)
        before = self.active.get(prompt_type)
        if activate:
            self.active[prompt_type] = version.version
        return PromptChange(before, version)

    def active_version(self, prompt_type: str) -> PromptVersion | None:
        number = self.active.get(prompt_type)
        return None if number is None else self.get_version(prompt_type, number)

    def get_version(self, prompt_type: str, version: int) -> PromptVersion | None:
        versions = self.versions.get(prompt_type, [])
        return versions[version - 1] if 1 <= version <= len(versions) else None

    def list_versions(
        self, prompt_type: str, *, limit: int, offset: int
    ) -> tuple[list[PromptVersion], int]:
        newest_first = list(reversed(self.versions.get(prompt_type, [])))
        return newest_first[offset : offset + limit], len(newest_first)

    def activate(self, prompt_type: str, version: int) -> PromptChange | None:
        found = self.get_version(prompt_type, version)
        if found is None:
            return None
        before = self.active.get(prompt_type)
        self.active[prompt_type] = version
        return PromptChange(before, found)

    def reset(self, prompt_type: str) -> PromptChange:
        return PromptChange(self.active.pop(prompt_type, None), None)


class InMemoryModelDefaultStore:
    def __init__(self) -> None:
        self.rows: dict[str, ModelDefault] = {}

    def get(self, prompt_type: str) -> ModelDefault | None:
        return self.rows.get(prompt_type)

    def put(
        self, prompt_type: str, model: str | None, by: str, at: datetime
    ) -> ModelDefault | None:
        previous = self.rows.pop(prompt_type, None)
        if model is not None:
            self.rows[prompt_type] = ModelDefault(prompt_type, model, by, at)
        return previous


class FakeModelResolver:
    """Allowed models resolve to their own names; `unusable` ones fail as a missing provider
    package or key would (a `ConfigurationError`)."""

    def __init__(
        self,
        allowed: tuple[str, ...] = ("offline-extractive", "test:a", "test:b"),
        default: str = "offline-extractive",
        unusable: tuple[str, ...] = (),
    ) -> None:
        self._allowed = allowed
        self._default = default
        self._unusable = unusable
        self.resolved: list[str] = []

    @property
    def default_identifier(self) -> str:
        return self._default

    @property
    def internal_default(self) -> str:
        return self._default

    @property
    def default_sources(self) -> tuple[tuple[str, str | None], ...]:
        return (("DEFAULT_MODEL", None), ("built-in", self._default))

    @property
    def allowed(self) -> tuple[str, ...]:
        return self._allowed

    def resolve(self, requested: str | None) -> ResolvedModel:
        identifier = canonical_model((requested or "").strip() or self._default, self._allowed)
        if identifier in self._unusable:
            raise ConfigurationError(f"Model {identifier} needs a key.")
        self.resolved.append(identifier)
        return ResolvedModel(identifier, identifier)

    def providers(self) -> list[ProviderInfo]:
        return [ProviderInfo("test", self._allowed, key_setting=None, key_present=None)]


class Recorder:
    """A PydanticAI model function (for `FunctionModel`) that records the instructions each
    request was sent with, and answers in one word."""

    def __init__(self) -> None:
        self.instructions: list[str] = []

    def respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.instructions.append(info.instructions or "")
        return ModelResponse(parts=[TextPart("Recorded.")])

    async def stream(self, messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        self.instructions.append(info.instructions or "")
        yield "Recorded."


class InMemoryJobQueue:
    """`JobQueue` that keeps its jobs and runs them only when told (`run_all`), with the
    handlers registered on it by kind."""

    def __init__(self) -> None:
        self.jobs: dict[str, JobView] = {}
        self.handlers: dict[str, JobHandler] = {}
        self.decoders: dict[str, ResultDecoder] = {}
        self._waiting: dict[str, tuple[str, dict[str, Any], bytes | None]] = {}

    def register(self, kind: str, handler: JobHandler, decode: ResultDecoder | None = None) -> None:
        self.handlers[kind] = handler
        if decode is not None:
            self.decoders[kind] = decode

    def submit(
        self,
        kind: str,
        name: str,
        payload: Mapping[str, Any],
        *,
        data: bytes | None = None,
        created_by: str | None = None,
        unique_key: str | None = None,
    ) -> JobView:
        job = JobView(
            id=f"job{len(self.jobs) + 1}",
            name=name,
            status="queued",
            created_at=datetime(2026, 3, 2, 12, 0, tzinfo=UTC),
            created_by=created_by,
            kind=kind,
        )
        self.jobs[job.id] = job
        self._waiting[job.id] = (kind, json.loads(json.dumps(payload)), data)
        return job

    def get(self, job_id: str) -> JobView | None:
        return self.jobs.get(job_id)

    def close(self) -> None:
        self._waiting.clear()

    async def run_all(self) -> None:
        for job_id, (kind, payload, data) in list(self._waiting.items()):
            del self._waiting[job_id]
            run = _FakeJobRun(job_id, payload, data)
            stored = json.loads(json.dumps(await self.handlers[kind](run)))
            decode = self.decoders.get(kind)
            result = decode(stored) if decode and stored is not None else None
            self.jobs[job_id] = replace(self.jobs[job_id], status="done", result=result)


@dataclass
class _FakeJobRun:
    id: str
    payload: Mapping[str, Any]
    data: bytes | None

    @property
    def lease(self) -> JobLease:
        return JobLease(self.id, "fake-worker", 1)

    def progress(self, done: int, total: int) -> None:
        pass


# --- chat turns: history, retrieval, SQL, and models that stream ----------------------------


class InMemoryHistoryStore:
    """`HistoryStore` in memory. `writes` counts every call that changes something, so a test
    can tell that a refused turn wrote nothing."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.chats: dict[str, Chat] = {}
        self.messages: dict[str, list[Message]] = {}
        self.versions: dict[str, list[MessageVersion]] = {}
        self.positions: dict[str, int] = {}
        """Each message's position (`seq`): the chat's highest so far plus one."""
        self.writes = 0
        self._ids = 0

    def _next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}{self._ids}"

    def ensure_user(self, user_id: str, name: str | None = None, email: str | None = None) -> User:
        require_valid_id(user_id, "user id")
        if user_id not in self.users:
            self.writes += 1
            self.users[user_id] = User(user_id, name, email, datetime.now(UTC))
        return self.users[user_id]

    def get_chat(self, chat_id: str) -> Chat | None:
        return self.chats.get(chat_id)

    def get_or_create_chat(self, chat_id: str | None, user_id: str, first_message: str) -> Chat:
        require_valid_id(user_id, "user id")
        if chat_id is not None:
            require_valid_id(chat_id, "chat id")
        if chat_id is not None and chat_id in self.chats:
            chat = self.chats[chat_id]
            if chat.user_id != user_id:
                raise NotFound(f"Chat {chat_id} not found.")
            return chat
        self.ensure_user(user_id)
        self.writes += 1
        now = datetime.now(UTC)
        chat = Chat(chat_id or uuid.uuid4().hex, user_id, chat_title(first_message), now, now)
        self.chats[chat.id] = chat
        self.messages[chat.id] = []
        return chat

    def list_chats(self, user_id: str, *, limit: int = 50, offset: int = 0) -> list[Chat]:
        """Most recently active first (the newer chat first on a tie)."""
        if limit < 0 or offset < 0:
            raise InvalidRequest("limit and offset must not be negative.")
        order = {chat_id: n for n, chat_id in enumerate(self.chats)}
        mine = sorted(
            (c for c in self.chats.values() if c.user_id == user_id),
            key=lambda c: (c.updated_at, order[c.id]),
            reverse=True,
        )
        return mine[offset : offset + limit]

    def search_chats(
        self,
        user_id: str,
        terms: Sequence[str],
        *,
        limit: int = 50,
        offset: int = 0,
        withheld: frozenset[str] = frozenset(),
    ) -> list[tuple[Chat, str | None]]:
        if limit < 0 or offset < 0:
            raise InvalidRequest("limit and offset must not be negative.")
        folded = [t.casefold() for t in terms if t]
        found = []
        for chat in self.list_chats(user_id, limit=10**9):
            texts = [m.content for m in self.messages[chat.id] if m.id not in withheld]
            if all(
                t in chat.title.casefold() or any(t in x.casefold() for x in texts) for t in folded
            ):
                first = next((x for x in texts if any(t in x.casefold() for t in folded)), None)
                found.append((chat, first))
        return found[offset : offset + limit]

    def cited_answers(self, user_id: str, chat_id: str | None = None) -> list[CitedAnswer]:
        chats = [c for c in self.chats.values() if c.user_id == user_id and chat_id in (None, c.id)]
        answers = [(c.id, m) for c in chats for m in self.messages[c.id] if m.role == "assistant"]
        return [CitedAnswer(c, m.id, m.sources) for c, m in answers if m.sources] + [
            CitedAnswer(c, f"{m.id}/{n}", v.sources, earlier=True)
            for c, m in answers
            for n, v in enumerate(self.versions.get(m.id, []))
            if v.sources
        ]

    def rename_chat(self, chat_id: str, title: str) -> Chat:
        clean = " ".join(title.split())
        if not 1 <= len(clean) <= RENAME_MAX_CHARS:
            raise InvalidRequest(f"A chat title must have 1 to {RENAME_MAX_CHARS} characters.")
        if chat_id not in self.chats:
            raise NotFound(f"Chat {chat_id} not found.")
        self.writes += 1
        self.chats[chat_id] = replace(self.chats[chat_id], title=clean)
        return self.chats[chat_id]

    def delete_chat(self, chat_id: str) -> bool:
        if self.chats.pop(chat_id, None) is None:
            return False
        self.writes += 1
        for message in self.messages.pop(chat_id):
            self.versions.pop(message.id, None)
        return True

    def append_message(self, chat_id: str, message: NewMessage) -> Message:
        _checked(message)
        if chat_id not in self.chats:
            raise NotFound(f"Chat {chat_id} not found.")
        self.writes += 1
        now = datetime.now(UTC)
        stored = _stored(uuid.uuid4().hex, chat_id, message, now)
        self.positions[stored.id] = 1 + max(
            (self.positions.get(m.id, 0) for m in self.messages[chat_id]), default=0
        )
        self.messages[chat_id].append(stored)
        self.chats[chat_id] = replace(self.chats[chat_id], updated_at=now)
        return stored

    def finalize_message(self, message_id: str, message: NewMessage) -> Message:
        _checked(message)
        for messages in self.messages.values():
            for index, old in enumerate(messages):
                if old.id == message_id:
                    self.writes += 1
                    messages[index] = _stored(old.id, old.chat_id, message, old.created_at)
                    return messages[index]
        raise NotFound(f"Message {message_id} not found.")

    def list_messages(self, chat_id: str, *, limit: int | None = None) -> list[Message]:
        if limit is not None and limit < 0:
            raise InvalidRequest("limit must not be negative.")
        messages = list(self.messages.get(chat_id, []))
        return messages if limit is None else messages[-limit:] if limit else []

    def count_messages(self, chat_id: str) -> int:
        return len(self.messages.get(chat_id, []))

    def page_messages(
        self, chat_id: str, *, limit: int, before: int | None = None, after: int | None = None
    ) -> MessagePage:
        if limit < 0 or not all(0 <= c <= MAX_POSITION for c in (before, after) if c is not None):
            raise InvalidRequest(
                f"limit must not be negative; before and after: 0 to {MAX_POSITION}."
            )
        if before is not None and after is not None:
            raise InvalidRequest("Give before or after, not both.")
        placed = [(self.positions.get(m.id, 0), m) for m in self.messages.get(chat_id, [])]
        if after is not None:
            page = [pm for pm in placed if pm[0] > after][:limit]
        else:
            below = [pm for pm in placed if before is None or pm[0] < before]
            page = below[max(0, len(below) - limit) :] if limit else []
        if not page:
            return MessagePage([], None, None)
        first, last = page[0][0], page[-1][0]
        earlier = first if any(p < first for p, _ in placed) else None
        later = last if any(p > last for p, _ in placed) else None
        return MessagePage([m for _, m in page], earlier, later)

    def delete_messages(
        self, chat_id: str, message_ids: Sequence[str], *, versions_of: str | None = None
    ) -> int:
        gone = [m for m in self.messages.get(chat_id, []) if m.id in set(message_ids)]
        kept = [m for m in self.messages.get(chat_id, []) if m.id not in set(message_ids)]
        if versions_of is not None:
            earlier = [v for m in gone for v in self.versions.pop(m.id, [])]
            earlier += [
                MessageVersion(q, a.content, a.sources, a.model, a.status, a.created_at)
                for q, a in replaced_answers(gone)
            ]
            if earlier:
                self.versions.setdefault(versions_of, []).extend(earlier)
        if gone:
            self.messages[chat_id] = kept
            self.writes += 1
        return len(gone)

    def list_versions(
        self, chat_id: str, message_ids: Sequence[str] | None = None
    ) -> dict[str, list[MessageVersion]]:
        ids = {m.id for m in self.messages.get(chat_id, [])}
        if message_ids is not None:
            ids &= set(message_ids)
        return {k: list(v) for k, v in self.versions.items() if k in ids}

    def interrupt_abandoned(self, started_before: datetime) -> int:
        swept = 0
        for messages in self.messages.values():
            for index, message in enumerate(messages):
                if message.status == "streaming" and message.created_at < started_before:
                    messages[index] = replace(message, status="interrupted")
                    swept += 1
        if swept:
            self.writes += 1
        return swept


def _checked(message: NewMessage) -> None:
    """What the adapters refuse before they write: a bad role or status, tool calls or
    sources that are not JSON."""
    check_message(message)
    to_json(message.tool_calls, "tool_calls")
    to_json(message.sources, "sources")


def _stored(message_id: str, chat_id: str, message: NewMessage, at: datetime) -> Message:
    return Message(
        id=message_id,
        chat_id=chat_id,
        role=message.role,
        content=message.content,
        tool_calls=message.tool_calls,
        sources=message.sources,
        model=message.model,
        latency_ms=message.latency_ms,
        usage=message.usage,
        status=message.status,
        created_at=at,
        not_found=message.role == "assistant" and message.not_found,
    )


def search_hit(
    number: int, title: str, text: str, *, source: str | None = None, section: str = "Main"
) -> SearchHit:
    """A retrieval result as the hybrid retriever returns it."""
    return SearchHit(
        chunk_id=number,
        document_id=number,
        source=source or f"kb/{title.lower().replace(' ', '-')}.md",
        title=title,
        category="policies",
        section_path=(title, section),
        updated_at=date(2025, 9, 15),
        chunk_text=text,
        section_text=text,
        scores=HitScores(fused=1 / (60 + number), bm25_rank=number, vector_rank=number),
    )


class InMemoryRetriever:
    """`Retriever` over a fixed list of hits: those sharing a word (over three letters) with
    the query, in list order. Records the queries it was asked, and with what `k` and
    category (`asked`)."""

    def __init__(self, hits: Sequence[SearchHit] = ()) -> None:
        self.hits = list(hits)
        self.queries: list[str] = []
        self.asked: list[tuple[int | None, str | None]] = []
        self.scopes: list[ReadScope] = []

    @property
    def reranker_enabled(self) -> bool:
        return False

    def search(
        self,
        query: str,
        k: int | None = None,
        category: str | None = None,
        *,
        as_of: date | None = None,
        scope: ReadScope = EVERYTHING,
    ) -> list[SearchHit]:
        self.queries.append(query)
        self.asked.append((k, category))
        self.scopes.append(scope)
        words = {w for w in re.findall(r"\w+", query.lower()) if len(w) > 3}
        found = [
            hit
            for hit in self.hits
            if (category is None or hit.category == category)
            and words & set(re.findall(r"\w+", f"{hit.title} {hit.section_text}".lower()))
        ]
        return found[: k or 5]


class InMemorySqlRunner:
    """`SqlRunner` that answers the statements it was given; any other is rejected, as the
    sandbox rejects what it does not allow."""

    def __init__(
        self, tables: Sequence[TableSchema] = (), answers: dict[str, QueryResult] | None = None
    ) -> None:
        self.tables = list(tables)
        self.answers = dict(answers or {})
        self.statements: list[str] = []

    dialect = "SQLite"

    def schemas(self, collections: TableCollections = None) -> list[TableSchema]:
        return [t for t in self.tables if may_read(collections, t)]

    def run(self, sql: str, collections: TableCollections = None) -> QueryResult:
        self.statements.append(sql)
        if sql not in self.answers:
            raise ToolRejected("Only a single SELECT over the listed tables is allowed.")
        return self.answers[sql]

    def refresh(self) -> None:
        """Nothing is cached: the tables given are the schemas."""


def streamed(function: FunctionDef) -> StreamFunctionDef:
    """The stream function of a plain model function: the same response, sent as stream
    deltas (text in one piece, each tool call in one delta). Every turn is a streamed run, so
    a `FunctionModel` needs one: `FunctionModel(f, stream_function=streamed(f))`."""

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[Any]:
        response = function(messages, info)
        if inspect.isawaitable(response):
            response = await response
        for index, part in enumerate(response.parts):
            if isinstance(part, TextPart):
                yield part.content
            elif isinstance(part, ToolCallPart):
                yield {
                    index: DeltaToolCall(
                        part.tool_name, part.args_as_json_str(), tool_call_id=part.tool_call_id
                    )
                }

    return stream


class InMemoryTableLoader:
    """`TableLoader` over in-memory "files" (`files[path] = CSV text`): like the real loader it
    checks the name and every line before it writes, so a bad file changes nothing."""

    def __init__(self, files: dict[Path, str] | None = None) -> None:
        self.files: dict[Path, str] = dict(files or {})
        self.tables: dict[str, tuple[TableSchema, list[list[str]]]] = {}
        self.reads: list[Path] = []

    def load(self, file: Path, name: str, collection: Placement = KEEP) -> TableSchema:
        validate_table_name(name)
        self.reads.append(file)
        if file.suffix.lower() != ".csv":
            raise UnsupportedDocument(f"Cannot load {file.name} as a table.")
        if file not in self.files:
            raise InvalidRequest(f"{file} does not exist.")
        header, *rows = list(csv.reader(io.StringIO(self.files[file])))
        for number, row in enumerate(rows, start=2):
            if len(row) != len(header):
                raise InvalidRequest(f"Line {number} of {file.name} has {len(row)} fields.")
        samples = [tuple(dict.fromkeys(row[i] for row in rows))[:3] for i in range(len(header))]
        columns = tuple(TableColumn(column, "TEXT", samples[i]) for i, column in enumerate(header))
        key = next((k for k in self.tables if k.lower() == name.lower()), name)
        before = self.tables.pop(key, None)
        kept = before[0].collection_id if before else None
        schema = TableSchema(name, columns, len(rows), kept if collection == KEEP else collection)
        self.tables[name] = (schema, rows)
        return schema

    def is_workbook(self, file: Path) -> bool:
        return False  # in-memory files are CSV text only

    def load_workbook(
        self, file: Path, prefix: str | None = None, collection: Placement = KEEP
    ) -> list[TableSchema]:
        raise UnsupportedDocument(f"Cannot load {file.name} as a workbook.")

    def list_tables(self) -> list[TableSchema]:
        return [schema for _, (schema, _) in sorted(self.tables.items())]

    def drop(self, name: str) -> bool:
        key = next((k for k in self.tables if k.lower() == name.lower()), None)
        return key is not None and self.tables.pop(key, None) is not None


class CachingSqlRunner:
    """`SqlRunner` over an `InMemoryTableLoader` that, stricter than the real one, sees the
    tables as they were at its first call until `refresh()`. Answers `SELECT COUNT(*) FROM t`
    and `SELECT * FROM t`; anything else is `ToolRejected`."""

    _QUERY = re.compile(r"^\s*SELECT\s+(COUNT\(\*\)|\*)\s+FROM\s+(\w+)\s*;?\s*$", re.IGNORECASE)

    def __init__(self, tables: InMemoryTableLoader) -> None:
        self._tables = tables
        self._snapshot: dict[str, tuple[TableSchema, list[list[str]]]] | None = None
        self.refreshes = 0

    dialect = "SQLite"

    def _current(self) -> dict[str, tuple[TableSchema, list[list[str]]]]:
        if self._snapshot is None:
            self._snapshot = {k.lower(): v for k, v in self._tables.tables.items()}
        return self._snapshot

    def schemas(self, collections: TableCollections = None) -> list[TableSchema]:
        tables = [schema for _, (schema, _) in sorted(self._current().items())]
        return [t for t in tables if may_read(collections, t)]

    def run(self, sql: str, collections: TableCollections = None) -> QueryResult:
        match = self._QUERY.match(sql)
        if match is None:
            raise ToolRejected("Send one SELECT statement.")
        found = self._current().get(match.group(2).lower())
        if found is None or not may_read(collections, found[0]):
            raise ToolRejected(f"No such table: {match.group(2)}.")
        schema, rows = found
        if match.group(1) == "*":
            columns = tuple(c.name for c in schema.columns)
            return QueryResult(columns, tuple(tuple(r) for r in rows), truncated=False)
        return QueryResult(("COUNT(*)",), ((len(rows),),), truncated=False)

    def refresh(self) -> None:
        self._snapshot = None
        self.refreshes += 1


def _utc(at: datetime) -> datetime:
    """A time as the stores keep it: aware, in UTC (a naive one is taken as UTC)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


class InMemoryResponseLog:
    """`ResponseLog` in memory, checked against the SQLite and PostgreSQL adapters by the
    same contract tests (tests/integration/test_calibration_stores.py)."""

    def __init__(self) -> None:
        self._responses: dict[str, LoggedResponse] = {}  # in insertion order
        self._feedback: dict[str, Feedback] = {}

    def add(self, response: LoggedResponse) -> None:
        if response.response_id in self._responses:
            raise Conflict(f"Response {response.response_id} is already logged.")
        self._responses[response.response_id] = replace(
            response, created_at=_utc(response.created_at), feedback=None
        )

    def get(self, response_id: str) -> LoggedResponse | None:
        response = self._responses.get(response_id)
        return None if response is None else self._with_feedback(response)

    def put_feedback(
        self, response_id: str, outcome: bool, notes: str | None, at: datetime
    ) -> bool:
        if response_id not in self._responses:
            raise NotFound(f"No response {response_id}.")
        replaced = response_id in self._feedback
        self._feedback[response_id] = Feedback(outcome, notes, _utc(at))
        return replaced

    def remove_feedback(self, response_id: str) -> bool:
        return self._feedback.pop(response_id, None) is not None

    def recent(self, *, limit: int, user_id: str | None = None) -> list[LoggedResponse]:
        mine = [r for r in self._ordered() if user_id is None or r.user_id == user_id]
        return [self._with_feedback(r) for r in reversed(mine)][:limit]

    def for_chat(self, chat_id: str) -> list[LoggedResponse]:
        return [self._with_feedback(r) for r in self._ordered() if r.chat_id == chat_id]

    def scored(
        self, *, since: datetime | None = None, user_id: str | None = None
    ) -> list[ScoredResponse]:
        start = None if since is None else _utc(since)
        return [
            ScoredResponse(
                response_id=r.response_id,
                created_at=r.created_at,
                raw_confidence=r.raw_confidence,
                confidence=r.confidence,
                outcome=(
                    self._feedback[r.response_id].outcome
                    if r.response_id in self._feedback
                    else None
                ),
            )
            for r in self._ordered()
            if (start is None or r.created_at >= start)
            and (user_id is None or r.user_id == user_id)
        ]

    def feedback_count(self) -> int:
        return len(self._feedback)

    def forget_user(self, user_id: str) -> int:
        gone = [rid for rid, r in self._responses.items() if r.user_id == user_id]
        for response_id in gone:
            del self._responses[response_id]
            self._feedback.pop(response_id, None)
        return len(gone)

    def _ordered(self) -> list[LoggedResponse]:
        """Oldest first; responses of the same time in the order they were added."""
        return sorted(self._responses.values(), key=lambda r: r.created_at)

    def _with_feedback(self, response: LoggedResponse) -> LoggedResponse:
        return replace(response, feedback=self._feedback.get(response.response_id))


class InMemoryCalibrationStore:
    """`CalibrationStore` in memory, checked by the same contract tests as the adapters."""

    def __init__(self) -> None:
        self.thresholds: list[PhraseThresholds] = []
        self.calibrations: list[StoredCalibration] = []

    def current_thresholds(self) -> PhraseThresholds | None:
        return self.thresholds[-1] if self.thresholds else None

    def save_thresholds(
        self, bounds: tuple[float, ...], source: str, author: str, at: datetime
    ) -> PhraseThresholds:
        PhraseThresholds(tuple(bounds))  # validates before anything is kept
        saved = PhraseThresholds(tuple(bounds), len(self.thresholds) + 1, source, author, _utc(at))
        self.thresholds.append(saved)
        return saved

    def active_calibration(self) -> StoredCalibration | None:
        active = [c for c in self.calibrations if c.fit.active]
        return active[-1] if active else None

    def latest_calibration(self) -> StoredCalibration | None:
        return self.calibrations[-1] if self.calibrations else None

    def save_calibration(self, fit: CalibrationFit, author: str, at: datetime) -> StoredCalibration:
        saved = StoredCalibration(len(self.calibrations) + 1, fit, _utc(at), author)
        self.calibrations.append(saved)
        return saved
