"""Listing, reading and removing knowledge-base documents, and the knowledge-base statistics."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

from use_cases.access.domain import Caller
from use_cases.knowledge.collections import ResolveReadScope, read_scope
from use_cases.knowledge.domain import (
    DocumentDetail,
    DocumentRecord,
    EmbeddingInfo,
    KnowledgeStats,
    Vector,
)
from use_cases.knowledge.ports import Embedder, KnowledgeStore
from use_cases.knowledge.scope import EVERYTHING, DocumentFilter
from use_cases.shared.errors import InvalidRequest, NotFound


@dataclass(frozen=True)
class DocumentPage:
    documents: tuple[DocumentRecord, ...]
    total: int
    limit: int
    offset: int


class ListDocuments:
    """A page of the documents the caller may read (every one without a caller: the CLI)."""

    def __init__(self, store: KnowledgeStore, scopes: ResolveReadScope | None = None) -> None:
        self._store = store
        self._scopes = scopes

    async def execute(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        category: str | None = None,
        caller: Caller | None = None,
        filters: DocumentFilter | None = None,
    ) -> DocumentPage:
        if not 1 <= limit <= 500:
            raise InvalidRequest("limit must be between 1 and 500.")
        if offset < 0:
            raise InvalidRequest("offset must not be negative.")
        scope = await read_scope(self._scopes, caller, filters)
        documents, total = await asyncio.to_thread(
            self._store.list_documents,
            limit=limit,
            offset=offset,
            category=(category or "").strip() or None,
            **({} if scope == EVERYTHING else {"scope": scope}),
        )
        return DocumentPage(tuple(documents), total, limit, offset)


class GetDocument:
    """One document, if the caller may read it: one they may not is `NotFound`, as an absent
    one is (its existence is not told)."""

    def __init__(self, store: KnowledgeStore, scopes: ResolveReadScope | None = None) -> None:
        self._store = store
        self._scopes = scopes

    async def execute(self, document_id: int, caller: Caller | None = None) -> DocumentDetail:
        scope = await read_scope(self._scopes, caller, None)
        detail = await asyncio.to_thread(
            partial(self._store.get_document, document_id)
            if scope == EVERYTHING
            else partial(self._store.get_document, document_id, scope=scope)
        )
        if detail is None:
            raise NotFound(f"No document with id {document_id}.")
        return detail


class RemoveDocument:
    """Removes a document with its sections, chunks, full-text rows and vectors."""

    def __init__(self, store: KnowledgeStore) -> None:
        self._store = store

    async def execute(self, document_id: int) -> None:
        if not await asyncio.to_thread(self._store.delete_document, document_id):
            raise NotFound(f"No document with id {document_id}.")


class GetKnowledgeStats:
    def __init__(self, store: KnowledgeStore) -> None:
        self._store = store

    async def execute(self) -> KnowledgeStats:
        return await asyncio.to_thread(self.run)

    def run(self) -> KnowledgeStats:
        """Synchronous body (start-up and the CLI call it from their own thread)."""
        return self._store.stats()


class Reindex:
    """Re-embeds every chunk with the configured embedder, replacing the vector index at once.

    Needed after changing the embedding provider or model; the old index keeps serving (and
    mismatched queries keep failing clearly) until the new one is complete.
    """

    def __init__(self, store: KnowledgeStore, embedder: Embedder, *, batch_size: int = 256) -> None:
        self._store = store
        self._embedder = embedder
        self._batch_size = batch_size

    @property
    def embedding_model(self) -> str:
        """The model the chunks are re-embedded with."""
        return self._embedder.model

    async def execute(self) -> int:
        return await asyncio.to_thread(self.run)

    def run(self) -> int:
        info = EmbeddingInfo(self._embedder.model, self._embedder.dimension)

        def batches() -> Iterator[list[tuple[int, Vector]]]:
            for batch in self._store.iter_chunk_texts(self._batch_size):
                vectors = self._embedder.embed_documents([text for _, text in batch])
                yield [(chunk_id, vectors[i]) for i, (chunk_id, _) in enumerate(batch)]

        return self._store.replace_embeddings(info, batches())
