"""`TextVectorCache`: an `Embedder` whose document vectors are kept by text in a vector file
(the local embedder's `sentence_vectors.db`), so text embedded once is never embedded again:
re-ingesting a corpus into a fresh data directory that shares the file, re-ingesting after a
loader change (the chunks whose text did not change), or `almanac eval answers` building its
data directory again.

Only for an embedder that embeds each text on its own (the local MiniLM: see its module
docstring): a hit is then the very vector a miss computes, so whether a vector came from the
file never changes a search. Chunk keys are kept apart from the offline model's sentence
keys (those are stored re-normalised, these exactly as computed). Queries pass through (the
embedder keeps its recent ones itself). Like the sentence vectors, the file is a cache: a
lookup may miss and a write may be dropped, never with an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from use_cases.knowledge.ports import Embedder

#: Prepended to a chunk's text to make its key (a unit separator: not text anyone types).
CHUNK_KEY_PREFIX = "\x1fchunk\x1f"


class VectorFile(Protocol):
    def get_many(self, texts: Sequence[str]) -> dict[str, np.ndarray]: ...

    def put_many(self, vectors: dict[str, np.ndarray]) -> None: ...


class TextVectorCache:
    """`Embedder` around `embedder` that looks document texts up in `vectors` first."""

    def __init__(self, embedder: Embedder, vectors: VectorFile) -> None:
        self._embedder = embedder
        self._vectors = vectors

    @property
    def model(self) -> str:
        return self._embedder.model

    @property
    def dimension(self) -> int:
        return self._embedder.dimension

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("embed_documents takes a sequence of strings, not one string")
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        keys = [CHUNK_KEY_PREFIX + text for text in texts]
        found = self._vectors.get_many(list(dict.fromkeys(keys)))
        missing = list(dict.fromkeys(key for key in keys if key not in found))
        if missing:
            computed = np.asarray(
                self._embedder.embed_documents([key[len(CHUNK_KEY_PREFIX) :] for key in missing]),
                dtype=np.float32,
            )
            new = dict(zip(missing, computed, strict=True))
            self._vectors.put_many(new)
            found = {**found, **new}
        for row, key in enumerate(keys):
            out[row] = found[key]
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self._embedder.embed_query(text), dtype=np.float32)
