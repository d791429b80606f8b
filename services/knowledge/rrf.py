"""Fusing the BM25 and vector rankings into one: convex combination or Reciprocal Rank Fusion.

Convex combination (the default; Bruch, Gai & Ingber, "An Analysis of Fusion Functions for
Hybrid Retrieval", ACM TOIS 2023):

    score(d) = sum over rankings r of  weight_r * (s_r(d) - min_r) / (max_r - min_r)

with s_r(d) the item's score in ranking r (higher is better), min_r/max_r taken over that
ranking's candidates for this query, and 0 for an item the ranking did not return. Min-max
scaling makes BM25 and cosine similarity comparable without calibration (each leg spans
0..1 per query), and unlike rank-based fusion a clear winner in one leg keeps its margin.
Equal weights: nothing is fitted to a data set.

Reciprocal Rank Fusion (Cormack, Clarke & Büttcher, 2009):

    score(d) = sum over rankings r containing d of  weight_r / (k + rank_r(d)),  rank 1-based.

RRF only looks at ranks; k (60 in the paper) damps the advantage of the very top ranks.

Measured on SciFact train (809 claims, chunked, local MiniLM, 50 candidates per leg,
nDCG@10): RRF k=60 0.727, RRF k=10 0.733, convex 0.736; see docs/notes/benchmarks.md.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

__all__ = ["convex_combination", "reciprocal_rank_fusion"]

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
    weights = _weights(weights, len(rankings), default=1.0)
    scores: dict[T, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        seen: set[T] = set()
        for rank, item in enumerate(ranking, start=1):
            if item in seen:
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return _best_first(scores)


def convex_combination(
    rankings: Sequence[Sequence[tuple[T, float]]], *, weights: Sequence[float] | None = None
) -> list[tuple[T, float]]:
    """Fuse scored rankings, each a sequence of (item, score) with higher scores better.

    Each ranking's scores are min-max scaled to 0..1 over its own items (all 1.0 when they
    are equal, e.g. a single item); an item missing from a ranking gets 0 there. Weights
    default to equal shares summing to 1. An item repeated within one ranking counts once,
    with its best score. Ties keep first-seen order, as in `reciprocal_rank_fusion`.
    """
    weights = _weights(weights, len(rankings), default=1.0 / max(1, len(rankings)))
    scores: dict[T, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        best: dict[T, float] = {}
        for item, score in ranking:
            if item not in best or score > best[item]:
                best[item] = score
        if not best:
            continue
        low, high = min(best.values()), max(best.values())
        span = high - low
        for item, score in best.items():
            scaled = (score - low) / span if span > 0 else 1.0
            scores[item] = scores.get(item, 0.0) + weight * scaled
    return _best_first(scores)


def _weights(weights: Sequence[float] | None, count: int, *, default: float) -> Sequence[float]:
    if weights is None:
        return [default] * count
    if len(weights) != count:
        raise ValueError("weights and rankings differ in length")
    return weights


def _best_first(scores: dict[T, float]) -> list[tuple[T, float]]:
    order = {item: position for position, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda pair: (-pair[1], order[pair[0]]))
