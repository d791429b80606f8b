"""Reciprocal Rank Fusion (Cormack, Clarke & Büttcher, 2009).

score(d) = sum over rankings r containing d of  weight_r / (k + rank_r(d)),  rank 1-based.

RRF needs no score calibration between BM25 and cosine similarity, which live on unrelated
scales; k (60 in the paper) damps the advantage of the very top ranks.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

__all__ = ["reciprocal_rank_fusion"]

T = TypeVar("T", bound=Hashable)


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[T]], *, k: float = 60, weights: Sequence[float] | None = None
) -> list[tuple[T, float]]:
    """Fuse best-first rankings into one list of (item, score), best first.

    An item repeated within one ranking counts once, at its best rank. Ties keep the order
    in which items were first seen (rankings in the given order), so results are stable.
    """
    if k < 0:
        raise ValueError("k must be >= 0")
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError("weights and rankings differ in length")
    scores: dict[T, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        seen: set[T] = set()
        for rank, item in enumerate(ranking, start=1):
            if item in seen:
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    order = {item: position for position, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda pair: (-pair[1], order[pair[0]]))
