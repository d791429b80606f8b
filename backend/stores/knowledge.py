"""The knowledge family: documents, sections, chunks, full-text index, vectors, and the
hybrid retriever over them, from the index backend DATABASE_URL's scheme selects
(`services/knowledge/index_backends.py`: SQLite with FTS5 and resident BM25 and vector
indexes, PostgreSQL with tsvector and pgvector HNSW, or a plugin's)."""

from __future__ import annotations

from typing import TypeAlias

from backend.config import Settings
from services.knowledge.hybrid import RetrieverOptions
from services.knowledge.index_backends import (
    IndexContext,
    IndexRetriever,
    IndexStore,
    backend_for,
)
from services.postgres import PgDatabase
from services.presence import Presence
from use_cases.knowledge.ports import Embedder, Reranker

KnowledgeStoreAdapter: TypeAlias = IndexStore
RetrieverAdapter: TypeAlias = IndexRetriever


def build_knowledge(
    settings: Settings,
    db: PgDatabase | None,
    embedder: Embedder,
    reranker: Reranker | None,
    presence: Presence | None = None,
) -> tuple[KnowledgeStoreAdapter, RetrieverAdapter]:
    options: RetrieverOptions = {
        "vector_search_limit": settings.retrieval.vector_search_limit,
        "bm25_search_limit": settings.retrieval.bm25_search_limit,
        "final_results_limit": settings.retrieval.final_results_limit,
        "rrf_k": settings.retrieval.rrf_k,
        "reranker": reranker,
        "reranker_top_n": settings.retrieval.reranker_top_n,
    }
    url = settings.storage.database_url
    context = IndexContext(
        url=url.get_secret_value() if url is not None else "",
        sqlite_path=settings.storage.knowledge_db_path,
        embedder=embedder,
        options=options,
        resident_min_sections=settings.retrieval.bm25_resident_min_sections,
        database=db,
        presence=presence,
    )
    index = backend_for(context.url).backend.open(context)
    return index.store, index.retriever
