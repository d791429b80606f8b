"""Rank fusion (RRF and convex combination) against hand-computed numbers."""

from __future__ import annotations

import pytest

from services.knowledge.rrf import convex_combination, reciprocal_rank_fusion


def test_fused_scores_match_a_hand_computed_example() -> None:
    bm25 = ["a", "b", "c"]
    vector = ["c", "a", "d"]

    fused = dict(reciprocal_rank_fusion([bm25, vector], k=60))

    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["b"] == pytest.approx(1 / 62)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert fused["d"] == pytest.approx(1 / 63)


def test_results_come_best_first() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a", "d"]], k=60)

    assert [item for item, _ in fused] == ["a", "c", "b", "d"]


def test_a_small_k_favours_top_ranks_more() -> None:
    fused = dict(reciprocal_rank_fusion([["x", "y"]], k=0))

    assert fused == {"x": pytest.approx(1.0), "y": pytest.approx(0.5)}


def test_an_item_repeated_within_one_ranking_counts_once_at_its_best_rank() -> None:
    fused = dict(reciprocal_rank_fusion([["a", "a", "b"]], k=60))

    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["b"] == pytest.approx(1 / 63)


def test_ties_keep_the_order_in_which_items_were_first_seen() -> None:
    fused = reciprocal_rank_fusion([["a", "b"], ["b", "a"]], k=60)

    assert [item for item, _ in fused] == ["a", "b"]


def test_weights_scale_each_ranking() -> None:
    fused = dict(reciprocal_rank_fusion([["a"], ["b"]], k=60, weights=[2.0, 1.0]))

    assert fused["a"] == pytest.approx(2 / 61)
    assert fused["b"] == pytest.approx(1 / 61)


def test_empty_rankings_fuse_to_nothing() -> None:
    assert reciprocal_rank_fusion([[], []]) == []


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([["a"]], k=-1)
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([["a"]], weights=[1.0, 2.0])


def test_convex_combination_matches_a_hand_computed_example() -> None:
    bm25 = [("a", 12.0), ("b", 8.0), ("c", 4.0)]  # scaled: a 1, b 0.5, c 0
    vector = [("c", 0.9), ("a", 0.7), ("d", 0.4)]  # scaled: c 1, a 0.6, d 0

    fused = dict(convex_combination([bm25, vector]))

    assert fused["a"] == pytest.approx(0.5 * 1 + 0.5 * 0.6)
    assert fused["b"] == pytest.approx(0.5 * 0.5)  # missing from the vector leg: 0 there
    assert fused["c"] == pytest.approx(0.5 * 0 + 0.5 * 1)
    assert fused["d"] == pytest.approx(0.0)


def test_convex_combination_is_best_first_with_stable_ties() -> None:
    fused = convex_combination([[("a", 2.0), ("b", 1.0)], [("b", 5.0), ("a", 1.0)]])

    assert [item for item, _ in fused] == ["a", "b"]  # 0.5 each: first seen wins


def test_convex_combination_ignores_the_scale_of_each_leg() -> None:
    small = convex_combination([[("a", 0.3), ("b", 0.1)], [("b", 0.2), ("a", 0.1)]])
    large = convex_combination([[("a", 300.0), ("b", 100.0)], [("b", 0.2), ("a", 0.1)]])

    assert small == large


def test_convex_combination_weights_and_degenerate_rankings() -> None:
    fused = dict(convex_combination([[("a", 3.0)], [("b", 0.5), ("b", 0.1)]], weights=[2, 1]))

    assert fused == {"a": pytest.approx(2.0), "b": pytest.approx(1.0)}  # one value scales to 1
    assert convex_combination([[], []]) == []
    assert [item for item, _ in convex_combination([[("x", 1.0), ("y", 2.0)], []])] == ["y", "x"]
    with pytest.raises(ValueError):
        convex_combination([[("a", 1.0)]], weights=[1.0, 1.0])
