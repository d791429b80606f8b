"""Helpers shared by the hosted-API embedders."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np


def unit_rows(rows: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """float32 array with each row scaled to unit length (zero rows stay zero).

    Providers mostly return unit vectors already, but not all (OpenAI-compatible servers,
    reduced `dimensions`); the knowledge store's cosine and dot-product maths assume unit
    length, so we never trust it.
    """
    array = np.asarray(rows, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D array of embeddings, got shape {array.shape}")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return np.divide(array, norms, out=np.zeros_like(array), where=norms > 0)


def batched(items: Sequence[str], size: int) -> Iterator[list[str]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def check_texts(texts: Sequence[str]) -> None:
    """Reject a bare string, which would otherwise be embedded character by character."""
    if isinstance(texts, str):
        raise TypeError("embed_documents takes a sequence of strings, not one string")
