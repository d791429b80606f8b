"""How an assertion (`eval_assertions`) is checked on one case's outcome: `check` and
`check_all`. A check that cannot be made is skipped (`passed` None, `detail` says why)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from use_cases.evaluation import metrics as m
from use_cases.evaluation.assertions import AssertionResult, AssertionSpec, Judge
from use_cases.evaluation.domain import CaseOutcome, EvalCase
from use_cases.shared.errors import AlmanacError, InvalidRequest

__all__ = ["check", "check_all"]

_FENCE = re.compile(r"^```(?:json)?\s*\n(.*)\n```$", re.DOTALL | re.IGNORECASE)


def _skip(spec: AssertionSpec, why: str) -> AssertionResult:
    return AssertionResult(spec.type, None, f"skipped: {why}")


def _result(spec: AssertionSpec, passed: bool, detail: str) -> AssertionResult:
    return AssertionResult(spec.type, passed, detail)


async def check(
    spec: AssertionSpec, case: EvalCase, outcome: CaseOutcome, judge: Judge | None
) -> AssertionResult:
    """The result of one assertion on one outcome; a judge error is a failed check."""
    body = m.answer_body(outcome.answer).strip()
    if outcome.error is not None:
        return _result(spec, False, f"the case failed: {outcome.error}")
    if spec.type in ("contains", "not_contains"):
        assert spec.value is not None
        if spec.params.get("case_sensitive"):
            found = spec.value in body
        else:
            found = spec.value.casefold() in body.casefold()
        passed = found if spec.type == "contains" else not found
        verb = "contains" if found else "does not contain"
        return _result(spec, passed, f"the answer {verb} {spec.value!r}")
    if spec.type == "regex":
        assert spec.value is not None
        match = re.search(spec.value, body)
        return _result(
            spec,
            match is not None,
            f"matched {match.group(0)!r}" if match else f"no match for /{spec.value}/",
        )
    if spec.type == "equals":
        assert spec.value is not None
        got = " ".join(body.split())
        passed = got == " ".join(spec.value.split())
        return _result(spec, passed, "equal" if passed else f"the answer is {got[:120]!r}")
    if spec.type == "json_valid":
        fenced = _FENCE.match(body)
        try:
            json.loads(fenced.group(1) if fenced else body)
        except ValueError as exc:
            return _result(spec, False, f"not JSON: {exc}")
        return _result(spec, True, "valid JSON")
    if spec.type == "cites_expected":
        expected = (spec.value,) if spec.value else case.expect_sources
        if not expected:
            return _skip(spec, "the case names no expected source")
        cited = [s for s in outcome.sources if any(m.source_matches(e, s) for e in expected)]
        if cited:
            return _result(spec, True, f"cites {cited[0].title or cited[0].source}")
        return _result(spec, False, f"cites none of {', '.join(expected)}")
    if spec.type == "refuses":
        refused = outcome.refused or m.is_refusal(outcome.answer)
        return _result(spec, refused, "refused" if refused else "answered")
    if spec.type == "sql_rows_match":
        rows = spec.params.get("rows", case.expected_sql_rows)
        if rows is None:
            return _skip(spec, "the case has no expected_sql_rows")
        if outcome.sql_rows is None:
            return _result(spec, False, "the answer ran no SQL query")
        passed = m.sql_rows_match(outcome.sql_rows, rows)
        return _result(
            spec,
            passed,
            "the rows match" if passed else f"{len(outcome.sql_rows)} rows, expected {len(rows)}",
        )
    if spec.type == "llm_judge":
        if judge is None:
            return _skip(spec, "no judge model configured")
        expected = (spec.value,) if spec.value else case.expect_any
        if case.must_refuse and not spec.value:
            expected = ("A refusal: the knowledge base does not hold the answer.",)
        try:
            verdict, reason = await judge.judge(case.question, body, expected)
        except AlmanacError as exc:
            return _result(spec, False, f"the judge failed: {exc.detail}")
        return _result(spec, verdict, reason)
    raise InvalidRequest(f"Unknown assertion type {spec.type!r}.")  # pragma: no cover


async def check_all(
    specs: Sequence[AssertionSpec], case: EvalCase, outcome: CaseOutcome, judge: Judge | None
) -> list[AssertionResult]:
    """The run's assertions then the case's own, in order."""
    return [await check(spec, case, outcome, judge) for spec in (*specs, *case.assertions)]
