"""A document's `link` metadata (a synced web page's URL) reaches its search hits on either
backend (SQLite's JSON text, PostgreSQL's JSONB), and a link that is not http(s) never does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_retrieval import EMBEDDER
from tests.knowledge_backends import AnyRetriever, AnyStore, make_retriever, open_store
from use_cases.knowledge.domain import DocumentDraft, EmbeddingInfo, SectionDraft, embedding_text

PAGE = "https://intranet.example/facilities/parking?site=north"


def _save(store: AnyStore, source: str, text: str, metadata: dict[str, str]) -> None:
    draft = DocumentDraft(
        source=source,
        content_hash=source,
        title=source,
        category=None,
        updated_at=None,
        media_type="text/html",
        size_bytes=len(text),
        sections=(SectionDraft((source,), text, (text,)),),
        metadata=metadata,
    )
    vectors = EMBEDDER.embed_documents(
        [embedding_text(draft.title, s.heading_path, c) for s in draft.sections for c in s.chunks]
    )
    store.save_document(draft, vectors)


@pytest.fixture
def retriever(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[AnyRetriever]:
    with open_store(backend, tmp_path, request) as store:
        store.check_embedding(EmbeddingInfo(EMBEDDER.model, EMBEDDER.dimension))
        _save(store, "intranet/parking", "Visitors park in bay seven.", {"link": PAGE})
        _save(store, "lockers.md", "Visitors keep their bags in locker room B.", {})
        _save(
            store,
            "intranet/badges",
            "Visitors return their badges to reception.",
            {"link": "javascript:alert(document.cookie)"},
        )
        r = make_retriever(store, EMBEDDER, final_results_limit=5)
        yield r
        r.close()


def test_a_pages_hits_carry_its_link_and_no_other_hit_does(retriever: AnyRetriever) -> None:
    links = {hit.source: hit.link for hit in retriever.search("where do visitors park bay")}
    assert links["intranet/parking"] == PAGE
    assert "lockers.md" in links and links["lockers.md"] is None  # a file: no link
    badges = {hit.source: hit.link for hit in retriever.search("visitors badges reception")}
    assert "intranet/badges" in badges and badges["intranet/badges"] is None
