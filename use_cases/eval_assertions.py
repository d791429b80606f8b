"""Assertions: checks a run (or one case) makes on each answer, beyond the built-in metrics.

Types (`value` is the string an assertion takes; other keys of its object are `params`):
- `contains` / `not_contains`: `value` occurs / does not occur in the answer (case-insensitive
  unless `case_sensitive: true`; the Sources block is excluded).
- `regex`: the pattern `value` matches somewhere in the answer (Python `re.search`; checked to
  compile when parsed).
- `equals`: the answer, stripped and with runs of whitespace as one space, is `value`.
- `json_valid`: the answer is JSON (a single ```json fenced block is unwrapped first).
- `cites_expected`: a cited source matches one of the case's `expect_sources` (or `value`).
- `refuses`: the answer is the can't-find refusal.
- `sql_rows_match`: the rows the answer's SQL returned match the case's `expected_sql_rows`
  (or the `rows` param), as `eval_metrics.sql_rows_match` compares them.
- `llm_judge`: the judge model decides whether the answer is correct given the expected
  answers (the case's `expect_any`, or `value` as a rubric).

A check that cannot be made is **skipped**, not failed: `passed` is None and `detail` says why
("skipped: no judge model configured", a case without expected rows or sources). Skipped
results count neither as passed nor failed: `assertions_passed` is passed / (passed + failed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args

from use_cases.errors import AlmanacError, InvalidRequest

if TYPE_CHECKING:
    from use_cases.eval_domain import CaseOutcome, EvalCase

AssertionType = Literal[
    "contains",
    "not_contains",
    "regex",
    "equals",
    "json_valid",
    "cites_expected",
    "refuses",
    "sql_rows_match",
    "llm_judge",
]
ASSERTION_TYPES: tuple[str, ...] = get_args(AssertionType)
_NEEDS_VALUE = ("contains", "not_contains", "regex", "equals")
_FENCE = re.compile(r"^```(?:json)?\s*\n(.*)\n```$", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class AssertionSpec:
    type: AssertionType
    value: str | None = None
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type}
        if self.value is not None:
            data["value"] = self.value
        data.update(self.params)
        return data


@dataclass(frozen=True)
class AssertionResult:
    """`passed` is None when the check was skipped (`detail` says why)."""

    type: str
    passed: bool | None
    detail: str

    @property
    def skipped(self) -> bool:
        return self.passed is None

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "passed": self.passed, "detail": self.detail}


class Judge(Protocol):
    async def judge(self, question: str, answer: str, expected: Sequence[str]) -> tuple[bool, str]:
        """(correct, reason) for an answer to a question, given acceptable answers."""
        ...


def parse_assertions(raw: Any, where: str) -> tuple[AssertionSpec, ...]:
    """Assertions from decoded JSON (a list of objects); errors start with `where`."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidRequest(f"{where} must be a list of objects with a 'type'.")
    specs = []
    for index, item in enumerate(raw, 1):
        at = f"{where}, item {index}"
        if not isinstance(item, dict):
            raise InvalidRequest(f"{at}: expected an object with a 'type'.")
        kind = item.get("type")
        if kind not in ASSERTION_TYPES:
            raise InvalidRequest(
                f"{at}: unknown type {kind!r}; types are {', '.join(ASSERTION_TYPES)}."
            )
        value = item.get("value")
        params = {k: v for k, v in item.items() if k not in ("type", "value")}
        if kind == "sql_rows_match" and isinstance(value, list):
            params["rows"], value = value, None
        if value is not None and not isinstance(value, str):
            raise InvalidRequest(f"{at}: 'value' must be a string.")
        if kind in _NEEDS_VALUE and not value:
            raise InvalidRequest(f"{at}: type {kind!r} needs a non-empty 'value'.")
        if kind == "regex":
            assert value is not None
            try:
                re.compile(value)
            except re.error as exc:
                raise InvalidRequest(f"{at}: 'value' is not a valid regex ({exc}).") from None
        if kind == "sql_rows_match" and "rows" in params:
            rows = params["rows"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise InvalidRequest(f"{at}: 'rows' must be a list of rows (lists of values).")
        specs.append(AssertionSpec(kind, value, MappingProxyType(params)))
    return tuple(specs)


def _skip(spec: AssertionSpec, why: str) -> AssertionResult:
    return AssertionResult(spec.type, None, f"skipped: {why}")


def _result(spec: AssertionSpec, passed: bool, detail: str) -> AssertionResult:
    return AssertionResult(spec.type, passed, detail)


async def check(
    spec: AssertionSpec, case: EvalCase, outcome: CaseOutcome, judge: Judge | None
) -> AssertionResult:
    """The result of one assertion on one outcome; a judge error is a failed check."""
    from use_cases import eval_metrics as m  # eval_metrics imports eval_domain, which imports us

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
