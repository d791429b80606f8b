"""HTTP response shapes (with OpenAPI examples) and their conversion from domain types."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from use_cases.documents import DocumentPage
from use_cases.domain import (
    DocumentDetail,
    DocumentRecord,
    IngestItem,
    KnowledgeStats,
    SearchHit,
    SearchPage,
)


class EmbeddingOut(BaseModel):
    model: str = Field(examples=["all-MiniLM-L6-v2"])
    dimension: int = Field(examples=[384])


class KnowledgeBaseOut(BaseModel):
    documents: int = Field(examples=[34])
    sections: int = Field(examples=[260])
    chunks: int = Field(examples=[410])
    embedding_model: str | None = Field(
        description="Model the index was built with (null while empty).",
        examples=["all-MiniLM-L6-v2"],
    )
    embedding_dimension: int | None = Field(examples=[384])
    configured_embedding_model: str = Field(examples=["all-MiniLM-L6-v2"])
    categories: dict[str, int] = Field(examples=[{"domain": 11, "policies": 12, "runbooks": 11}])

    @classmethod
    def of(cls, stats: KnowledgeStats, configured_model: str) -> KnowledgeBaseOut:
        return cls(
            documents=stats.documents,
            sections=stats.sections,
            chunks=stats.chunks,
            embedding_model=stats.embedding.model if stats.embedding else None,
            embedding_dimension=stats.embedding.dimension if stats.embedding else None,
            configured_embedding_model=configured_model,
            categories=stats.categories,
        )


class HealthOut(BaseModel):
    status: str = Field(
        description="`ok`, or `degraded` when the index was built with another embedder.",
        examples=["ok"],
    )
    version: str = Field(examples=["0.1.0"])
    knowledge_base: KnowledgeBaseOut
    problems: list[str] = Field(default_factory=list)


class ScoresOut(BaseModel):
    fused: float = Field(description="Reciprocal Rank Fusion score.", examples=[0.0325])
    bm25_rank: int | None = Field(description="1-based rank in the BM25 list.", examples=[1])
    bm25_score: float | None = Field(examples=[7.41])
    vector_rank: int | None = Field(examples=[2])
    vector_distance: float | None = Field(description="Cosine distance.", examples=[0.41])
    rerank_score: float | None = Field(examples=[None])


class HitOut(BaseModel):
    rank: int = Field(examples=[1])
    document_id: int = Field(examples=[7])
    source: str = Field(examples=["/srv/kb/policies/password-policy-2025.md"])
    title: str = Field(examples=["Password and Credential Rotation Policy"])
    category: str | None = Field(examples=["policies"])
    section_path: list[str] = Field(
        examples=[["Password and Credential Rotation Policy", "Rotation"]]
    )
    updated_at: date | None = Field(examples=["2025-09-15"])
    chunk_id: int = Field(examples=[118])
    text: str = Field(description="The matching retrieval chunk.")
    section_text: str = Field(description="The parent section the chunk belongs to.")
    highlight: str = Field(description="Snippet with matched terms in <mark>…</mark>.")
    scores: ScoresOut


class SearchOut(BaseModel):
    query: str = Field(examples=["How often do passwords rotate?"])
    limit: int = Field(examples=[5])
    offset: int = Field(examples=[0])
    category: str | None = Field(examples=[None])
    reranked: bool = Field(examples=[False])
    hits: list[HitOut]

    @classmethod
    def of(cls, page: SearchPage) -> SearchOut:
        return cls(
            query=page.query,
            limit=page.limit,
            offset=page.offset,
            category=page.category,
            reranked=page.reranked,
            hits=[hit_out(hit, page.offset + i + 1) for i, hit in enumerate(page.hits)],
        )


def hit_out(hit: SearchHit, rank: int) -> HitOut:
    return HitOut(
        rank=rank,
        document_id=hit.document_id,
        source=hit.source,
        title=hit.title,
        category=hit.category,
        section_path=list(hit.section_path),
        updated_at=hit.updated_at,
        chunk_id=hit.chunk_id,
        text=hit.chunk_text,
        section_text=hit.section_text,
        highlight=hit.highlight,
        scores=ScoresOut(
            fused=hit.scores.fused,
            bm25_rank=hit.scores.bm25_rank,
            bm25_score=hit.scores.bm25_score,
            vector_rank=hit.scores.vector_rank,
            vector_distance=hit.scores.vector_distance,
            rerank_score=hit.scores.rerank_score,
        ),
    )


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(examples=[7])
    source: str = Field(examples=["upload:travel-policy.md"])
    title: str = Field(examples=["Travel and Expense Policy"])
    category: str | None = Field(examples=["policies"])
    updated_at: date | None = Field(examples=["2025-04-01"])
    media_type: str = Field(examples=["text/markdown"])
    content_hash: str
    size_bytes: int = Field(examples=[5120])
    section_count: int = Field(examples=[6])
    chunk_count: int = Field(examples=[9])
    ingested_at: datetime

    @classmethod
    def of(cls, record: DocumentRecord) -> DocumentOut:
        return cls.model_validate(record)


class DocumentListOut(BaseModel):
    total: int = Field(examples=[34])
    limit: int = Field(examples=[50])
    offset: int = Field(examples=[0])
    documents: list[DocumentOut]

    @classmethod
    def of(cls, page: DocumentPage) -> DocumentListOut:
        return cls(
            total=page.total,
            limit=page.limit,
            offset=page.offset,
            documents=[DocumentOut.of(doc) for doc in page.documents],
        )


class SectionOut(BaseModel):
    id: int
    ordinal: int
    heading_path: list[str]
    text: str
    chunk_count: int


class DocumentDetailOut(DocumentOut):
    sections: list[SectionOut]

    @classmethod
    def of_detail(cls, detail: DocumentDetail) -> DocumentDetailOut:
        base = DocumentOut.of(detail.document).model_dump()
        sections = [
            SectionOut(
                id=s.id,
                ordinal=s.ordinal,
                heading_path=list(s.heading_path),
                text=s.text,
                chunk_count=s.chunk_count,
            )
            for s in detail.sections
        ]
        return cls(**base, sections=sections)


class IngestOut(BaseModel):
    status: str = Field(description="`added`, `updated` or `unchanged`.", examples=["added"])
    document: DocumentOut
    chunks: int = Field(examples=[9])

    @classmethod
    def of(cls, item: IngestItem, record: DocumentRecord) -> IngestOut:
        return cls(status=item.status, document=DocumentOut.of(record), chunks=record.chunk_count)
