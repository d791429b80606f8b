"""Ports of the knowledge base: loading, chunking, embedding, storing and searching documents.

Adapters in `services/knowledge/` implement them; the composition root (`backend/bootstrap.py`)
wires them. Ports are synchronous: use cases run them in worker threads so the event loop never
blocks on SQLite or CPU-bound embedding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Protocol, runtime_checkable

from use_cases.knowledge.domain import (
    DocumentDetail,
    DocumentDraft,
    DocumentRecord,
    EmbeddingInfo,
    KnowledgeStats,
    ParsedDocument,
    PreparedWork,
    SavedDocument,
    SearchHit,
    SectionDraft,
    StagedChunk,
    Vector,
    Vectors,
)
from use_cases.knowledge.scope import EVERYTHING, ReadScope
from use_cases.shared.leases import JobLease


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


@runtime_checkable
class ReportsPages(Protocol):
    """A `DocumentLoader` that says, as it goes, which of a document's slow pages it reads
    (a scan's OCR: `on_page(page, pages)` as each starts; `pages` 0 where not known)."""

    def load_reporting(
        self, name: str, data: bytes, on_page: Callable[[int, int], None] | None
    ) -> ParsedDocument: ...


class Chunker(Protocol):
    """Cuts a parsed document into parent sections and small overlapping retrieval chunks."""

    def chunk(self, document: ParsedDocument) -> list[SectionDraft]: ...


class Embedder(Protocol):
    """Text to unit-length vectors. `model` names it the way the knowledge DB records it."""

    @property
    def model(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> Vectors: ...

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
        self,
        draft: DocumentDraft,
        vectors: Vectors,
        *,
        replace_id: int | None = None,
        lease: JobLease | None = None,
    ) -> DocumentRecord:
        """Insert `draft`, or replace document `replace_id` with it (id kept), atomically.

        A source that is taken raises `DocumentExists` unless `replace_id` says to replace.
        With `lease` (a background job's), nothing is written and `LeaseLost` is raised once
        the job was taken over, checked in the write's own transaction where the jobs live
        in the same database (PostgreSQL).
        """
        ...

    def begin_staging(self, draft: DocumentDraft, *, job: str | None = None) -> str:
        """Start writing a large document; returns the stage id for its chunk batches.
        `job`: the background job it is written for (`discard_job_stages`)."""
        ...

    def stage_chunks(
        self, stage_id: str, chunks: Sequence[StagedChunk], vectors: Vectors
    ) -> None: ...

    def commit_staged(
        self,
        stage_id: str,
        draft: DocumentDraft,
        *,
        replace_id: int | None = None,
        lease: JobLease | None = None,
    ) -> DocumentRecord:
        """Make a staged document visible at once (same rules as `save_document`)."""
        ...

    def discard_staged(self, stage_id: str) -> None: ...

    def discard_job_stages(self, job_id: str) -> int:
        """Remove what any worker staged for background job `job_id` (it was taken over:
        its previous worker's stage will never be committed); answers how many stages."""
        ...

    def list_documents(
        self,
        *,
        limit: int = 100,
        offset: int = 0,
        category: str | None = None,
        scope: ReadScope = EVERYTHING,
    ) -> tuple[list[DocumentRecord], int]:
        """A page of the documents `scope` may read, and how many it may read in all."""
        ...

    def get_document(
        self, document_id: int, *, scope: ReadScope = EVERYTHING
    ) -> DocumentDetail | None:
        """None when absent, or when `scope` may not read it (the same answer: a reader
        learns nothing of a document it may not read)."""
        ...

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

    def prepare(
        self, document: DocumentDetail, on_progress: Callable[[float], None] | None = None
    ) -> PreparedWork:
        """Do the work for `document`; `on_progress(share done)` between steps (it may raise
        to stop the work). Answers what was added, for `forget`."""
        ...

    def forget(self, work: PreparedWork) -> None:
        """Drop what `prepare` added (its document was removed or replaced meanwhile)."""
        ...


class AnswerPreparation(Protocol):
    """Runs the `AnswerPreparer` after ingestion has committed (a background job), so that
    documents are searchable at the embedder's speed and answer-ready a little later."""

    def schedule(self, documents: Sequence[SavedDocument]) -> str | None:
        """Queue the preparation of these saved documents; the job's id (None: nothing)."""
        ...


class Retriever(Protocol):
    """Hybrid search over the knowledge base."""

    def search(
        self,
        query: str,
        k: int | None = None,
        category: str | None = None,
        *,
        as_of: date | None = None,
        scope: ReadScope = EVERYTHING,
    ) -> list[SearchHit]:
        """`as_of`: a past date the question is about; the versions of a document in force
        then rank above its current version. `scope`: the documents the search may find,
        applied inside each leg (never to the hits afterwards)."""
        ...

    @property
    def reranker_enabled(self) -> bool: ...


class Reranker(Protocol):
    """Re-orders candidate passages for a query. Returns (candidate index, score), best first."""

    def rerank(
        self, query: str, documents: Sequence[str], top_n: int
    ) -> list[tuple[int, float]]: ...
