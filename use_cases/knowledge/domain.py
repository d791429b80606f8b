"""Domain types of the knowledge base: what ingestion produces and retrieval returns.

Plain frozen dataclasses; no framework, no driver. Vectors are any float sequence
(adapters hand NumPy arrays through; the core never does arithmetic on them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urlsplit

if TYPE_CHECKING:  # the type alone: the core never imports NumPy to run
    import numpy as np

#: One embedding: a float sequence, or the NumPy array every real embedder returns.
Vector: TypeAlias = "Sequence[float] | np.ndarray"
#: A batch of embeddings, one per text: a sequence of them, or one 2-D NumPy array.
Vectors: TypeAlias = "Sequence[Vector] | np.ndarray"


@dataclass(frozen=True)
class ParsedSection:
    """One heading-delimited section of a loaded document, in reading order."""

    heading_path: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class ParsedDocument:
    """What a loader makes of one file: metadata plus its sections."""

    title: str
    sections: tuple[ParsedSection, ...]
    category: str | None = None
    updated_at: date | None = None
    media_type: str = "text/plain"
    metadata: dict[str, str] = field(default_factory=dict)
    supersedes: str | None = None
    """The `supersedes:` value: the source (or id) of the document this one replaces."""
    dates: dict[str, date] = field(default_factory=dict)
    """Every date the loader read, by the name it had (`updated`, `effective`, ...)."""


@dataclass(frozen=True)
class SectionDraft:
    """A parent ("generation") section and the small retrieval chunks cut from it."""

    heading_path: tuple[str, ...]
    text: str
    chunks: tuple[str, ...]


@dataclass(frozen=True)
class DocumentDraft:
    """Everything needed to write one document to the knowledge store."""

    source: str
    content_hash: str
    title: str
    category: str | None
    updated_at: date | None
    media_type: str
    size_bytes: int
    sections: tuple[SectionDraft, ...]
    metadata: dict[str, str] = field(default_factory=dict)
    origin: str | None = None
    """Absolute path of the file it came from (None for uploads); never shown to clients."""
    raw_hash: str | None = None
    """SHA-256 of the file's bytes, to recognise the same content under another name."""
    supersedes: str | None = None
    """Source (or id) of the document this one supersedes, as the front matter says."""
    collection_id: int | None = None
    """The collection it belongs to (None: the default collection every user reads)."""

    @property
    def chunk_texts(self) -> list[str]:
        return [chunk for section in self.sections for chunk in section.chunks]

    @property
    def chunk_count(self) -> int:
        return sum(len(section.chunks) for section in self.sections)


@dataclass(frozen=True)
class DocumentRecord:
    """A stored document as listed by the admin API and CLI."""

    id: int
    source: str
    title: str
    category: str | None
    updated_at: date | None
    media_type: str
    content_hash: str
    size_bytes: int
    section_count: int
    chunk_count: int
    ingested_at: datetime
    supersedes_id: int | None = None
    """The document this one supersedes (recorded from its `supersedes:` front matter)."""
    superseded_by_id: int | None = None
    """The document that supersedes this one, if any."""
    origin: str | None = field(default=None, repr=False)
    raw_hash: str | None = field(default=None, repr=False)
    withheld_instructions: tuple[str, ...] = ()
    """Paragraphs addressed to an AI assistant, withheld from the indexed text at ingestion
    (`use_cases/knowledge/instructions.py`)."""
    extraction: str | None = None
    """How its text was read when not from a text layer: "ocr" for a scan or an image (the
    loader's `extraction` metadata)."""
    collection: str | None = None
    """The name of its collection (None: the default collection)."""
    collection_id: int | None = field(default=None, repr=False)
    updated_from: str = "property"
    """Where `updated_at` came from (`use_cases/knowledge/ingest.py`, "Dates"): `property`
    (the file's own date), `mtime` (the file's modification time) or `ingest` (none known:
    `updated_at` is empty and the document dates from its `ingested_at`)."""


@dataclass(frozen=True)
class DocumentRef:
    """Enough of a document to name it in a citation: "supersedes X of 2023-06-12"."""

    document_id: int
    title: str
    source: str
    updated_at: date | None


@dataclass(frozen=True)
class StagedChunk:
    """One chunk of a large document written ahead of its commit: its place and text."""

    section: int
    ordinal: int
    text: str


@dataclass(frozen=True)
class SectionRecord:
    id: int
    ordinal: int
    heading_path: tuple[str, ...]
    text: str
    chunk_count: int


@dataclass(frozen=True)
class DocumentDetail:
    document: DocumentRecord
    sections: tuple[SectionRecord, ...]


@dataclass(frozen=True)
class EmbeddingInfo:
    """The embedding model a knowledge base was indexed with."""

    model: str
    dimension: int


@dataclass(frozen=True)
class KnowledgeStats:
    documents: int
    sections: int
    chunks: int
    embedding: EmbeddingInfo | None
    categories: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class HitScores:
    """Why a hit ranked where it did. Ranks are 1-based; None means "not in that list"."""

    fused: float
    bm25_rank: int | None = None
    bm25_score: float | None = None
    vector_rank: int | None = None
    vector_distance: float | None = None
    rerank_score: float | None = None


@dataclass(frozen=True)
class SearchHit:
    """One retrieval result: the matching chunk and the parent section the agent reads."""

    chunk_id: int
    document_id: int
    source: str
    title: str
    category: str | None
    section_path: tuple[str, ...]
    updated_at: date | None
    chunk_text: str
    section_text: str
    scores: HitScores
    highlight: str = ""
    superseded_by: DocumentRef | None = None
    """The current version that replaces this document (end of its `supersedes` chain)."""
    supersedes: tuple[DocumentRef, ...] = ()
    """Documents this one supersedes: it is the newer version of them."""
    document_version: str = ""
    """The document's content hash when it was found: which version a citation quotes."""
    attachment: str | None = None
    """The id of the chat's attached file this passage is from (then `document_id` names no
    document and is 0); None for a knowledge-base passage."""
    extraction: str | None = None
    """How its document's text was read when not from a text layer ("ocr")."""
    link: str | None = None
    """Where a citation of it points a reader: a synced web page's http(s) URL (its document's
    `link` metadata); None for files and uploads."""


@dataclass(frozen=True)
class SearchPage:
    query: str
    hits: tuple[SearchHit, ...]
    limit: int
    offset: int
    category: str | None
    reranked: bool


@dataclass(frozen=True)
class IngestItem:
    """Outcome for one input of an ingest run."""

    source: str
    status: str
    """added | updated | unchanged | removed | duplicate | conflict | failed"""
    document_id: int | None = None
    chunks: int = 0
    error: str | None = None
    replaced: DocumentRecord | None = None
    """For `updated`: the version that was replaced."""


@dataclass(frozen=True)
class UploadResult:
    """What one ingested upload became: its outcome and the stored document."""

    item: IngestItem
    document: DocumentRecord
    answers_job: str | None = None
    """The background job preparing the answering model's work for it, if any."""


@dataclass(frozen=True)
class SavedDocument:
    """A document an ingest run committed, as its answer preparation is queued: the content
    it had then (a later replacement has another hash) and its chunks (progress)."""

    document_id: int
    content_hash: str
    chunks: int


@dataclass(frozen=True)
class PreparedWork:
    """What an `AnswerPreparer` added for one document (the sentence texts it embedded)."""

    texts: tuple[str, ...] = ()


#: Statuses that need the user's attention (the CLI exits with 1).
PROBLEM_STATUSES = ("failed", "conflict")


@dataclass(frozen=True)
class IngestReport:
    items: tuple[IngestItem, ...]
    answers_job: str | None = None
    """The background job preparing answers for the documents saved (`AnswerPreparation`):
    the documents are searchable when the report is made, answer-ready when it is done."""

    def count(self, status: str) -> int:
        return sum(1 for item in self.items if item.status == status)

    @property
    def failed(self) -> tuple[IngestItem, ...]:
        return tuple(item for item in self.items if item.status == "failed")

    @property
    def problems(self) -> tuple[IngestItem, ...]:
        """Failed inputs and conflicts: what the user has to act on."""
        return tuple(item for item in self.items if item.status in PROBLEM_STATUSES)

    @property
    def chunks_written(self) -> int:
        return sum(item.chunks for item in self.items if item.status in ("added", "updated"))


def embedding_text(title: str, heading_path: Sequence[str], chunk: str) -> str:
    """The text we embed for a chunk: its document title and heading path give it context.

    A heading path usually starts with the document's H1, which repeats the title: said once.
    """
    path = list(heading_path)
    if path and path[0].strip().casefold() == title.strip().casefold():
        path = path[1:]
    context = " > ".join(part for part in (title, *path) if part)
    return f"{context}\n{chunk}" if context else chunk


def web_link(value: Any) -> str | None:
    """`value` when it is an absolute http(s) URL, else None: a stored link is shown to readers
    as a clickable citation, so a `javascript:`, `data:` or `file:` one is dropped, never
    rendered."""
    if not isinstance(value, str) or not value or value != value.strip():
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if any(ch.isspace() or ord(ch) < 32 or ch in '<>"\\' for ch in value):
        return None
    return value
