"""The cleaning metrics on tiny tables, against values computed by hand (the arithmetic is
written out next to each assertion)."""

from __future__ import annotations

import math

import pytest

from use_cases.cleaning.domain import (
    CellChange,
    CleaningResult,
    GroundTruth,
    InjectedError,
    RowRemoval,
    Table,
    Task,
)
from use_cases.cleaning.metrics import jensen_shannon, model_aggregates, score, wasserstein_1

COLUMNS = ("id", "city", "temp")
CLEAN = Table(
    "t",
    COLUMNS,
    (("1", "Oslo", "10"), ("2", "Rome", "20"), ("3", "Oslo", "30"), ("4", "Rome", "40")),
)
DIRTY = Table(
    "t",
    COLUMNS,
    (("1", "Olso", "10"), ("2", "Rome", "20"), ("3", "Oslo", "300"), ("4", "Rome", "40")),
)
ERRORS = (
    InjectedError(0, "city", "typo", "Oslo", "Olso"),
    InjectedError(2, "temp", "typo", "30", "300"),
)


def _task(dirty: Table, truth: GroundTruth, dimension: str = "accuracy") -> Task:
    return Task("t.x.easy", "t", "v", dimension, "easy", 0, dirty, truth, key="id")  # type: ignore[arg-type]  # a dimension as the test names it


def test_repairs_corruption_and_drift_match_the_hand_computed_values() -> None:
    task = _task(DIRTY, GroundTruth(CLEAN, (0, 1, 2, 3), ERRORS))
    result = CleaningResult(
        changes=(
            CellChange(0, "city", "Oslo", "typo"),  # repairs error 1: TP
            CellChange(2, "temp", "31", "too large"),  # error cell, wrong value: FP (and FN)
            CellChange(1, "city", "Roma", "guess"),  # a clean cell changed: FP, one broken cell
            CellChange(3, "temp", "40.0", "same number"),  # no action: 40.0 is 40
        )
    )

    s = score(task, result)

    assert (s.repairs.tp, s.repairs.fp, s.repairs.fn) == (1, 2, 1)
    assert s.repairs.precision == pytest.approx(1 / 3)  # 1 / (1 + 2)
    assert s.repairs.recall == pytest.approx(1 / 2)  # 1 / (1 + 1)
    assert s.repairs.f1 == pytest.approx(0.4)  # 2 * (1/3) * (1/2) / (1/3 + 1/2) = (1/3) / (5/6)
    # 12 cells - 2 error cells = 10 clean cells, 1 broken (row 1 city)
    assert (s.clean_cells, s.broken_cells, s.corruption_rate) == (10, 1, 0.1)
    # id: numbers unchanged, W1 = 0.
    # city: cleaned {Oslo .5, Roma .25, Rome .25} vs clean {Oslo .5, Rome .5};
    #   M = {Oslo .5, Roma .125, Rome .375}
    #   KL(P|M) = .25 log2(.25/.125) + .25 log2(.25/.375) = .25 - .1462406 = .1037594
    #   KL(Q|M) = .5 log2(.5/.375) = .2075187;  JS = (.1037594 + .2075187) / 2 = .1556391
    # temp: cleaned 10 20 31 40 vs clean 10 20 30 40: the CDFs differ by .25 on [30, 31]:
    #   W1 = .25, divided by the clean range 30 = .0083333
    city = 0.5 * (0.25 + 0.25 * math.log2(2 / 3)) + 0.5 * 0.5 * math.log2(4 / 3)
    assert city == pytest.approx(0.1556391, abs=1e-7)
    assert s.drift_by_column == pytest.approx({"id": 0.0, "city": city, "temp": 0.25 / 30})
    assert s.drift_score == pytest.approx((0 + city + 0.25 / 30) / 3)  # .0546575
    # dirty: city has the same JS (.1556391); temp 10 20 300 40: the CDFs differ by .25 on
    # [30, 40] and [40, 300]: W1 = 2.5 + 65 = 67.5, / 30 = 2.25, capped at 1.
    assert s.drift_dirty == pytest.approx((0 + city + 1) / 3)  # .3852130


def test_a_removed_row_breaks_its_clean_cells_and_leaves_its_errors_unrepaired() -> None:
    task = _task(DIRTY, GroundTruth(CLEAN, (0, 1, 2, 3), ERRORS))
    s = score(task, CleaningResult(removals=(RowRemoval(0, "looks wrong"),)))
    # the removal is an FP; both errors are FN; row 0's 2 clean cells (id, temp) are broken
    assert (s.repairs.tp, s.repairs.fp, s.repairs.fn) == (0, 1, 2)
    assert (s.broken_cells, s.clean_cells) == (2, 10)
    assert s.repairs.precision == 0.0 and s.repairs.f1 == 0.0


def test_duplicates_are_repaired_by_removing_any_copy_but_not_the_last() -> None:
    clean = Table("u", ("k", "v"), (("a", "1"), ("b", "2"), ("c", "3")))
    dirty = Table("u", ("k", "v"), (("a", "1"), ("b", "2"), ("a", "1"), ("c", "3"), ("b", "2")))
    truth = GroundTruth(
        clean,
        (0, 1, 0, 2, 1),
        (InjectedError(2, None, "duplicate"), InjectedError(4, None, "duplicate")),
    )
    task = _task(dirty, truth, "uniqueness")
    result = CleaningResult(removals=(RowRemoval(2), RowRemoval(1), RowRemoval(4)))

    s = score(task, result)

    # group a {0, 2}: copy 2 removed: TP.  group b {1, 4}: both removed: one TP, one FP, and
    # row b is lost: its 2 cells are broken.  Clean cells: rows 0, 1, 3 x 2 columns = 6.
    assert (s.repairs.tp, s.repairs.fp, s.repairs.fn) == (2, 1, 0)
    assert s.repairs.precision == pytest.approx(2 / 3) and s.repairs.recall == 1.0
    assert s.repairs.f1 == pytest.approx(0.8)  # 2 * (2/3) * 1 / (2/3 + 1)
    assert s.corruption_rate == pytest.approx(2 / 6)


def test_doing_nothing_scores_zero_and_keeps_the_dirty_drift() -> None:
    task = _task(DIRTY, GroundTruth(CLEAN, (0, 1, 2, 3), ERRORS))
    s = score(task, CleaningResult())
    assert (s.repairs.tp, s.repairs.fp, s.repairs.fn) == (0, 0, 2)
    assert s.repairs.precision == 0.0 and s.repairs.f1 == 0.0 and s.corruption_rate == 0.0
    assert s.drift_score == s.drift_dirty


def test_distances_of_known_distributions() -> None:
    assert wasserstein_1([0, 1], [0, 1]) == 0
    assert wasserstein_1([0], [5]) == 5  # a point mass moved by 5
    assert wasserstein_1([0, 0, 1], [0, 1, 1]) == pytest.approx(1 / 3)
    assert jensen_shannon({"a": 3}, {"a": 1}) == 0
    assert jensen_shannon({"a": 1}, {"b": 1}) == 1  # disjoint: the maximum in base 2


def test_aggregates_micro_average_and_define_reliability_and_robustness() -> None:
    def row(task: str, level: str, tp: int, fp: int, fn: int, **extra: object) -> dict:
        return {
            "model": "m",
            "task_id": task,
            "dimension": "accuracy",
            "difficulty": level,
            "valid": True,
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "f1": extra.pop("f1"),
            "clean_cells": 10,
            "broken_cells": extra.pop("broken", 0),
            "drift_score": 0.1,
            "drift_dirty": 0.2,
            "latency_ms": 5.0,
            "input_tokens": 0,
            "output_tokens": 0,
            "cost_usd": 0.0,
            **extra,
        }

    rows = [
        row("a", "easy", 3, 1, 0, f1=6 / 7),  # P 3/4, R 1
        row("b", "hard", 1, 0, 3, f1=0.4, broken=1, valid=False),  # P 1, R 1/4
    ]
    block = model_aggregates(rows)["m"]
    # micro: TP 4, FP 1, FN 3 -> P 4/5, R 4/7, F1 = 2 * .8 * (4/7) / (.8 + 4/7) = 2/3
    assert block["overall"]["precision"] == 0.8 and block["overall"]["f1"] == 0.6667
    assert block["overall"]["corruption_rate"] == 0.05  # 1 / 20
    assert block["reliability"] == {
        "tasks": 2,
        "valid": 1,
        "valid_rate": 0.5,
        "repeats": 1,
        "f1_std": 0.0,
    }
    # robustness: F1(hard) / F1(easy) = 0.4 / 0.8571 = 0.4667
    assert block["robustness"]["ratio"] == pytest.approx(0.4 / 0.8571, abs=1e-4)
    assert block["robustness"]["drop"] == pytest.approx(0.8571 - 0.4)
