"""Meaning-based sentence scoring: cosine similarity of a question and candidate sentences
under the local sentence embedder (all-MiniLM-L6-v2), which is already loaded for retrieval.

Sentence vectors are cached by text (the retrieved sections repeat across questions), so a
warm knowledge base costs one query embedding per turn: in memory, and with a
`SentenceVectorStore` (`sentence_store.py`) on disk as well, shared by the server's planning
processes and kept across restarts. Ingestion can fill that store ahead (`prepare`, called by
`prepared.SentencePreparer`), so even the first question about a document embeds only itself.
Measured on a 2-core AMD EPYC (2026-11-24): ~12 ms per uncached sentence as scored (with its
document title and section, ~50 tokens), 2-4 ms per question.

Each sentence is embedded on its own, never in a batch with others: the int8 model quantizes
its activations with one scale per batch, so a sentence embedded next to other sentences gets a
slightly different vector (cosine ~0.998 to its own). Batched, a sentence's score would depend
on which sentences happened to be uncached at the time, that is on the questions asked before,
and an answer near the bar could flip. Alone it costs nearly the same (300 of the sample's
sentences: 11.7 ms each alone, 9.6 ms in batches of 16), and an encoder with `embed_each`
(the local one) runs such batches of one on all its cores at once, with the same vectors.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from use_cases.knowledge.domain import Vector, Vectors

#: Sentence vectors kept (384 floats each: 20,000 take ~30 MB).
CACHE_SIZE = 20_000
#: Sentences looked up and stored together while a document is prepared.
PREPARE_BATCH = 256


class SentenceEncoder(Protocol):
    def embed_documents(self, texts: Sequence[str]) -> Vectors: ...

    def embed_query(self, text: str) -> Vector: ...


class SentenceVectorStore(Protocol):
    """Sentence vectors kept outside this process (`sentence_store.SentenceVectorFile`). A
    cache: a lookup may miss and a write may be dropped, never with an error."""

    def get_many(self, texts: Sequence[str]) -> dict[str, np.ndarray]: ...

    def put_many(self, vectors: dict[str, np.ndarray]) -> None: ...

    def delete_many(self, texts: Sequence[str]) -> None: ...


class SentenceSimilarity:
    """`similarities(question, sentences)`: cosine of the question to each sentence."""

    def __init__(
        self,
        encoder: SentenceEncoder,
        *,
        cache_size: int = CACHE_SIZE,
        store: SentenceVectorStore | None = None,
    ) -> None:
        self._encoder = encoder
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._store = store
        self._lock = threading.Lock()

    def similarities(self, question: str, sentences: Sequence[str]) -> list[float]:
        if not sentences:
            return []
        query = _unit(np.asarray(self._encoder.embed_query(question), dtype=np.float32))
        vectors = self._vectors(sentences)
        return [float(v) for v in vectors @ query]

    def read_once(self, question: str, text: str) -> float:
        """The question's cosine to a text read once (an answer's sentences together), which
        is neither kept in memory nor in the store: no other turn asks for it again."""
        query = _unit(np.asarray(self._encoder.embed_query(question), dtype=np.float32))
        return float(self._embed(text) @ query)

    def prepare(self, sentences: Sequence[str]) -> int:
        """Embed the sentences the store lacks and keep them there (not in memory: preparing a
        corpus must not push out what questions use). Returns how many were embedded."""
        return len(self.prepare_texts(sentences))

    def prepare_texts(
        self, sentences: Sequence[str], on_progress: Callable[[float], None] | None = None
    ) -> list[str]:
        """`prepare`, answering the texts it embedded; `on_progress(share done)` after each
        batch of `PREPARE_BATCH` (it may raise to stop between batches)."""
        if self._store is None:
            return []
        wanted = list(dict.fromkeys(sentences))
        embedded: list[str] = []
        for start in range(0, len(wanted), PREPARE_BATCH):
            batch = wanted[start : start + PREPARE_BATCH]
            known = self._store.get_many(batch)
            missing = [text for text in batch if text not in known]
            if missing:
                self._store.put_many(dict(zip(missing, self._embed_many(missing), strict=True)))
                embedded.extend(missing)
            if on_progress is not None:
                on_progress(min(1.0, (start + len(batch)) / len(wanted)))
        return embedded

    def forget(self, texts: Sequence[str]) -> None:
        """Drop these texts' vectors from the store (and memory): what a preparation added
        for a document that was removed or replaced while it ran."""
        with self._lock:
            for text in texts:
                self._cache.pop(text, None)
        if self._store is not None and texts:
            self._store.delete_many(texts)

    def _vectors(self, sentences: Sequence[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(s for s in sentences if s not in self._cache))
        if missing:
            found = self._store.get_many(missing) if self._store is not None else {}
            new = [text for text in missing if text not in found]
            if new:
                embedded = dict(zip(new, self._embed_many(new), strict=True))
                if self._store is not None:
                    self._store.put_many(embedded)
                found = {**found, **embedded}
            with self._lock:
                for text in missing:
                    self._cache[text] = found[text]
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        with self._lock:
            rows = []
            for text in sentences:
                vector = self._cache.get(text)
                if vector is None:  # evicted by a concurrent turn: embed it again
                    vector = self._embed(text)
                else:
                    self._cache.move_to_end(text)
                rows.append(vector)
        return np.vstack(rows)

    def _embed_many(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each text's unit vector, embedded on its own (on every core when the encoder can)."""
        each = getattr(self._encoder, "embed_each", None)
        if callable(each) and len(texts) > 1:
            return [_unit(np.asarray(v, dtype=np.float32)) for v in each(texts)]
        return [self._embed(text) for text in texts]

    def _embed(self, text: str) -> np.ndarray:
        """One sentence's unit vector, the same whatever else is being embedded."""
        vector = self._encoder.embed_documents([text])[0]
        return _unit(np.asarray(vector, dtype=np.float32))


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
