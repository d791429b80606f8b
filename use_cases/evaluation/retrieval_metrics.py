"""Ranking metrics as BEIR/pytrec_eval compute them (linear gain, log2 discount)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def ndcg_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k of one ranked list of ids against graded judgements (grade <= 0: not relevant)."""
    gains = {doc: grade for doc, grade in relevant.items() if grade > 0}
    if not gains:
        return 0.0
    dcg = sum(gains.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(grade / math.log2(i + 2) for i, grade in enumerate(ideal))
    return dcg / idcg


def recall_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 100) -> float:
    wanted = {doc for doc, grade in relevant.items() if grade > 0}
    if not wanted:
        return 0.0
    return len(wanted.intersection(ranked[:k])) / len(wanted)


def unique_in_order(ids: Sequence[str]) -> list[str]:
    """Collapse a ranked list of chunk-level ids to document level (first occurrence wins)."""
    seen: set[str] = set()
    out: list[str] = []
    for doc in ids:
        if doc not in seen:
            seen.add(doc)
            out.append(doc)
    return out
