"""The knowledge base's search alone, for `almanac search`: the embedder, the knowledge store
and its retriever, built as `bootstrap()` builds them (same settings, same adapters, same
`SearchKnowledgeBase`), without the rest of the container (the offline model, pydantic-ai,
the app database, the job queue), which a search never touches and which costs seconds to
import. The hits are the container's: a query is embedded by the embedder itself in both
(the container's text cache only serves document texts)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from backend.components import build_embedder, build_reranker
from backend.config import Settings
from backend.stores import open_database
from backend.stores.knowledge import build_knowledge
from use_cases.knowledge.search import SearchKnowledgeBase


@contextmanager
def open_search(settings: Settings) -> Iterator[SearchKnowledgeBase | None]:
    """The search over `settings`' knowledge base, closed on leaving; None when the bundled
    sample would be loaded first (an empty knowledge base and LOAD_SAMPLE_DATA on): the
    caller then opens the whole container, which loads it, as before."""
    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    embedder = build_embedder(settings)
    reranker = build_reranker(settings)
    database = open_database(settings)
    try:
        store, retriever = build_knowledge(settings, database, embedder, reranker)
        try:
            if settings.knowledge_base.load_sample_data and store.stats().documents == 0:
                yield None
                return
            yield SearchKnowledgeBase(
                retriever, default_limit=settings.retrieval.final_results_limit
            )
        finally:
            retriever.close()
            store.close()
    finally:
        if database is not None:
            database.close()
