"""Search over one chat's attached files, and the chat turn's retriever that adds it to the
knowledge base's.

`ChatFileIndex.search(chat_id, query, k)` ranks the chat's chunks, read from
`chat_file_chunks` for that chat only, with the two legs of knowledge search: BM25 (k1 1.2,
b 0.75; Snowball stems, stopwords dropped from the query) and cosine similarity of the
stored embeddings to the query's; then the knowledge search's own `fuse` collapses them to
sections and fuses them (convex combination, or RRF when RRF_K is set). Held in memory per
query: an attached file is at most CHAT_FILE_MAX_BYTES and MAX_DOCUMENT_CHUNKS chunks, so a
chat's chunks are few (a few hundred to a few thousand), scored in milliseconds with NumPy.

`ScopedRetriever` is what a chat turn searches with: the knowledge base's hits and the
chat's file hits, each list ranked by its own retriever, fused by rank (RRF, k=60: their
scores come from different corpora and are not comparable), files first on a tie. Each hit
keeps its own scores. A category filter names knowledge-base categories, so a search with
one does not look at the files. `as_of` only concerns the knowledge base's versions.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import date

import numpy as np
import snowballstemmer

from services.conversations.file_store import SqlChatFileStore, StoredChunk
from services.knowledge.fts_query import STOPWORDS, query_terms, snippet, words
from services.knowledge.hybrid import fuse
from services.knowledge.rrf import reciprocal_rank_fusion
from use_cases.conversations.file_ports import ChatFileSearch
from use_cases.conversations.files_domain import ATTACHMENT_PREFIX
from use_cases.knowledge.domain import HitScores, SearchHit
from use_cases.knowledge.ports import Embedder, Retriever
from use_cases.knowledge.scope import EVERYTHING, ReadScope

__all__ = ["ChatFileIndex", "ScopedRetriever"]

K1, B = 1.2, 0.75
#: Candidates each leg hands to the fusion.
LEG_CANDIDATES = 50
#: RRF constant of the fusion of the knowledge base's hits with the files'.
MERGE_K = 60

_STEMMER = snowballstemmer.stemmer("english")


def _stems(text: str, *, query: bool) -> list[str]:
    found = query_terms(text) if query else words(text)
    return _STEMMER.stemWords(found)


class ChatFileIndex:
    """`ChatFileSearch` over `SqlChatFileStore`'s chunks."""

    def __init__(
        self, store: SqlChatFileStore, embedder: Embedder, *, rrf_k: int | None = None
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._rrf_k = rrf_k

    def search(self, chat_id: str, query: str, k: int) -> list[SearchHit]:
        chunks, matrix = self._store.chunks(chat_id)
        if not chunks or k <= 0:
            return []
        lexical = self._bm25(chunks, query)
        vector = self._nearest(chunks, matrix, query)
        by_id = {c.chunk_id: c for c in chunks}
        sections = {
            key: n for n, key in enumerate(dict.fromkeys((c.file_id, c.section) for c in chunks))
        }
        section_of = {c.chunk_id: sections[(c.file_id, c.section)] for c in chunks}
        candidates = fuse(lexical, vector, section_of, section_level=False, rrf_k=self._rrf_k)
        hits = []
        for candidate in candidates[:k]:
            chunk = by_id[candidate.chunk_id]
            hits.append(
                SearchHit(
                    chunk_id=chunk.chunk_id,
                    document_id=0,
                    source=f"{ATTACHMENT_PREFIX}{chunk.name}",
                    title=chunk.name,
                    category=None,
                    section_path=chunk.heading_path,
                    updated_at=None,
                    chunk_text=chunk.text,
                    section_text=chunk.section_text,
                    scores=HitScores(
                        fused=candidate.fused,
                        bm25_rank=candidate.bm25_rank,
                        bm25_score=candidate.bm25_score,
                        vector_rank=candidate.vector_rank,
                        vector_distance=candidate.vector_distance,
                    ),
                    highlight=snippet(chunk.text),
                    attachment=chunk.file_id,
                )
            )
        return hits

    @staticmethod
    def _bm25(chunks: list[StoredChunk], query: str) -> list[tuple[int, float]]:
        terms = [t for t in dict.fromkeys(_stems(query, query=True)) if t not in STOPWORDS]
        if not terms:
            return []
        docs = [Counter(_stems(c.text, query=False)) for c in chunks]
        lengths = [sum(d.values()) for d in docs]
        average = (sum(lengths) / len(lengths)) or 1.0
        total = len(docs)
        scored: list[tuple[int, float]] = []
        frequency = {t: sum(1 for d in docs if t in d) for t in terms}
        for chunk, doc, length in zip(chunks, docs, lengths, strict=True):
            score = 0.0
            for term in terms:
                tf = doc.get(term, 0)
                if not tf:
                    continue
                n = frequency[term]
                idf = max(math.log((total - n + 0.5) / (n + 0.5)), 1e-6)
                score += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / average))
            if score > 0:
                scored.append((chunk.chunk_id, score))
        scored.sort(key=lambda pair: -pair[1])  # stable: chunk order breaks ties
        return scored[:LEG_CANDIDATES]

    def _nearest(
        self, chunks: list[StoredChunk], matrix: np.ndarray, query: str
    ) -> list[tuple[int, float]]:
        vector = np.asarray(self._embedder.embed_query(query), dtype=np.float32)
        if matrix.shape[1] != vector.shape[0]:  # embedded by another model: lexical leg only
            return []
        distances = 1.0 - matrix @ vector
        order = np.argsort(distances, kind="stable")[:LEG_CANDIDATES]
        return [(chunks[i].chunk_id, float(distances[i])) for i in order]


class ScopedRetriever:
    """The knowledge base's `Retriever` plus one chat's attached files (see the module
    docstring)."""

    def __init__(self, base: Retriever, files: ChatFileSearch, chat_id: str) -> None:
        self._base = base
        self._files = files
        self._chat_id = chat_id

    @property
    def reranker_enabled(self) -> bool:
        return self._base.reranker_enabled

    def search(
        self,
        query: str,
        k: int | None = None,
        category: str | None = None,
        *,
        as_of: date | None = None,
        scope: ReadScope = EVERYTHING,
    ) -> list[SearchHit]:
        # The knowledge base within the reader's scope; the chat's own files are the reader's.
        base = self._base.search(query, k, category, as_of=as_of, scope=scope)
        if category:
            return base
        limit = k if k is not None else max(len(base), 5)
        files = self._files.search(self._chat_id, query, limit)
        if not files:
            return base
        keyed = {("file", h.chunk_id): h for h in files} | {("kb", h.chunk_id): h for h in base}
        fused = reciprocal_rank_fusion(
            [[("file", h.chunk_id) for h in files], [("kb", h.chunk_id) for h in base]],
            k=MERGE_K,
        )
        return [keyed[key] for key, _ in fused[:limit]]
