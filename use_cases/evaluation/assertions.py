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

This module holds what an assertion is (parsed from a dataset or a run's settings); how one is
checked on an answer is `eval_checks`, which reads the metrics' helpers (so the dataset types
that hold assertions import no metric, and nothing imports back).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol, get_args

from use_cases.shared.errors import InvalidRequest

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


@dataclass(frozen=True)
class AssertionSpec:
    type: AssertionType
    value: str | None = None
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False)

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
