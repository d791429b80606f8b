"""Ingestion: files in, searchable documents out.

Rules:
- A document is keyed by its `source` (a file path or `upload:NAME`). Its content hash covers
  the bytes, the category and the pipeline signature (chunking settings, embedding model), so
  re-ingesting unchanged input is a no-op and changing any of them re-indexes it.
- Each document is written in one transaction: a killed ingest leaves every document either
  fully old or fully new, and a re-run finishes the rest (unchanged ones are skipped).
- Chunks of several documents are embedded together (bigger batches are much faster on CPU),
  but each document is still saved on its own.
- A bad file fails alone: it is reported and the others go on.
- `prune_prefixes`: stored documents whose source starts with one of them and was not seen in
  this run are removed (their files are gone).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from use_cases.domain import (
    DocumentDraft,
    EmbeddingInfo,
    IngestItem,
    IngestReport,
    ParsedDocument,
    embedding_text,
)
from use_cases.errors import AlmanacError, InvalidDocument
from use_cases.ports import Chunker, DocumentLoader, Embedder, KnowledgeStore

ProgressCallback = Callable[[IngestItem], None]


@dataclass(frozen=True)
class IngestSource:
    """One input: `source` is its stable key, `name` its file name (the type comes from it)."""

    source: str
    name: str
    read: Callable[[], bytes]
    default_category: str | None = None


@dataclass(frozen=True)
class IngestRequest:
    sources: Sequence[IngestSource]
    category: str | None = None
    prune_prefixes: tuple[str, ...] = ()
    on_progress: ProgressCallback | None = None
    raise_errors: bool = False
    """Raise a source's domain error instead of reporting it (single uploads)."""


@dataclass
class _Pending:
    source: IngestSource
    draft: DocumentDraft
    existed: bool
    texts: list[str] = field(default_factory=list)


class IngestDocuments:
    """Load, chunk, embed and store documents; see the module docstring for the rules."""

    def __init__(
        self,
        store: KnowledgeStore,
        loader: DocumentLoader,
        chunker: Chunker,
        embedder: Embedder,
        *,
        pipeline_signature: str,
        embed_batch_chunks: int = 256,
    ) -> None:
        self._store = store
        self._loader = loader
        self._chunker = chunker
        self._embedder = embedder
        self._signature = pipeline_signature
        self._batch_chunks = embed_batch_chunks

    async def execute(self, request: IngestRequest) -> IngestReport:
        return await asyncio.to_thread(self.run, request)

    def run(self, request: IngestRequest) -> IngestReport:
        """Synchronous body (the CLI calls it directly to drive its progress bar)."""
        self._store.check_embedding(EmbeddingInfo(self._embedder.model, self._embedder.dimension))
        items: list[IngestItem] = []

        def report(item: IngestItem) -> None:
            items.append(item)
            if request.on_progress:
                request.on_progress(item)

        seen: set[str] = set()
        pending: list[_Pending] = []
        pending_chunks = 0
        for source in request.sources:
            seen.add(source.source)
            try:
                prepared = self._prepare(source, request.category)
            except AlmanacError as exc:
                if request.raise_errors:
                    raise
                report(IngestItem(source.source, "failed", error=exc.detail))
                continue
            except OSError as exc:
                report(IngestItem(source.source, "failed", error=f"cannot read: {exc.strerror}"))
                continue
            if isinstance(prepared, IngestItem):
                report(prepared)
                continue
            pending.append(prepared)
            pending_chunks += len(prepared.texts)
            if pending_chunks >= self._batch_chunks:
                self._flush(pending, report)
                pending, pending_chunks = [], 0
        self._flush(pending, report)

        if request.prune_prefixes:
            for document_id, stored in self._store.list_sources():
                if stored not in seen and stored.startswith(request.prune_prefixes):
                    self._store.delete_document(document_id)
                    report(IngestItem(stored, "removed", document_id=document_id))
        return IngestReport(tuple(items))

    def _prepare(self, source: IngestSource, category: str | None) -> _Pending | IngestItem:
        data = source.read()
        content_hash = self._hash(data, category)
        existing = self._store.get_by_source(source.source)
        if existing is not None and existing.content_hash == content_hash:
            return IngestItem(source.source, "unchanged", document_id=existing.id)
        parsed = self._loader.load(source.name, data)
        draft = self._draft(source, parsed, data, content_hash, category)
        if not draft.chunk_texts:
            raise InvalidDocument(f"{source.name} has no text to index.")
        texts = [
            embedding_text(draft.title, section.heading_path, chunk)
            for section in draft.sections
            for chunk in section.chunks
        ]
        return _Pending(source, draft, existing is not None, texts)

    def _draft(
        self,
        source: IngestSource,
        parsed: ParsedDocument,
        data: bytes,
        content_hash: str,
        category: str | None,
    ) -> DocumentDraft:
        return DocumentDraft(
            source=source.source,
            content_hash=content_hash,
            title=parsed.title,
            category=category or parsed.category or source.default_category,
            updated_at=parsed.updated_at,
            media_type=parsed.media_type,
            size_bytes=len(data),
            sections=tuple(self._chunker.chunk(parsed)),
            metadata=dict(parsed.metadata),
        )

    def _flush(self, pending: list[_Pending], report: ProgressCallback) -> None:
        if not pending:
            return
        texts = [text for item in pending for text in item.texts]
        vectors = self._embedder.embed_documents(texts)
        start = 0
        for item in pending:
            end = start + len(item.texts)
            record = self._store.save_document(item.draft, vectors[start:end])
            start = end
            status = "updated" if item.existed else "added"
            report(IngestItem(item.source.source, status, record.id, chunks=len(item.texts)))

    def _hash(self, data: bytes, category: str | None) -> str:
        digest = hashlib.sha256(data)
        digest.update(f"\0{category or ''}\0{self._signature}".encode())
        return digest.hexdigest()
