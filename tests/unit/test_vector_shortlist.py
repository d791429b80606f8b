"""The binary shortlist: the nearest codes by hamming distance, and every code tied at the cut."""

from __future__ import annotations

import numpy as np
import pytest

from services.knowledge.vector_index import _shortlist


def test_takes_every_distance_tied_with_the_last_one_taken() -> None:
    distance = np.array([5, 1, 3, 1, 3, 0, 3, 9], dtype=np.uint16)

    # The 3 nearest are 0, 1, 1; a fourth would be one of three 3s: all three come along.
    assert _shortlist(distance, 3, 6).tolist() == [1, 3, 5]
    assert _shortlist(distance, 4, 6).tolist() == [1, 2, 3, 4, 5, 6]


def test_fills_up_with_the_first_tied_positions_when_ties_would_pass_the_limit() -> None:
    distance = np.array([2, 0, 2, 2, 2, 2, 2, 1], dtype=np.uint16)

    assert _shortlist(distance, 3, 4).tolist() == [0, 1, 7]
    assert _shortlist(distance, 3, 8).tolist() == [0, 1, 2, 3, 4, 5, 6, 7]


def test_never_takes_a_code_marked_past_every_real_distance() -> None:
    past = 64 * 6 + 1
    distance = np.array([past, 4, past, 2, past], dtype=np.uint16)

    assert _shortlist(distance, 2, 4).tolist() == [1, 3]


@pytest.mark.parametrize("seed", range(5))
def test_holds_whatever_a_partial_sort_would_pick(seed: int) -> None:
    rng = np.random.default_rng(seed)
    distance = rng.binomial(384, 0.5, size=20_000).astype(np.uint16)

    found = _shortlist(distance, 1_000, 2_000)
    cut = np.sort(distance)[999]

    assert set(np.argpartition(distance, 999)[:1000].tolist()) <= set(found.tolist())
    assert found.tolist() == np.flatnonzero(distance <= cut).tolist()
    assert 1_000 <= len(found) <= 2_000
