"""`HybridRetriever` (services/knowledge/hybrid.py) on in-memory ports
(tests/fakes/search_index.py): fusion, one hit per section, the chunk shown, limits, versions,
reranking, categories, races with deletes, highlights and the embedder checks, with exact
outcomes. The real SQLite and PostgreSQL ports run in tests/integration/test_retrieval.py.

The fake lexical score is the number of query terms in a text, and chunk vectors are placed
at chosen cosine distances from `QUERY`, so each leg's ranking is written in the test."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np
import pytest

from services.knowledge.hybrid import MAX_RESULTS, HybridRetriever, RankedChunk
from tests.fakes.search_index import (
    AddedDocument,
    InMemoryLexicalIndex,
    InMemorySearchCatalog,
    InMemoryVectorIndex,
    LexicalSearch,
)
from use_cases.knowledge.domain import DocumentRef, EmbeddingInfo, SearchHit, embedding_text
from use_cases.shared.errors import EmbeddingModelMismatch, UpstreamTimeout, UpstreamUnavailable

DIM = 4
MODEL = "fake-embedder"
QUERY = (1.0, 0.0, 0.0, 0.0)
DEFAULT = object()


def at_distance(distance: float) -> tuple[float, ...]:
    """A unit vector at `distance` (cosine) from `QUERY`."""
    cos = 1.0 - distance
    return (cos, math.sqrt(1.0 - cos * cos), 0.0, 0.0)


class ScriptedEmbedder:
    """`Embedder` answering every query with `vector` (or raising `error`); records queries."""

    def __init__(
        self,
        vector: Sequence[float] = QUERY,
        *,
        model: str = MODEL,
        dimension: int = DIM,
        error: Exception | None = None,
    ) -> None:
        self.model = model
        self.dimension = dimension
        self.vector = vector
        self.error = error
        self.calls: list[str] = []

    def embed_documents(self, texts: Sequence[str]) -> list[np.ndarray]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> np.ndarray:
        self.calls.append(text)
        if self.error is not None:
            raise self.error
        return np.asarray(self.vector, dtype=np.float32)


@dataclass
class World:
    catalog: InMemorySearchCatalog
    vectors: InMemoryVectorIndex
    embedder: ScriptedEmbedder
    lexical: InMemoryLexicalIndex | None = None
    made: list[HybridRetriever] = field(default_factory=list)

    def doc(
        self,
        document_id: int,
        *sections: Sequence[str],
        category: str = "policies",
        updated_at: date | None = None,
        supersedes: int | None = None,
    ) -> AddedDocument:
        """`Doc n` (`doc-n.md`) with the given sections of chunk texts."""
        return self.catalog.add(
            document_id,
            f"Doc {document_id}",
            f"doc-{document_id}.md",
            category,
            sections,
            supersedes=supersedes,
            updated_at=updated_at,
        )

    def near(self, chunk_id: int, distance: float) -> None:
        self.vectors.add(chunk_id, at_distance(distance))

    def retriever(
        self,
        *,
        level: Literal["section", "chunk"] = "section",
        embedder: object = DEFAULT,
        **options: Any,
    ) -> HybridRetriever:
        self.lexical = InMemoryLexicalIndex(self.catalog, level)
        retriever = HybridRetriever(
            self.catalog,
            self.lexical,
            self.vectors,
            self.embedder if embedder is DEFAULT else embedder,  # type: ignore[arg-type]  # any embedder a test passes
            **options,
        )
        self.made.append(retriever)
        return retriever

    @property
    def searches(self) -> list[LexicalSearch]:
        assert self.lexical is not None
        return self.lexical.searches


@pytest.fixture
def world() -> Iterator[World]:
    catalog = InMemorySearchCatalog(EmbeddingInfo(MODEL, DIM))
    made = World(catalog, InMemoryVectorIndex(catalog.category_of_chunk), ScriptedEmbedder())
    yield made
    for retriever in made.made:
        retriever.close()


def sources(hits: Sequence[SearchHit]) -> list[str]:
    return [h.source for h in hits]


def fused(hits: Sequence[SearchHit]) -> dict[str, float]:
    return {h.source: h.scores.fused for h in hits}


# --- fusion ----------------------------------------------------------------------------------


def five_documents(world: World) -> None:
    """Lexical leg: 1 (3 terms), 2 (2), 3 (1); vector leg: 4 (0.1), 2 (0.2), 5 (0.5)."""
    world.doc(1, ["alpha alpha alpha"])
    two = world.doc(2, ["alpha alpha"])
    world.doc(3, ["alpha"])
    four = world.doc(4, ["bravo"])
    five = world.doc(5, ["echo"])
    world.near(two.first_chunk, 0.2)
    world.near(four.first_chunk, 0.1)
    world.near(five.first_chunk, 0.5)


def test_a_hit_found_by_both_legs_ranks_above_hits_found_by_one(world: World) -> None:
    five_documents(world)

    hits = world.retriever().search_with_vector("alpha", QUERY, k=5)

    assert sources(hits) == ["doc-2.md", "doc-1.md", "doc-4.md", "doc-3.md", "doc-5.md"]
    # min-max scaled, equal weights: 2 is 0.5 * (2-1)/(3-1) + 0.5 * (0.8-0.5)/(0.9-0.5)
    assert fused(hits) == pytest.approx(
        {"doc-2.md": 0.625, "doc-1.md": 0.5, "doc-4.md": 0.5, "doc-3.md": 0.0, "doc-5.md": 0.0}
    )
    both = hits[0].scores
    assert (both.bm25_rank, both.bm25_score, both.vector_rank) == (2, 2.0, 2)
    assert both.vector_distance == pytest.approx(0.2)
    assert both.rerank_score is None
    assert (hits[1].scores.bm25_rank, hits[1].scores.vector_rank) == (1, None)
    assert (hits[2].scores.bm25_rank, hits[2].scores.vector_rank) == (None, 1)


def test_rrf_k_fuses_by_reciprocal_ranks(world: World) -> None:
    five_documents(world)

    hits = world.retriever(rrf_k=10).search_with_vector("alpha", QUERY, k=5)

    assert sources(hits) == ["doc-2.md", "doc-1.md", "doc-4.md", "doc-3.md", "doc-5.md"]
    assert fused(hits) == pytest.approx(
        {
            "doc-2.md": 1 / 12 + 1 / 12,
            "doc-1.md": 1 / 11,
            "doc-4.md": 1 / 11,
            "doc-3.md": 1 / 13,
            "doc-5.md": 1 / 13,
        }
    )


# --- sections and the chunk shown ------------------------------------------------------------


def test_a_section_found_only_by_keywords_shows_its_first_chunk(world: World) -> None:
    doc = world.doc(1, ["Opening words.", "The alpha rule.", "Closing words."])

    [hit] = world.retriever().search_with_vector("alpha", None)

    assert hit.chunk_id == doc.chunk_ids[0][0]
    assert hit.chunk_text == "Opening words."
    assert hit.section_text == "Opening words. The alpha rule. Closing words."
    assert hit.section_path == ("Part 1",)


def test_a_section_shows_the_chunk_the_vector_leg_found_best(world: World) -> None:
    doc = world.doc(1, ["Opening words about alpha.", "The alpha rule.", "Closing words."])
    world.near(doc.chunk_ids[0][0], 0.3)
    world.near(doc.chunk_ids[0][2], 0.1)

    [hit] = world.retriever().search_with_vector("alpha", QUERY)

    assert hit.chunk_id == doc.chunk_ids[0][2]
    assert hit.chunk_text == "Closing words."
    assert (hit.scores.bm25_rank, hit.scores.vector_rank) == (1, 1)
    assert hit.scores.vector_distance == pytest.approx(0.1)


def test_with_a_chunk_level_index_the_chunk_shown_is_the_best_over_both_legs(
    world: World,
) -> None:
    doc = world.doc(1, ["alpha alpha", "alpha"])
    first, second = doc.chunk_ids[0]
    world.near(second, 0.1)  # chunk RRF: first 1/61, second 1/62 + 1/61

    [hit] = world.retriever(level="chunk").search_with_vector("alpha", QUERY)

    assert hit.chunk_id == second
    assert (hit.scores.bm25_rank, hit.scores.bm25_score, hit.scores.vector_rank) == (1, 2.0, 1)
    assert hit.chunk_id != first
    assert world.searches == [LexicalSearch(("alpha",), 50, None)]


@pytest.mark.parametrize("level", ["section", "chunk"])
def test_one_hit_per_section_and_sections_rank_among_sections(
    world: World, level: Literal["section", "chunk"]
) -> None:
    big = world.doc(1, ["alpha one", "alpha two", "alpha alpha three"])
    small = world.doc(2, ["alpha four"])
    for chunk_id, distance in zip(big.chunk_ids[0], (0.1, 0.2, 0.3), strict=True):
        world.near(chunk_id, distance)
    world.near(small.first_chunk, 0.4)

    hits = world.retriever(level=level).search_with_vector("alpha", QUERY, k=5)

    assert [h.chunk_id for h in hits] == [big.chunk_ids[0][0], small.first_chunk]
    assert [(h.scores.bm25_rank, h.scores.vector_rank) for h in hits] == [(1, 1), (2, 2)]


# --- limits ----------------------------------------------------------------------------------


@pytest.fixture
def hundred_twenty(world: World) -> World:
    """Documents 1..120, document n holding "alpha" n times (so n ranks 121 - n)."""
    for n in range(1, 121):
        world.doc(n, [" ".join(["alpha"] * n)])
    return world


@pytest.mark.parametrize(
    ("k", "expected"), [(None, 3), (7, 7), (0, 1), (-5, 1), (MAX_RESULTS, 100), (1000, 100)]
)
def test_k_or_else_final_results_limit_is_the_number_of_hits_capped_at_max_results(
    hundred_twenty: World, k: int | None, expected: int
) -> None:
    retriever = hundred_twenty.retriever(final_results_limit=3, bm25_search_limit=20)

    hits = retriever.search_with_vector("alpha", None, k=k)

    assert sources(hits) == [f"doc-{n}.md" for n in range(120, 120 - expected, -1)]
    assert hundred_twenty.searches == [LexicalSearch(("alpha",), max(20, expected), None)]


def test_each_leg_is_asked_for_at_least_the_hits_wanted(world: World) -> None:
    doc = world.doc(1, ["alpha"])
    world.near(doc.first_chunk, 0.1)
    retriever = world.retriever(bm25_search_limit=10, vector_search_limit=15)

    retriever.search_with_vector("alpha", QUERY, k=5)
    retriever.search_with_vector("alpha", QUERY, k=1000)

    assert [s.k for s in world.searches] == [10, MAX_RESULTS]
    assert [s.k for s in world.vectors.searches] == [15, MAX_RESULTS]


# --- which legs run --------------------------------------------------------------------------


def test_without_a_query_vector_search_goes_by_keywords_only(world: World) -> None:
    five_documents(world)

    hits = world.retriever().search_with_vector("alpha", None, k=5)

    assert sources(hits) == ["doc-1.md", "doc-2.md", "doc-3.md"]
    assert fused(hits) == pytest.approx({"doc-1.md": 0.5, "doc-2.md": 0.25, "doc-3.md": 0.0})
    assert all(h.scores.vector_rank is None for h in hits)
    assert world.vectors.searches == []


@pytest.mark.parametrize("query", ["", "   ", "?!", "--- ... ***", "\u200b"])
def test_a_query_without_searchable_words_finds_nothing_and_embeds_nothing(
    world: World, query: str
) -> None:
    five_documents(world)
    retriever = world.retriever()

    assert retriever.search(query) == []
    assert retriever.search_with_vector(query, QUERY) == []
    assert world.embedder.calls == []
    assert world.searches == []
    assert world.vectors.searches == []


def test_search_embeds_the_query_once_and_runs_both_legs(world: World) -> None:
    five_documents(world)

    hits = world.retriever().search("alpha", k=5)

    assert world.embedder.calls == ["alpha"]
    assert sources(hits)[0] == "doc-2.md"
    assert [s.vector for s in world.vectors.searches] == [QUERY]


def test_an_embedder_of_another_model_is_refused(world: World) -> None:
    five_documents(world)

    for embedder in (ScriptedEmbedder(model="other"), ScriptedEmbedder(dimension=8)):
        with pytest.raises(EmbeddingModelMismatch) as raised:
            world.retriever(embedder=embedder).search("alpha")
        assert raised.value.indexed == f"{MODEL} ({DIM} dimensions)"
        assert raised.value.configured == f"{embedder.model} ({embedder.dimension} dimensions)"
        assert embedder.calls == []
        assert world.searches == []


@pytest.mark.parametrize("error", [UpstreamUnavailable("down"), UpstreamTimeout("slow")])
def test_an_embedding_service_failure_falls_back_to_keywords(
    world: World, error: UpstreamUnavailable
) -> None:
    five_documents(world)
    embedder = ScriptedEmbedder(error=error)

    hits = world.retriever(embedder=embedder).search("alpha", k=5)

    assert sources(hits) == ["doc-1.md", "doc-2.md", "doc-3.md"]
    assert embedder.calls == ["alpha"]
    assert world.vectors.searches == []


def test_without_an_embedder_or_an_indexed_model_search_goes_by_keywords(world: World) -> None:
    five_documents(world)

    assert sources(world.retriever(embedder=None).search("alpha", k=5)) == [
        "doc-1.md",
        "doc-2.md",
        "doc-3.md",
    ]
    world.catalog.embedding = None
    assert sources(world.retriever().search("alpha", k=5)) == [
        "doc-1.md",
        "doc-2.md",
        "doc-3.md",
    ]
    assert world.embedder.calls == []
    assert world.vectors.searches == []


def test_sequential_and_parallel_legs_give_the_same_hits(world: World) -> None:
    five_documents(world)

    one_by_one = world.retriever(parallel=False).search("alpha", k=5)
    at_once = world.retriever(parallel=True).search("alpha", k=5)

    assert one_by_one == at_once
    assert sources(at_once) == ["doc-2.md", "doc-1.md", "doc-4.md", "doc-3.md", "doc-5.md"]
    threads = [s.thread for s in world.vectors.searches]
    assert threads[0] == threading.current_thread().name
    assert threads[1].startswith("almanac-search")


# --- categories ------------------------------------------------------------------------------


@pytest.fixture
def two_categories(world: World) -> World:
    hr = world.doc(1, ["alpha"], category="hr")
    it = world.doc(2, ["alpha alpha"], category="it")
    world.near(hr.first_chunk, 0.3)
    world.near(it.first_chunk, 0.1)
    return world


def test_the_category_filters_both_legs(two_categories: World) -> None:
    hits = two_categories.retriever().search("alpha", k=5, category="hr")

    assert sources(hits) == ["doc-1.md"]
    assert hits[0].category == "hr"
    assert [s.category for s in two_categories.searches] == ["hr"]
    assert [s.category for s in two_categories.vectors.searches] == ["hr"]


@pytest.mark.parametrize("category", ["", None])
def test_an_empty_category_means_no_filter(two_categories: World, category: str | None) -> None:
    hits = two_categories.retriever().search("alpha", k=5, category=category)

    assert sources(hits) == ["doc-2.md", "doc-1.md"]
    assert [s.category for s in two_categories.searches] == [None]
    assert [s.category for s in two_categories.vectors.searches] == [None]


# --- versions --------------------------------------------------------------------------------


def test_a_superseded_document_is_halved_below_its_current_version(world: World) -> None:
    world.doc(1, ["badge " * 4], updated_at=date(2023, 1, 1))
    world.doc(2, ["badge " * 3], updated_at=date(2025, 1, 1), supersedes=1)
    world.doc(3, ["badge"])

    hits = world.retriever().search_with_vector("badge", None, k=5)

    # Before halving: 1 is 0.5, 2 is 0.5 * (3-1)/(4-1), 3 is 0.
    assert sources(hits) == ["doc-2.md", "doc-1.md", "doc-3.md"]
    assert fused(hits) == pytest.approx({"doc-2.md": 1 / 3, "doc-1.md": 0.25, "doc-3.md": 0.0})
    new, old, other = hits
    two = DocumentRef(2, "Doc 2", "doc-2.md", date(2025, 1, 1))
    one = DocumentRef(1, "Doc 1", "doc-1.md", date(2023, 1, 1))
    assert (old.superseded_by, old.supersedes) == (two, ())
    assert (new.superseded_by, new.supersedes) == (None, (one,))
    assert (other.superseded_by, other.supersedes) == (None, ())
    assert world.catalog.replaced_on_asked == [False]


def test_superseded_by_names_the_end_of_the_chain(world: World) -> None:
    world.doc(1, ["badge"], updated_at=date(2022, 1, 1))
    world.doc(2, ["badge"], updated_at=date(2023, 1, 1), supersedes=1)
    world.doc(3, ["badge"], updated_at=date(2022, 6, 1), supersedes=1)  # older successor
    world.doc(4, ["badge"], updated_at=date(2025, 1, 1), supersedes=2)

    hits = {h.source: h for h in world.retriever().search_with_vector("badge", None, k=5)}

    end = DocumentRef(4, "Doc 4", "doc-4.md", date(2025, 1, 1))
    assert hits["doc-1.md"].superseded_by == end
    assert hits["doc-2.md"].superseded_by == end
    assert hits["doc-3.md"].superseded_by is None
    assert hits["doc-4.md"].superseded_by is None
    assert [r.document_id for r in hits["doc-4.md"].supersedes] == [2]


@pytest.mark.parametrize(
    ("as_of", "order", "in_force"),
    [
        (None, [3, 4, 1, 2], {3, 4}),
        (date(2022, 12, 31), [1, 4, 2, 3], {1, 4}),
        (date(2024, 1, 1), [2, 4, 1, 3], {2, 4}),
        (date(2025, 9, 1), [3, 4, 1, 2], {3, 4}),
        (date(2020, 1, 1), [4, 1, 2, 3], {4}),  # before any version: none preferred
    ],
)
def test_as_of_halves_the_versions_not_in_force_on_that_date(
    world: World, as_of: date | None, order: list[int], in_force: set[int]
) -> None:
    rule = ["Visitor badges are returned daily."]
    world.doc(1, rule, updated_at=date(2022, 3, 1))
    world.doc(2, rule, updated_at=date(2023, 6, 1), supersedes=1)
    world.doc(3, rule, updated_at=date(2025, 9, 1), supersedes=2)
    world.doc(4, rule)  # one version, undated: always in force

    hits = world.retriever().search_with_vector("visitor badges", None, k=5, as_of=as_of)

    assert sources(hits) == [f"doc-{n}.md" for n in order]
    assert fused(hits) == pytest.approx(
        {f"doc-{n}.md": 0.5 if n in in_force else 0.25 for n in order}
    )
    assert world.catalog.replaced_on_asked == [as_of is not None]


def test_a_current_version_just_past_the_cut_moves_up_over_its_old_one(world: World) -> None:
    world.doc(1, ["badge " * 5], updated_at=date(2023, 1, 1))
    world.doc(2, ["badge " * 4], updated_at=date(2025, 1, 1), supersedes=1)
    world.doc(3, ["badge"])

    [hit] = world.retriever().search_with_vector("badge", None, k=1)

    assert hit.source == "doc-2.md"


# --- reranking -------------------------------------------------------------------------------


class ScriptedReranker:
    """`Reranker` answering `ranked`; records what it was given."""

    def __init__(self, ranked: list[tuple[int, float]]) -> None:
        self.ranked = ranked
        self.calls: list[tuple[str, list[str], int]] = []

    def rerank(self, query: str, documents: Sequence[str], top_n: int) -> list[tuple[int, float]]:
        self.calls.append((query, list(documents), top_n))
        return self.ranked


class FailingReranker:
    def rerank(self, query: str, documents: Sequence[str], top_n: int) -> list[tuple[int, float]]:
        raise RuntimeError("reranker exploded")


class StuckReranker:
    """Reverses the order, but answers only once `release` is set (the wait's own limit is a
    safety net: a search that waited for it fails on `answered` and on the order)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.answered = False

    def rerank(self, query: str, documents: Sequence[str], top_n: int) -> list[tuple[int, float]]:
        self.release.wait(60)
        self.answered = True
        return [(i, 1.0) for i in reversed(range(len(documents)))]


@pytest.fixture
def ranked_five(world: World) -> World:
    """Documents 1..5, ranked in that order by keywords."""
    for n in range(1, 6):
        world.doc(n, [" ".join(["alpha"] * (6 - n))])
    return world


def test_a_reranker_reorders_the_top_n_and_sets_their_rerank_scores(ranked_five: World) -> None:
    reranker = ScriptedReranker([(2, 0.9), (1, 0.5), (0, 0.1)])
    retriever = ranked_five.retriever(reranker=reranker, reranker_top_n=3)

    hits = retriever.search_with_vector("alpha", None, k=5)

    assert retriever.reranker_enabled
    assert sources(hits) == ["doc-3.md", "doc-2.md", "doc-1.md", "doc-4.md", "doc-5.md"]
    assert [h.scores.rerank_score for h in hits] == [0.9, 0.5, 0.1, None, None]
    assert fused(hits) == pytest.approx(
        {"doc-1.md": 0.5, "doc-2.md": 0.375, "doc-3.md": 0.25, "doc-4.md": 0.125, "doc-5.md": 0.0}
    )
    documents = [
        embedding_text(f"Doc {n}", ("Part 1",), " ".join(["alpha"] * (6 - n))) for n in (1, 2, 3)
    ]
    assert reranker.calls == [("alpha", documents, 3)]


def test_the_reranker_sees_top_n_candidates_when_fewer_hits_are_asked_for(
    ranked_five: World,
) -> None:
    reranker = ScriptedReranker([(2, 0.9), (1, 0.5), (0, 0.1)])

    hits = ranked_five.retriever(reranker=reranker, reranker_top_n=3).search_with_vector(
        "alpha", None, k=2
    )

    assert sources(hits) == ["doc-3.md", "doc-2.md"]
    assert len(reranker.calls[0][1]) == 3


def test_candidates_the_reranker_leaves_out_follow_in_fused_order(ranked_five: World) -> None:
    reranker = ScriptedReranker([(1, 0.7), (9, 0.6), (-1, 0.5), (1, 0.3)])

    hits = ranked_five.retriever(reranker=reranker, reranker_top_n=4).search_with_vector(
        "alpha", None, k=5
    )

    assert sources(hits) == ["doc-2.md", "doc-1.md", "doc-3.md", "doc-4.md", "doc-5.md"]
    assert [h.scores.rerank_score for h in hits] == [0.7, None, None, None, None]


def test_a_failing_reranker_keeps_the_fused_order(ranked_five: World) -> None:
    hits = ranked_five.retriever(reranker=FailingReranker()).search_with_vector("alpha", None, k=5)

    assert sources(hits) == [f"doc-{n}.md" for n in range(1, 6)]
    assert all(h.scores.rerank_score is None for h in hits)


def test_a_reranker_slower_than_the_timeout_keeps_the_fused_order(ranked_five: World) -> None:
    """The search answers while the reranker is still stuck: it gave up on it, not waited."""
    reranker = StuckReranker()
    retriever = ranked_five.retriever(reranker=reranker, reranker_timeout=0.05)

    try:
        hits = retriever.search_with_vector("alpha", None, k=5)
        assert not reranker.answered
    finally:
        reranker.release.set()

    assert sources(hits) == [f"doc-{n}.md" for n in range(1, 6)]
    assert all(h.scores.rerank_score is None for h in hits)


# --- races, snippets, lifecycle --------------------------------------------------------------


@pytest.mark.parametrize("read", ["places", "versions_of", "details"])
def test_hits_deleted_between_the_legs_and_the_reads_are_dropped(world: World, read: str) -> None:
    for n, distance in ((1, 0.1), (2, 0.2), (3, 0.3)):
        doc = world.doc(n, [" ".join(["alpha"] * (4 - n))])
        world.near(doc.first_chunk, distance)

    def delete(name: str) -> None:
        if name == read:
            world.catalog.before_read = None
            world.catalog.remove(2)

    world.catalog.before_read = delete

    hits = world.retriever().search_with_vector("alpha", QUERY, k=5)

    assert sources(hits) == ["doc-1.md", "doc-3.md"]
    assert world.catalog.before_read is None  # the delete did happen


def test_a_search_whose_every_hit_was_deleted_finds_nothing(world: World) -> None:
    doc = world.doc(1, ["alpha"])
    world.near(doc.first_chunk, 0.1)
    world.catalog.before_read = lambda name: world.catalog.remove(1) if name == "details" else None

    assert world.retriever().search_with_vector("alpha", QUERY) == []


def test_the_snippet_marks_matches_and_escapes_the_text(world: World) -> None:
    world.doc(1, ["Visitors wear a <b>badge</b> at all times; badges are yellow."])
    vector_only = world.doc(2, ["Escorts accompany <guests>."])
    world.near(vector_only.first_chunk, 0.1)

    hits = world.retriever().search_with_vector("badge", QUERY, k=5)

    assert [h.highlight for h in hits] == [
        "Visitors wear a &lt;b&gt;<mark>badge</mark>&lt;/b&gt; at all times; badges are yellow.",
        "Escorts accompany &lt;guests&gt;.",
    ]
    assert world.lexical is not None
    assert world.lexical.highlighted == [[h.chunk_text for h in hits]]


def test_a_hit_carries_its_rows(world: World) -> None:
    world.catalog.add(
        7,
        "Leave Policy",
        "hr/leave.md",
        "hr",
        [["Intro."], ["Annual leave is 25 days."]],
        updated_at=date(2026, 1, 15),
        content_hash="abc123",
    )

    [hit] = world.retriever().search_with_vector("annual leave", None)

    assert (hit.document_id, hit.source, hit.title, hit.category) == (
        7,
        "hr/leave.md",
        "Leave Policy",
        "hr",
    )
    assert (hit.section_path, hit.updated_at, hit.document_version) == (
        ("Part 2",),
        date(2026, 1, 15),
        "abc123",
    )
    assert (hit.chunk_text, hit.section_text) == (
        "Annual leave is 25 days.",
        "Annual leave is 25 days.",
    )


def test_close_closes_both_indexes_and_warm_up_warms_both(world: World) -> None:
    five_documents(world)
    retriever = world.retriever()
    retriever.search("alpha")  # starts the worker pool

    retriever.warm_up(wait=False)
    retriever.close()

    assert world.lexical is not None
    assert (world.lexical.warmed, world.vectors.warmed) == ([False], [False])
    assert world.lexical.closed and world.vectors.closed


# --- single legs -----------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["section", "chunk"])
def test_search_bm25_ranks_from_one(world: World, level: Literal["section", "chunk"]) -> None:
    one = world.doc(1, ["Opening words.", "alpha"])
    two = world.doc(2, ["alpha alpha"])

    ranked = world.retriever(level=level).search_bm25("alpha", 5, category="")

    shown = one.chunk_ids[0][0] if level == "section" else one.chunk_ids[0][1]
    assert ranked == [RankedChunk(two.first_chunk, 1, 2.0), RankedChunk(shown, 2, 1.0)]
    assert world.searches == [LexicalSearch(("alpha",), 5, None)]


def test_search_bm25_of_nothing_searchable_is_empty(world: World) -> None:
    world.doc(1, ["alpha"])
    retriever = world.retriever()

    assert retriever.search_bm25("?!", 5) == []
    assert world.searches == []


def test_search_vector_ranks_from_one_by_cosine_distance(world: World) -> None:
    near = world.doc(1, ["x"], category="hr")
    far = world.doc(2, ["y"], category="hr")
    world.near(far.first_chunk, 0.4)
    world.near(near.first_chunk, 0.1)
    retriever = world.retriever()

    auto = retriever.search_vector(QUERY, 5, category="hr")
    exact = retriever.search_vector(QUERY, 5, method="exact")

    for ranked in (auto, exact):
        assert [(r.chunk_id, r.rank) for r in ranked] == [
            (near.first_chunk, 1),
            (far.first_chunk, 2),
        ]
        assert [r.score for r in ranked] == pytest.approx([0.1, 0.4])
    assert [(s.k, s.category, s.exact) for s in world.vectors.searches] == [
        (5, "hr", False),
        (5, None, True),
    ]


def test_search_vector_refuses_an_unknown_method(world: World) -> None:
    with pytest.raises(ValueError, match="bogus"):
        world.retriever().search_vector(QUERY, 5, method="bogus")
    assert world.vectors.searches == []
