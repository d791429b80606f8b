"""HTTP response shapes (with OpenAPI examples) and their conversion from domain types."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from backend.api.errors import status_for_code
from backend.api.problems import Problem, problem_body
from use_cases.jobs.queue import INGEST_UPLOAD, JobView
from use_cases.knowledge.conflicts import ConflictListing, ConflictSide
from use_cases.knowledge.documents import DocumentPage
from use_cases.knowledge.domain import (
    DocumentDetail,
    DocumentRecord,
    DocumentRef,
    IngestItem,
    KnowledgeStats,
    SearchHit,
    SearchPage,
    web_link,
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


def _is_none(value: object) -> bool:
    return value is None


class HealthOut(BaseModel):
    """`/health`: with authentication on, only `status` and `version`; with it off, as
    `/health/details`."""

    status: str = Field(
        description="`healthy`, or `degraded` when the index was built with another embedder.",
        examples=["healthy"],
    )
    version: str = Field(examples=["0.11.0"])
    knowledge_base: KnowledgeBaseOut | None = Field(
        None,
        description="Only with authentication off; admins: `/health/details`.",
        exclude_if=_is_none,
    )
    problems: list[str] | None = Field(
        None,
        description="Only with authentication off; admins: `/health/details`.",
        exclude_if=_is_none,
    )


class HealthDetailsOut(HealthOut):
    """`/health/details` (admins): the status with the knowledge-base statistics."""

    knowledge_base: KnowledgeBaseOut
    problems: list[str] = Field(
        default_factory=list, description="What makes the status `degraded`, with the fix."
    )


class ScoresOut(BaseModel):
    fused: float = Field(description="Reciprocal Rank Fusion score.", examples=[0.0325])
    bm25_rank: int | None = Field(description="1-based rank in the BM25 list.", examples=[1])
    bm25_score: float | None = Field(examples=[7.41])
    vector_rank: int | None = Field(examples=[2])
    vector_distance: float | None = Field(description="Cosine distance.", examples=[0.41])
    rerank_score: float | None = Field(examples=[None])


class DocumentRefOut(BaseModel):
    """Another version of a hit's document."""

    document_id: int = Field(examples=[12])
    title: str = Field(examples=["Password and Credential Rotation Policy"])
    source: str = Field(examples=["policies/password-policy-2023.md"])
    updated_at: date | None = Field(examples=["2023-06-12"])

    @classmethod
    def of(cls, ref: DocumentRef) -> DocumentRefOut:
        return cls(
            document_id=ref.document_id,
            title=ref.title,
            source=ref.source,
            updated_at=ref.updated_at,
        )


class HitOut(BaseModel):
    rank: int = Field(examples=[1])
    document_id: int = Field(examples=[7])
    source: str = Field(
        description="Path relative to the ingested folder, or the uploaded file name.",
        examples=["policies/password-policy-2025.md"],
    )
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
    superseded_by: DocumentRefOut | None = Field(
        default=None,
        description="Set when this document is superseded: the current version that replaces "
        "it (recorded from `supersedes:` front matter, never guessed from titles). Superseded "
        "hits rank lower but stay findable.",
    )
    supersedes: list[DocumentRefOut] = Field(
        default_factory=list,
        description="The documents this one supersedes: it is their newer version.",
    )
    link: str | None = Field(
        default=None,
        description="A synced web page's URL (http or https only), where a citation of it "
        "points a reader (docs/websites.md). Absent for files and uploads.",
        examples=["https://intranet.example.com/handbook/travel"],
    )

    @model_serializer(mode="wrap")
    def _without_absent_link(self, serialize: SerializerFunctionWrapHandler):
        """No `link` key for a file's hit, so the JSON of search hits from files stays as it
        was before links were shown. No return annotation on purpose: with one, pydantic
        would publish that type (a bare object) as the hit's schema in the OpenAPI document."""
        data: dict[str, Any] = serialize(self)
        if data.get("link") is None:
            data.pop("link", None)
        return data


class SearchOut(BaseModel):
    query: str = Field(examples=["How often do passwords rotate?"])
    limit: int = Field(examples=[5])
    offset: int = Field(examples=[0])
    category: str | None = Field(examples=[None])
    reranked: bool = Field(
        examples=[False],
        description="Whether the reranker ordered these hits (false when it is off, or "
        "failed and the fused order was kept).",
    )
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
        superseded_by=DocumentRefOut.of(hit.superseded_by) if hit.superseded_by else None,
        supersedes=[DocumentRefOut.of(ref) for ref in hit.supersedes],
        link=web_link(hit.link),
    )


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(examples=[7])
    source: str = Field(
        description="Path relative to the ingested folder, or the uploaded file name.",
        examples=["policies/travel-and-expense-policy.md"],
    )
    title: str = Field(examples=["Travel and Expense Policy"])
    category: str | None = Field(examples=["policies"])
    updated_at: date | None = Field(
        description="The document's own date (see `updated_from`); null when it has none.",
        examples=["2025-04-01"],
    )
    updated_from: Literal["property", "mtime", "ingest"] = Field(
        default="property",
        description="Where `updated_at` came from: `property` (the file's own date: front "
        "matter, Word or PowerPoint properties, PDF metadata, HTML meta, an e-mail's Date), "
        "`mtime` (the file's modification time, for a folder's file without one) or `ingest` "
        "(no date known: the document dates from `ingested_at`).",
        examples=["property"],
    )
    media_type: str = Field(examples=["text/markdown"])
    content_hash: str
    size_bytes: int = Field(examples=[5120])
    section_count: int = Field(examples=[6])
    chunk_count: int = Field(examples=[9])
    ingested_at: datetime
    supersedes_id: int | None = Field(
        default=None,
        description="The document this one supersedes (its `supersedes:` front matter).",
        examples=[None],
    )
    superseded_by_id: int | None = Field(
        default=None, description="The document that supersedes this one.", examples=[None]
    )
    withheld_instructions: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Paragraphs of the file addressed to an AI assistant ('Ignore all previous "
        "instructions...'), withheld at ingestion: never indexed, searched or quoted. Up to 20 "
        "entries (the last says how many more when they do not all fit), each cut to 500 "
        "characters. Empty for a clean document.",
        examples=[[]],
    )
    extraction: str | None = Field(
        default=None,
        description="How the text was read when not from the file's own text: `ocr` for a "
        "scanned PDF or an image, read by OCR (docs/guide.md#file-types); null otherwise.",
        examples=[None],
    )
    collection: str | None = Field(
        default=None,
        description="Its collection (docs/collections.md); null: the default collection "
        "every user reads.",
        examples=[None],
    )

    @classmethod
    def of(cls, record: DocumentRecord) -> DocumentOut:
        return cls.model_validate(record)


class DocumentTypesOut(BaseModel):
    """The file types a document upload accepts (`GET /api/documents/types`)."""

    extensions: list[str] = Field(
        examples=[[".md", ".markdown", ".txt", ".pdf"]],
        description="The file name endings an upload may have, lower case with their dot; "
        "another type is refused (415).",
    )


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


class ReplacedOut(BaseModel):
    """The version of a document that an update replaced (same id, same source)."""

    title: str = Field(examples=["Parking Policy"])
    updated_at: date | None = Field(examples=["2025-01-05"])
    content_hash: str
    size_bytes: int = Field(examples=[2048])
    chunk_count: int = Field(examples=[3])
    ingested_at: datetime

    @classmethod
    def of(cls, record: DocumentRecord) -> ReplacedOut:
        return cls(
            title=record.title,
            updated_at=record.updated_at,
            content_hash=record.content_hash,
            size_bytes=record.size_bytes,
            chunk_count=record.chunk_count,
            ingested_at=record.ingested_at,
        )


class IngestOut(BaseModel):
    status: str = Field(
        description="`added`, `updated` (an explicit replacement) or `unchanged`.",
        examples=["added"],
    )
    document: DocumentOut
    chunks: int = Field(examples=[9])
    replaced: ReplacedOut | None = Field(
        default=None, description="For `updated`: the version that was replaced."
    )
    answers_job: str | None = Field(
        default=None,
        description="The document is searchable now; this background job prepares the offline "
        "answerer's sentences for it (`/api/jobs/{id}`, kind `prepare_answers`). Questions asked "
        "before it is done get the same answers, a little later. Null when nothing is prepared.",
        examples=["5d41402abc4b2a76b9719d911017c592"],
    )

    @classmethod
    def of(
        cls, item: IngestItem, record: DocumentRecord, answers_job: str | None = None
    ) -> IngestOut:
        return cls(
            status=item.status,
            document=DocumentOut.of(record),
            chunks=record.chunk_count,
            replaced=ReplacedOut.of(item.replaced) if item.replaced else None,
            answers_job=answers_job,
        )


class JobProgressOut(BaseModel):
    chunks_done: int = Field(
        description="Chunks embedded and stored so far (`prepare_answers`: chunks whose "
        "documents' sentences are prepared).",
        examples=[1024],
    )
    chunks_total: int | None = Field(
        description="Chunks of the document (null until it is parsed).", examples=[4210]
    )


class JobOut(BaseModel):
    id: str = Field(examples=["9b1f0c4e2a7d4c55b0e1d2c3f4a5b6c7"])
    kind: str = Field(
        default="ingest",
        description="`ingest` (a large upload) or `prepare_answers` (the offline answerer's "
        "sentences of documents just ingested, prepared once they are searchable).",
        examples=["ingest"],
    )
    name: str = Field(
        description="The uploaded file name, or what is prepared.", examples=["handbook.md"]
    )
    status: str = Field(
        description="`queued`, `running`, `done` or `failed`.", examples=["running"]
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: JobProgressOut
    result: IngestOut | None = Field(
        description="When `done`: what the upload gave, as a direct upload answers it."
    )
    created_by: str | None = Field(
        default=None, description="User id of the admin who uploaded.", examples=["root"]
    )
    error: Problem | None = Field(
        description="When `failed`: why, as the problem an upload in the request would have "
        "answered (`code`, `status`, `detail`)."
    )

    @classmethod
    def of(cls, job: JobView) -> JobOut:
        return cls(
            id=job.id,
            kind="ingest" if job.kind == INGEST_UPLOAD else job.kind,
            name=job.name,
            status=job.status,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            progress=JobProgressOut(chunks_done=job.chunks_done, chunks_total=job.chunks_total),
            result=IngestOut.of(job.result.item, job.result.document, job.result.answers_job)
            if job.result
            else None,
            created_by=job.created_by,
            error=_job_problem(job) if job.error else None,
        )


def _job_problem(job: JobView) -> Problem:
    assert job.error is not None
    code = job.error.type
    body = problem_body(
        status_for_code(code), code, job.error.detail, instance=f"/api/jobs/{job.id}"
    )
    return Problem.model_validate(body)


class ConflictSideOut(BaseModel):
    document_id: int = Field(examples=[35])
    title: str = Field(examples=["Password Quick Reference"])
    source: str = Field(examples=["password-quick-reference.md"])
    sentence: str = Field(examples=["Passwords must have a minimum length of 4 characters."])
    values: list[str] = Field(examples=[["4 characters"]])


class ConflictOut(BaseModel):
    unit: str = Field(description="What the values count (a stemmed word or a sign).")
    first: ConflictSideOut
    second: ConflictSideOut


class IngestProblemOut(BaseModel):
    source: str = Field(description="The file's path in its folder.", examples=["~$report.docx"])
    status: Literal["failed", "duplicate", "conflict", "skipped"] = Field(
        description="failed: it could not be read or was refused; duplicate, conflict: its "
        "content or name is another document's; skipped: its type is not read."
    )
    reason: str = Field(examples=["hr/receipts.pages: '.pages' files are not supported; ..."])
    reported_at: datetime = Field(description="When it was first reported (for this version).")


class IngestProblemListOut(BaseModel):
    problems: list[IngestProblemOut] = Field(
        description="The files of the ingested folders that are not in the knowledge base, "
        "from the last ingest of each folder (`almanac ingest DIR`, the start of `almanac "
        "serve --knowledge`)."
    )


class ConflictListOut(BaseModel):
    status: Literal["current", "scanning"] = Field(
        description="current: the knowledge base has not changed since this scan; scanning: a "
        "scan is under way in the background (ask again after Retry-After seconds), and the "
        "list is the previous scan's, if any."
    )
    scanned_at: datetime | None = Field(
        description="When the listed scan ended (null: no scan has ended yet)."
    )
    conflicts: list[ConflictOut]
    sections_checked: int = Field(examples=[150])
    complete: bool = Field(
        description="false when the section budget or the conflict cap stopped the scan "
        "early (also false before the first scan ends)."
    )

    @classmethod
    def of(cls, listing: ConflictListing) -> ConflictListOut:
        def side(s: ConflictSide) -> ConflictSideOut:
            return ConflictSideOut(
                document_id=s.document_id,
                title=s.title,
                source=s.source,
                sentence=s.sentence,
                values=list(s.values),
            )

        report = listing.report
        return cls(
            status=listing.status,
            scanned_at=listing.scanned_at,
            conflicts=[
                ConflictOut(unit=c.unit, first=side(c.first), second=side(c.second))
                for c in (report.conflicts if report else ())
            ],
            sections_checked=report.sections_checked if report else 0,
            complete=report.complete if report else False,
        )
