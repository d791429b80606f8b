"""The resident BM25 index (services/knowledge/resident_bm25.py) against FTS5 itself.

Every check compares with the unbudgeted FTS5 query over the same SQLite file, so "equal"
means: same sections, same order, scores within float noise. The corpus mixes what could
make a resident tokenizer disagree with FTS5: punctuation glued to words, hyphenated and
numeric tokens, diacritics (composed and combining), capitals, a private-use character,
titles and headings (weighted columns), categories.
"""

from __future__ import annotations

import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from services.knowledge import resident_bm25
from services.knowledge.lexical import LexicalSearcher
from services.knowledge.resident_bm25 import ResidentBM25
from services.knowledge.retrieval import SqliteHybridRetriever
from services.knowledge.store import SqliteKnowledgeStore
from tests.narrowing import present
from use_cases.knowledge.domain import DocumentDraft, EmbeddingInfo, SectionDraft

DIM = 8

DOCUMENTS = [
    (
        "leave.md",
        "Leave policy",
        "hr",
        [
            (("Annual leave",), "Employees get twenty-five days of annual leave per year."),
            (("Sick leave",), "Report sick leave to your manager before nine, (by phone)."),
        ],
    ),
    (
        "covid.md",
        "COVID-19 guidance",
        "hr",
        [
            (("Testing",), "Test for COVID-19 when symptomatic; p<0.05 was the threshold."),
            (("Travel",), "Travel rules: masks on trains; tests 48h before flights."),
        ],
    ),
    (
        "cafe.md",
        "Café rules",
        None,
        [
            (("Résumé",), "The café opens at eight. Naïve baristas learn latte art."),
            ((), unicodedata.normalize("NFD", "Le café résumé: coöperation déjà vu.")),
        ],
    ),
    (
        "laptop.md",
        "Laptop setup",
        "it",
        [
            (("Setup", "First day"), "Your laptop arrives with the VPN installed and encrypted."),
            (("Security",), "Enable disk encryption; lock the screen when leaving your desk."),
            (("Odd",), "A private\ue123mark inside a word, and under_scores too."),
        ],
    ),
    (
        "expenses.md",
        "Travel expenses",
        "finance",
        [
            ((), "Submit travel expenses within thirty days with receipts attached & signed."),
        ],
    ),
]

QUERIES = [
    "annual leave days",
    "covid 19 testing threshold",
    "café résumé",
    "cafe resume naive",
    "travel expenses receipts",
    "laptop encryption security",
    "leave",
    "private mark under scores",
    "trains masks flights",
    "zebra",
]


def draft(source: str, title: str, category: str | None, sections) -> DocumentDraft:
    return DocumentDraft(
        source=source,
        content_hash=source,
        title=title,
        category=category,
        updated_at=None,
        media_type="text/markdown",
        size_bytes=1,
        sections=tuple(SectionDraft(tuple(h), text, (text,)) for h, text in sections),
    )


def save(store: SqliteKnowledgeStore, source: str, title: str, category, sections) -> int:
    d = draft(source, title, category, sections)
    vectors = [np.ones(DIM, dtype=np.float32) / np.sqrt(DIM) for _ in d.sections]
    return store.save_document(d, vectors).id


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteKnowledgeStore]:
    s = SqliteKnowledgeStore(tmp_path / "knowledge.db")
    s.check_embedding(EmbeddingInfo("constant", DIM))
    for source, title, category, sections in DOCUMENTS:
        save(s, source, title, category, sections)
    yield s
    s.close()


def fts5() -> LexicalSearcher:
    """The unbudgeted FTS5 searcher, new for each use: a searcher keeps term frequencies and
    totals between queries (by the store's write generation), so one shared by the tests
    would score one test's file with another's counts when their generations coincide."""
    return LexicalSearcher(level="section", posting_budget=10**12)


def fts5_hits(store: SqliteKnowledgeStore, query: str, category: str | None = None):
    conn = store.connection()
    searcher = fts5()
    return searcher.search(conn, searcher.analyze(conn, query), 50, category)


def resident_hits(
    index: ResidentBM25, store: SqliteKnowledgeStore, query: str, category: str | None = None
):
    conn = store.connection()
    index.sync(conn, store.state())
    return index.search(fts5().analyze(conn, query).stems, 50, category)


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Poll `condition` (a background build finishing); the test's asserts say what failed."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def database_places(store: SqliteKnowledgeStore) -> dict[int, tuple[int, int]]:
    """{section id: (its first chunk, its document)} as the database has them now."""
    rows = store.connection().execute(
        "SELECT c.section_id, c.id, c.document_id FROM chunks c WHERE c.id = "
        "(SELECT min(f.id) FROM chunks f WHERE f.section_id = c.section_id)"
    )
    return {int(sid): (int(first), int(doc)) for sid, first, doc in rows}


def assert_equal_to_fts5(index: ResidentBM25, store: SqliteKnowledgeStore) -> None:
    index.sync(store.connection(), store.state())
    held = database_places(store)
    assert index.places(list(held)) == held  # each section's first chunk and document
    gone = max(held) + 1
    assert index.places([*held, gone]) is None  # one it does not hold: ask the database
    for query in QUERIES:
        for category in (None, "hr", "it"):
            expected = fts5_hits(store, query, category)
            got = resident_hits(index, store, query, category)
            assert [h.chunk_id for h in got] == [h.chunk_id for h in expected], (query, category)
            for a, b in zip(got, expected, strict=True):
                assert a.score == pytest.approx(b.score, rel=1e-9, abs=1e-12), (query, category)


def test_scores_and_order_equal_fts5_bm25(store: SqliteKnowledgeStore) -> None:
    index = ResidentBM25(min_rows=0)
    assert_equal_to_fts5(index, store)
    assert fts5_hits(store, "covid 19 testing threshold")  # the corpus is searchable at all
    assert index.size == 10


def test_a_row_the_quick_split_miscounts_is_tokenised_by_fts5_and_still_equal(
    store: SqliteKnowledgeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Splitting at whitespace agrees with unicode61 by construction, so force a miscount:
    # pretend every text of one batch has an extra token.
    real = ResidentBM25._mismatched

    def all_rows(self, conn, batch, sizes):
        sizes[:, 2] += 1
        return real(self, conn, batch, sizes)

    monkeypatch.setattr(ResidentBM25, "_mismatched", all_rows)
    index = ResidentBM25(min_rows=0)
    index.sync(store.connection(), store.state())
    assert index.exact_rows == 10
    monkeypatch.undo()
    assert_equal_to_fts5(index, store)


def test_saves_replacements_and_deletes_are_followed_without_a_reload(
    store: SqliteKnowledgeStore,
) -> None:
    index = ResidentBM25(min_rows=0)
    index.sync(store.connection(), store.state())
    loaded = index._snapshot

    save(store, "vpn.md", "VPN", "it", [((), "Wireguard tunnels for remote staff leave.")])
    leave = store.get_by_source("leave.md")
    assert leave is not None
    store.delete_document(leave.id)
    d = draft("covid.md", "COVID-19 guidance", "hr", [((), "Masks are optional now.")])
    covid = store.get_by_source("covid.md")
    assert covid is not None
    store.save_document(d, [np.ones(DIM, dtype=np.float32)], replace_id=covid.id)

    assert_equal_to_fts5(index, store)
    assert present(index._snapshot).main is present(loaded).main
    assert index.size == 8  # 10 + 1 new - 2 deleted - 2 replaced + 1 replacing
    (vpn_section,) = (
        store.connection()
        .execute(
            "SELECT s.id FROM sections s JOIN documents d ON d.id = s.document_id "
            "WHERE d.source = 'vpn.md'"
        )
        .fetchone()
    )
    assert [h.chunk_id for h in resident_hits(index, store, "wireguard")] == [vpn_section]


def test_recent_sections_are_merged_into_one_segment_and_deleted_ones_dropped(
    store: SqliteKnowledgeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resident_bm25, "_MIN_RECENT", 2)
    index = ResidentBM25(min_rows=0)
    index.sync(store.connection(), store.state())
    for i in range(6):
        save(store, f"n{i}.md", f"Note {i}", "misc", [((), f"note number {i} about leave")])
        assert_equal_to_fts5(index, store)
    laptop = store.get_by_source("laptop.md")
    assert laptop is not None
    store.delete_document(laptop.id)
    save(store, "last.md", "Last", None, [((), "the last note")])
    save(store, "final.md", "Final", None, [((), "the final note")])
    save(store, "end.md", "End", None, [((), "the end note")])

    assert_equal_to_fts5(index, store)
    snapshot = index._snapshot
    assert snapshot is not None
    assert snapshot.alive[: snapshot.size].all()  # a merge dropped the deleted rows
    assert snapshot.size == index.size == 16  # 10 + 6 + 3 - 3 laptop sections


def test_pruned_tombstones_make_the_index_reload(
    store: SqliteKnowledgeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = ResidentBM25(min_rows=0)
    index.sync(store.connection(), store.state())
    monkeypatch.setattr("services.knowledge.store.TOMBSTONE_GENERATIONS", 1)
    leave = store.get_by_source("leave.md")
    assert leave is not None
    store.delete_document(leave.id)
    save(store, "a.md", "A", None, [((), "alpha leave")])
    save(store, "b.md", "B", None, [((), "beta leave")])
    assert store.state().tombstone_floor > 0
    assert index.needs_load(store.state())

    assert_equal_to_fts5(index, store)
    assert index.size == 10


def test_a_write_from_another_process_is_seen_and_a_failed_one_is_not(
    store: SqliteKnowledgeStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = ResidentBM25(min_rows=0)
    index.sync(store.connection(), store.state())
    other = SqliteKnowledgeStore(tmp_path / "knowledge.db")
    save(other, "vpn.md", "VPN", "it", [((), "Wireguard tunnels for remote staff.")])

    def crash(*args: object) -> None:  # after the sections and FTS rows were written
        raise RuntimeError("killed mid-save")

    monkeypatch.setattr("services.knowledge.document_writes.link_versions", crash)
    with pytest.raises(RuntimeError):
        save(other, "bad.md", "Bad", None, [((), "wireguard wireguard")])
    other.close()

    assert_equal_to_fts5(index, store)
    hits = resident_hits(index, store, "wireguard")
    assert len(hits) == 1


def test_the_retriever_uses_fts5_until_the_background_build_is_done(
    store: SqliteKnowledgeStore,
) -> None:
    retriever = SqliteHybridRetriever(store, None, resident_min_sections=0)
    resident = retriever.resident
    assert resident is not None
    gate = threading.Event()
    real_load = resident._load_all

    def slow_load(conn):
        gate.wait(10)
        real_load(conn)

    resident._load_all = slow_load  # type: ignore[method-assign]  # a load held at the gate
    first = retriever.search_with_vector("annual leave", None, 5)
    assert resident.loading and not resident.current(store.state())
    gate.set()
    wait_until(lambda: not resident.loading)
    assert resident.current(store.state())
    again = retriever.search_with_vector("annual leave", None, 5)
    assert [h.chunk_id for h in again] == [h.chunk_id for h in first]
    assert [h.scores.bm25_score for h in again] == pytest.approx(
        [h.scores.bm25_score for h in first]
    )
    retriever.close()


def test_below_the_size_threshold_the_retriever_stays_on_fts5(
    store: SqliteKnowledgeStore,
) -> None:
    retriever = SqliteHybridRetriever(store, None)  # default threshold: 5,000 sections
    retriever.warm_up()
    retriever.search_with_vector("annual leave", None, 5)
    assert retriever.resident is not None
    assert not retriever.resident.loading and retriever.resident.size == 0
    retriever.close()


def test_the_retriever_takes_in_small_changes_during_a_search(
    store: SqliteKnowledgeStore,
) -> None:
    retriever = SqliteHybridRetriever(store, None, resident_min_sections=0)
    retriever.warm_up()
    assert retriever.resident is not None and retriever.resident.size == 10
    save(store, "vpn.md", "VPN", "it", [((), "Wireguard tunnels for remote staff.")])

    hits = retriever.search_with_vector("wireguard", None, 5)

    assert [h.source for h in hits] == ["vpn.md"]
    assert retriever.resident.current(store.state())
    retriever.close()


def test_a_server_start_builds_the_index_in_the_background(store: SqliteKnowledgeStore) -> None:
    retriever = SqliteHybridRetriever(store, None, resident_min_sections=0)
    resident = retriever.resident
    assert resident is not None

    retriever.warm_up(wait=False)

    wait_until(lambda: resident.current(store.state()))
    assert resident.current(store.state()) and resident.size == 10
    retriever.close()


def test_a_failed_background_build_leaves_fts5_answering_and_is_not_retried_at_once(
    store: SqliteKnowledgeStore,
) -> None:
    retriever = SqliteHybridRetriever(store, None, resident_min_sections=0)
    resident = retriever.resident
    assert resident is not None
    attempts: list[int] = []

    def broken(conn):
        attempts.append(1)
        raise OSError("disk read error")

    resident._load_all = broken  # type: ignore[method-assign]  # a load that always fails
    first = retriever.search_with_vector("annual leave", None, 5)
    wait_until(lambda: not resident.loading)
    again = retriever.search_with_vector("annual leave", None, 5)

    assert [h.chunk_id for h in first] == [h.chunk_id for h in again] != []
    assert attempts == [1] and not resident.loading and resident.size == 0
    retriever.close()


def test_searches_read_the_old_snapshot_while_a_reload_builds_the_new_one(
    store: SqliteKnowledgeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = ResidentBM25(min_rows=0)
    index.sync(store.connection(), store.state())
    before = resident_hits(index, store, "annual leave days")
    monkeypatch.setattr("services.knowledge.store.TOMBSTONE_GENERATIONS", 1)
    save(store, "a.md", "A", None, [((), "alpha")])
    save(store, "b.md", "B", None, [((), "beta")])
    assert index.needs_load(store.state())
    entered, release = threading.Event(), threading.Event()
    real = ResidentBM25._tokenise

    def held(self, conn, batch):
        entered.set()
        release.wait(10)
        return real(self, conn, batch)

    monkeypatch.setattr(ResidentBM25, "_tokenise", held)
    assert index.start_loading(store.path, store.state())
    assert entered.wait(10)

    during = index.search(fts5().analyze(store.connection(), "annual leave days").stems, 50)
    release.set()
    wait_until(lambda: not index.loading)

    assert [h.chunk_id for h in during] == [h.chunk_id for h in before] != []
    assert index.current(store.state()) and index.size == 12


def test_the_index_is_built_once_writes_take_the_base_past_the_threshold(
    store: SqliteKnowledgeStore,
) -> None:
    retriever = SqliteHybridRetriever(store, None, resident_min_sections=12)
    resident = retriever.resident
    assert resident is not None
    retriever.search_with_vector("annual leave", None, 5)
    assert not resident.loading and resident.size == 0  # 10 sections: FTS5

    save(store, "a.md", "A", None, [((), "alpha leave")])
    save(store, "b.md", "B", None, [((), "beta leave")])
    retriever.search_with_vector("annual leave", None, 5)
    wait_until(lambda: resident.current(store.state()))

    assert resident.size == 12
    retriever.close()


def test_the_retriever_places_candidates_from_memory_as_the_database_does(
    store: SqliteKnowledgeStore,
) -> None:
    retriever = SqliteHybridRetriever(store, None, resident_min_sections=0)
    retriever.warm_up()
    leave = store.get_by_source("leave.md")
    assert leave is not None
    store.delete_document(leave.id)
    save(store, "vpn.md", "VPN", "it", [((), "Wireguard tunnels."), ((), "Remote staff.")])
    retriever.search_with_vector("wireguard", None, 5)  # brings the BM25 index up to date
    retriever.sqlite_vectors.sync()  # as a search with a query vector does
    sections = list(database_places(store))
    chunks = [row[0] for row in store.connection().execute("SELECT id FROM chunks")]

    with retriever.catalog.reading() as reads:
        expected = reads.places(sections[:3], chunks[2:])
        real_places = reads.places
        reads.places = None  # type: ignore[method-assign, assignment]  # from memory: no statement
        assert retriever._places(reads, sections[:3], chunks[2:]) == expected
        gone = max(chunks) + 1  # unknown to the indexes: the database answers
        reads.places = real_places  # type: ignore[method-assign]  # the real one back
        assert retriever._places(reads, sections[:3], [gone]) == reads.places(sections[:3], [])
    retriever.close()
