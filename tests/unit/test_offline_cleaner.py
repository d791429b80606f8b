"""The offline cleaner's rules on small tables: what each repairs, and what it leaves alone."""

from __future__ import annotations

from services.cleaning.offline_cleaner import clean_table
from use_cases.cleaning.domain import Table

TEAMS = Table(
    "teams",
    ("id", "team", "rotation", "since", "budget"),
    (
        ("1", "Core", "core-oncall", "2021-01-04", "1200.5"),
        ("2", "Core", "core-oncall", "2021/02/01", "1,300.5"),
        ("3", "Edge", "edge-oncall", "2021-03-01", "900.25 EUR"),
        ("4", "Edge", "", "2021-04-01", "950,75"),
        ("5", "Core", "", "2021-05-03", "1000.0"),
        ("6", "CORE", "core-oncall", "2021-06-01", "1100.0"),
        ("7", "Edge", "edge-oncall", "2021-07-01", "980.0"),
        ("8", "Edge", "edge-oncall", "2021-08-02", "990.0"),
    ),
)


def _changes(table: Table, dimension: str) -> dict[tuple[int, str], str]:
    result = clean_table(table, dimension, key="id")
    assert all(c.justification for c in result.changes)
    return {(c.row, c.column): c.value for c in result.changes}


def test_consistency_rewrites_numbers_dates_and_case_in_the_columns_usual_form() -> None:
    assert _changes(TEAMS, "consistency") == {
        (1, "since"): "2021-02-01",
        (1, "budget"): "1300.5",
        (2, "budget"): "900.25",
        (3, "budget"): "950.75",
        (5, "team"): "Core",
    }


def test_completeness_fills_from_a_column_that_determines_the_missing_one() -> None:
    assert _changes(TEAMS, "completeness") == {
        (3, "rotation"): "edge-oncall",
        (4, "rotation"): "core-oncall",
    }


def test_accuracy_fixes_a_rare_spelling_and_a_value_its_group_disagrees_with() -> None:
    rows = [
        (str(i), ("Core", "Edge")[i % 2], ("core-oncall", "edge-oncall")[i % 2]) for i in range(12)
    ]
    rows[4] = ("4", "Cors", "core-oncall")  # a typo of a frequent value
    rows[7] = ("7", "Edge", "core-oncall")  # Edge goes with edge-oncall everywhere else
    table = Table("t", ("id", "team", "rotation"), tuple(rows))
    assert _changes(table, "accuracy") == {(4, "team"): "Core", (7, "rotation"): "edge-oncall"}


def test_uniqueness_removes_rows_equal_but_for_case_and_blanks_and_keeps_the_first() -> None:
    table = Table(
        "t",
        ("id", "name"),
        (("1", "Ann Lee"), ("2", "Bo"), ("1", "ann  lee"), ("3", "Cy"), ("2", "Bo")),
    )
    result = clean_table(table, "uniqueness", key="id")
    assert [r.row for r in result.removals] == [2, 4]
    assert result.changes == ()


def test_its_justification_accounts_for_each_change_with_the_rules_reason() -> None:
    result = clean_table(TEAMS, "completeness", key="id")
    why = result.justification
    assert why.startswith("For completeness, the offline rules changed 2 cells (columns: rotation)")
    for change in result.changes:
        assert f"row {change.row} rotation -> {change.value!r}: {change.justification}" in why


def test_its_justification_counts_removals_and_says_when_it_found_nothing() -> None:
    table = Table("t", ("id", "name"), (("1", "Ann"), ("2", "Bo"), ("1", "ann")))
    removed = clean_table(table, "uniqueness", key="id")
    assert "removed 1 duplicate row" in removed.justification
    assert "row 2 removed: same cells as row 0" in removed.justification
    nothing = clean_table(table, "consistency", key="id")
    assert nothing.changes == ()
    assert nothing.justification == (
        "No consistency problem found by the offline rules; nothing was changed."
    )
