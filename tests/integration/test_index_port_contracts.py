"""The index ports of `HybridRetriever` (services/knowledge/hybrid.py): `SearchCatalog`,
`VectorIndex` and `LexicalIndex`, one contract for the in-memory fakes (tests/fakes/
search_index.py), SQLite and PostgreSQL. The fakes' unit tests (tests/unit/
test_hybrid_retriever.py) are only as true as the fakes: these tests keep them honest."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from services.knowledge.fts_query import MARK_END, MARK_START
from services.knowledge.hybrid import LexicalIndex, SearchCatalog, VectorIndex
from services.knowledge.pg_retrieval import CategoryCounts, PgLexicalIndex, PgVectorIndex
from services.knowledge.pg_store import PgKnowledgeStore
from services.knowledge.retrieval import SqliteLexicalIndex, SqliteVectorIndex
from services.knowledge.search_catalog import ChunkPlaces, pg_catalog, sqlite_catalog
from services.knowledge.store import SqliteKnowledgeStore
from services.knowledge.versions import Versions
from tests.fakes.knowledge import HashingEmbedder
from tests.fakes.search_index import (
    InMemoryLexicalIndex,
    InMemorySearchCatalog,
    InMemoryVectorIndex,
)
from tests.knowledge_backends import open_store
from use_cases.knowledge.domain import DocumentDraft, EmbeddingInfo, SectionDraft, embedding_text

EMBEDDER = HashingEmbedder()

#: source, title, category, updated, the source it supersedes, sections (their chunks)
DOCUMENTS: list[tuple[str, str, str, date, str | None, list[list[str]]]] = [
    (
        "badges-2022.md",
        "Badge policy 2022",
        "policies",
        date(2022, 1, 10),
        None,
        [
            ["Visitors wear a red badge.", "Every badge is returned at the desk."],
            ["A lost badge costs ten euros."],
        ],
    ),
    (
        "badges-2023.md",
        "Badge policy 2023",
        "policies",
        date(2023, 3, 1),
        "badges-2022.md",
        [["Visitors wear a blue badge."]],
    ),
    (
        "badges-2025.md",
        "Badge policy 2025",
        "policies",
        date(2025, 6, 1),
        "badges-2023.md",
        [["Visitors wear a green badge."]],
    ),
    (
        "parking.md",
        "Parking",
        "facilities",
        date(2024, 5, 5),
        None,
        [["Parking spaces are booked a day ahead."], ["Bicycles stand in the courtyard."]],
    ),
]


@dataclass
class World:
    catalog: SearchCatalog
    lexical: LexicalIndex
    vectors: VectorIndex
    delete: Callable[[int], None]
    ids: dict[str, int] = field(default_factory=dict)
    """document id by source"""
    chunks: dict[str, list[list[int]]] = field(default_factory=dict)
    """chunk ids by source, section and position"""

    def text_of(self, chunk_id: int) -> str:
        for source, sections in self.chunks.items():
            for s, ids in enumerate(sections):
                if chunk_id in ids:
                    return _sections(source)[s][ids.index(chunk_id)]
        raise KeyError(chunk_id)

    def all_chunks(self) -> list[int]:
        return [c for sections in self.chunks.values() for ids in sections for c in ids]


def _sections(source: str) -> list[list[str]]:
    return next(d[5] for d in DOCUMENTS if d[0] == source)


def _vector(title: str, chunk: str, ordinal: int) -> np.ndarray:
    return np.asarray(
        EMBEDDER.embed_documents([embedding_text(title, (f"Part {ordinal}",), chunk)])[0]
    )


def _fake_world() -> World:
    catalog = InMemorySearchCatalog(EmbeddingInfo(EMBEDDER.model, EMBEDDER.dimension))
    vectors = InMemoryVectorIndex(catalog.category_of_chunk)
    world = World(catalog, InMemoryLexicalIndex(catalog), vectors, catalog.remove)
    for n, (source, title, category, updated, supersedes, sections) in enumerate(DOCUMENTS, 1):
        added = catalog.add(
            n,
            title,
            source,
            category,
            sections,
            supersedes=world.ids[supersedes] if supersedes else None,
            updated_at=updated,
        )
        world.ids[source] = n
        world.chunks[source] = [list(ids) for ids in added.chunk_ids]
        for ordinal, (texts, ids) in enumerate(zip(sections, added.chunk_ids, strict=True), 1):
            for text, chunk_id in zip(texts, ids, strict=True):
                vectors.add(chunk_id, _vector(title, text, ordinal))
    return world


def _fill(store: SqliteKnowledgeStore | PgKnowledgeStore, world: World) -> None:
    store.check_embedding(EmbeddingInfo(EMBEDDER.model, EMBEDDER.dimension))
    seen: set[int] = set()
    for source, title, category, updated, supersedes, sections in DOCUMENTS:
        draft = DocumentDraft(
            source=source,
            content_hash=source,
            title=title,
            category=category,
            updated_at=updated,
            media_type="text/markdown",
            size_bytes=1,
            sections=tuple(
                SectionDraft((f"Part {n}",), " ".join(chunks), tuple(chunks))
                for n, chunks in enumerate(sections, 1)
            ),
            supersedes=supersedes,
        )
        vectors = [
            _vector(title, chunk, n) for n, chunks in enumerate(sections, 1) for chunk in chunks
        ]
        saved = store.save_document(draft, vectors)
        world.ids[source] = saved.id
        new = sorted(c for batch in store.iter_chunk_texts() for c, _ in batch if c not in seen)
        seen.update(new)
        it = iter(new)
        world.chunks[source] = [[next(it) for _ in chunks] for chunks in sections]


@pytest.fixture(params=["fake", "sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    if request.param == "fake":
        yield _fake_world()
        return
    with open_store(request.param, tmp_path, request) as store:
        if isinstance(store, SqliteKnowledgeStore):
            w = World(
                sqlite_catalog(store),
                SqliteLexicalIndex(store),
                SqliteVectorIndex(store),
                store.delete_document,  # type: ignore[arg-type]  # the store's own delete, as the contract calls it
            )
        else:
            assert isinstance(store, PgKnowledgeStore)
            counts = CategoryCounts()
            w = World(
                pg_catalog(store),
                PgLexicalIndex(store, counts),
                PgVectorIndex(store, counts),
                store.delete_document,  # type: ignore[arg-type]  # the store's own delete, as the contract calls it
            )
        _fill(store, w)
        yield w


# -- SearchCatalog ---------------------------------------------------------------------------


def test_the_catalog_knows_the_embedding_model(world: World) -> None:
    assert world.catalog.embedding_info() == EmbeddingInfo(EMBEDDER.model, EMBEDDER.dimension)


def test_a_hits_rows_are_its_chunk_section_and_document(world: World) -> None:
    with world.catalog.reading() as reads:
        rows = reads.details(world.all_chunks())
    assert set(rows) == set(world.all_chunks())
    for source, title, category, updated, _, sections in DOCUMENTS:
        for s, ids in enumerate(world.chunks[source]):
            for position, chunk_id in enumerate(ids):
                row = rows[chunk_id]
                assert (row.chunk_text, row.title, row.source, row.category) == (
                    sections[s][position],
                    title,
                    source,
                    category,
                )
                assert row.section_path == (f"Part {s + 1}",)
                assert row.section_text == " ".join(sections[s])
                assert row.updated_at == updated
                assert row.document_id == world.ids[source]
                assert row.document_version and row.versions == Versions()


def test_chunks_map_to_their_sections_and_sections_to_their_first_chunk(world: World) -> None:
    with world.catalog.reading() as reads:
        section_of = reads.sections_of(world.all_chunks())
        by_section = {
            section_of[ids[0]]: ids for sections in world.chunks.values() for ids in sections
        }
        first = reads.first_chunks(list(by_section))
    for sections in world.chunks.values():
        for ids in sections:
            assert len({section_of[c] for c in ids}) == 1  # one section holds them all
    assert len(by_section) == sum(len(d[5]) for d in DOCUMENTS)  # one section each
    assert first == {section: min(ids) for section, ids in by_section.items()}


def test_places_are_the_sections_first_chunks_and_each_chunks_section_and_document(
    world: World,
) -> None:
    """One read for a search's candidates: the first chunk of each section asked for, and
    the section and document of those and of each chunk asked for."""
    with world.catalog.reading() as reads:
        section_of = reads.sections_of(world.all_chunks())
        badges = [c for ids in world.chunks["badges-2023.md"] for c in ids]
        parking_sections = {section_of[ids[0]]: ids for ids in world.chunks["parking.md"]}
        places = reads.places(list(parking_sections), badges[1:])
        updated = reads.details(badges + [c for ids in parking_sections.values() for c in ids])
        dates = reads.document_dates(set(places.document_of.values()))
    firsts = {section: min(ids) for section, ids in parking_sections.items()}
    assert places.first_chunk == firsts
    located = badges[1:] + list(firsts.values())
    assert places.section_of == {c: section_of[c] for c in located}
    assert places.document_of == {c: updated[c].document_id for c in located}
    assert places.updated == {}  # a search for the present does not read the dates
    dated = replace(places, updated=dates)
    for chunk_id in located:
        document_id = places.document_of[chunk_id]
        assert dated.updated_on(document_id) == updated[chunk_id].updated_at


def test_ids_it_does_not_hold_are_left_out(world: World) -> None:
    unknown = max(world.all_chunks()) + 10_000
    with world.catalog.reading() as reads:
        assert reads.details([unknown]) == {}
        assert reads.sections_of([unknown]) == {}
        assert reads.first_chunks([unknown]) == {}
        assert reads.places([unknown], [unknown]) == reads.places([], []) == ChunkPlaces({}, {}, {})
        assert reads.details([]) == {} and reads.versions_of([]) == {}
        assert reads.document_dates([unknown]) == reads.document_dates([]) == {}


def test_versions_follow_the_recorded_chain(world: World) -> None:
    ids = world.ids
    with world.catalog.reading() as reads:
        now = reads.versions_of(ids.values())
        past = reads.versions_of(ids.values(), replaced_on=True)

    def current(source: str, versions: dict[int, Versions]) -> str | None:
        ref = versions[ids[source]].superseded_by
        return ref.source if ref else None

    def replaced(source: str) -> list[str]:
        return [ref.source for ref in now[ids[source]].supersedes]

    assert current("badges-2022.md", now) == "badges-2025.md"  # the end of the chain
    assert current("badges-2023.md", now) == "badges-2025.md"
    assert current("badges-2025.md", now) is None and current("parking.md", now) is None
    assert replaced("badges-2025.md") == ["badges-2023.md"]
    assert replaced("badges-2023.md") == ["badges-2022.md"]
    assert replaced("badges-2022.md") == [] and now[ids["parking.md"]] == Versions()
    assert all(v.replaced_on is None for v in now.values())
    assert past[ids["badges-2022.md"]].replaced_on == date(2023, 3, 1)
    assert past[ids["badges-2023.md"]].replaced_on == date(2025, 6, 1)
    assert past[ids["badges-2025.md"]].replaced_on is None


def test_a_deleted_documents_rows_are_gone(world: World) -> None:
    parking = [c for ids in world.chunks["parking.md"] for c in ids]
    with world.catalog.reading() as reads:
        sections = set(reads.sections_of(parking).values())
    world.delete(world.ids["parking.md"])
    with world.catalog.reading() as reads:
        assert reads.details(parking) == {}
        assert reads.sections_of(parking) == {}
        assert reads.first_chunks(list(sections)) == {}
        assert reads.places(list(sections), parking) == ChunkPlaces({}, {}, {})
        assert len(reads.details(world.all_chunks())) == len(world.all_chunks()) - len(parking)


# -- VectorIndex -----------------------------------------------------------------------------


def _query(world: World, source: str, section: int = 0, position: int = 0) -> np.ndarray:
    title = next(d[1] for d in DOCUMENTS if d[0] == source)
    return _vector(title, _sections(source)[section][position], section + 1)


def test_the_nearest_chunk_to_a_chunks_own_vector_is_that_chunk(world: World) -> None:
    for exact in (False, True):
        hits = world.vectors.nearest(_query(world, "parking.md", 1), 3, None, exact=exact)
        assert hits[0][0] == world.chunks["parking.md"][1][0]
        assert hits[0][1] == pytest.approx(0.0, abs=1e-4)
        distances = [d for _, d in hits]
        assert len(hits) == 3  # nearest first (equal within float rounding may swap)
        assert all(a <= b + 1e-6 for a, b in pairwise(distances))


def test_exact_distances_are_cosine_distances(world: World) -> None:
    query = _query(world, "badges-2023.md")
    hits = world.vectors.nearest(query, 100, None, exact=True)
    assert sorted(c for c, _ in hits) == sorted(world.all_chunks())
    unit = query / np.linalg.norm(query)
    for chunk_id, distance in hits:
        source = next(s for s, secs in world.chunks.items() if any(chunk_id in i for i in secs))
        s = next(n for n, ids in enumerate(world.chunks[source]) if chunk_id in ids)
        title = next(d[1] for d in DOCUMENTS if d[0] == source)
        other = _vector(title, world.text_of(chunk_id), s + 1)
        expected = 1.0 - float(np.dot(unit, other / np.linalg.norm(other)))
        assert distance == pytest.approx(expected, abs=1e-4)


def test_a_category_filter_keeps_only_its_chunks(world: World) -> None:
    parking = {c for ids in world.chunks["parking.md"] for c in ids}
    for exact in (False, True):
        hits = world.vectors.nearest(_query(world, "badges-2022.md"), 10, "facilities", exact=exact)
        assert {c for c, _ in hits} == parking
    assert world.vectors.nearest(_query(world, "parking.md"), 10, "nowhere", exact=True) == []
    assert world.vectors.nearest(_query(world, "parking.md"), 0, None) == []


# -- LexicalIndex ----------------------------------------------------------------------------


def _section_of(world: World, source: str, section: int) -> int:
    with world.catalog.reading() as reads:
        chunk = world.chunks[source][section][0]
        return reads.sections_of([chunk])[chunk]


def test_a_word_one_section_holds_finds_that_section_only(world: World) -> None:
    assert world.lexical.level == "section"
    query = world.lexical.analyze("the courtyard")
    assert "courtyard" in query.words
    hits = world.lexical.search(query, 5, None)
    assert [sid for sid, _ in hits] == [_section_of(world, "parking.md", 1)]
    assert hits[0][1] > 0


def test_search_honours_k_and_the_category(world: World) -> None:
    query = world.lexical.analyze("badge")
    every = world.lexical.search(query, 10, None)
    badge_sections = {
        _section_of(world, source, s)
        for source in ("badges-2022.md", "badges-2023.md", "badges-2025.md")
        for s in range(len(_sections(source)))
    }
    assert {sid for sid, _ in every} == badge_sections
    assert [score for _, score in every] == sorted((score for _, score in every), reverse=True)
    assert len(world.lexical.search(query, 2, None)) == 2
    assert world.lexical.search(query, 10, "facilities") == []
    assert {sid for sid, _ in world.lexical.search(query, 10, "policies")} == badge_sections


def test_highlight_marks_the_query_words_and_leaves_texts_without_them_empty(
    world: World,
) -> None:
    query = world.lexical.analyze("courtyard")
    marked, plain = world.lexical.highlight(
        query, ["Bicycles stand in the courtyard.", "Visitors wear a red badge."]
    )
    assert f"{MARK_START}courtyard{MARK_END}" in marked
    assert marked.replace(MARK_START, "").replace(MARK_END, "") == (
        "Bicycles stand in the courtyard."
    )
    assert plain == ""
