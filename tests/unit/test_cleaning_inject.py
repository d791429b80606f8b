"""The error injector: reproducible from its seed, one dimension per task, errors that really
change values, and the ground truth that undoes them."""

from __future__ import annotations

import pytest

from use_cases.cleaning.domain import DIFFICULTIES, DIMENSIONS, Dimension, SourceTable, Table
from use_cases.cleaning.inject import RATES, build_task
from use_cases.cleaning.values import same_value

TABLE = Table(
    "people",
    ("id", "name", "team", "joined", "salary"),
    tuple(
        (
            f"P{i:03}",
            f"Person {chr(65 + i % 26)}{i}",
            ("Data", "Ops", "Sales")[i % 3],
            f"2020-{1 + i % 12:02}-{1 + i % 28:02}",
            f"{1000 + 137.5 * i:.1f}",
        )
        for i in range(60)
    ),
)
SOURCE = SourceTable(TABLE, "People", "test", "CC0", "v1", key="id", units={"salary": "EUR"})


@pytest.mark.parametrize("dimension", DIMENSIONS)
def test_the_same_seed_gives_the_same_task_and_another_seed_another(dimension: Dimension) -> None:
    first = build_task(SOURCE, dimension, "medium", seed=7)
    again = build_task(SOURCE, dimension, "medium", seed=7)
    other = build_task(SOURCE, dimension, "medium", seed=8)

    assert first == again
    assert first.dirty != other.dirty
    assert first.id == f"people.{dimension}.medium" and first.seed == 7


@pytest.mark.parametrize("dimension", ["accuracy", "completeness", "consistency"])
def test_cell_errors_change_values_spare_the_key_and_record_the_clean_value(
    dimension: Dimension,
) -> None:
    for level in DIFFICULTIES:
        task = build_task(SOURCE, dimension, level, seed=0)
        errors = task.truth.errors
        cells = 60 * 4  # non-key cells
        assert len(errors) == round(RATES[level] * cells)
        for e in errors:
            assert e.column is not None and e.column != "id"
            assert task.dirty.cell(e.row, e.column) == e.dirty
            assert TABLE.cell(e.row, e.column) == e.clean
            assert not same_value(e.dirty or "", e.clean or "")
        changed = {
            (r, c)
            for r in range(60)
            for c in TABLE.columns
            if task.dirty.cell(r, c) != TABLE.cell(r, c)
        }
        assert changed == {(e.row, e.column) for e in errors}


def test_consistency_errors_are_other_formats_of_the_same_value() -> None:
    task = build_task(SOURCE, "consistency", "hard", seed=0)
    kinds = {e.kind for e in task.truth.errors}
    assert {"date_format", "unit_suffix"} <= kinds
    for e in task.truth.errors:
        if e.kind == "unit_suffix":
            assert e.dirty == f"{e.clean} EUR"
        if e.kind in ("upper_case", "lower_case", "title_case"):
            assert (e.dirty or "").casefold() == (e.clean or "").casefold()


def test_duplicates_are_inserted_rows_whose_origin_is_recorded() -> None:
    task = build_task(SOURCE, "uniqueness", "hard", seed=0)
    copies = [e for e in task.truth.errors if e.column is None]
    assert len(copies) == round(RATES["hard"] * 60) == len(task.dirty.rows) - 60
    assert {e.kind for e in copies} == {"duplicate", "near_duplicate"}
    for e in copies:
        original = TABLE.rows[task.truth.origin[e.row]]
        copy = task.dirty.rows[e.row]
        if e.kind == "duplicate":
            assert copy == original
        else:
            assert [a.casefold() for a in copy] == [b.casefold() for b in original]
    kept = [row for i, row in enumerate(task.dirty.rows) if i not in {e.row for e in copies}]
    assert tuple(kept) == TABLE.rows
