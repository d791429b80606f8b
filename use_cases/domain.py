"""Domain types of the knowledge base: what ingestion produces and retrieval returns.

Plain frozen dataclasses; no framework, no driver. Vectors are any float sequence
(adapters hand NumPy arrays through; the core never does arithmetic on them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

Vector = Sequence[float]


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

    @property
    def chunk_texts(self) -> list[str]:
        return [chunk for section in self.sections for chunk in section.chunks]


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
    status: str  # "added" | "updated" | "unchanged" | "removed" | "failed"
    document_id: int | None = None
    chunks: int = 0
    error: str | None = None


@dataclass(frozen=True)
class IngestReport:
    items: tuple[IngestItem, ...]

    def count(self, status: str) -> int:
        return sum(1 for item in self.items if item.status == status)

    @property
    def failed(self) -> tuple[IngestItem, ...]:
        return tuple(item for item in self.items if item.status == "failed")

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
