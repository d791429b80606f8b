"""Ports: what the core needs from the outside world, as Protocols.

Adapters in `services/` implement them; the composition root (`backend/bootstrap.py`) wires
them. Ports are synchronous: use cases run them in worker threads so the event loop never
blocks on SQLite or CPU-bound embedding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from use_cases.advice_domain import AdviceEntry, AdviceThread, StructuredAdvice
from use_cases.auth_domain import ApiKey, AuditEntry, AuditRecord, StoredApiKey, WebSession
from use_cases.calibration_domain import (
    CalibrationFit,
    CalibrationMethod,
    FittedMap,
    LoggedResponse,
    ScoredResponse,
    StoredCalibration,
)
from use_cases.chat_domain import (
    Chat,
    Message,
    MessageVersion,
    NewMessage,
    QueryResult,
    TableSchema,
    User,
)
from use_cases.confidence import PhraseThresholds
from use_cases.domain import (
    DocumentDetail,
    DocumentDraft,
    DocumentRecord,
    EmbeddingInfo,
    KnowledgeStats,
    ParsedDocument,
    SearchHit,
    SectionDraft,
    StagedChunk,
    Vector,
)
from use_cases.llm_domain import ModelDefault, PromptChange, PromptVersion, ProviderInfo


class DocumentLoader(Protocol):
    """Turns raw file bytes into a parsed document.

    Raises `UnsupportedDocument` for a type it cannot read and `InvalidDocument` for an
    empty, corrupt or text-less file.
    """

    def supports(self, name: str) -> bool: ...

    def check(self, name: str, data: bytes) -> None:
        """The cheap checks `load` starts with (type, emptiness, text or binary), alone."""
        ...

    def load(self, name: str, data: bytes) -> ParsedDocument: ...


class Chunker(Protocol):
    """Cuts a parsed document into parent sections and small overlapping retrieval chunks."""

    def chunk(self, document: ParsedDocument) -> list[SectionDraft]: ...


class Embedder(Protocol):
    """Text to unit-length vectors. `model` names it the way the knowledge DB records it."""

    @property
    def model(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> Sequence[Vector]: ...

    def embed_query(self, text: str) -> Vector: ...


class KnowledgeStore(Protocol):
    """Documents, sections, chunks and their vectors. Every write is one transaction."""

    def embedding_info(self) -> EmbeddingInfo | None: ...

    def check_embedding(self, info: EmbeddingInfo) -> None:
        """Record `info` on an empty store; raise `EmbeddingModelMismatch` if it differs."""
        ...

    def get_by_source(self, source: str) -> DocumentRecord | None: ...

    def get_by_origin(self, origin: str) -> DocumentRecord | None:
        """The document ingested from this file (absolute path), if any."""
        ...

    def get_by_raw_hash(self, raw_hash: str) -> DocumentRecord | None:
        """The oldest document whose file had exactly these bytes, if any."""
        ...

    def get_record(self, document_id: int) -> DocumentRecord | None: ...

    def find_by_title(self, title: str) -> list[DocumentRecord]:
        """Documents with this title, compared without regard to case and spacing."""
        ...

    def resolve_key(self, key: str) -> DocumentRecord | None:
        """The document a `supersedes:` value names: a source, a unique `/`-suffix of one,
        or an id."""
        ...

    def record_raw_hash(self, document_id: int, raw_hash: str) -> None: ...

    def save_document(
        self, draft: DocumentDraft, vectors: Sequence[Vector], *, replace_id: int | None = None
    ) -> DocumentRecord:
        """Insert `draft`, or replace document `replace_id` with it (id kept), atomically.

        A source that is taken raises `DocumentExists` unless `replace_id` says to replace.
        """
        ...

    def begin_staging(self, draft: DocumentDraft) -> str:
        """Start writing a large document; returns the stage id for its chunk batches."""
        ...

    def stage_chunks(
        self, stage_id: str, chunks: Sequence[StagedChunk], vectors: Sequence[Vector]
    ) -> None: ...

    def commit_staged(
        self, stage_id: str, draft: DocumentDraft, *, replace_id: int | None = None
    ) -> DocumentRecord:
        """Make a staged document visible at once (same rules as `save_document`)."""
        ...

    def discard_staged(self, stage_id: str) -> None: ...

    def list_documents(
        self, *, limit: int = 100, offset: int = 0, category: str | None = None
    ) -> tuple[list[DocumentRecord], int]: ...

    def get_document(self, document_id: int) -> DocumentDetail | None: ...

    def delete_document(self, document_id: int) -> bool: ...

    def list_sources(self) -> list[tuple[int, str]]: ...

    def list_origins(self) -> list[tuple[int, str, str]]:
        """(id, source, origin) of the documents ingested from files."""
        ...

    def stats(self) -> KnowledgeStats: ...

    def iter_chunk_texts(self, batch_size: int = 256) -> Iterator[list[tuple[int, str]]]:
        """All (chunk_id, embedding text) pairs, in batches, for re-embedding."""
        ...

    def replace_embeddings(
        self, info: EmbeddingInfo, batches: Iterator[list[tuple[int, Vector]]]
    ) -> int:
        """Re-create the vector index for `info` from `batches`, atomically. Returns count."""
        ...


class AnswerPreparer(Protocol):
    """Work the answering model can do ahead for a stored document, so that the first
    question about it is answered as fast as the next (the offline model embeds its
    sentences). A cache: it never changes an answer, and it never raises (a failure is the
    adapter's to log; the answer then does the work itself)."""

    def prepare(self, document: DocumentDraft) -> None: ...


class Retriever(Protocol):
    """Hybrid search over the knowledge base."""

    def search(
        self,
        query: str,
        k: int | None = None,
        category: str | None = None,
        *,
        as_of: date | None = None,
    ) -> list[SearchHit]:
        """`as_of`: a past date the question is about; the versions of a document in force
        then rank above its current version."""
        ...

    @property
    def reranker_enabled(self) -> bool: ...


class Reranker(Protocol):
    """Re-orders candidate passages for a query. Returns (candidate index, score), best first."""

    def rerank(
        self, query: str, documents: Sequence[str], top_n: int
    ) -> list[tuple[int, float]]: ...


class SqlRunner(Protocol):
    """Read-only access to the structured tables.

    `run` raises `ToolRejected`, with a message fit to show the model, for anything that is
    not one permitted SELECT, and when the query hits the time limit.
    """

    @property
    def dialect(self) -> str:
        """The SQL dialect queries must be written in ("SQLite", "PostgreSQL")."""
        ...

    def schemas(self) -> list[TableSchema]: ...

    def run(self, sql: str) -> QueryResult: ...

    def refresh(self) -> None:
        """Forget cached schemas (row counts, samples): the next call re-reads them."""
        ...


class UserDirectory(Protocol):
    """Provisions a user on first sight (the history store's users)."""

    def ensure_user(
        self, user_id: str, name: str | None = None, email: str | None = None
    ) -> User: ...


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
        self, user_id: str, terms: Sequence[str], *, limit: int = 50, offset: int = 0
    ) -> list[tuple[Chat, str | None]]:
        """The user's chats in which every term (compared case-folded) is in the title or in
        a message, most recently active first, each with the first message holding a term
        (None when the title alone holds them)."""
        ...

    def rename_chat(self, chat_id: str, title: str) -> Chat: ...

    def delete_chat(self, chat_id: str) -> bool: ...

    def append_message(self, chat_id: str, message: NewMessage) -> Message: ...

    def finalize_message(self, message_id: str, message: NewMessage) -> Message:
        """Overwrite a `streaming` message with its final content and status."""
        ...

    def list_messages(self, chat_id: str, *, limit: int | None = None) -> list[Message]: ...

    def delete_messages(
        self, chat_id: str, message_ids: Sequence[str], *, versions_of: str | None = None
    ) -> int:
        """Delete these messages of the chat (an exchange answered again); how many were.
        With `versions_of` (the new answer's id), the deleted answers that have text, and the
        earlier versions they kept, become that message's previous versions, in the same
        transaction."""
        ...

    def list_versions(self, chat_id: str) -> dict[str, list[MessageVersion]]:
        """The previous versions of the chat's answers, by answer id, oldest first."""
        ...

    def interrupt_abandoned(self, started_before: datetime) -> int:
        """Mark `streaming` messages created before `started_before`, or whose process the
        store knows is dead, as `interrupted` (their turn's process died); returns how many."""
        ...


class AdviceThreadStore(Protocol):
    """Advice threads kept on the server (`use_cases/advice_threads.py`). Adding is safe under
    concurrent writers: two advice added to one thread at once both keep their place."""

    def get_thread(self, thread_id: str) -> AdviceThread | None: ...

    def list_threads(self, user_id: str, *, limit: int = 50, offset: int = 0) -> list[AdviceThread]:
        """The user's threads, most recently active first."""
        ...

    def list_entries(self, thread_id: str, *, limit: int | None = None) -> list[AdviceEntry]:
        """The thread's advice, oldest first; with `limit`, the last `limit` of them."""
        ...

    def add_entry(
        self, thread_id: str, user_id: str, question: str, advice: StructuredAdvice
    ) -> AdviceEntry:
        """Append one advice, creating the thread (titled from `question`) if it is new, in
        one transaction; another user's thread raises `NotFound`, as a missing one would."""
        ...

    def delete_thread(self, thread_id: str) -> bool: ...


class TableLoader(Protocol):
    """Creates or replaces the structured tables the SQL tool reads."""

    def load(self, file: Path, name: str) -> TableSchema:
        """Create or atomically replace table `name` from a CSV/TSV or JSON-lines file.

        A missing file, a bad line or a bad name is `InvalidRequest` (an unsupported type
        `UnsupportedDocument`), raised before anything is written."""
        ...

    def list_tables(self) -> list[TableSchema]: ...

    def drop(self, name: str) -> bool:
        """Drop table `name` (any case); False if there was no such table."""
        ...


def _always_admitted() -> None:
    return None


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready for a run: `model` is a PydanticAI model object, `identifier` its label.
    `admission` raises `ServiceBusy` when a turn on this model cannot be taken now (a model
    that runs on this server's own bounded workers); a turn calls `admit()` before it writes
    anything, so a busy server answers 503 rather than a stream that fails."""

    identifier: str
    model: Any
    admission: Callable[[], None] = field(default=_always_admitted, compare=False, repr=False)

    def admit(self) -> None:
        self.admission()


class ModelResolver(Protocol):
    """Which model answers a request: the request's choice (if allowed) or the default."""

    def resolve(self, requested: str | None) -> ResolvedModel:
        """The model `requested` names (an allowed identifier, or a bare name one allowed
        model has: see `llm_domain.canonical_model`), else the default. Raise
        `InvalidRequest` (naming the allowed models) for a model that is not allowed."""
        ...

    @property
    def default_identifier(self) -> str: ...

    @property
    def internal_default(self) -> str:
        """The built-in default: the model a deployment without DEFAULT_MODEL gets."""
        ...

    @property
    def default_sources(self) -> tuple[tuple[str, str | None], ...]:
        """The environment's candidates for the default, in precedence order, each with its
        model or None when unset (e.g. DEFAULT_MODEL, OPENAI_DEFAULT_MODEL, built-in)."""
        ...

    @property
    def allowed(self) -> tuple[str, ...]: ...

    def providers(self) -> list[ProviderInfo]:
        """The providers of the allowed models, with whether their keys are set (never the
        keys)."""
        ...


class Clock(Protocol):
    def today(self) -> date: ...

    def now(self) -> datetime: ...


class ApiKeyStore(Protocol):
    """API keys, found by the SHA-256 hex digest of the key (the key itself is never stored)."""

    def add(self, stored: StoredApiKey) -> ApiKey: ...

    def find_by_hash(self, key_hash: str) -> StoredApiKey | None: ...

    def get(self, key_id: str) -> ApiKey | None: ...

    def list_keys(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first."""
        ...

    def revoke(self, key_id: str, at: datetime) -> ApiKey | None:
        """Mark the key revoked (a revoked key keeps its first revocation time); None if
        there is no such key."""
        ...

    def touch(self, key_id: str, at: datetime) -> None:
        """Record that the key was just used."""
        ...

    def add_session(self, session: WebSession) -> None: ...

    def find_session(self, id_hash: str) -> WebSession | None: ...

    def end_session(self, id_hash: str, at: datetime) -> bool:
        """End the session (sign-out); True if it was open."""
        ...


class AuditLog(Protocol):
    """Append-only record of admin actions."""

    def append(self, record: AuditRecord) -> AuditEntry: ...

    def list_entries(
        self, *, limit: int, offset: int, action: str | None = None, family: str | None = None
    ) -> tuple[list[AuditEntry], int]:
        """Newest first, with the total count of matching entries. `action` keeps only that
        action; `family` only actions named `family.<anything>`."""
        ...


class PromptStore(Protocol):
    """Numbered versions of each prompt type's system prompt, and which one is active.

    Versions are numbered 1, 2, ... per type and never deleted. Each write is one transaction
    and returns what it replaced, so the audit log's before/after are exact under concurrent
    admins."""

    def create_version(
        self, prompt_type: str, text: str, author: str, at: datetime, *, activate: bool = True
    ) -> PromptChange:
        """Store `text` as the next version; make it active unless `activate` is False (a
        draft: `after` is the new version, the active one is unchanged)."""
        ...

    def active_version(self, prompt_type: str) -> PromptVersion | None:
        """The active version; None when the default is in force."""
        ...

    def get_version(self, prompt_type: str, version: int) -> PromptVersion | None: ...

    def list_versions(
        self, prompt_type: str, *, limit: int, offset: int
    ) -> tuple[list[PromptVersion], int]:
        """Newest first, with the total count."""
        ...

    def activate(self, prompt_type: str, version: int) -> PromptChange | None:
        """Make `version` active; None if there is no such version."""
        ...

    def reset(self, prompt_type: str) -> PromptChange:
        """Make the default active again (no version active); versions are kept."""
        ...


class ModelDefaultStore(Protocol):
    """The default model an admin chose for each prompt type."""

    def get(self, prompt_type: str) -> ModelDefault | None: ...

    def put(
        self, prompt_type: str, model: str | None, by: str, at: datetime
    ) -> ModelDefault | None:
        """Set (or with None clear) the type's default; returns the one it replaced."""
        ...


# --- Web search (search discipline) -----------------------------------------------------------


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


# --- response log, feedback and calibration -------------------------------------------------


class ResponseLog(Protocol):
    """Logged answers and their feedback (at most one per response: a new one replaces it)."""

    def add(self, response: LoggedResponse) -> None: ...

    def get(self, response_id: str) -> LoggedResponse | None: ...

    def put_feedback(
        self, response_id: str, outcome: bool, notes: str | None, at: datetime
    ) -> bool:
        """Store the response's feedback; True if it replaced an earlier one. The response
        must exist."""
        ...

    def remove_feedback(self, response_id: str) -> bool:
        """Withdraw the response's feedback; True if it had any."""
        ...

    def recent(self, *, limit: int, user_id: str | None = None) -> list[LoggedResponse]:
        """Newest first; only `user_id`'s when given."""
        ...

    def for_chat(self, chat_id: str) -> list[LoggedResponse]:
        """The logged answers of one chat, oldest first (with their feedback)."""
        ...

    def scored(
        self, *, since: datetime | None = None, user_id: str | None = None
    ) -> list[ScoredResponse]:
        """Every response created at or after `since` (all when None), oldest first, with its
        outcome (None without feedback)."""
        ...

    def feedback_count(self) -> int: ...

    def forget_user(self, user_id: str) -> int:
        """Delete the user's responses and their feedback; returns how many."""
        ...


class CalibrationStore(Protocol):
    """Versioned phrase thresholds and recalibration maps (versions 1, 2, ...; never changed).

    The newest thresholds version is in force (none stored: the built-in default); the newest
    recalibration marked active is in force (none: no recalibration)."""

    def current_thresholds(self) -> PhraseThresholds | None: ...

    def save_thresholds(
        self, bounds: tuple[float, ...], source: str, author: str, at: datetime
    ) -> PhraseThresholds: ...

    def active_calibration(self) -> StoredCalibration | None: ...

    def latest_calibration(self) -> StoredCalibration | None:
        """The newest fit, active or not."""
        ...

    def save_calibration(
        self, fit: CalibrationFit, author: str, at: datetime
    ) -> StoredCalibration: ...


class CalibrationFitter(Protocol):
    """Fits a monotone map from raw confidence to the chance of being right."""

    def fit(
        self, raw: Sequence[float], outcomes: Sequence[bool], method: CalibrationMethod
    ) -> FittedMap:
        """Raise `Conflict` if the data cannot be fitted by `method` (e.g. one outcome only)."""
        ...


@dataclass(frozen=True)
class DiagramBin:
    lower: float
    upper: float
    mean_confidence: float
    observed_accuracy: float
    count: int


class DiagramRenderer(Protocol):
    """Draws a reliability diagram: observed accuracy against confidence per band."""

    def render(self, bins: Sequence[DiagramBin], *, title: str, fmt: str) -> bytes:
        """`fmt` is "svg" or "png"."""
        ...
