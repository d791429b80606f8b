"""Compare two evaluation runs and gate on regressions (`almanac eval compare A B --fail-on`).

Rules:
- `compare(a, b)` takes two run exports (the JSON of `GET /api/v1/eval-runs/{run_id}`) and gives,
  for each model present in both runs, every aggregate metric of the export (`overall`) and
  the robustness figures (`answer_drift`, `retrieval_overlap@K`) as `a`, `b`,
  `delta = b - a` and `relative = (b - a) / |a|`. A value that is null in either run (the
  metric is undefined for its cases, e.g. `sql_match` without SQL cases) has a null delta.
  When the runs share no model name and each has exactly one model, those two are compared
  (comparing two models is then one command). Models in one run only are listed apart.
- Differences that make a comparison doubtful are warnings, not errors: another dataset or
  dataset version, another k, a run that is not `completed`.
- A `--fail-on` text is a comma-separated list of rules `METRIC OP THRESHOLD[%]`:
  `OP` is `<`, `<=`, `>` or `>=`; the rule is violated when the change from run A to run B
  (B - A) satisfies the comparison, for any compared model. `correct<-0.02` fails when
  correctness drops by more than two points; `brier>0.01` fails when the Brier score rises by
  more than 0.01; with `%` the change is relative to run A's value: `latency_p95_ms>20%`
  fails when the 95th percentile latency grows by more than a fifth.
- METRIC is an aggregate key of the export (`correct`, `token_f1`, `citation_recall`, `mrr`,
  `brier`, `latency_p95_ms`, `cost_usd`, ...) or a robustness figure; the rank cut-off ones
  carry their k (`hit@5`, `recall@5`, `ndcg@5`, `retrieval_overlap@5`). A rule naming a k the
  runs did not compute is an error, not a silent pass. A rule whose metric is null in either
  run for a model cannot be checked there: it is reported as unchecked and does not fail.
- Each delta has a `verdict`: `improved` or `regressed` by the metric's direction (lower is
  better for errors, Brier, ECE, latency, tokens, cost and answer drift; higher for the
  others), `unchanged` when equal, null when either value is null or the metric has no
  better direction (`cases`).
- `CompareRuns` is the one path of the CLI (`almanac eval compare`) and the API
  (`GET /api/v1/eval-runs/compare`): admins only, like every read of a run; reads are not audited.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from use_cases.access.domain import Caller, require_admin
from use_cases.evaluation.report import RunExports
from use_cases.shared.errors import InvalidRequest

__all__ = [
    "LOWER_IS_BETTER",
    "METRICS",
    "RANKED_METRICS",
    "CompareRuns",
    "Comparison",
    "ComparisonReport",
    "MetricDelta",
    "ModelComparison",
    "Rule",
    "Unchecked",
    "Violation",
    "compare",
    "parse_fail_on",
    "unchecked",
    "violations",
]

Op = Literal["<", "<=", ">", ">="]

#: The aggregate keys of the export that carry no k, in the export's order.
METRICS: tuple[str, ...] = (
    "cases",
    "errors",
    "correct",
    "exact_match",
    "token_f1",
    "cited",
    "citation_precision",
    "citation_recall",
    "valid_citation_rate",
    "refusal_accuracy",
    "sql_match",
    "mrr",
    "brier",
    "ece",
    "brier_raw",
    "ece_raw",
    "judge_correct",
    "assertions_passed",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_mean_ms",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "answer_drift",
)
#: Metrics computed at a rank cut-off k: written `name@k` in the export and in rules.
RANKED_METRICS: tuple[str, ...] = ("hit", "recall", "ndcg", "retrieval_overlap")
_ROBUSTNESS = ("answer_drift", "retrieval_overlap")
#: Metrics where a smaller value is the better one (the rest: larger is better).
LOWER_IS_BETTER = frozenset(
    {
        "errors",
        "brier",
        "ece",
        "brier_raw",
        "ece_raw",
        "latency_p50_ms",
        "latency_p95_ms",
        "latency_mean_ms",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "answer_drift",
    }
)
#: Metrics with no better direction: a change is neither an improvement nor a regression.
_NEUTRAL = frozenset({"cases"})
Verdict = Literal["improved", "regressed", "unchanged"]

_RULE = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][\w]*(?:@\w+)?)\s*(?P<op><=|>=|<|>)\s*(?P<value>\S+)\s*$"
)
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")


@dataclass(frozen=True)
class Rule:
    """Violated when the change of `metric` from run A to run B satisfies `op threshold`."""

    metric: str
    op: Op
    threshold: float
    relative: bool = False  # threshold in per cent of run A's value
    text: str = ""

    def breached(self, change: float) -> bool:
        limit = self.threshold
        return {
            "<": change < limit,
            "<=": change <= limit,
            ">": change > limit,
            ">=": change >= limit,
        }[self.op]

    def __str__(self) -> str:
        return (
            self.text or f"{self.metric}{self.op}{self.threshold:g}{'%' if self.relative else ''}"
        )


def _known_metric(name: str) -> bool:
    if name in METRICS:
        return True
    base, at, k = name.partition("@")
    return bool(at) and base in RANKED_METRICS and k.isdigit() and int(k) > 0


def _suggestion(name: str) -> str:
    names = [*METRICS, *(f"{m}@5" for m in RANKED_METRICS)]
    close = difflib.get_close_matches(name, names, n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""


def parse_fail_on(text: str) -> tuple[Rule, ...]:
    """Parse `"correct<-0.02,ndcg@5<-0.02"` into rules; each error names the rule and the fault.

    Raises `InvalidRequest` on an empty text, a rule without a comparison, an unknown metric
    (with the closest known name), a k that is not a positive integer, or a threshold that is
    not a finite number."""
    if not text or not text.strip():
        raise InvalidRequest("fail-on: no rule given; write rules like 'correct<-0.02'.")
    rules: list[Rule] = []
    for position, raw in enumerate(text.split(","), start=1):
        where = f'fail-on rule {position} "{raw.strip()}"'
        if not raw.strip():
            raise InvalidRequest(f"fail-on rule {position} is empty (a stray comma?).")
        match = _RULE.match(raw)
        if match is None:
            raise InvalidRequest(
                f"{where}: expected METRIC OP THRESHOLD with OP one of <, <=, >, >= "
                "(e.g. 'correct<-0.02')."
            )
        metric, op, value = match["metric"], match["op"], match["value"]
        base, at, k = metric.partition("@")
        if at and base in RANKED_METRICS and not (k.isdigit() and int(k) > 0):
            raise InvalidRequest(f'{where}: "{k}" is not a rank cut-off; write e.g. {base}@5.')
        if not at and base in RANKED_METRICS:
            raise InvalidRequest(f"{where}: {base} needs its cut-off k; write e.g. {base}@5.")
        if not _known_metric(metric):
            raise InvalidRequest(f'{where}: unknown metric "{metric}"{_suggestion(metric)}.')
        relative = value.endswith("%")
        number = value[:-1] if relative else value
        if not _NUMBER.match(number) or not math.isfinite(float(number)):
            raise InvalidRequest(
                f'{where}: the threshold "{value}" is not a number (e.g. -0.02 or 20%).'
            )
        rules.append(Rule(metric, op, float(number), relative, raw.strip()))  # type: ignore[arg-type]  # op is one of the operators the pattern matched
    return tuple(rules)


@dataclass(frozen=True)
class MetricDelta:
    metric: str
    a: float | None
    b: float | None

    @property
    def delta(self) -> float | None:
        if self.a is None or self.b is None:
            return None
        return self.b - self.a

    @property
    def relative(self) -> float | None:
        """The change as a fraction of run A's value; None when A's value is 0 or null."""
        if self.delta is None or not self.a:
            return None
        return self.delta / abs(self.a)

    @property
    def verdict(self) -> Verdict | None:
        """Whether run B is better on this metric (see the module docstring)."""
        change = self.delta
        if change is None or self.metric in _NEUTRAL:
            return None
        if change == 0:
            return "unchanged"
        lower = self.metric.partition("@")[0] in LOWER_IS_BETTER
        return "improved" if (change < 0) == lower else "regressed"

    def as_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "delta": self.delta,
            "relative": self.relative,
            "verdict": self.verdict,
        }


@dataclass(frozen=True)
class ModelComparison:
    model: str  # the name both runs share, or "A-model vs B-model"
    model_a: str
    model_b: str
    metrics: Mapping[str, MetricDelta]

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "model_a": self.model_a,
            "model_b": self.model_b,
            "metrics": {name: m.as_dict() for name, m in self.metrics.items()},
        }


@dataclass(frozen=True)
class Comparison:
    run_a: str
    run_b: str
    models: tuple[ModelComparison, ...]
    only_in_a: tuple[str, ...] = ()
    only_in_b: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    metrics: tuple[str, ...] = field(default=())  # every metric name, in display order

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_a": self.run_a,
            "run_b": self.run_b,
            "models": [m.as_dict() for m in self.models],
            "only_in_a": list(self.only_in_a),
            "only_in_b": list(self.only_in_b),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class Violation:
    model: str
    rule: Rule
    a: float
    b: float
    change: float  # absolute, or relative in per cent for a `%` rule

    def __str__(self) -> str:
        unit = "%" if self.rule.relative else ""
        return (
            f"{self.model}: {self.rule.metric} {_fmt(self.a)} -> {_fmt(self.b)} "
            f"(change {self.change:+.4g}{unit}) violates {self.rule}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "rule": str(self.rule),
            "metric": self.rule.metric,
            "a": self.a,
            "b": self.b,
            "change": self.change,
        }


@dataclass(frozen=True)
class Unchecked:
    model: str
    rule: Rule
    reason: str


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _figures(aggregate: Mapping[str, Any]) -> dict[str, float | None]:
    """The overall metrics and the robustness figures of one model, by metric name."""
    figures: dict[str, float | None] = {
        name: _number(value) for name, value in (aggregate.get("overall") or {}).items()
    }
    robustness = aggregate.get("robustness") or {}
    for name, value in robustness.items():
        if name.partition("@")[0] in _ROBUSTNESS:
            figures[name] = _number(value)
    return figures


def _order(names: set[str]) -> tuple[str, ...]:
    def key(name: str) -> tuple[int, str]:
        base = name.partition("@")[0]
        if name in METRICS:
            return METRICS.index(name), name
        if base in RANKED_METRICS:
            return METRICS.index("mrr"), name  # hit@k, recall@k, ndcg@k sit by mrr
        return len(METRICS), name

    return tuple(sorted(names, key=key))


def _pairs(a_models: Sequence[str], b_models: Sequence[str]) -> list[tuple[str, str, str]]:
    common = [m for m in a_models if m in b_models]
    if not common and len(a_models) == 1 and len(b_models) == 1:
        return [(f"{a_models[0]} vs {b_models[0]}", a_models[0], b_models[0])]
    return [(m, m, m) for m in common]


def _warnings(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    notes: list[str] = []
    task_a, task_b = a.get("task") or {}, b.get("task") or {}
    if task_a.get("id") != task_b.get("id"):
        notes.append(
            f"The runs are on different datasets ({task_a.get('id')} and {task_b.get('id')})."
        )
    elif task_a.get("version") != task_b.get("version"):
        notes.append(
            f"The dataset changed between the runs (version {task_a.get('version')} and "
            f"{task_b.get('version')})."
        )
    k_a, k_b = (a.get("settings") or {}).get("k"), (b.get("settings") or {}).get("k")
    if k_a != k_b:
        notes.append(f"The runs ranked at different k ({k_a} and {k_b}).")
    for name, export in (("A", a), ("B", b)):
        status = export.get("status")
        if status != "completed":
            notes.append(f"Run {name} ({export.get('run_id')}) is {status}, not completed.")
    return notes


def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> Comparison:
    """Per-model metric deltas from run `a` to run `b` (see the module docstring)."""
    a_aggs: Mapping[str, Any] = a.get("aggregates") or {}
    b_aggs: Mapping[str, Any] = b.get("aggregates") or {}
    a_models = [m for m in a.get("models") or a_aggs if m in a_aggs]
    b_models = [m for m in b.get("models") or b_aggs if m in b_aggs]
    pairs = _pairs(a_models, b_models)
    paired_a = {p[1] for p in pairs}
    paired_b = {p[2] for p in pairs}
    models: list[ModelComparison] = []
    every: set[str] = set()
    for label, model_a, model_b in pairs:
        fa, fb = _figures(a_aggs[model_a]), _figures(b_aggs[model_b])
        names = _order(set(fa) | set(fb))
        every.update(names)
        deltas = {n: MetricDelta(n, fa.get(n), fb.get(n)) for n in names}
        models.append(ModelComparison(label, model_a, model_b, deltas))
    return Comparison(
        run_a=str(a.get("run_id", "")),
        run_b=str(b.get("run_id", "")),
        models=tuple(models),
        only_in_a=tuple(m for m in a_models if m not in paired_a),
        only_in_b=tuple(m for m in b_models if m not in paired_b),
        warnings=tuple(_warnings(a, b)),
        metrics=_order(every),
    )


def _check_metrics_exist(comparison: Comparison, rules: Sequence[Rule]) -> None:
    if not comparison.models:
        return
    for rule in rules:
        if rule.metric not in comparison.metrics:
            present = sorted(
                m
                for m in comparison.metrics
                if m.partition("@")[0] == rule.metric.partition("@")[0]
            )
            hint = f"; the runs have {', '.join(present)}" if present else ""
            raise InvalidRequest(
                f'fail-on rule "{rule}": the runs did not compute {rule.metric}{hint}.'
            )


def _change(rule: Rule, delta: MetricDelta) -> float | None:
    if rule.relative:
        return None if delta.relative is None else delta.relative * 100
    return delta.delta


def violations(comparison: Comparison, rules: Sequence[Rule]) -> list[Violation]:
    """The rules broken by any compared model, in rule order then model order.

    Raises `InvalidRequest` when a rule names a metric neither run computed (for example
    `ndcg@5` when the runs used k = 10), so a typo of k cannot pass the gate silently."""
    _check_metrics_exist(comparison, rules)
    found: list[Violation] = []
    for rule in rules:
        for model in comparison.models:
            delta = model.metrics.get(rule.metric)
            if delta is None or delta.a is None or delta.b is None:
                continue
            change = _change(rule, delta)
            if change is not None and rule.breached(change):
                found.append(Violation(model.model, rule, delta.a, delta.b, change))
    return found


def unchecked(comparison: Comparison, rules: Sequence[Rule]) -> list[Unchecked]:
    """The (rule, model) pairs that could not be checked, with the reason."""
    skipped: list[Unchecked] = []
    for rule in rules:
        for model in comparison.models:
            delta = model.metrics.get(rule.metric)
            if delta is None or delta.a is None or delta.b is None:
                which = "either run" if delta is None else ("run A" if delta.a is None else "run B")
                skipped.append(Unchecked(model.model, rule, f"{rule.metric} is null in {which}"))
            elif rule.relative and delta.relative is None:
                skipped.append(
                    Unchecked(model.model, rule, f"{rule.metric} is 0 in run A: no relative change")
                )
    return skipped


@dataclass(frozen=True)
class ComparisonReport:
    """A comparison with the outcome of its `--fail-on` rules (none: nothing to check)."""

    comparison: Comparison
    rules: tuple[Rule, ...]
    violations: tuple[Violation, ...]
    unchecked: tuple[Unchecked, ...]

    @property
    def passed(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.comparison.as_dict(),
            "rules": [str(rule) for rule in self.rules],
            "violations": [v.as_dict() for v in self.violations],
            "unchecked": [
                {"model": u.model, "rule": str(u.rule), "reason": u.reason} for u in self.unchecked
            ],
        }


class CompareRuns:
    """Compare run A (the baseline) with run B for an admin, and check the `fail_on` rules.

    The rules are parsed before any run is read, so a bad rule is an `InvalidRequest` whatever
    the runs; an unknown run is the exporter's `NotFound`."""

    def __init__(self, exports: RunExports) -> None:
        self._exports = exports

    async def execute(
        self, caller: Caller, run_a: str, run_b: str, fail_on: str | None = None
    ) -> ComparisonReport:
        require_admin(caller, "Comparing evaluation runs")
        rules = parse_fail_on(fail_on) if fail_on else ()
        a = await self._exports.export(caller, run_a)
        b = await self._exports.export(caller, run_b)
        comparison = compare(a, b)
        return ComparisonReport(
            comparison,
            rules,
            tuple(violations(comparison, rules)),
            tuple(unchecked(comparison, rules)),
        )
