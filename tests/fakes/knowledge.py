"""Fakes of the knowledge ports: `KnowledgeStore` in memory, a hashing `Embedder`, a plain
text `DocumentLoader` and a sentence `Chunker`. The store runs the knowledge store contract tests
(tests/integration/test_knowledge_store.py, `memory` backend) next to SQLite and PostgreSQL,
so a use case tested on it is tested against the port's behaviour, not a guess at it."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from services.knowledge.document_writes import as_matrix, draft_chunks
from use_cases.knowledge.domain import (
    DocumentDetail,
    DocumentDraft,
    DocumentRecord,
    EmbeddingInfo,
    KnowledgeStats,
    ParsedDocument,
    ParsedSection,
    SectionDraft,
    SectionRecord,
    StagedChunk,
    Vector,
    Vectors,
    embedding_text,
)
from use_cases.knowledge.instructions import withheld_of
from use_cases.knowledge.scope import EVERYTHING, ReadScope
from use_cases.shared.errors import (
    ConfigurationError,
    DocumentExists,
    EmbeddingModelMismatch,
    InvalidDocument,
    InvalidRequest,
    NotFound,
    UnsupportedDocument,
)
from use_cases.shared.leases import JobLease

__all__ = ["HashingEmbedder", "InMemoryKnowledgeStore", "SentenceChunker", "TextLoader"]


@dataclass
class _Document:
    id: int
    draft: DocumentDraft
    ingested_at: datetime
    origin: str | None
    raw_hash: str | None
    supersedes_key: str | None = None
    supersedes_id: int | None = None
    section_ids: list[int] = field(default_factory=list)
    chunk_ids: list[list[int]] = field(default_factory=list)  # per section


@dataclass
class _Stage:
    draft: DocumentDraft
    chunks: dict[tuple[int, int], tuple[str, np.ndarray]] = field(default_factory=dict)


class InMemoryKnowledgeStore:
    """`KnowledgeStore` in memory: the SQLite adapter's rules (document_writes.py) without
    SQL. Every write is all or nothing: it works on a copy and swaps it in at the end."""

    def __init__(self, *, now: datetime | None = None) -> None:
        self._lock = threading.RLock()
        self._info: EmbeddingInfo | None = None
        self._documents: dict[int, _Document] = {}
        self._vectors: dict[int, np.ndarray] = {}  # chunk id -> unit vector
        self._stages: dict[str, _Stage] = {}
        self._last_document_id = 0
        self._last_section_id = 0
        self._last_chunk_id = 0
        self._now = now

    # -- embeddings ----------------------------------------------------------------------------

    def embedding_info(self) -> EmbeddingInfo | None:
        return self._info

    def check_embedding(self, info: EmbeddingInfo) -> None:
        if info.dimension < 1:
            raise InvalidRequest("The embedding dimension must be positive.")
        with self._lock:
            if self._info is None:
                self._info = info
                return
            if self._info != info:
                raise EmbeddingModelMismatch(
                    indexed=f"{self._info.model} ({self._info.dimension} dimensions)",
                    configured=f"{info.model} ({info.dimension} dimensions)",
                )

    def _check_vectors(self, matrix: np.ndarray) -> None:
        if matrix.shape[0] == 0:
            return
        if self._info is None:
            raise ConfigurationError(
                "No embedding model is recorded for this knowledge base; call "
                "check_embedding() before saving documents."
            )
        if matrix.shape[1] != self._info.dimension:
            raise InvalidRequest(
                f"Vectors have {matrix.shape[1]} dimensions; the knowledge base "
                f"uses {self._info.dimension} ({self._info.model})."
            )

    # -- reads ---------------------------------------------------------------------------------

    def get_by_source(self, source: str) -> DocumentRecord | None:
        return self._first(lambda d: d.draft.source == source)

    def get_by_origin(self, origin: str) -> DocumentRecord | None:
        return self._first(lambda d: d.origin == origin)

    def get_by_raw_hash(self, raw_hash: str) -> DocumentRecord | None:
        return self._first(lambda d: d.raw_hash == raw_hash)

    def get_record(self, document_id: int) -> DocumentRecord | None:
        with self._lock:
            document = self._documents.get(document_id)
            return self._record(document) if document else None

    def find_by_title(self, title: str) -> list[DocumentRecord]:
        wanted = " ".join(title.split()).casefold()
        with self._lock:
            return [
                self._record(d)
                for d in self._by_id()
                if " ".join(d.draft.title.split()).casefold() == wanted
            ]

    def resolve_key(self, key: str) -> DocumentRecord | None:
        with self._lock:
            document_id = _resolve(self._documents, key)
            return self.get_record(document_id) if document_id is not None else None

    def record_raw_hash(self, document_id: int, raw_hash: str) -> None:
        with self._lock:
            document = self._documents.get(document_id)
            if document is not None and document.raw_hash is None:
                document.raw_hash = raw_hash

    def list_documents(
        self,
        *,
        limit: int = 100,
        offset: int = 0,
        category: str | None = None,
        scope: ReadScope = EVERYTHING,
    ) -> tuple[list[DocumentRecord], int]:
        with self._lock:
            chosen = [
                d
                for d in sorted(self._documents.values(), key=lambda d: d.draft.source)
                if (category is None or d.draft.category == category) and _in_scope(d, scope)
            ]
            page = chosen[max(0, offset) : max(0, offset) + max(0, limit)]
            return [self._record(d) for d in page], len(chosen)

    def get_document(
        self, document_id: int, *, scope: ReadScope = EVERYTHING
    ) -> DocumentDetail | None:
        with self._lock:
            document = self._documents.get(document_id)
            if document is None or not _in_scope(document, scope):
                return None
            return DocumentDetail(
                document=self._record(document),
                sections=tuple(
                    SectionRecord(
                        id=section_id,
                        ordinal=ordinal,
                        heading_path=tuple(section.heading_path),
                        text=section.text,
                        chunk_count=len(document.chunk_ids[ordinal]),
                    )
                    for ordinal, (section_id, section) in enumerate(
                        zip(document.section_ids, document.draft.sections, strict=True)
                    )
                ),
            )

    def list_sources(self) -> list[tuple[int, str]]:
        with self._lock:
            return sorted(
                ((d.id, d.draft.source) for d in self._documents.values()), key=lambda x: x[1]
            )

    def list_origins(self) -> list[tuple[int, str, str]]:
        with self._lock:
            return sorted(
                ((d.id, d.draft.source, d.origin) for d in self._documents.values() if d.origin),
                key=lambda x: x[2],
            )

    def stats(self) -> KnowledgeStats:
        with self._lock:
            categories: dict[str, int] = {}
            for d in self._documents.values():
                if d.draft.category is not None:
                    categories[d.draft.category] = categories.get(d.draft.category, 0) + 1
            return KnowledgeStats(
                documents=len(self._documents),
                sections=sum(len(d.section_ids) for d in self._documents.values()),
                chunks=len(self._chunk_ids()),
                embedding=self._info,
                categories=dict(sorted(categories.items())),
            )

    # -- writes --------------------------------------------------------------------------------

    def save_document(
        self,
        draft: DocumentDraft,
        vectors: Vectors,
        *,
        replace_id: int | None = None,
        lease: JobLease | None = None,
    ) -> DocumentRecord:
        chunks = draft_chunks(draft)
        matrix = as_matrix(vectors, len(chunks))
        with self._lock:
            self._check_vectors(matrix)
            stage = _Stage(draft)
            for i, chunk in enumerate(chunks):
                stage.chunks[(chunk.section, chunk.ordinal)] = (chunk.text, matrix[i])
            return self._commit(stage, draft, replace_id)

    def begin_staging(self, draft: DocumentDraft, *, job: str | None = None) -> str:
        stage_id = f"{job}.{uuid.uuid4().hex}" if job else uuid.uuid4().hex
        with self._lock:
            self._stages[stage_id] = _Stage(draft)
        return stage_id

    def stage_chunks(self, stage_id: str, chunks: Sequence[StagedChunk], vectors: Vectors) -> None:
        matrix = as_matrix(vectors, len(chunks))
        with self._lock:
            self._check_vectors(matrix)
            stage = self._stages.setdefault(stage_id, _Stage(_NO_DRAFT))
            for i, chunk in enumerate(chunks):
                stage.chunks[(chunk.section, chunk.ordinal)] = (chunk.text, matrix[i])

    def commit_staged(
        self,
        stage_id: str,
        draft: DocumentDraft,
        *,
        replace_id: int | None = None,
        lease: JobLease | None = None,
    ) -> DocumentRecord:
        with self._lock:
            stage = self._stages.get(stage_id, _Stage(draft))
            record = self._commit(stage, draft, replace_id)
            self._stages.pop(stage_id, None)
            return record

    def discard_staged(self, stage_id: str) -> None:
        with self._lock:
            self._stages.pop(stage_id, None)

    def discard_job_stages(self, job_id: str) -> int:
        with self._lock:
            mine = [i for i in self._stages if i.startswith(f"{job_id}.")]
            for stage_id in mine:
                del self._stages[stage_id]
            return len(mine)

    def delete_document(self, document_id: int) -> bool:
        with self._lock:
            document = self._documents.pop(document_id, None)
            if document is None:
                return False
            for ids in document.chunk_ids:
                for chunk_id in ids:
                    self._vectors.pop(chunk_id, None)
            for other in self._documents.values():  # ON DELETE SET NULL
                if other.supersedes_id == document_id:
                    other.supersedes_id = None
            return True

    def iter_chunk_texts(self, batch_size: int = 256) -> Iterator[list[tuple[int, str]]]:
        with self._lock:
            rows = sorted(self._chunk_texts().items())
        size = max(1, batch_size)
        for start in range(0, len(rows), size):
            yield rows[start : start + size]

    def replace_embeddings(
        self, info: EmbeddingInfo, batches: Iterator[list[tuple[int, Vector]]]
    ) -> int:
        if info.dimension < 1:
            raise InvalidRequest("The embedding dimension must be positive.")
        with self._lock:
            chunk_ids = set(self._chunk_texts())
            vectors: dict[int, np.ndarray] = {}
            for batch in batches:
                if not batch:
                    continue
                matrix = as_matrix([vector for _, vector in batch], len(batch))
                if matrix.shape[1] != info.dimension:
                    raise InvalidRequest(
                        f"Got {matrix.shape[1]}-dimensional vectors for a "
                        f"{info.dimension}-dimensional index."
                    )
                for (chunk_id, _), vector in zip(batch, matrix, strict=True):
                    if int(chunk_id) not in chunk_ids:
                        raise InvalidRequest(f"No chunk with id {chunk_id}.")
                    vectors[int(chunk_id)] = vector
            if len(vectors) != len(chunk_ids):
                raise InvalidRequest(
                    f"Re-embedding produced {len(vectors)} vectors for {len(chunk_ids)} "
                    "chunks; the old index was kept."
                )
            self._vectors = vectors
            self._info = info
            return len(vectors)

    # -- what a contract test reads behind the port (tests/knowledge_backends.Probe) -----------

    def chunk_ids(self) -> list[int]:
        with self._lock:
            return sorted(self._chunk_ids())

    def vector_ids(self) -> list[int]:
        with self._lock:
            return sorted(self._vectors)

    def section_ids(self) -> set[int]:
        with self._lock:
            return {s for d in self._documents.values() for s in d.section_ids}

    def staged_chunk_count(self) -> int:
        with self._lock:
            return sum(len(stage.chunks) for stage in self._stages.values())

    def staged_section_count(self) -> int:
        with self._lock:
            return sum(len(stage.draft.sections) for stage in self._stages.values())

    # -- helpers -------------------------------------------------------------------------------

    def _commit(
        self, stage: _Stage, draft: DocumentDraft, replace_id: int | None
    ) -> DocumentRecord:
        """The SQLite adapter's `commit_staged` rules, on a copy swapped in at the end."""
        expected = draft.chunk_count
        staged = dict(stage.chunks)
        if len(staged) != expected or any(
            (s, o) not in staged
            for s, section in enumerate(draft.sections)
            for o in range(len(section.chunks))
        ):
            raise InvalidRequest(
                f"{len(staged)} chunks ({len(staged)} with vectors) were staged for a document "
                f"of {expected}; nothing was written."
            )
        documents = {
            i: replace(d, section_ids=list(d.section_ids), chunk_ids=[list(c) for c in d.chunk_ids])
            for i, d in self._documents.items()
        }
        vectors = dict(self._vectors)
        last_section, last_chunk = self._last_section_id, self._last_chunk_id
        if replace_id is None:
            if any(d.draft.source == draft.source for d in documents.values()):
                taken = next(d.id for d in documents.values() if d.draft.source == draft.source)
                raise DocumentExists(
                    f"A document with source '{draft.source}' already exists (id {taken}).", taken
                )
            document_id = max(self._last_document_id, max(documents, default=0)) + 1
            document = _Document(document_id, draft, self._clock(), draft.origin, draft.raw_hash)
        else:
            old = documents.get(replace_id)
            if old is None:
                raise NotFound(f"No document with id {replace_id}.")
            holders = [d.id for d in documents.values() if d.draft.source == draft.source]
            if holders and holders[0] != replace_id:
                raise DocumentExists(
                    f"A document with source '{draft.source}' already exists (id {holders[0]}).",
                    holders[0],
                )
            for old_ids in old.chunk_ids:
                for chunk_id in old_ids:
                    vectors.pop(chunk_id, None)
            document_id = replace_id
            document = _Document(
                document_id,
                draft,
                self._clock(),
                draft.origin,
                draft.raw_hash,
                supersedes_key=old.supersedes_key,
                supersedes_id=old.supersedes_id,
            )
        for s, section in enumerate(draft.sections):
            last_section += 1
            document.section_ids.append(last_section)
            ids: list[int] = []
            for o in range(len(section.chunks)):
                last_chunk += 1
                ids.append(last_chunk)
                vectors[last_chunk] = staged[(s, o)][1]
            document.chunk_ids.append(ids)
        documents[document_id] = document
        _link_versions(documents, document_id, draft.supersedes)
        self._documents, self._vectors = documents, vectors
        self._last_document_id = max(self._last_document_id, document_id)
        self._last_section_id, self._last_chunk_id = last_section, last_chunk
        return self._record(document)

    def _clock(self) -> datetime:
        return (self._now or datetime.now(UTC)).replace(microsecond=0)

    def _first(self, wanted) -> DocumentRecord | None:
        with self._lock:
            for document in self._by_id():
                if wanted(document):
                    return self._record(document)
            return None

    def _by_id(self) -> list[_Document]:
        return [self._documents[i] for i in sorted(self._documents)]

    def _chunk_ids(self) -> list[int]:
        return [c for d in self._documents.values() for ids in d.chunk_ids for c in ids]

    def _chunk_texts(self) -> dict[int, str]:
        texts: dict[int, str] = {}
        for d in self._documents.values():
            for section, ids in zip(d.draft.sections, d.chunk_ids, strict=True):
                for chunk_id, text in zip(ids, section.chunks, strict=True):
                    texts[chunk_id] = embedding_text(d.draft.title, section.heading_path, text)
        return texts

    def _record(self, d: _Document) -> DocumentRecord:
        newer = [o for o in self._documents.values() if o.supersedes_id == d.id and o.id != d.id]
        newer.sort(key=lambda o: (o.draft.updated_at or date.min, o.id), reverse=True)
        return DocumentRecord(
            id=d.id,
            source=d.draft.source,
            title=d.draft.title,
            category=d.draft.category,
            updated_at=d.draft.updated_at,
            media_type=d.draft.media_type,
            content_hash=d.draft.content_hash,
            size_bytes=d.draft.size_bytes,
            section_count=len(d.section_ids),
            chunk_count=sum(len(ids) for ids in d.chunk_ids),
            ingested_at=d.ingested_at,
            supersedes_id=d.supersedes_id,
            superseded_by_id=newer[0].id if newer else None,
            origin=d.origin,
            raw_hash=d.raw_hash,
            withheld_instructions=tuple(withheld_of(dict(d.draft.metadata))),
            collection_id=d.draft.collection_id,
            updated_from=str(
                d.draft.metadata.get("updated_from")
                or ("property" if d.draft.updated_at else "ingest")
            ),
        )


_NO_DRAFT = DocumentDraft(
    source="",
    content_hash="",
    title="",
    category=None,
    updated_at=None,
    media_type="text/plain",
    size_bytes=0,
    sections=(),
)


def _resolve(documents: dict[int, _Document], key: str) -> int | None:
    """document_writes.resolve_key: an id, a source, or the one source ending in `/key`."""
    key = key.strip().removeprefix("./")
    if not key:
        return None
    if key.isdigit():
        return int(key) if int(key) in documents else None
    for d in documents.values():
        if d.draft.source == key:
            return d.id
    suffixed = sorted(d.id for d in documents.values() if d.draft.source.endswith("/" + key))
    return suffixed[0] if len(suffixed) == 1 else None


def _link_versions(
    documents: dict[int, _Document], document_id: int, supersedes: str | None
) -> None:
    """document_writes.link_versions: record the edge, link waiting documents, refuse loops."""
    target = _resolve(documents, supersedes) if supersedes else None
    if target == document_id:
        raise InvalidDocument(f"A document cannot supersede itself (supersedes: {supersedes}).")
    document = documents[document_id]
    document.supersedes_key, document.supersedes_id = supersedes, target
    source = document.draft.source
    linked = 0
    for other in documents.values():
        key = other.supersedes_key
        if other.id == document_id or key is None or other.supersedes_id is not None:
            continue
        if key == source or source.endswith("/" + key):
            other.supersedes_id = document_id
            linked += 1
    if target is None and not linked:
        return
    seen: set[int] = set()
    current = documents[document_id].supersedes_id
    while current is not None and current not in seen and len(seen) < 10_000:
        if current == document_id:
            raise InvalidDocument(
                f"supersedes: {supersedes} would make a loop: that document already supersedes "
                "this one, directly or through other versions."
            )
        seen.add(current)
        nxt = documents.get(current)
        current = nxt.supersedes_id if nxt else None


class HashingEmbedder:
    """`Embedder`: a bag of words hashed into `dimension` buckets, L2-normalised (similar
    words, similar vectors; no model). Counts its calls."""

    def __init__(self, dimension: int = 32, model: str = "hashing-bow") -> None:
        self.model = model
        self.dimension = dimension
        self.calls = 0

    def embed_documents(self, texts: Sequence[str]) -> list[np.ndarray]:
        self.calls += 1
        return [self._embed(t) for t in texts]

    def embed_query(self, text: str) -> np.ndarray:
        self.calls += 1
        return self._embed(text)

    def _embed(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float32)
        for word in text.lower().split():
            vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector


class TextLoader:
    """`DocumentLoader` for `.txt` files in a small front-matter format (no parser library):

        title: Leave policy
        updated: 2026-01-15
        supersedes: leave-2025.txt

        # Annual leave
        Twenty-five days a year.

    Lines `key: value` before the first blank line are metadata (title, category,
    supersedes; `updated`, `date` and `effective` are dates); `# ` lines open sections.
    """

    DATE_KEYS = ("updated", "date", "effective")

    def supports(self, name: str) -> bool:
        return name.endswith(".txt")

    def check(self, name: str, data: bytes) -> None:
        if not self.supports(name):
            raise UnsupportedDocument(f"{name}: only .txt files are read here.")
        if not data.strip():
            raise InvalidDocument(f"{name} is empty.")
        if b"\0" in data:
            raise InvalidDocument(f"{name} is not text.")

    def load(self, name: str, data: bytes) -> ParsedDocument:
        self.check(name, data)
        head, _, body = data.decode("utf-8").partition("\n\n")
        meta: dict[str, str] = {}
        for line in head.splitlines():
            key, colon, value = line.partition(":")
            if not colon:
                body = head + "\n\n" + body
                meta = {}
                break
            meta[key.strip().lower()] = value.strip()
        dates = {k: date.fromisoformat(meta[k]) for k in self.DATE_KEYS if k in meta}
        sections: list[ParsedSection] = []
        heading: tuple[str, ...] = ()
        lines: list[str] = []
        for line in [*body.splitlines(), "# "]:
            if line.startswith("# "):
                text = " ".join(" ".join(lines).split())
                if text:
                    sections.append(ParsedSection(heading, text))
                heading, lines = (line[2:].strip(),), []
            else:
                lines.append(line)
        return ParsedDocument(
            title=meta.get("title") or name.rsplit("/", 1)[-1].removesuffix(".txt"),
            sections=tuple(sections),
            category=meta.get("category"),
            updated_at=dates.get("updated") or dates.get("date"),
            media_type="text/plain",
            supersedes=meta.get("supersedes"),
            dates=dates,
        )


class SentenceChunker:
    """`Chunker`: one section per parsed section, one chunk per sentence."""

    def chunk(self, document: ParsedDocument) -> list[SectionDraft]:
        drafts = []
        for section in document.sections:
            sentences = tuple(s.strip() for s in section.text.split(". ") if s.strip())
            if sentences:
                drafts.append(SectionDraft(section.heading_path, section.text, sentences))
        return drafts


def _in_scope(document: Any, scope: ReadScope) -> bool:
    """The fake reads collections only; a filter it cannot apply is a test's mistake."""
    if not scope.filters.empty and scope.filters != replace(scope.filters, category=None):
        raise NotImplementedError("the fake knowledge store filters by collection only")
    category = scope.filters.category
    if category is not None and document.draft.category != category:
        return False
    return scope.may_read(document.draft.collection_id)
