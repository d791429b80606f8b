"""Hybrid retrieval on both backends (SQLite: `SqliteHybridRetriever`; PostgreSQL:
`PgHybridRetriever`) with a deterministic fake embedder. The same test bodies run on each
(`backend` fixture); tests of SQLite's own machinery (FTS5 BM25 budget, resident vector index,
migrations of the file) use `sqlite_store` and say so."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

import httpx
import numpy as np
import pytest
import respx

from services.knowledge.fts_query import words
from services.knowledge.lexical import LexicalSearcher
from services.knowledge.reranker import CohereReranker
from services.knowledge.retrieval import SqliteHybridRetriever, StatedQuery
from services.knowledge.store import SqliteKnowledgeStore
from services.knowledge.vector_index import ResidentVectors
from tests.knowledge_backends import (
    AnyRetriever,
    AnyStore,
    Probe,
    another_store,
    close_other,
    make_retriever,
    open_store,
)
from tests.narrowing import present
from use_cases.knowledge.domain import DocumentDraft, EmbeddingInfo, SectionDraft, embedding_text
from use_cases.knowledge.search import SearchKnowledgeBase, SearchRequest
from use_cases.shared.errors import EmbeddingModelMismatch, UpstreamTimeout

DIM = 64


class HashingEmbedder:
    """Bag-of-words hashed into 64 dimensions, L2-normalised: similar words, similar vectors."""

    model = "hashing-bow"
    dimension = DIM

    def embed_documents(self, texts: Sequence[str]) -> list[np.ndarray]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> np.ndarray:
        vector = np.zeros(DIM, dtype=np.float32)
        for word in words(text):
            vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
        norm = np.linalg.norm(vector)
        return vector / norm if norm else vector


EMBEDDER = HashingEmbedder()

CORPUS = [
    (
        "leave.md",
        "Leave policy",
        "hr",
        [
            (
                ("Annual leave",),
                [
                    "Employees get twenty-five days of annual leave per year.",
                    "Unused leave days can be carried over until March.",
                ],
            ),
            (("Sick leave",), ["Report sick leave to your manager before nine."]),
        ],
    ),
    (
        "laptop.md",
        "Laptop setup",
        "it",
        [
            (("Setup",), ["Your laptop arrives on the first day with the VPN installed."]),
            (("Security",), ["Enable disk encryption and lock the screen when leaving."]),
        ],
    ),
    (
        "expenses.md",
        "Travel expenses",
        "finance",
        [((), ["Submit travel expenses within thirty days with receipts <attached> & signed."])],
    ),
]


def save(
    store: AnyStore,
    source: str,
    title: str,
    category: str | None,
    sections,
    *,
    replace_id: int | None = None,
    updated_at: date | None = None,
    supersedes: str | None = None,
):
    d = DocumentDraft(
        source=source,
        content_hash=source,
        title=title,
        category=category,
        updated_at=updated_at,
        media_type="text/markdown",
        size_bytes=1,
        sections=tuple(SectionDraft(tuple(h), " ".join(c), tuple(c)) for h, c in sections),
        supersedes=supersedes,
    )
    vectors = EMBEDDER.embed_documents(
        [embedding_text(title, s.heading_path, chunk) for s in d.sections for chunk in s.chunks]
    )
    return store.save_document(d, vectors, replace_id=replace_id)


def _fill(store: AnyStore) -> None:
    store.check_embedding(EmbeddingInfo(EMBEDDER.model, DIM))
    for source, title, category, sections in CORPUS:
        save(store, source, title, category, sections)


@pytest.fixture
def store(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[AnyStore]:
    with open_store(backend, tmp_path, request) as s:
        _fill(s)
        yield s


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteKnowledgeStore]:
    s = SqliteKnowledgeStore(tmp_path / "knowledge.db")
    _fill(s)
    yield s
    s.close()


@pytest.fixture
def retriever(store: AnyStore) -> Iterator[AnyRetriever]:
    r = make_retriever(store, EMBEDDER, final_results_limit=3)
    yield r
    r.close()


def test_the_best_hit_is_the_section_that_answers_the_question(
    retriever: AnyRetriever,
) -> None:
    hits = retriever.search("how many days of annual leave do I get?")

    top = hits[0]
    assert (top.source, top.section_path) == ("leave.md", ("Annual leave",))
    assert top.title == "Leave policy" and top.category == "hr"
    assert "twenty-five days" in top.section_text
    assert top.scores.bm25_rank == 1 and top.scores.vector_rank is not None
    # Convex combination, equal weights: BM25's best scores 0.5, the vector leg adds up to 0.5.
    assert 0.5 <= top.scores.fused <= 1.0
    assert (top.scores.fused == pytest.approx(1.0)) == (top.scores.vector_rank == 1)
    assert "<mark>annual</mark>" in top.highlight and "<mark>leave</mark>" in top.highlight
    assert len(hits) == 3
    assert [h.scores.fused for h in hits] == sorted((h.scores.fused for h in hits), reverse=True)


def test_rrf_fusion_when_rrf_k_is_set(store: AnyStore) -> None:
    retriever = make_retriever(store, EMBEDDER, final_results_limit=3, rrf_k=60)

    top = retriever.search("how many days of annual leave do I get?")[0]

    assert (top.source, top.section_path) == ("leave.md", ("Annual leave",))
    assert top.scores.bm25_rank == 1 and top.scores.vector_rank is not None
    assert top.scores.fused == pytest.approx(1 / 61 + 1 / (60 + top.scores.vector_rank))


def test_keyword_only_fusion_keeps_the_bm25_order(retriever: AnyRetriever) -> None:
    hits = retriever.search_with_vector("leave days annual", None, k=3)
    bm25_ranks = [h.scores.bm25_rank for h in hits]
    ranked = [rank for rank in bm25_ranks if rank is not None]

    assert bm25_ranks == ranked == sorted(ranked) and hits[0].scores.fused == pytest.approx(0.5)


def test_query_stopwords_are_dropped_from_the_bm25_leg_unless_asked(
    sqlite_store: SqliteKnowledgeStore,
) -> None:
    store = sqlite_store
    conn = store.connection()
    assert LexicalSearcher().analyze(conn, "the leave of them").words == ("leave",)
    kept = LexicalSearcher(drop_stopwords=False).analyze(conn, "the leave of them").words
    assert "leave" in kept and "the" in kept


def test_a_typo_in_the_query_still_finds_its_passage_on_the_sqlite_keyword_leg(
    sqlite_store: SqliteKnowledgeStore,
) -> None:
    store, retriever = sqlite_store, SqliteHybridRetriever(sqlite_store, EMBEDDER)
    conn = store.connection()
    analyzed = LexicalSearcher().analyze(conn, "encyrption")
    assert "encrypt" in analyzed.stems  # the index's Porter stem of "encryption"
    hits = retriever.search_with_vector("disk encyrption", None, k=1)
    assert hits and hits[0].title == "Laptop setup" and hits[0].scores.bm25_rank == 1
    # Known words are left alone, and correcting can be switched off.
    assert LexicalSearcher().analyze(conn, "leave").stems == ("leav",)
    assert (
        "encrypt" not in LexicalSearcher(correct_spelling=False).analyze(conn, "encyrption").stems
    )


def test_a_misspelt_word_finds_the_passage_of_the_word_it_was_meant_to_be(
    retriever: AnyRetriever,
) -> None:
    hits = retriever.search_with_vector("encyrption", None, k=1)  # no such word indexed

    assert hits and hits[0].title == "Laptop setup" and hits[0].scores.bm25_rank == 1
    assert retriever.search_with_vector("zzzzzzzzz", None, k=1) == []


def test_at_most_one_hit_per_parent_section(retriever: AnyRetriever) -> None:
    hits = retriever.search("leave days carried over annual", k=10)

    sections = [(h.document_id, h.section_path) for h in hits]
    assert len(sections) == len(set(sections))
    first = hits[0]
    assert first.section_path == ("Annual leave",)
    assert "carried over" in first.chunk_text  # the better of the section's two chunks


def test_highlights_escape_document_markup(retriever: AnyRetriever) -> None:
    hits = retriever.search("travel receipts", k=1)

    assert hits[0].highlight.count("<mark>") == 2
    assert "&lt;attached&gt; &amp;" in hits[0].highlight


def test_the_category_filter_applies_to_both_legs(retriever: AnyRetriever) -> None:
    hits = retriever.search("leave laptop expenses", k=10, category="it")

    assert hits and {h.category for h in hits} == {"it"}
    assert {h.chunk_id for h in hits} >= {
        c.chunk_id for c in retriever.search_bm25("leave laptop expenses", 10, "it")
    }
    assert all(
        present(retriever.store.get_document(h.document_id)).document.category == "it" for h in hits
    )
    assert retriever.search("leave", category="no-such-category") == []


@pytest.mark.parametrize(
    "query",
    ['"', "*", "NEAR(", "AND OR NOT", "title:x", "^", "((", "🔥", "a" * 3000, "x OR " * 100],
)
def test_hostile_queries_never_raise(retriever: AnyRetriever, query: str) -> None:
    retriever.search(query)
    retriever.search_bm25(query, 5)


@pytest.mark.parametrize("query", ["", "   ", "?!.,", "🔥🔥"])
def test_a_query_without_searchable_characters_returns_nothing(
    retriever: AnyRetriever, query: str
) -> None:
    assert retriever.search(query) == []


def test_keyword_only_search_works_without_a_query_vector(retriever: AnyRetriever) -> None:
    hits = retriever.search_with_vector("disk encryption", None, k=2)

    assert hits[0].source == "laptop.md"
    assert hits[0].scores.vector_rank is None


def test_vector_search_methods_agree_on_a_small_index(retriever: AnyRetriever) -> None:
    query = EMBEDDER.embed_query("laptop security screen lock")

    auto = retriever.search_vector(query, 4)
    exact = retriever.search_vector(query, 4, method="exact")

    assert [h.chunk_id for h in auto] == [h.chunk_id for h in exact]
    assert [h.score for h in auto] == pytest.approx([h.score for h in exact], abs=1e-5)
    if isinstance(retriever, SqliteHybridRetriever):  # sqlite-vec's KNN in SQL, the reference
        vec0 = retriever.search_vector(query, 4, method="vec0")
        assert [h.chunk_id for h in vec0] == [h.chunk_id for h in exact]
        assert [h.score for h in auto] == pytest.approx([h.score for h in vec0], abs=1e-5)


def test_the_binary_shortlist_path_finds_the_exact_neighbours_when_it_covers_them(
    sqlite_store: SqliteKnowledgeStore,
) -> None:
    store = sqlite_store
    retriever = SqliteHybridRetriever(
        store, EMBEDDER, vectors=ResidentVectors(exact_threshold=0, candidates=3)
    )
    query = EMBEDDER.embed_query("annual leave days")

    shortlist = retriever.search_vector(query, 2)
    exact = retriever.search_vector(query, 2, method="exact")

    assert len(shortlist) == 2
    assert shortlist[0].chunk_id == exact[0].chunk_id


def test_the_vector_index_follows_saves_replacements_and_deletes(
    store: AnyStore, retriever: AnyRetriever
) -> None:
    query = EMBEDDER.embed_query("parking garage permit")
    assert "parking" not in retriever.search_vector(query, 1)[0].__repr__()

    record = save(
        store,
        "parking.md",
        "Parking",
        "facilities",
        [(("Permits",), ["Parking garage permit requests go to facilities."])],
    )
    added = retriever.search_vector(query, 1)
    assert retriever.search("parking permit", k=1)[0].source == "parking.md"

    save(
        store,
        "parking.md",
        "Parking",
        "facilities",
        [(("Permits",), ["Bicycles only; the garage closed."])],
        replace_id=record.id,
    )
    replaced = retriever.search_vector(query, 10)
    assert added[0].chunk_id not in {h.chunk_id for h in replaced}

    store.delete_document(record.id)
    assert all(h.source != "parking.md" for h in retriever.search("parking garage permit", k=10))
    assert Probe(store).count("chunk_vectors") == 6
    if isinstance(retriever, SqliteHybridRetriever):
        assert retriever.vectors.size == 6
        conn = retriever.store.connection()
        rows = conn.execute("SELECT id, section_id, document_id FROM chunks")
        held = {int(cid): (int(sid), int(did)) for cid, sid, did in rows}
        assert retriever.vectors.places(list(held)) == held  # each chunk's section and document
        assert retriever.vectors.places([added[0].chunk_id]) is None  # deleted: ask the database


def test_dropping_common_terms_and_re_scoring_reproduces_full_bm25(
    sqlite_store: SqliteKnowledgeStore,
) -> None:
    store = sqlite_store
    full = SqliteHybridRetriever(store, EMBEDDER, lexical=LexicalSearcher(posting_budget=10**9))
    budgeted = SqliteHybridRetriever(
        store, EMBEDDER, lexical=LexicalSearcher(posting_budget=1, min_terms=1)
    )
    query = "leave days laptop screen travel expenses"
    stated = budgeted.analyze(query)
    assert isinstance(stated, StatedQuery)
    kept, dropped = budgeted.lexical.plan(stated.analyzed)
    assert len(kept) == 1 and dropped

    expected = {h.chunk_id: h.score for h in full.search_bm25(query, 10)}
    got = budgeted.search_bm25(query, 10)

    # Candidates come from the rare term only; each gets its exact full-query score back.
    assert got
    assert [h.score for h in got] == pytest.approx([expected[h.chunk_id] for h in got], rel=1e-6)
    assert [h.score for h in got] == sorted((h.score for h in got), reverse=True)


class ReverseReranker:
    def rerank(self, query: str, documents: Sequence[str], top_n: int) -> list[tuple[int, float]]:
        return [(i, float(i)) for i in reversed(range(len(documents)))][:top_n]


class FailingReranker:
    def rerank(self, query: str, documents: Sequence[str], top_n: int) -> list[tuple[int, float]]:
        raise UpstreamTimeout("too slow")


def test_a_successful_rerank_reorders_the_fused_hits(store: AnyStore) -> None:
    plain = make_retriever(store, EMBEDDER).search("annual leave laptop", k=4)
    reranked_retriever = make_retriever(store, EMBEDDER, reranker=ReverseReranker())

    reranked = reranked_retriever.search("annual leave laptop", k=4)

    assert reranked_retriever.reranker_enabled
    assert reranked[0].chunk_id != plain[0].chunk_id
    assert all(h.scores.rerank_score is not None for h in reranked)


def test_a_failing_reranker_keeps_the_fused_order(store: AnyStore) -> None:
    plain = make_retriever(store, EMBEDDER).search("annual leave laptop", k=4)

    hits = make_retriever(store, EMBEDDER, reranker=FailingReranker()).search(
        "annual leave laptop", k=4
    )

    assert [h.chunk_id for h in hits] == [h.chunk_id for h in plain]
    assert all(h.scores.rerank_score is None for h in hits)


COHERE_RERANK = "https://api.cohere.com/v2/rerank"


@pytest.fixture
def plain_order(store: AnyStore) -> list[int]:
    return [h.chunk_id for h in make_retriever(store, EMBEDDER).search("leave laptop", k=4)]


def test_cohere_answering_500_keeps_the_fused_order(
    store: AnyStore, plain_order: list[int]
) -> None:
    retriever = make_retriever(store, EMBEDDER, reranker=CohereReranker("test-key"))

    with respx.mock(assert_all_mocked=True) as cohere:
        route = cohere.post(COHERE_RERANK).mock(
            return_value=httpx.Response(500, json={"message": "x"})
        )
        hits = retriever.search("leave laptop", k=4)
        assert route.call_count == 1  # no retries

    assert [h.chunk_id for h in hits] == plain_order


def test_cohere_timing_out_keeps_the_fused_order(store: AnyStore, plain_order: list[int]) -> None:
    retriever = make_retriever(store, EMBEDDER, reranker=CohereReranker("k", timeout=0.5))

    with respx.mock(assert_all_mocked=True) as cohere:
        cohere.post(COHERE_RERANK).mock(side_effect=httpx.ReadTimeout("no answer"))
        hits = retriever.search("leave laptop", k=4)

    assert [h.chunk_id for h in hits] == plain_order
    assert all(h.scores.rerank_score is None for h in hits)


def test_cohere_rerank_success_reorders_the_hits(store: AnyStore, plain_order: list[int]) -> None:
    retriever = make_retriever(store, EMBEDDER, reranker=CohereReranker("k"), reranker_top_n=4)
    results = [{"index": 3, "relevance_score": 0.97}, {"index": 0, "relevance_score": 0.42}]

    with respx.mock(assert_all_mocked=True) as cohere:
        route = cohere.post(COHERE_RERANK).mock(
            return_value=httpx.Response(200, json={"id": "r", "results": results})
        )
        hits = retriever.search("leave laptop", k=4)
        sent = route.calls[0].request

    assert [h.chunk_id for h in hits][:2] == [plain_order[3], plain_order[0]]
    assert hits[0].scores.rerank_score == pytest.approx(0.97)
    assert sent.headers["authorization"] == "Bearer k"
    assert b'"top_n":4' in sent.content


@pytest.mark.parametrize(
    ("reply", "reranked"),
    [
        (httpx.Response(500, json={"message": "x"}), False),
        (httpx.Response(200, json={"results": [{"index": 1, "relevance_score": 0.9}]}), True),
    ],
)
async def test_a_search_reports_reranked_only_when_cohere_reordered_it(
    store: AnyStore, reply: httpx.Response, reranked: bool
) -> None:
    """With the reranker on and Cohere failing, search logged "keeping the fused
    order" yet answered `reranked: true`."""
    retriever = make_retriever(store, EMBEDDER, reranker=CohereReranker("k"))
    search = SearchKnowledgeBase(retriever, default_limit=4)

    with respx.mock(assert_all_mocked=True) as cohere:
        route = cohere.post(COHERE_RERANK).mock(return_value=reply)
        page = await search.execute(SearchRequest("leave laptop"))
        assert route.call_count == 1

    assert retriever.reranker_enabled and page.hits
    assert page.reranked is reranked


def test_a_retriever_can_open_the_store_by_path(sqlite_store: SqliteKnowledgeStore) -> None:
    store = sqlite_store
    retriever = SqliteHybridRetriever(store.path, EMBEDDER)

    assert retriever.search("encryption", k=1)[0].source == "laptop.md"
    retriever.close()


def test_inflected_query_words_match_their_stems_exactly_once(
    store: AnyStore, retriever: AnyRetriever
) -> None:
    # Porter is not idempotent: "increased" -> "increas" but "increas" -> "increa". The
    # MATCH must be written with the user's words, never with already-stemmed terms.
    save(store, "costs.md", "Costs", "finance", [((), ["Hosting costs increased sharply."])])

    hits = retriever.search_bm25("increased", 5)

    assert len(hits) == 1
    assert retriever.search("increased", k=1)[0].source == "costs.md"


def test_searching_with_a_different_embedder_than_the_index_is_refused(
    store: AnyStore,
) -> None:
    class Other(HashingEmbedder):
        model = "another-model"

    with pytest.raises(EmbeddingModelMismatch):
        make_retriever(store, Other()).search("leave")


def test_a_write_through_another_store_on_the_same_file_is_seen(
    store: AnyStore, retriever: AnyRetriever
) -> None:
    retriever.search("leave")  # index loaded
    other_process = another_store(store)
    save(other_process, "vpn.md", "VPN", "it", [((), ["Wireguard tunnels for remote staff."])])
    other_process.delete_document(present(store.get_by_source("laptop.md")).id)
    close_other(other_process)

    hits = retriever.search("wireguard tunnels laptop", k=10)

    assert hits[0].source == "vpn.md"
    assert "laptop.md" not in {h.source for h in hits}
    if isinstance(retriever, SqliteHybridRetriever):
        assert retriever.vectors.size == 5  # 6 + 1 new - 2 deleted


def test_the_vector_index_reloads_when_tombstones_were_pruned_past_it(
    sqlite_store: SqliteKnowledgeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, retriever = sqlite_store, SqliteHybridRetriever(sqlite_store, EMBEDDER)
    retriever.search("leave")
    monkeypatch.setattr("services.knowledge.store.TOMBSTONE_GENERATIONS", 1)
    store.delete_document(present(store.get_by_source("leave.md")).id)
    save(store, "a.md", "A", None, [((), ["alpha"])])
    save(store, "b.md", "B", None, [((), ["beta"])])
    assert store.state().tombstone_floor > 0

    hits = retriever.search_vector(EMBEDDER.embed_query("annual leave days"), 10)

    assert retriever.vectors.size == 5
    assert {h.chunk_id for h in hits} == {
        r[0] for r in store.connection().execute("SELECT id FROM chunks")
    }


def test_searches_and_writes_from_many_threads_do_not_interfere(
    store: AnyStore, retriever: AnyRetriever
) -> None:
    errors: list[BaseException] = []

    def searcher() -> None:
        try:
            for _ in range(15):
                assert retriever.search("annual leave", k=3)
        except BaseException as exc:
            errors.append(exc)

    def writer() -> None:
        try:
            for i in range(10):
                save(store, f"w{i}.md", f"Note {i}", "misc", [((), [f"note number {i}"])])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(4)]
    threads.append(threading.Thread(target=writer))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert retriever.search("note number 7", k=1)[0].source == "w7.md"
    retriever.close()


class StuckReranker:
    """Reverses the order, but answers only once `release` is set (the wait's own limit is a
    safety net: a search that waited for it fails on `answered` and on the order)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.answered = False

    def rerank(self, query: str, documents: Sequence[str], top_n: int) -> list[tuple[int, float]]:
        self.release.wait(60)
        self.answered = True
        return [(i, float(i)) for i in reversed(range(len(documents)))][:top_n]


def test_a_reranker_slower_than_the_timeout_keeps_the_fused_order(
    store: AnyStore, plain_order: list[int]
) -> None:
    """The search gives up on a reranker past RERANKER_TIMEOUT rather than waiting for it:
    it answers while the reranker is still stuck, in the fused order, without rerank scores."""
    reranker = StuckReranker()
    retriever = make_retriever(store, EMBEDDER, reranker=reranker, reranker_timeout=0.1)

    try:
        hits = retriever.search("leave laptop", k=4)
        assert not reranker.answered
    finally:
        reranker.release.set()

    assert [h.chunk_id for h in hits] == plain_order
    assert all(h.scores.rerank_score is None for h in hits)


def test_only_the_recorded_supersedes_relation_makes_a_version_old(
    store: AnyStore, retriever: AnyRetriever
) -> None:
    badges = [(("Badges",), ["Visitor badges are yellow and must be returned daily."])]
    save(store, "badges-2023.md", "Badge Policy", "policies", badges, updated_at=date(2023, 1, 1))
    save(store, "badges-copy.md", "Badge Policy", "policies", badges, updated_at=date(2026, 1, 1))
    before = {h.source: h for h in retriever.search("visitor badges yellow", k=5)}
    assert all(h.superseded_by is None and not h.supersedes for h in before.values())

    newer = [(("Badges",), ["Visitor badges are green and are returned at the desk."])]
    save(
        store,
        "policies/badges-2025.md",
        "Badge Policy (2025)",
        "policies",
        newer,
        updated_at=date(2025, 1, 1),
        supersedes="badges-2023.md",
    )
    after = {h.source: h for h in retriever.search("visitor badges yellow", k=5)}

    old = after["badges-2023.md"]
    assert old.superseded_by is not None and old.superseded_by.source == "policies/badges-2025.md"
    assert old.scores.fused < before["badges-2023.md"].scores.fused
    assert [ref.source for ref in after["policies/badges-2025.md"].supersedes] == ["badges-2023.md"]
    assert after["badges-copy.md"].superseded_by is None  # same title, newer date: no matter


def test_as_of_a_past_date_the_version_in_force_then_ranks_first(
    store: AnyStore, retriever: AnyRetriever
) -> None:
    def rule(colour: str) -> list[tuple[tuple[str, ...], list[str]]]:
        return [(("Badges",), [f"Visitor badges are {colour} and must be returned daily."])]

    previous = None
    for source, colour, issued in [
        ("b-2022.md", "red", date(2022, 3, 1)),
        ("b-2023.md", "blue", date(2023, 6, 1)),
        ("b-2025.md", "green", date(2025, 9, 1)),
    ]:
        save(
            store,
            source,
            "Badge Policy",
            "policies",
            rule(colour),
            updated_at=issued,
            supersedes=previous,
        )
        previous = source

    def first(as_of: date | None) -> str:
        return retriever.search("visitor badges returned daily", k=3, as_of=as_of)[0].source

    assert first(None) == "b-2025.md"
    assert first(date(2022, 12, 31)) == "b-2022.md"
    assert first(date(2024, 1, 1)) == "b-2023.md"
    assert first(date(2025, 9, 1)) == "b-2025.md"
    # Before any version was issued none is preferred, and every version stays findable.
    early = retriever.search("visitor badges returned daily", k=3, as_of=date(2020, 1, 1))
    assert {h.source for h in early} == {"b-2022.md", "b-2023.md", "b-2025.md"}


def test_a_sqlite_search_reads_versions_and_state_only_where_they_can_change(
    sqlite_store: SqliteKnowledgeStore,
) -> None:
    # The store's state is read once a search (the vector leg goes by the query's), and the
    # versions statement runs only for documents in a recorded version relation: the set of
    # those is held until the next write.
    retriever = SqliteHybridRetriever(sqlite_store, EMBEDDER, parallel=False)
    statements: list[str] = []
    sqlite_store.connection().set_trace_callback(statements.append)
    retriever.search("annual leave days")  # holds the (empty) set of versioned documents

    statements.clear()
    hits = retriever.search("annual leave days")

    assert hits and all(h.superseded_by is None and not h.supersedes for h in hits)
    assert sum("'generation'" in sql for sql in statements) == 1
    assert not any("supersedes_id" in sql for sql in statements)

    newer = [(("Annual leave",), ["Employees get thirty days of annual leave per year."])]
    save(sqlite_store, "leave-2026.md", "Leave policy", "hr", newer, supersedes="leave.md")
    statements.clear()
    after = {h.source: h for h in retriever.search("annual leave days", k=5)}

    assert any("WITH RECURSIVE" in sql for sql in statements)
    old = after["leave.md"]
    assert old.superseded_by is not None and old.superseded_by.source == "leave-2026.md"
    sqlite_store.connection().set_trace_callback(None)
    retriever.close()


SPREAD = [
    # The query's two terms sit in different chunks of one section ...
    (
        "sightings.md",
        "Field notes",
        None,
        [
            (
                ("Sightings",),
                [
                    "A zebra was seen near the river bank early this morning by the rangers.",
                    "A quokka was seen near the river bank early this morning by the rangers.",
                ],
            )
        ],
    ),
    # ... while one short chunk elsewhere repeats one of them.
    ("stripes.md", "Stripes", None, [((), ["Zebra zebra stripes."])]),
]


def _sources(hits) -> list[str]:
    return [h.source for h in hits]


def test_section_level_bm25_ranks_the_section_whose_whole_text_matches(
    sqlite_store: SqliteKnowledgeStore,
) -> None:
    store = sqlite_store
    for source, title, category, sections in SPREAD:
        save(store, source, title, category, sections)
    query = "zebra quokka"
    by_chunk = SqliteHybridRetriever(store, None, lexical=LexicalSearcher(level="chunk"))
    by_section = SqliteHybridRetriever(store, None)  # the default: section level
    assert by_section.lexical.level == "section"

    # No single chunk holds both terms: scored chunk by chunk, the repetitive one wins.
    assert _sources(by_chunk.search_with_vector(query, None, 2))[0] == "stripes.md"
    # Scored as whole sections, the section holding both terms wins.
    hits = by_section.search_with_vector(query, None, 2)
    assert _sources(hits) == ["sightings.md", "stripes.md"]
    assert hits[0].scores.bm25_rank == 1 and hits[0].section_text.count("rangers") == 2
    # The BM25 leg alone reports the section through its first chunk.
    first = by_section.search_bm25(query, 5)[0]
    assert first.chunk_id == hits[0].chunk_id


def _section_fts_rowids(store: AnyStore, term: str | None = None) -> set[int]:
    return Probe(store).section_fts_ids(term)


def _section_ids(store: AnyStore) -> set[int]:
    return Probe(store).section_ids()


def test_the_section_index_follows_saves_replacements_and_deletes(
    store: AnyStore,
) -> None:
    assert _section_fts_rowids(store) == _section_ids(store)
    record = save(
        store, "parking.md", "Parking", "facilities", [(("Permits",), ["Garage permits."])]
    )
    assert _section_fts_rowids(store, "garage")
    assert _section_fts_rowids(store, "parking")  # the title is indexed with the section

    save(
        store,
        "parking.md",
        "Bicycles",
        "facilities",
        [(("Racks",), ["Bicycle racks only."]), (("Closed",), ["No cars."])],
        replace_id=record.id,
    )
    assert _section_fts_rowids(store) == _section_ids(store)
    assert not _section_fts_rowids(store, "garage") and not _section_fts_rowids(store, "parking")
    assert len(_section_fts_rowids(store, "bicycles")) == 2

    store.delete_document(record.id)
    assert _section_fts_rowids(store) == _section_ids(store)
    assert not _section_fts_rowids(store, "bicycle")
    vocab = set(Probe(store).vocabulary())
    assert "bicycl" not in vocab and "rack" not in vocab
    retriever = make_retriever(store, EMBEDDER)
    assert all(h.source != "parking.md" for h in retriever.search("bicycle racks cars", k=10))


def test_the_section_index_migration_backfills_an_existing_knowledge_base(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    s = SqliteKnowledgeStore(path)
    s.check_embedding(EmbeddingInfo(EMBEDDER.model, DIM))
    for source, title, category, sections in CORPUS:
        save(s, source, title, category, sections)
    # Make it look like a knowledge base from before knowledge_0005.
    conn = s.connection()
    for statement in (
        "DROP TRIGGER sections_after_delete",
        "DROP TABLE sections_fts_vocab",
        "DROP TABLE sections_fts",
        "DELETE FROM schema_migrations WHERE name = 'knowledge_0005_section_fts'",
    ):
        conn.execute(statement)
    conn.commit()
    s.close()

    reopened = SqliteKnowledgeStore(path)
    try:
        assert _section_fts_rowids(reopened) == _section_ids(reopened)
        assert len(_section_fts_rowids(reopened, "policy")) == 2  # title "Leave policy"
        assert _section_fts_rowids(reopened, "encryption")
        hits = SqliteHybridRetriever(reopened, EMBEDDER).search("disk encryption", k=1)
        assert hits[0].source == "laptop.md"
    finally:
        reopened.close()


def test_the_section_level_leg_keeps_the_budget_re_scoring_and_spelling_correction(
    sqlite_store: SqliteKnowledgeStore,
) -> None:
    store = sqlite_store
    full = SqliteHybridRetriever(store, EMBEDDER, lexical=LexicalSearcher(level="section"))
    budgeted = SqliteHybridRetriever(
        store,
        EMBEDDER,
        lexical=LexicalSearcher(level="section", posting_budget=1, min_terms=1),
    )
    query = "leave days laptop screen travel expenses"
    stated = budgeted.analyze(query)
    assert isinstance(stated, StatedQuery)
    kept, dropped = budgeted.lexical.plan(stated.analyzed)
    assert len(kept) == 1 and dropped
    expected = {h.chunk_id: h.score for h in full.search_bm25(query, 10)}
    got = budgeted.search_bm25(query, 10)
    assert got
    assert [h.score for h in got] == pytest.approx([expected[h.chunk_id] for h in got], rel=1e-6)

    typo = full.search_with_vector("disk encrpytion", None, 1)
    assert typo and typo[0].source == "laptop.md"
