"""What the two resident indexes (`vector_index.ResidentVectors`, `resident_bm25.ResidentBM25`)
share about their rows: ids held ascending, each alive or deleted since the last load."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["held_positions"]


def held_positions(
    ids: np.ndarray, alive: np.ndarray, size: int, wanted: Sequence[int]
) -> np.ndarray | None:
    """The row of each id in `wanted`, over rows [0, `size`) of ascending `ids`; None unless
    every one of them is held and alive (the caller then asks the database)."""
    targets = np.asarray(wanted, dtype=np.int64)
    positions = np.searchsorted(ids[:size], targets)
    if (positions >= size).any():
        return None
    if not (ids[positions] == targets).all() or not alive[positions].all():
        return None
    return positions


class DocumentMasks:
    """Per resident snapshot, which rows belong to a set of readable documents (a boolean
    mask), held for the few scopes in use: a reader's scope is the same set search after
    search, and `np.isin` over every row is the larger part of a scoped search's cost."""

    def __init__(self, held: int = 64) -> None:
        self._held = held
        self._masks: dict[frozenset[int], tuple[object, int, np.ndarray]] = {}

    def mask(self, snapshot: object, documents: np.ndarray, wanted: frozenset[int]) -> np.ndarray:
        """`documents` (each row's document id, of `snapshot`) in `wanted`, as a mask; held
        with the snapshot and row count it was made for (searches on other threads may hold
        another snapshot: a mask is only ever reused for its own)."""
        held = self._masks.get(wanted)
        if held is not None and held[0] is snapshot and held[1] == documents.shape[0]:
            return held[2]
        allowed = np.fromiter(wanted, dtype=documents.dtype, count=len(wanted))
        found = np.isin(documents, allowed)
        if len(self._masks) >= self._held:
            self._masks.pop(next(iter(self._masks)), None)
        self._masks[wanted] = (snapshot, documents.shape[0], found)
        return found
