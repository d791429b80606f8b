"""Meaning-based sentence scoring: cosine similarity of a question and candidate sentences
under the local sentence embedder (all-MiniLM-L6-v2), which is already loaded for retrieval.

Sentence vectors are cached by text (the retrieved sections repeat across questions), so a
warm knowledge base costs one query embedding per turn. Measured on this 2-core machine: ~3-5 ms
per uncached sentence, 2-3 ms per question.

Each sentence is embedded on its own, never in a batch with others: the int8 model quantizes
its activations with one scale per batch, so a sentence embedded next to other sentences gets a
slightly different vector (cosine ~0.998 to its own). Batched, a sentence's score would depend
on which sentences happened to be uncached at the time, that is on the questions asked before,
and an answer near the bar could flip. Alone it costs the same (measured: 100 sentences in
0.29 s either way).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

import numpy as np

#: Sentence vectors kept (384 floats each: 20,000 take ~30 MB).
CACHE_SIZE = 20_000


class SentenceEncoder(Protocol):
    def embed_documents(self, texts: Sequence[str]) -> Sequence[Sequence[float]]: ...

    def embed_query(self, text: str) -> Sequence[float]: ...


class SentenceSimilarity:
    """`similarities(question, sentences)`: cosine of the question to each sentence."""

    def __init__(self, encoder: SentenceEncoder, *, cache_size: int = CACHE_SIZE) -> None:
        self._encoder = encoder
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def similarities(self, question: str, sentences: Sequence[str]) -> list[float]:
        if not sentences:
            return []
        query = _unit(np.asarray(self._encoder.embed_query(question), dtype=np.float32))
        vectors = self._vectors(sentences)
        return [float(v) for v in vectors @ query]

    def _vectors(self, sentences: Sequence[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(s for s in sentences if s not in self._cache))
        if missing:
            fresh = [self._embed(text) for text in missing]
            with self._lock:
                for text, vector in zip(missing, fresh, strict=True):
                    self._cache[text] = vector
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

    def _embed(self, text: str) -> np.ndarray:
        """One sentence's unit vector, the same whatever else is being embedded."""
        vector = self._encoder.embed_documents([text])[0]
        return _unit(np.asarray(vector, dtype=np.float32))


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
