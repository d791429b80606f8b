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
