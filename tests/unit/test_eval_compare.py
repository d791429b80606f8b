"""The regression gate of `almanac eval compare`: fail-on rules, per-model deltas, violations."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from use_cases.evaluation.compare import Rule, compare, parse_fail_on, unchecked, violations
from use_cases.shared.errors import InvalidRequest

FIXTURE = Path(__file__).parents[1] / "fixtures" / "eval_run_export.json"


def export(run_id: str, models: dict[str, dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A minimal export: `models` maps a model to its overall metrics (+ optional robustness)."""
    aggregates = {
        name: {
            "overall": {k: v for k, v in figures.items() if k != "robustness"},
            "by_dimension": {},
            "reliability": [],
            "robustness": figures.get("robustness", {}),
        }
        for name, figures in models.items()
    }
    return {
        "run_id": run_id,
        "status": "completed",
        "task": {"id": "answers", "name": "answers", "version": "v1", "cases": 10},
        "models": list(models),
        "settings": {"k": 5},
        "aggregates": aggregates,
        "cases": [],
        **extra,
    }


A = export(
    "run_a",
    {
        "offline": {
            "correct": 0.80,
            "ndcg@5": 0.70,
            "brier": 0.10,
            "latency_p95_ms": 200.0,
            "sql_match": None,
            "cost_usd": 0.0,
            "robustness": {"answer_drift": 0.05, "retrieval_overlap@5": 0.9},
        },
        "gpt": {"correct": 0.90, "ndcg@5": 0.75, "brier": 0.08, "latency_p95_ms": 2000.0},
    },
)
B = export(
    "run_b",
    {
        "offline": {
            "correct": 0.75,
            "ndcg@5": 0.71,
            "brier": 0.13,
            "latency_p95_ms": 260.0,
            "sql_match": 0.5,
            "cost_usd": 0.0,
            "robustness": {"answer_drift": 0.10, "retrieval_overlap@5": 0.85},
        },
        "claude": {"correct": 0.95},
    },
)


def test_parses_rules_with_operators_ks_and_percentages() -> None:
    rules = parse_fail_on("correct<-0.02, ndcg@5 <= -0.02,brier>0.01,latency_p95_ms>=20%")
    assert rules == (
        Rule("correct", "<", -0.02, False, "correct<-0.02"),
        Rule("ndcg@5", "<=", -0.02, False, "ndcg@5 <= -0.02"),
        Rule("brier", ">", 0.01, False, "brier>0.01"),
        Rule("latency_p95_ms", ">=", 20.0, True, "latency_p95_ms>=20%"),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no rule given"),
        ("correct<-0.02,", "rule 2 is empty"),
        ("correct-0.02", 'rule 1 "correct-0.02": expected METRIC OP THRESHOLD'),
        ("correct=-0.02", "expected METRIC OP THRESHOLD"),
        ("ndgc@5<-0.02", 'unknown metric "ndgc@5" (did you mean "ndcg@5"?)'),
        ("accuracy<0", 'unknown metric "accuracy"'),
        ("ndcg<-0.02", "ndcg needs its cut-off k; write e.g. ndcg@5"),
        ("hit@k<-0.02", '"k" is not a rank cut-off'),
        ("correct@5<-0.02", 'unknown metric "correct@5"'),
        ("correct<minus", 'the threshold "minus" is not a number'),
        ("correct<nan", 'the threshold "nan" is not a number'),
        ("correct<-0.02,mrr<1..2", 'fail-on rule 2 "mrr<1..2": the threshold'),
    ],
)
def test_bad_rules_are_named_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidRequest) as error:
        parse_fail_on(text)
    assert message in error.value.detail


def test_deltas_per_shared_model_by_hand() -> None:
    result = compare(A, B)
    assert [m.model for m in result.models] == ["offline"]
    assert result.only_in_a == ("gpt",) and result.only_in_b == ("claude",)
    offline = result.models[0].metrics
    assert offline["correct"].delta == pytest.approx(-0.05)
    assert offline["ndcg@5"].delta == pytest.approx(0.01)
    assert offline["brier"].delta == pytest.approx(0.03)
    assert offline["latency_p95_ms"].relative == pytest.approx(0.30)
    assert offline["answer_drift"].delta == pytest.approx(0.05)
    assert offline["retrieval_overlap@5"].delta == pytest.approx(-0.05)
    # undefined in A: no delta; zero in A: no relative change
    assert (offline["sql_match"].a, offline["sql_match"].b, offline["sql_match"].delta) == (
        None,
        0.5,
        None,
    )
    assert offline["cost_usd"].delta == 0.0 and offline["cost_usd"].relative is None
    assert result.warnings == ()
    as_json = json.loads(json.dumps(result.as_dict()))
    assert as_json["models"][0]["metrics"]["correct"]["delta"] == pytest.approx(-0.05)


def test_violations_follow_the_rules_by_hand() -> None:
    result = compare(A, B)
    rules = parse_fail_on(
        "correct<-0.02,ndcg@5<-0.02,brier>0.05,latency_p95_ms>25%,answer_drift>0.04,sql_match<0"
    )
    found = violations(result, rules)
    # correct -0.05 < -0.02: broken; ndcg +0.01: fine; brier +0.03: fine;
    # p95 +30% > 25%: broken; drift +0.05 > 0.04: broken; sql_match null in A: unchecked
    assert [(v.model, v.rule.metric) for v in found] == [
        ("offline", "correct"),
        ("offline", "latency_p95_ms"),
        ("offline", "answer_drift"),
    ]
    assert found[1].change == pytest.approx(30.0)
    assert str(found[0]) == "offline: correct 0.8 -> 0.75 (change -0.05) violates correct<-0.02"
    assert [(u.rule.metric, u.reason) for u in unchecked(result, rules)] == [
        ("sql_match", "sql_match is null in run A")
    ]


def test_an_improvement_passes_the_gate() -> None:
    assert violations(compare(B, B), parse_fail_on("correct<-0.02,brier>0")) == []
    assert violations(compare(B, A), parse_fail_on("correct<-0.02")) == []


def test_two_single_model_runs_compare_their_models() -> None:
    a = export("a", {"offline": {"correct": 0.8}})
    b = export("b", {"gpt": {"correct": 0.9}})
    result = compare(a, b)
    assert [m.model for m in result.models] == ["offline vs gpt"]
    assert result.models[0].metrics["correct"].delta == pytest.approx(0.1)
    assert violations(result, parse_fail_on("correct<0.2")) != []


def test_a_rule_on_a_k_the_runs_did_not_compute_is_an_error_not_a_pass() -> None:
    with pytest.raises(InvalidRequest, match=r"did not compute ndcg@10; the runs have ndcg@5"):
        violations(compare(A, B), parse_fail_on("ndcg@10<-0.02"))


def test_doubtful_comparisons_carry_warnings() -> None:
    b = copy.deepcopy(B)
    b["task"]["version"] = "v2"
    b["settings"]["k"] = 10
    b["status"] = "running"
    assert compare(A, b).warnings == (
        "The dataset changed between the runs (version v1 and v2).",
        "The runs ranked at different k (5 and 10).",
        "Run B (run_b) is running, not completed.",
    )


def test_the_fixture_against_a_regressed_copy() -> None:
    a = json.loads(FIXTURE.read_text())
    b = copy.deepcopy(a)
    b["run_id"] = "run_b"
    b["aggregates"]["openai:gpt-4o-mini"]["overall"]["correct"] -= 0.1
    result = compare(a, b)
    assert [m.model for m in result.models] == ["offline-extractive", "openai:gpt-4o-mini"]
    found = violations(result, parse_fail_on("correct<-0.02,ndcg@5<-0.02"))
    assert [(v.model, v.rule.metric) for v in found] == [("openai:gpt-4o-mini", "correct")]
    assert found[0].change == pytest.approx(-0.1)


def test_the_rules_in_the_docs_parse() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "evaluation-report.md").read_text()
    command = re.search(r'--fail-on "([^"]+)"', doc)
    assert command is not None
    assert [r.metric for r in parse_fail_on(command[1])] == ["correct", "ndcg@5"]
    examples = re.findall(r"^\| `([^`]+)` \| (?:correct|nDCG|citation|the|robustness)", doc, re.M)
    assert len(examples) == 7
    assert len(parse_fail_on(",".join(examples))) == 7


def test_each_delta_says_whether_run_b_improved_or_regressed() -> None:
    metrics = compare(A, B).models[0].metrics
    verdicts = {name: m.verdict for name, m in metrics.items()}
    assert verdicts["correct"] == "regressed"  # 0.80 -> 0.75
    assert verdicts["ndcg@5"] == "improved"  # 0.70 -> 0.71
    # Lower is better for the Brier score, the latency and the drift.
    assert verdicts["brier"] == "regressed"  # 0.10 -> 0.13
    assert verdicts["latency_p95_ms"] == "regressed"
    assert verdicts["answer_drift"] == "regressed"
    assert verdicts["cost_usd"] == "unchanged"
    assert verdicts["sql_match"] is None  # null in run A
    reversed_metrics = compare(B, A).models[0].metrics
    assert reversed_metrics["brier"].verdict == "improved"


async def test_compare_runs_checks_the_rules_before_reading_a_run() -> None:
    from use_cases.access.domain import Caller
    from use_cases.evaluation.compare import CompareRuns
    from use_cases.shared.errors import Forbidden, NotFound

    class Exports:
        def __init__(self) -> None:
            self.read: list[str] = []

        async def export(self, caller: Caller, run_id: str) -> dict[str, Any]:
            self.read.append(run_id)
            found = {"run_a": A, "run_b": B}.get(run_id)
            if found is None:
                raise NotFound(f"No run {run_id!r}.")
            return found

    exports = Exports()
    admin = Caller(user_id="root", role="admin", key_id=None)
    use_case = CompareRuns(exports)

    with pytest.raises(InvalidRequest):
        await use_case.execute(admin, "run_a", "run_b", "corect<0")
    assert exports.read == []
    with pytest.raises(Forbidden):
        await use_case.execute(Caller(user_id="ana", role="user", key_id=None), "run_a", "run_b")
    with pytest.raises(NotFound):
        await use_case.execute(admin, "run_a", "run_zzz")

    report = await use_case.execute(admin, "run_a", "run_b", "correct<-0.02")
    assert report.as_dict()["rules"] == ["correct<-0.02"]
    assert report.passed == (not report.violations)
