"""In-memory fakes of `hybrid.HybridRetriever`'s three ports (services/knowledge/hybrid.py):
`InMemorySearchCatalog` (documents, sections, chunks and their recorded versions),
`InMemoryLexicalIndex` (a term count over the catalog's sections or chunks) and
`InMemoryVectorIndex` (exact cosine over the vectors it is given). Each records the calls it
got, so a test can say what the retriever asked for. The real ports are retrieval.py
(SQLite) and pg_retrieval.py (PostgreSQL), tested in tests/integration/test_retrieval.py."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np

from services.knowledge.fts_query import MARK_END, MARK_START, query_terms, words
from services.knowledge.search_catalog import ChunkDetails, ChunkPlaces
from services.knowledge.versions import MAX_CHAIN, Versions
from use_cases.knowledge.domain import DocumentRef, EmbeddingInfo, Vector
from use_cases.knowledge.scope import ReadScope

__all__ = [
    "AddedDocument",
    "FakeQuery",
    "InMemoryLexicalIndex",
    "InMemorySearchCatalog",
    "InMemoryVectorIndex",
    "LexicalSearch",
    "VectorSearch",
]

#: Ids of each kind start apart, so a section id taken for a chunk id finds nothing.
FIRST_SECTION_ID = 100
FIRST_CHUNK_ID = 1_000

_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class AddedDocument:
    """What `InMemorySearchCatalog.add` stored: the ids given to the sections and chunks."""

    id: int
    section_ids: tuple[int, ...]
    chunk_ids: tuple[tuple[int, ...], ...]  # per section, in order

    @property
    def first_chunk(self) -> int:
        return self.chunk_ids[0][0]


@dataclass
class _Document:
    id: int
    title: str
    source: str
    category: str
    updated_at: date | None
    supersedes: int | None
    content_hash: str
    section_ids: list[int] = field(default_factory=list)


@dataclass
class _Section:
    id: int
    document_id: int
    path: tuple[str, ...]
    chunk_ids: list[int] = field(default_factory=list)


@dataclass
class _Chunk:
    id: int
    section_id: int
    text: str


class InMemorySearchCatalog:
    """`SearchCatalog` over documents added with `add`. `before_read`, when set, is called
    with the name of each read (`places`, `first_chunks`, `sections_of`, `details`,
    `versions_of`)
    before it is served: a test deletes a document there to play a write racing a search."""

    def __init__(self, embedding: EmbeddingInfo | None = None) -> None:
        self.embedding = embedding
        self.before_read: Callable[[str], None] | None = None
        self.readings = 0
        self.replaced_on_asked: list[bool] = []
        self._lock = threading.RLock()
        self._documents: dict[int, _Document] = {}
        self._sections: dict[int, _Section] = {}
        self._chunks: dict[int, _Chunk] = {}
        self._last_section = FIRST_SECTION_ID - 1
        self._last_chunk = FIRST_CHUNK_ID - 1

    # -- filling it ------------------------------------------------------------------------

    def add(
        self,
        document_id: int,
        title: str,
        source: str,
        category: str,
        sections: Sequence[Sequence[str]],
        *,
        supersedes: int | None = None,
        updated_at: date | None = None,
        content_hash: str | None = None,
    ) -> AddedDocument:
        """A document whose sections hold the given chunk texts (a section's text is its
        chunks joined by spaces; its path is `("Part n",)`). `supersedes`: the id of the
        document this one replaces."""
        with self._lock:
            if document_id in self._documents:
                raise ValueError(f"document {document_id} exists")
            document = _Document(
                document_id,
                title,
                source,
                category,
                updated_at,
                supersedes,
                content_hash if content_hash is not None else f"hash-{document_id}",
            )
            chunk_ids: list[tuple[int, ...]] = []
            for ordinal, texts in enumerate(sections, start=1):
                self._last_section += 1
                section = _Section(self._last_section, document_id, (f"Part {ordinal}",))
                for text in texts:
                    self._last_chunk += 1
                    self._chunks[self._last_chunk] = _Chunk(self._last_chunk, section.id, text)
                    section.chunk_ids.append(self._last_chunk)
                self._sections[section.id] = section
                document.section_ids.append(section.id)
                chunk_ids.append(tuple(section.chunk_ids))
            self._documents[document_id] = document
            return AddedDocument(document_id, tuple(document.section_ids), tuple(chunk_ids))

    def remove(self, document_id: int) -> None:
        """Delete a document with its sections and chunks (a successor's link is dropped)."""
        with self._lock:
            document = self._documents.pop(document_id)
            for section_id in document.section_ids:
                for chunk_id in self._sections.pop(section_id).chunk_ids:
                    del self._chunks[chunk_id]
            for other in self._documents.values():
                if other.supersedes == document_id:
                    other.supersedes = None

    # -- what the fake indexes read --------------------------------------------------------

    def section_texts(self) -> list[tuple[int, str, str]]:
        """(section id, category, section text) of every section, by id."""
        with self._lock:
            return [
                (s.id, self._documents[s.document_id].category, self._section_text(s))
                for s in sorted(self._sections.values(), key=lambda s: s.id)
            ]

    def chunk_texts(self) -> list[tuple[int, str, str]]:
        """(chunk id, category, chunk text) of every chunk, by id."""
        with self._lock:
            return [
                (c.id, self._category_of_chunk(c), c.text)
                for c in sorted(self._chunks.values(), key=lambda c: c.id)
            ]

    def category_of_chunk(self, chunk_id: int) -> str:
        with self._lock:
            return self._category_of_chunk(self._chunks[chunk_id])

    # -- the port ----------------------------------------------------------------------------

    def embedding_info(self) -> EmbeddingInfo | None:
        return self.embedding

    @contextmanager
    def reading(self) -> Iterator[InMemorySearchCatalog]:
        self.readings += 1
        yield self

    def places(self, section_ids: Collection[int], chunk_ids: Collection[int]) -> ChunkPlaces:
        self._before("places")
        with self._lock:
            first = {
                sid: min(self._sections[sid].chunk_ids)
                for sid in section_ids
                if sid in self._sections and self._sections[sid].chunk_ids
            }
            located = [*first.values(), *(cid for cid in chunk_ids if cid in self._chunks)]
            section_of = {cid: self._chunks[cid].section_id for cid in located}
            document_of = {cid: self._sections[sid].document_id for cid, sid in section_of.items()}
            return ChunkPlaces(first, section_of, document_of)

    def document_dates(self, document_ids: Collection[int]) -> dict[int, Any]:
        self._before("document_dates")
        with self._lock:
            return {
                did: self._documents[did].updated_at
                for did in document_ids
                if did in self._documents
            }

    def first_chunks(self, section_ids: Collection[int]) -> dict[int, int]:
        self._before("first_chunks")
        with self._lock:
            return {
                sid: min(self._sections[sid].chunk_ids)
                for sid in section_ids
                if sid in self._sections and self._sections[sid].chunk_ids
            }

    def sections_of(self, chunk_ids: Collection[int]) -> dict[int, int]:
        self._before("sections_of")
        with self._lock:
            return {cid: self._chunks[cid].section_id for cid in chunk_ids if cid in self._chunks}

    def details(self, chunk_ids: Collection[int]) -> dict[int, ChunkDetails]:
        """Fresh rows each call (the retriever sets their `versions`)."""
        self._before("details")
        with self._lock:
            rows: dict[int, ChunkDetails] = {}
            for cid in chunk_ids:
                chunk = self._chunks.get(cid)
                if chunk is None:
                    continue
                section = self._sections[chunk.section_id]
                document = self._documents[section.document_id]
                rows[cid] = ChunkDetails(
                    chunk_text=chunk.text,
                    section_text=self._section_text(section),
                    section_path=section.path,
                    document_id=document.id,
                    source=document.source,
                    title=document.title,
                    category=document.category,
                    updated_at=document.updated_at,
                    document_version=document.content_hash,
                )
            return rows

    def versions_of(
        self, document_ids: Iterable[int], *, replaced_on: bool = False
    ) -> dict[int, Versions]:
        """By the rules of services/knowledge/versions.py: `superseded_by` is the end of the
        chain (of two successors, the one updated last, then the higher id, continues it),
        `supersedes` the document directly replaced, `replaced_on` (when asked) the date of
        the newest direct successor."""
        self._before("versions_of")
        self.replaced_on_asked.append(replaced_on)
        with self._lock:
            result: dict[int, Versions] = {}
            for document_id in sorted(set(document_ids)):
                head: int | None = None
                current = document_id
                for _ in range(MAX_CHAIN):
                    newer = self._successors(current)
                    if not newer:
                        break
                    current = head = max(newer, key=_newest_first).id
                document = self._documents.get(document_id)
                older = document.supersedes if document is not None else None
                replaced: date | None = None
                if replaced_on:
                    dates = [d.updated_at for d in self._successors(document_id) if d.updated_at]
                    replaced = max(dates, default=None)
                result[document_id] = Versions(
                    superseded_by=self._ref(head) if head is not None else None,
                    supersedes=(
                        (self._ref(older),)
                        if older is not None and older in self._documents
                        else ()
                    ),
                    replaced_on=replaced,
                )
            return result

    def readable(self, scope: ReadScope) -> frozenset[int]:
        """Its documents are all of the default collection: a scope reads all or none. It
        takes no filters (the store contract tests check them on the real catalogs)."""
        if not scope.filters.empty:
            raise NotImplementedError("InMemorySearchCatalog does not filter documents")
        with self._lock:
            return frozenset(self._documents) if scope.may_read(None) else frozenset()

    # -- helpers -----------------------------------------------------------------------------

    def _before(self, read: str) -> None:
        if self.before_read is not None:
            self.before_read(read)

    def _section_text(self, section: _Section) -> str:
        return " ".join(self._chunks[cid].text for cid in section.chunk_ids)

    def _category_of_chunk(self, chunk: _Chunk) -> str:
        return self._documents[self._sections[chunk.section_id].document_id].category

    def _successors(self, document_id: int) -> list[_Document]:
        return [d for d in self._documents.values() if d.supersedes == document_id]

    def _ref(self, document_id: int) -> DocumentRef:
        document = self._documents[document_id]
        return DocumentRef(document.id, document.title, document.source, document.updated_at)


def _newest_first(document: _Document) -> tuple[bool, date, int]:
    """ORDER BY updated_at DESC NULLS LAST, id DESC, as a key for `max`."""
    return (document.updated_at is not None, document.updated_at or date.min, document.id)


@dataclass(frozen=True)
class FakeQuery:
    """A query as `InMemoryLexicalIndex` sees it: its search terms (stopwords dropped)."""

    words: tuple[str, ...]


@dataclass(frozen=True)
class LexicalSearch:
    words: tuple[str, ...]
    k: int
    category: str | None


@dataclass(frozen=True)
class VectorSearch:
    vector: tuple[float, ...]
    k: int
    category: str | None
    exact: bool
    thread: str


class InMemoryLexicalIndex:
    """`LexicalIndex` over a catalog's sections (`level` "section") or chunks ("chunk"):
    a text's score is how many of its words are query terms; texts scoring 0 are not hits;
    ties go to the lower id. Records `analyzed`, `searches`, `highlighted`."""

    def __init__(
        self, catalog: InMemorySearchCatalog, level: Literal["section", "chunk"] = "section"
    ) -> None:
        self._catalog = catalog
        self._level: Literal["section", "chunk"] = level
        self.analyzed: list[str] = []
        self.searches: list[LexicalSearch] = []
        self.highlighted: list[list[str]] = []
        self.warmed: list[bool] = []
        self.closed = False

    @property
    def level(self) -> Literal["section", "chunk"]:
        return self._level

    def analyze(self, query: str) -> FakeQuery:
        self.analyzed.append(query)
        return FakeQuery(tuple(query_terms(query)))

    def search(
        self,
        query: FakeQuery,
        k: int,
        category: str | None,
        *,
        documents: frozenset[int] | None = None,
    ) -> list[tuple[int, float]]:
        if documents is not None:
            raise NotImplementedError("the fake lexical index has no document filter")
        self.searches.append(LexicalSearch(query.words, k, category))
        rows = (
            self._catalog.section_texts()
            if self._level == "section"
            else self._catalog.chunk_texts()
        )
        terms = set(query.words)
        scored = [
            (row_id, float(sum(1 for w in words(text) if w in terms)))
            for row_id, row_category, text in rows
            if category is None or row_category == category
        ]
        hits = sorted((hit for hit in scored if hit[1] > 0), key=lambda h: (-h[1], h[0]))
        return hits[:k]

    def highlight(self, query: FakeQuery, texts: Sequence[str]) -> list[str]:
        self.highlighted.append(list(texts))
        terms = set(query.words)

        def mark(match: re.Match[str]) -> str:
            word = match.group(0)
            return f"{MARK_START}{word}{MARK_END}" if word.lower() in terms else word

        marked = [_WORD.sub(mark, text) for text in texts]
        return [m if MARK_START in m else "" for m in marked]

    def warm_up(self, *, wait: bool = True) -> None:
        self.warmed.append(wait)

    def close(self) -> None:
        self.closed = True


class InMemoryVectorIndex:
    """`VectorIndex`: exact cosine distance to the vectors given with `add` (sorted by
    distance, then id). `category_of` gives a chunk's category for the filter (as the
    real indexes keep it next to the vector). Records `searches`."""

    def __init__(self, category_of: Callable[[int], str]) -> None:
        self._category_of = category_of
        self._vectors: dict[int, tuple[np.ndarray, str]] = {}
        self.searches: list[VectorSearch] = []
        self.warmed: list[bool] = []
        self.closed = False

    def add(self, chunk_id: int, vector: Vector) -> None:
        """The chunk's vector (normalised here); its category is read now, as at indexing."""
        array = np.asarray(vector, dtype=np.float64)
        self._vectors[chunk_id] = (array / np.linalg.norm(array), self._category_of(chunk_id))

    def nearest(
        self,
        vector: np.ndarray,
        k: int,
        category: str | None,
        *,
        exact: bool = False,
        documents: frozenset[int] | None = None,
    ) -> list[tuple[int, float]]:
        if documents is not None:
            raise NotImplementedError("the fake vector index has no document filter")
        query = np.asarray(vector, dtype=np.float64)
        self.searches.append(
            VectorSearch(
                tuple(float(x) for x in query),
                k,
                category,
                exact,
                threading.current_thread().name,
            )
        )
        unit = query / np.linalg.norm(query)
        found = [
            (chunk_id, float(1.0 - np.dot(unit, stored)))
            for chunk_id, (stored, stored_category) in self._vectors.items()
            if category is None or stored_category == category
        ]
        return sorted(found, key=lambda hit: (hit[1], hit[0]))[:k]

    def warm_up(self, *, wait: bool = True) -> None:
        self.warmed.append(wait)

    def close(self) -> None:
        self.closed = True
