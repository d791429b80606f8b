"""The knowledge-base interactors besides ingest, on fakes (tests/fakes/knowledge.py and
tests/fakes/__init__.py): listing, reading, removing documents, the statistics and `Reindex`
(use_cases/knowledge/documents.py) on `InMemoryKnowledgeStore` filled by the real
`IngestDocuments`; `SearchKnowledgeBase` (search.py) on `InMemoryRetriever`; `ListConflicts`
(conflicts.py) on a scripted `ConflictFinder`. No SQLite, model or HTTP. The same use cases run
end to end on the real stack in tests/e2e/test_documents_api.py (listing, 404s),
test_knowledge_api.py (search paging and 422s), test_embedding_mismatch.py (reindex),
test_cli_knowledge.py (docs show/remove) and test_hostile_documents.py (the conflict scan)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from tests.conftest import FixedClock
from tests.fakes import InMemoryRetriever, SteppingClock, search_hit
from tests.fakes.knowledge import (
    HashingEmbedder,
    InMemoryKnowledgeStore,
    SentenceChunker,
    TextLoader,
)
from use_cases.access.domain import Caller
from use_cases.knowledge.conflicts import (
    MAX_CONFLICTS,
    MAX_SECTIONS,
    ConflictReport,
    ConflictSide,
    DocumentConflict,
    ListConflicts,
    ScanConflicts,
    StoredScan,
)
from use_cases.knowledge.documents import (
    GetDocument,
    GetKnowledgeStats,
    ListDocuments,
    Reindex,
    RemoveDocument,
)
from use_cases.knowledge.domain import EmbeddingInfo, SearchHit
from use_cases.knowledge.ingest import IngestDocuments, IngestRequest, IngestSource
from use_cases.knowledge.search import SearchKnowledgeBase, SearchRequest
from use_cases.shared.errors import (
    EmbeddingModelMismatch,
    Forbidden,
    InvalidRequest,
    NotFound,
)

ADMIN = Caller("root", "admin", "key_root")
USER = Caller("ann", "user", "key_ann")


# --- documents: a small knowledge base ingested by the real use case -------------------------


def text(title: str, body: str, **meta: str) -> bytes:
    head = "\n".join([f"title: {title}", *(f"{k}: {v}" for k, v in meta.items())])
    return f"{head}\n\n{body}\n".encode()


def src(source: str, data: bytes) -> IngestSource:
    return IngestSource(source, source.rsplit("/", 1)[-1], lambda: data)


def stocked(embedder: HashingEmbedder | None = None) -> InMemoryKnowledgeStore:
    """Three documents: 4 sections, 7 chunks (one per sentence), two in category `hr`."""
    store = InMemoryKnowledgeStore()
    ingest = IngestDocuments(
        store,
        TextLoader(),
        SentenceChunker(),
        embedder or HashingEmbedder(),
        FixedClock(date(2026, 3, 2)),
        pipeline_signature="test-pipeline",
    )
    report = ingest.run(
        IngestRequest(
            [
                src(
                    "policies/leave.txt",
                    text(
                        "Leave policy",
                        "# Annual leave\nTwenty-five days a year. Ask your manager.\n"
                        "# Sick leave\nCall in before nine.",
                        category="hr",
                    ),
                ),
                src("expenses.txt", text("Expenses", "Submit receipts in time.", category="hr")),
                src(
                    "runbooks/backup.txt",
                    text("Backups", "Back up nightly. Test restores. Keep copies offsite."),
                ),
            ]
        )
    )
    assert {item.status for item in report.items} == {"added"}
    return store


def doc_id(store: InMemoryKnowledgeStore, source: str) -> int:
    record = store.get_by_source(source)
    assert record is not None
    return record.id


async def test_listing_pages_documents_by_source_with_the_total() -> None:
    page = await ListDocuments(stocked()).execute(limit=2, offset=1)

    assert [d.source for d in page.documents] == ["policies/leave.txt", "runbooks/backup.txt"]
    assert (page.total, page.limit, page.offset) == (3, 2, 1)
    assert [d.chunk_count for d in page.documents] == [3, 3]


async def test_listing_filters_by_category_and_a_blank_category_means_all() -> None:
    list_documents = ListDocuments(stocked())

    hr = await list_documents.execute(category="hr")
    padded = await list_documents.execute(category=" hr ")  # stripped, as search does
    everything = await list_documents.execute(category="  ")

    assert [d.source for d in hr.documents] == ["expenses.txt", "policies/leave.txt"]
    assert hr.total == 2 and {d.category for d in hr.documents} == {"hr"}
    assert padded == hr
    assert (everything.total, len(everything.documents)) == (3, 3)
    assert (everything.limit, everything.offset) == (50, 0)  # the defaults


async def test_an_offset_past_the_end_is_an_empty_page_with_the_total() -> None:
    page = await ListDocuments(stocked()).execute(limit=500, offset=10)

    assert (page.documents, page.total, page.limit) == ((), 3, 500)


@pytest.mark.parametrize(
    ("limit", "offset", "message"),
    [
        (0, 0, "limit must be between 1 and 500."),
        (501, 0, "limit must be between 1 and 500."),
        (1, -1, "offset must not be negative."),
    ],
)
async def test_listing_refuses_a_limit_outside_1_to_500_or_a_negative_offset(
    limit: int, offset: int, message: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await ListDocuments(stocked()).execute(limit=limit, offset=offset)

    assert refused.value.detail == message and refused.value.type == "invalid_request"


async def test_get_document_returns_its_record_and_sections_in_order() -> None:
    store = stocked()

    detail = await GetDocument(store).execute(doc_id(store, "policies/leave.txt"))

    assert (detail.document.title, detail.document.category) == ("Leave policy", "hr")
    assert [(s.ordinal, s.heading_path, s.chunk_count) for s in detail.sections] == [
        (0, ("Annual leave",), 2),
        (1, ("Sick leave",), 1),
    ]
    assert detail.sections[1].text == "Call in before nine."


async def test_an_unknown_document_is_not_found_to_read_and_to_remove() -> None:
    store = stocked()

    with pytest.raises(NotFound) as unread:
        await GetDocument(store).execute(999)
    with pytest.raises(NotFound) as unremoved:
        await RemoveDocument(store).execute(999)

    assert unread.value.detail == unremoved.value.detail == "No document with id 999."
    assert unread.value.type == "not_found"
    assert store.stats().documents == 3  # nothing was removed


async def test_removing_a_document_drops_its_chunks_and_vectors_and_only_once() -> None:
    store = stocked()
    leave = doc_id(store, "policies/leave.txt")
    remove = RemoveDocument(store)

    await remove.execute(leave)

    assert [s for _, s in store.list_sources()] == ["expenses.txt", "runbooks/backup.txt"]
    assert store.chunk_ids() == store.vector_ids() and len(store.chunk_ids()) == 4
    with pytest.raises(NotFound):
        await GetDocument(store).execute(leave)
    with pytest.raises(NotFound, match=f"No document with id {leave}"):
        await remove.execute(leave)


async def test_stats_count_documents_sections_chunks_categories_and_the_embedder() -> None:
    stats_of = GetKnowledgeStats(stocked())

    stats = await stats_of.execute()

    assert (stats.documents, stats.sections, stats.chunks) == (3, 4, 7)
    assert stats.categories == {"hr": 2}
    assert stats.embedding == EmbeddingInfo("hashing-bow", 32)
    assert stats_of.run() == stats  # the synchronous body the CLI and start-up call


async def test_stats_of_an_empty_knowledge_base_are_zero_without_an_embedder() -> None:
    stats = await GetKnowledgeStats(InMemoryKnowledgeStore()).execute()

    assert (stats.documents, stats.sections, stats.chunks, stats.embedding) == (0, 0, 0, None)
    assert stats.categories == {}


async def test_reindex_re_embeds_every_chunk_in_batches_with_the_configured_embedder() -> None:
    store = stocked(HashingEmbedder())
    chunks = store.chunk_ids()
    embedder = HashingEmbedder(dimension=16, model="hashing-16")
    reindex = Reindex(store, embedder, batch_size=3)

    count = await reindex.execute()

    assert reindex.embedding_model == "hashing-16"
    assert count == len(chunks) == 7
    assert embedder.calls == 3  # 7 chunks in batches of 3
    assert store.embedding_info() == EmbeddingInfo("hashing-16", 16)
    assert store.vector_ids() == chunks
    with pytest.raises(EmbeddingModelMismatch) as old:  # the old embedder no longer fits
        store.check_embedding(EmbeddingInfo("hashing-bow", 32))
    assert old.value.indexed == "hashing-16 (16 dimensions)"


async def test_a_reindex_that_fails_midway_keeps_the_old_index() -> None:
    store = stocked()
    before = (store.embedding_info(), store.vector_ids())

    class Liar(HashingEmbedder):
        """Claims 16 dimensions; its second batch has 8."""

        def embed_documents(self, texts: Sequence[str]) -> list[np.ndarray]:
            vectors = super().embed_documents(texts)
            return vectors if self.calls == 1 else [v[:8] for v in vectors]

    with pytest.raises(InvalidRequest, match="8-dimensional vectors for a 16-dimensional"):
        Reindex(store, Liar(dimension=16, model="liar"), batch_size=4).run()

    assert (store.embedding_info(), store.vector_ids()) == before
    assert before[0] == EmbeddingInfo("hashing-bow", 32)


async def test_reindexing_an_empty_knowledge_base_embeds_nothing_and_records_the_model() -> None:
    store, embedder = InMemoryKnowledgeStore(), HashingEmbedder(dimension=8, model="tiny")

    assert await Reindex(store, embedder).execute() == 0
    assert embedder.calls == 0
    assert store.embedding_info() == EmbeddingInfo("tiny", 8)


# --- search ------------------------------------------------------------------------------------


def incidents(n: int = 6) -> list[SearchHit]:
    return [search_hit(i, f"Incident {i}", f"Incident step {i}.") for i in range(1, n + 1)]


async def test_search_strips_the_query_and_uses_the_default_limit() -> None:
    retriever = InMemoryRetriever(incidents())

    page = await SearchKnowledgeBase(retriever, default_limit=4).execute(
        SearchRequest("  incident steps \n")
    )

    assert page.query == "incident steps" and retriever.queries == ["incident steps"]
    assert [h.chunk_id for h in page.hits] == [1, 2, 3, 4]
    assert (page.limit, page.offset, page.category, page.reranked) == (4, 0, None, False)
    assert retriever.asked == [(4, None)]


async def test_search_pages_by_asking_for_offset_plus_limit_hits() -> None:
    retriever = InMemoryRetriever(incidents())
    search = SearchKnowledgeBase(retriever, default_limit=4)

    second = await search.execute(SearchRequest("incident", limit=2, offset=2))
    past_the_end = await search.execute(SearchRequest("incident", limit=3, offset=500))

    assert [h.chunk_id for h in second.hits] == [3, 4]
    assert (second.limit, second.offset) == (2, 2)
    assert past_the_end.hits == () and past_the_end.offset == 500  # empty, not an error
    assert retriever.asked == [(4, None), (503, None)]


async def test_search_strips_the_category_and_a_blank_one_means_none() -> None:
    hits = [*incidents(2), replace(search_hit(3, "Incident runbook", "x"), category="runbooks")]
    retriever = InMemoryRetriever(hits)
    search = SearchKnowledgeBase(retriever, default_limit=5)

    runbooks = await search.execute(SearchRequest("incident", category=" runbooks "))
    blank = await search.execute(SearchRequest("incident", category="   "))

    assert runbooks.category == "runbooks" and [h.chunk_id for h in runbooks.hits] == [3]
    assert blank.category is None and [h.chunk_id for h in blank.hits] == [1, 2, 3]
    assert [category for _, category in retriever.asked] == ["runbooks", None]


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (SearchRequest(" \t\n "), "The query is empty: give some words to search for."),
        (SearchRequest("x" * 1001), "The query is longer than 1000 characters."),
        (SearchRequest("x", limit=0), "limit must be between 1 and 50."),
        (SearchRequest("x", limit=51), "limit must be between 1 and 50."),
        (SearchRequest("x", offset=-1), "offset must be between 0 and 500."),
        (SearchRequest("x", offset=501), "offset must be between 0 and 500."),
    ],
)
async def test_search_refuses_bad_requests_before_retrieving(
    request_: SearchRequest, message: str
) -> None:
    retriever = InMemoryRetriever(incidents())

    with pytest.raises(InvalidRequest) as refused:
        await SearchKnowledgeBase(retriever, default_limit=5).execute(request_)

    assert refused.value.detail == message
    assert retriever.queries == []


async def test_search_accepts_the_largest_query_limit_and_offset() -> None:
    retriever = InMemoryRetriever(incidents())
    query = "incident " + "y" * 991  # 1,000 characters

    page = await SearchKnowledgeBase(retriever, default_limit=5).execute(
        SearchRequest(query, limit=50, offset=500)
    )

    assert (len(page.query), page.limit, page.offset, page.hits) == (1000, 50, 500, ())
    assert retriever.asked == [(550, None)]


async def test_reranked_is_true_only_when_the_hits_carry_a_rerank_score() -> None:
    fused = incidents(3)
    ranked = [
        replace(h, scores=replace(h.scores, rerank_score=0.9 - h.chunk_id / 10)) for h in fused
    ]

    plain = await SearchKnowledgeBase(InMemoryRetriever(fused), default_limit=5).execute(
        SearchRequest("incident")
    )
    reranked = await SearchKnowledgeBase(InMemoryRetriever(ranked), default_limit=5).execute(
        SearchRequest("incident")
    )

    assert plain.reranked is False and reranked.reranked is True
    assert [h.scores.rerank_score for h in reranked.hits] == pytest.approx([0.8, 0.7, 0.6])


# --- conflicts ---------------------------------------------------------------------------------


def side(document_id: int, value: str) -> ConflictSide:
    return ConflictSide(
        document_id, f"Doc {document_id}", f"doc{document_id}.md", f"Length: {value}.", (value,)
    )


def conflicts_report(n: int, *, sections: int = 40, complete: bool = True) -> ConflictReport:
    pairs = tuple(
        DocumentConflict("characters", side(i, f"{i} characters"), side(i + 100, "14 characters"))
        for i in range(1, n + 1)
    )
    return ConflictReport(pairs, sections, complete)


class ScriptedFinder:
    """`ConflictFinder` that returns (or raises) its results in turn. With `blocking`, each scan
    waits for `release` so a test can look at the listing while it runs."""

    def __init__(self, *results: ConflictReport | Exception, blocking: bool = False) -> None:
        self.results = list(results)
        self.calls: list[tuple[int, int]] = []
        self.started = threading.Event()
        self.release = threading.Event()
        if not blocking:
            self.release.set()
        self.stop: Callable[[], bool] = lambda: False

    def find(
        self, limit: int, max_sections: int, stop: Callable[[], bool] = lambda: False
    ) -> ConflictReport:
        self.calls.append((limit, max_sections))
        self.stop = stop
        self.started.set()
        assert self.release.wait(10), "the test never released the scan"
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result


class Generation:
    """The knowledge base's change counter."""

    def __init__(self) -> None:
        self.value = 1

    def __call__(self) -> int:
        return self.value


async def test_only_admins_list_conflicts_and_a_refusal_starts_no_scan() -> None:
    finder = ScriptedFinder(conflicts_report(1))
    listing = ListConflicts(finder, Generation(), SteppingClock())

    with pytest.raises(Forbidden) as refused:
        await listing.execute(USER)

    assert refused.value.detail.startswith("Listing conflicting documents needs the admin role")
    assert listing.wait(0) is True and finder.calls == []


@pytest.mark.parametrize("limit", [0, MAX_CONFLICTS + 1])
async def test_the_limit_must_be_between_1_and_500(limit: int) -> None:
    finder = ScriptedFinder(conflicts_report(1))
    listing = ListConflicts(finder, Generation(), SteppingClock())

    with pytest.raises(InvalidRequest, match=r"^limit must be between 1 and 500\.$"):
        await listing.execute(ADMIN, limit)

    assert finder.calls == []


async def test_the_first_request_starts_one_background_scan_and_later_ones_read_its_report() -> (
    None
):
    finder = ScriptedFinder(conflicts_report(2, sections=40), blocking=True)
    clock = SteppingClock()
    listing = ListConflicts(finder, Generation(), clock)

    first = await listing.execute(ADMIN)
    assert finder.started.wait(10)
    during = await listing.execute(ADMIN)  # the scan is under way: no second one
    clock.advance(seconds=9)
    finder.release.set()
    assert listing.wait(10)
    after = await listing.execute(ADMIN, limit=1)

    assert (first.status, first.report, first.scanned_at) == ("scanning", None, None)
    assert (during.status, during.report) == ("scanning", None)
    assert finder.calls == [(MAX_CONFLICTS, MAX_SECTIONS)]
    assert after.status == "current" and after.scanned_at == clock.now()
    assert after.report == replace(conflicts_report(2), conflicts=conflicts_report(2).conflicts[:1])
    assert after.report is not None
    assert (after.report.sections_checked, after.report.complete) == (40, True)


async def test_a_changed_knowledge_base_rescans_and_serves_the_previous_report_meanwhile() -> None:
    old, new = conflicts_report(3), conflicts_report(1, sections=41, complete=False)
    finder = ScriptedFinder(old, new)
    generation, clock = Generation(), SteppingClock()
    listing = ListConflicts(finder, generation, clock)
    await listing.execute(ADMIN)
    assert listing.wait(10)
    scanned_first = clock.now()

    generation.value = 2
    clock.advance(minutes=5)
    meanwhile = await listing.execute(ADMIN, limit=2)
    assert listing.wait(10)
    current = await listing.execute(ADMIN)

    assert meanwhile.status == "scanning" and meanwhile.scanned_at == scanned_first
    assert meanwhile.report is not None and meanwhile.report.conflicts == old.conflicts[:2]
    assert (current.status, current.report, current.scanned_at) == ("current", new, clock.now())
    assert len(finder.calls) == 2


async def test_a_failed_scan_is_reported_and_the_next_request_starts_another() -> None:
    errors: list[BaseException] = []
    finder = ScriptedFinder(RuntimeError("index gone"), conflicts_report(1))
    listing = ListConflicts(finder, Generation(), SteppingClock(), on_error=errors.append)

    await listing.execute(ADMIN)
    assert listing.wait(10)
    retried = await listing.execute(ADMIN)
    assert listing.wait(10)
    done = await listing.execute(ADMIN)

    assert [str(e) for e in errors] == ["index gone"]
    assert (retried.status, retried.report) == ("scanning", None)
    assert done.status == "current" and done.report == conflicts_report(1)
    assert len(finder.calls) == 2


async def test_close_stops_the_scan_under_way_keeps_nothing_and_starts_no_other() -> None:
    finder = ScriptedFinder(conflicts_report(1), conflicts_report(2), blocking=True)
    listing = ListConflicts(finder, Generation(), SteppingClock())
    await listing.execute(ADMIN)
    assert finder.started.wait(10) and finder.stop() is False

    listing.close(timeout_s=0)  # does not wait: the scan is still blocked
    stopped = finder.stop()
    finder.release.set()
    assert listing.wait(10)
    after = await listing.execute(ADMIN)

    assert stopped is True
    assert (after.status, after.report, after.scanned_at) == ("scanning", None, None)
    assert len(finder.calls) == 1


class StoredReports:
    """`ConflictReports` shared by the listings of several replicas (the database's row)."""

    def __init__(self) -> None:
        self.scan: StoredScan | None = None

    def latest(self) -> StoredScan | None:
        return self.scan

    def save(self, scan: StoredScan) -> None:
        if self.scan is None or self.scan.generation <= scan.generation:
            self.scan = scan


async def test_replicas_share_one_stored_scan_requested_as_a_job() -> None:
    reports, requested = StoredReports(), []
    generation, clock = Generation(), SteppingClock()
    replicas = [
        ListConflicts(
            ScriptedFinder(),  # a replica never scans itself: the job does
            generation,
            clock,
            reports=reports,
            request_scan=lambda: requested.append("scan"),
        )
        for _ in range(2)
    ]
    first = [await replica.execute(ADMIN) for replica in replicas]
    assert [(r.status, r.report) for r in first] == [("scanning", None)] * 2
    assert requested == ["scan", "scan"]  # the queue keeps one job (its unique key)

    worker = ScanConflicts(ScriptedFinder(conflicts_report(2)), generation, clock, reports)
    assert await worker.run_job(object()) == {"generation": 1, "conflicts": 2}
    after = [await replica.execute(ADMIN, limit=1) for replica in replicas]
    assert [r.status for r in after] == ["current", "current"]
    assert after[0] == after[1] and after[0].scanned_at == clock.now()
    assert after[0].report is not None and len(after[0].report.conflicts) == 1
    assert requested == ["scan", "scan"]  # current: nothing more requested
