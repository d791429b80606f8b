"""The knowledge family: documents, sections, chunks, full-text index, vectors, and the
hybrid retriever over them (SQLite: FTS5, resident BM25 and vector indexes; PostgreSQL:
tsvector + pgvector HNSW)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

from backend.config import Settings
from services.knowledge.retrieval import SqliteHybridRetriever
from services.knowledge.store import SqliteKnowledgeStore
from services.postgres import PgDatabase
from services.presence import Presence
from use_cases.knowledge.ports import Embedder, Reranker

if TYPE_CHECKING:  # PostgreSQL's modules need the `postgres` extra: imported when chosen
    from services.knowledge.pg_retrieval import PgHybridRetriever
    from services.knowledge.pg_store import PgKnowledgeStore

KnowledgeStoreAdapter: TypeAlias = "SqliteKnowledgeStore | PgKnowledgeStore"
RetrieverAdapter: TypeAlias = "SqliteHybridRetriever | PgHybridRetriever"


def build_knowledge(
    settings: Settings,
    db: PgDatabase | None,
    embedder: Embedder,
    reranker: Reranker | None,
    presence: Presence | None = None,
) -> tuple[KnowledgeStoreAdapter, RetrieverAdapter]:
    limits: dict[str, Any] = {
        "vector_search_limit": settings.retrieval.vector_search_limit,
        "bm25_search_limit": settings.retrieval.bm25_search_limit,
        "final_results_limit": settings.retrieval.final_results_limit,
        "rrf_k": settings.retrieval.rrf_k,
        "reranker": reranker,
        "reranker_top_n": settings.retrieval.reranker_top_n,
    }
    if db is not None:
        from services.knowledge.pg_retrieval import PgHybridRetriever
        from services.knowledge.pg_store import PgKnowledgeStore

        pg_store = PgKnowledgeStore(db, presence=presence)
        return pg_store, PgHybridRetriever(pg_store, embedder, **limits)
    store = SqliteKnowledgeStore(settings.storage.knowledge_db_path, presence=presence)
    retriever = SqliteHybridRetriever(
        store,
        embedder,
        resident_min_sections=settings.retrieval.bm25_resident_min_sections,
        **limits,
    )
    return store, retriever
