"""Assertions: parsing with named errors, each type's check, and skipped checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from use_cases.chat.domain import Source
from use_cases.chat.prompts import NOT_FOUND_ANSWER
from use_cases.evaluation.assertions import AssertionSpec, parse_assertions
from use_cases.evaluation.checks import check, check_all
from use_cases.evaluation.domain import CaseOutcome, EvalCase
from use_cases.shared.errors import InvalidRequest, UpstreamUnavailable

CASE = EvalCase(
    "k1",
    "sev1 ack?",
    "kb",
    ("5 minutes",),
    ("runbooks/ir.md",),
    expected_sql_rows=(("Lena Hoffmann", 9),),
)
ANSWER = 'Acknowledge within 5 Minutes [1].\n\n**Sources**\n[1] Incident "response"'
IR = Source(1, "document", "Incident response", "/srv/kb/runbooks/ir.md")


class FakeJudge:
    def __init__(self, verdict: bool = True, fail: bool = False) -> None:
        self.verdict, self.fail = verdict, fail
        self.calls: list[tuple[str, str, tuple[str, ...]]] = []

    async def judge(self, question: str, answer: str, expected: Sequence[str]) -> tuple[bool, str]:
        self.calls.append((question, answer, tuple(expected)))
        if self.fail:
            raise UpstreamUnavailable("The model provider is unavailable. Try again shortly.")
        return self.verdict, "states the acknowledgement time"


def _spec(raw: Mapping[str, object]) -> AssertionSpec:
    (spec,) = parse_assertions([raw], "assertions")
    return spec


async def _check(raw: dict[str, object], outcome: CaseOutcome, judge: FakeJudge | None = None):
    return await check(_spec(raw), CASE, outcome, judge)


OK = CaseOutcome(ANSWER, sources=(IR,), sql_rows=(("lena hoffmann", 9.0),))


@pytest.mark.parametrize(
    ("raw", "passed"),
    [
        ({"type": "contains", "value": "5 minutes"}, True),
        ({"type": "contains", "value": "5 minutes", "case_sensitive": True}, False),
        ({"type": "contains", "value": "Incident"}, False),  # only in the Sources block
        ({"type": "not_contains", "value": "10 minutes"}, True),
        ({"type": "not_contains", "value": "within"}, False),
        ({"type": "regex", "value": r"\b5 [Mm]inutes\b"}, True),
        ({"type": "regex", "value": r"^\d+$"}, False),
        ({"type": "equals", "value": "Acknowledge  within 5 Minutes [1]."}, True),
        ({"type": "equals", "value": "5 minutes"}, False),
        ({"type": "json_valid"}, False),
        ({"type": "cites_expected"}, True),
        ({"type": "cites_expected", "value": "hr/leave.md"}, False),
        ({"type": "refuses"}, False),
        ({"type": "sql_rows_match"}, True),
        ({"type": "sql_rows_match", "value": [["Otto", 9]]}, False),
    ],
)
async def test_each_assertion_type(raw: dict[str, object], passed: bool) -> None:
    result = await _check(raw, OK)
    assert result.type == raw["type"]
    assert result.passed is passed, result.detail
    assert result.detail


async def test_json_valid_accepts_a_fenced_json_block() -> None:
    fenced = CaseOutcome('```json\n{"minutes": 5}\n```')
    assert (await _check({"type": "json_valid"}, fenced)).passed
    assert (await _check({"type": "json_valid"}, CaseOutcome("[1, 2]"))).passed


async def test_refuses_passes_on_the_cant_find_answer() -> None:
    assert (await _check({"type": "refuses"}, CaseOutcome(NOT_FOUND_ANSWER))).passed


async def test_sql_rows_match_fails_when_no_query_ran() -> None:
    result = await _check({"type": "sql_rows_match"}, CaseOutcome("Lena"))
    assert result.passed is False and "no SQL" in result.detail


async def test_checks_without_what_they_need_are_skipped_not_failed() -> None:
    bare = EvalCase("b", "q", "kb", ("x",))
    for raw in ({"type": "cites_expected"}, {"type": "sql_rows_match"}):
        result = await check(_spec(raw), bare, OK, None)
        assert result.passed is None and result.skipped
        assert result.detail.startswith("skipped:")
    judged = await _check({"type": "llm_judge"}, OK, None)
    assert judged.skipped and judged.detail == "skipped: no judge model configured"
    assert judged.as_dict() == {"type": "llm_judge", "passed": None, "detail": judged.detail}


async def test_llm_judge_asks_the_judge_with_the_answer_body_and_expected_answers() -> None:
    judge = FakeJudge(verdict=False)
    result = await _check({"type": "llm_judge"}, OK, judge)
    assert result.passed is False and result.detail == "states the acknowledgement time"
    assert judge.calls == [("sev1 ack?", "Acknowledge within 5 Minutes [1].", ("5 minutes",))]
    await _check({"type": "llm_judge", "value": "Mentions 5 minutes."}, OK, judge)
    assert judge.calls[-1][2] == ("Mentions 5 minutes.",)


async def test_a_failing_judge_fails_the_check_with_its_reason() -> None:
    result = await _check({"type": "llm_judge"}, OK, FakeJudge(fail=True))
    assert result.passed is False and "unavailable" in result.detail


async def test_a_case_that_failed_fails_every_check() -> None:
    result = await _check({"type": "not_contains", "value": "x"}, CaseOutcome("", error="down"))
    assert result.passed is False and "down" in result.detail


async def test_check_all_runs_the_run_assertions_then_the_case_ones() -> None:
    case = EvalCase("k", "q", "kb", ("x",), assertions=(AssertionSpec("refuses"),))
    results = await check_all([AssertionSpec("contains", "5")], case, OK, None)
    assert [(r.type, r.passed) for r in results] == [("contains", True), ("refuses", False)]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"type": "contains"}, "item 1: type 'contains' needs a non-empty 'value'"),
        ({"type": "contain", "value": "x"}, "item 1: unknown type 'contain'"),
        ({"value": "x"}, "unknown type None"),
        ({"type": "regex", "value": "(unclosed"}, "not a valid regex"),
        ({"type": "equals", "value": 5}, "'value' must be a string"),
        ({"type": "sql_rows_match", "rows": "x"}, "'rows' must be a list of rows"),
    ],
)
def test_invalid_assertions_are_named(raw: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        parse_assertions([raw], "assertions")
    with pytest.raises(InvalidRequest, match="must be a list"):
        parse_assertions({"type": "refuses"}, "assertions")


def test_a_spec_round_trips_through_its_dict() -> None:
    spec = _spec({"type": "contains", "value": "5", "case_sensitive": True})
    assert spec.params == {"case_sensitive": True}
    assert parse_assertions([spec.as_dict()], "x") == (spec,)
