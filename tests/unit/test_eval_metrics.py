"""Evaluation metrics: hand-computed values, and the retrieval metrics against ir-measures."""

from __future__ import annotations

import math
import random
from typing import Any

import ir_measures
import pytest
from ir_measures import RR, R, Success, nDCG

from use_cases.chat.domain import Source
from use_cases.chat.prompts import NOT_FOUND_ANSWER
from use_cases.evaluation.assertions import AssertionResult
from use_cases.evaluation.domain import CaseOutcome, EvalCase
from use_cases.evaluation.metrics import (
    aggregate,
    answer_drift,
    citation_precision,
    citation_recall,
    exact_match,
    hit_at_k,
    model_aggregates,
    ndcg_at_k,
    overlap_at_k,
    recall_at_k,
    reciprocal_rank,
    score_case,
    sql_rows_match,
    token_f1,
)

ROW_KEYS = [
    "case_id", "model", "variant", "question", "kind", "dimension", "difficulty", "tags",
    "expect_any", "expect_sources", "answer", "correct", "refused", "must_refuse", "cited",
    "exact_match", "token_f1", "citation_precision", "citation_recall", "retrieved", "hit@K",
    "recall@K", "rr", "ndcg@K", "sql_match", "confidence", "confidence_raw", "judge",
    "assertions", "latency_ms", "input_tokens", "output_tokens", "cost_usd", "attempts", "error",
]  # fmt: skip
AGG_KEYS = [
    "cases", "errors", "correct", "exact_match", "token_f1", "cited", "citation_precision",
    "citation_recall", "valid_citation_rate", "refusal_accuracy", "sql_match", "hit@K",
    "recall@K", "mrr", "ndcg@K", "brier", "ece", "brier_raw", "ece_raw", "judge_correct",
    "assertions_passed", "latency_p50_ms", "latency_p95_ms", "latency_mean_ms", "input_tokens",
    "output_tokens", "cost_usd",
]  # fmt: skip


def _keys(names: list[str], k: int) -> set[str]:
    return {n.replace("@K", f"@{k}") for n in names}


# --- retrieval: by hand ---------------------------------------------------------------------


def test_retrieval_metrics_by_hand() -> None:
    ranked = ["kb/x.md", "kb/runbooks/ir.md", "kb/y.md", "kb/hr/leave.md"]
    relevant = ["runbooks/ir.md", "hr/leave.md"]
    # relevant at ranks 2 and 4
    assert hit_at_k(ranked, relevant, 1) == 0.0
    assert hit_at_k(ranked, relevant, 2) == 1.0
    assert recall_at_k(ranked, relevant, 3) == 0.5
    assert recall_at_k(ranked, relevant, 4) == 1.0
    assert reciprocal_rank(ranked, relevant) == 0.5
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3)
    assert ndcg_at_k(ranked, relevant, 5) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(ranked, relevant, 2) == pytest.approx((1 / math.log2(3)) / idcg)


def test_a_document_retrieved_twice_counts_once_at_its_first_rank() -> None:
    ranked = ["a/ir.md", "a/ir.md", "a/ir.md", "b/leave.md"]
    relevant = ["ir.md", "leave.md"]
    assert recall_at_k(ranked, relevant, 2) == 1.0  # two unique documents in the top 2
    assert ndcg_at_k(ranked, relevant, 2) == pytest.approx(1.0)


def test_paths_match_by_trailing_components_only() -> None:
    assert hit_at_k(["/srv/kb/runbooks/xir.md"], ["runbooks/ir.md"], 5) == 0.0
    assert hit_at_k(["runbooks/ir.md"], ["/runbooks/ir.md"], 5) == 1.0
    assert reciprocal_rank(["a.md", "b.md"], ["c.md"]) == 0.0
    assert ndcg_at_k([], ["c.md"], 5) == 0.0


def test_retrieval_metrics_are_undefined_without_an_expected_document() -> None:
    for metric in (hit_at_k, recall_at_k, ndcg_at_k):
        assert metric(["a.md"], [], 5) is None
        assert metric(["a.md"], ["table:directory"], 5) is None
    assert reciprocal_rank(["a.md"], ["table:directory"]) is None


# --- retrieval: against ir-measures (pytrec_eval) ------------------------------------------


def _reference(ranked: list[str], relevant: list[str], k: int) -> dict[str, float]:
    qrels = [ir_measures.Qrel("q", doc, 1) for doc in relevant]
    run = [ir_measures.ScoredDoc("q", doc, float(len(ranked) - i)) for i, doc in enumerate(ranked)]
    measures = [Success @ k, R @ k, RR, nDCG @ k]
    values = {str(m.measure): m.value for m in ir_measures.iter_calc(measures, qrels, run)}
    return {name: values.get(name, 0.0) for name in map(str, measures)}


def _ours(ranked: list[str], relevant: list[str], k: int) -> dict[str, float | None]:
    return {
        f"Success@{k}": hit_at_k(ranked, relevant, k),
        f"R@{k}": recall_at_k(ranked, relevant, k),
        "RR": reciprocal_rank(ranked, relevant),
        f"nDCG@{k}": ndcg_at_k(ranked, relevant, k),
    }


@pytest.mark.parametrize(
    ("ranked", "relevant", "k"),
    [
        (["d1", "d2", "d3"], ["d1"], 1),
        (["d1", "d2", "d3"], ["d3"], 5),
        (["d1", "d2", "d3", "d4", "d5", "d6"], ["d2", "d6"], 5),
        (["d9", "d8"], ["d1", "d2", "d3"], 3),
        (["d1", "d2", "d3"], ["d1", "d2", "d3", "d4", "d5", "d6", "d7"], 5),
    ],
)
def test_retrieval_metrics_equal_ir_measures_on_hand_made_rankings(
    ranked: list[str], relevant: list[str], k: int
) -> None:
    reference = _reference(ranked, relevant, k)
    ours = _ours(ranked, relevant, k)
    assert ours == pytest.approx(reference)


def test_retrieval_metrics_equal_ir_measures_on_random_rankings() -> None:
    rng = random.Random(9)
    docs = [f"d{i}" for i in range(30)]
    for _ in range(300):
        ranked = rng.sample(docs, rng.randint(0, 12))
        relevant = rng.sample(docs, rng.randint(1, 6))
        k = rng.choice((1, 3, 5, 10))
        assert _ours(ranked, relevant, k) == pytest.approx(_reference(ranked, relevant, k)), (
            ranked,
            relevant,
            k,
        )


# --- answers ------------------------------------------------------------------------------


def test_exact_match_normalises_like_squad_and_ignores_citations() -> None:
    assert exact_match("The Lena Hoffmann.", ["lena hoffmann"]) == 1.0
    answer = "Lena Hoffmann [1] [table: directory].\n\n**Sources**\n[1] Staff directory"
    assert exact_match(answer, ["Lena Hoffmann"]) == 1.0  # markers and Sources left out
    assert exact_match(answer, ["Lena Hoffmann Staff directory"]) == 0.0
    assert exact_match("Lena", ["Lena Hoffmann", "Hoffmann"]) == 0.0
    assert exact_match("anything", []) is None


def test_token_f1_by_hand() -> None:
    # answer tokens: kwame reports to lena hoffmann (5); expected: lena hoffmann (2); common 2
    # P = 2/5, R = 2/2, F1 = 2PR/(P+R) = 0.8/1.4
    assert token_f1("Kwame reports to Lena Hoffmann.", ["Lena Hoffmann"]) == pytest.approx(
        0.8 / 1.4
    )
    assert token_f1("Kwame reports to Lena Hoffmann.", ["Otto", "Lena Hoffmann"]) == (
        pytest.approx(0.8 / 1.4)
    )  # the best expected string counts
    assert token_f1("no idea", ["Lena Hoffmann"]) == 0.0
    assert token_f1("the", ["a"]) == 1.0  # both normalise to nothing
    assert token_f1("x", []) is None


def test_token_f1_counts_repeated_tokens_as_a_multiset() -> None:
    # answer: "5 5 minutes" (3 tokens), expected "5 minutes" (2): common = {5: 1, minutes: 1}
    # P = 2/3, R = 1, F1 = 0.8
    assert token_f1("5, 5 minutes", ["5 minutes"]) == pytest.approx(0.8)


# --- citations ----------------------------------------------------------------------------

IR = Source(1, "document", "IR", "/srv/kb/runbooks/ir.md")
LEAVE = Source(2, "document", "Leave", "/srv/kb/hr/leave.md")
DIRECTORY = Source(3, "table", "table: directory, services", "SELECT ...")


def test_citation_precision_and_recall_by_hand() -> None:
    expected = ["runbooks/ir.md", "table:directory", "policies/travel.md"]
    cited = [IR, LEAVE, DIRECTORY, IR]  # IR twice counts once
    assert citation_precision(cited, expected) == pytest.approx(2 / 3)  # IR, directory of 3
    assert citation_recall(cited, expected) == pytest.approx(2 / 3)  # travel.md missing
    assert citation_precision([], expected) is None
    assert citation_recall([], expected) == 0.0
    assert citation_precision(cited, []) is None
    assert citation_recall(cited, []) is None


# --- SQL ----------------------------------------------------------------------------------


def test_sql_rows_match_ignores_order_case_spacing_and_number_types() -> None:
    expected: list[list[Any]] = [["Lena  Hoffmann", 9], ["Otto", 2.5], [None, "0"]]
    actual = [(None, 0), ("otto", "2.50"), ("lena hoffmann", 9.0)]
    assert sql_rows_match(actual, expected)


def test_sql_rows_match_is_a_multiset_comparison() -> None:
    assert not sql_rows_match([("a",), ("a",)], [["a"]])
    assert not sql_rows_match([("a",)], [["a"], ["a"]])
    assert not sql_rows_match([("a", 1)], [["a", 2]])
    assert not sql_rows_match([(None,)], [[""]])  # NULL is not the empty string
    assert not sql_rows_match([("a", 1)], [["a"]])
    assert sql_rows_match([], [])


# --- robustness ---------------------------------------------------------------------------


def test_answer_drift_and_overlap_by_hand() -> None:
    assert answer_drift([True, True, False, False], [True, False, True, False]) == 0.5
    assert answer_drift([], []) is None
    with pytest.raises(ValueError):
        answer_drift([True], [])
    assert overlap_at_k(["a", "b", "c", "d"], ["b", "a", "x", "y"], 3) == pytest.approx(2 / 3)
    assert overlap_at_k(["a"], ["a", "b"], 5) == 0.5  # k' = min(5, max(1, 2)) = 2
    assert overlap_at_k(["a", "a", "b"], ["b", "a"], 2) == 1.0  # duplicates count once
    assert overlap_at_k([], [], 5) is None


# --- rows and aggregates ------------------------------------------------------------------

KB = EvalCase(
    "k1", "sev1 ack?", "kb", ("5 minutes",), ("runbooks/ir.md",), difficulty="easy", tags=("ir",)
)
REFUSE = EvalCase("r1", "parental leave in mars?", "refuse")
SQL = EvalCase("s1", "people in lisbon", "sql", expected_sql_rows=((9,),), dimension="tables")


def _outcome(answer: str, **kwargs: Any) -> CaseOutcome:
    return CaseOutcome(answer=answer, **kwargs)


def test_score_case_has_exactly_the_row_keys_and_scores_by_hand() -> None:
    row = score_case(
        KB,
        _outcome(
            "Acknowledge within 5 minutes [1].",
            sources=(IR,),
            retrieved=("kb/x.md", "kb/runbooks/ir.md"),
            confidence=0.8,
            confidence_raw=0.7,
            latency_ms=40,
            input_tokens=100,
            output_tokens=20,
        ),
        model="offline-extractive",
        k=3,
        assertions=[AssertionResult("contains", True, "ok")],
        cost_usd=0.0,
        attempts=2,
    )
    assert set(row) == _keys(ROW_KEYS, 3)
    assert row["correct"] is True and row["cited"] is True and row["refused"] is False
    assert row["hit@3"] == 1.0 and row["rr"] == 0.5
    assert row["recall@3"] == 1.0
    assert row["ndcg@3"] == pytest.approx(round(1 / math.log2(3), 4))
    assert row["citation_precision"] == 1.0 and row["citation_recall"] == 1.0
    assert row["exact_match"] == 0.0
    assert row["token_f1"] == pytest.approx(round(2 * (2 / 4) / (2 / 4 + 1), 4))
    assert row["dimension"] == "kb" and row["variant"] == "clean"
    assert row["sql_match"] is None and row["judge"] is None
    assert row["assertions"] == [{"type": "contains", "passed": True, "detail": "ok"}]
    assert row["attempts"] == 2 and row["error"] is None


def test_score_case_for_refusals_errors_sql_and_the_judge() -> None:
    refused = score_case(REFUSE, _outcome(NOT_FOUND_ANSWER), model="m")
    assert refused["correct"] is True and refused["refused"] and refused["must_refuse"]
    failed = score_case(KB, _outcome("5 minutes", error="The model provider is down."), model="m")
    assert failed["correct"] is False and failed["answer"] == "" and failed["refused"] is False
    sql = score_case(SQL, _outcome("Nine.", sql_rows=((9,),)), model="m")
    assert sql["correct"] is True and sql["sql_match"] is True and sql["dimension"] == "tables"
    no_rows = score_case(SQL, _outcome("Nine."), model="m")
    assert no_rows["correct"] is False and no_rows["sql_match"] is False
    judged = score_case(
        KB,
        _outcome("5 minutes"),
        model="m",
        assertions=[
            AssertionResult("llm_judge", None, "skipped: no judge model configured"),
            AssertionResult("llm_judge", False, "states 10 minutes"),
        ],
    )
    assert judged["judge"] == {"passed": False, "reason": "states 10 minutes"}


def _row(case: EvalCase, answer: str, **kwargs: object) -> dict[str, object]:
    model = str(kwargs.pop("model", "m"))
    variant = str(kwargs.pop("variant", "clean"))
    return score_case(case, _outcome(answer, **kwargs), model=model, variant=variant, k=5)


def test_aggregate_has_exactly_the_agg_keys_and_averages_by_hand() -> None:
    rows = [
        _row(KB, "5 minutes [1]", sources=(IR,), retrieved=("runbooks/ir.md",), latency_ms=10,
             confidence=0.9, confidence_raw=0.6, input_tokens=10, output_tokens=5),
        _row(KB, "9 minutes", retrieved=("x.md", "y.md", "runbooks/ir.md"), latency_ms=30,
             confidence=0.9, confidence_raw=0.6, input_tokens=10, output_tokens=5),
        _row(REFUSE, NOT_FOUND_ANSWER, latency_ms=20, confidence=0.1),
        _row(KB, "", error="down", latency_ms=0),
        _row(REFUSE, "It is 3 days.", latency_ms=50),
    ]  # fmt: skip
    agg = aggregate(rows, k=5)
    assert set(agg) == _keys(AGG_KEYS, 5)
    assert agg["cases"] == 5 and agg["errors"] == 1
    assert agg["correct"] == 0.4  # the 1st and 3rd of 5
    assert agg["refusal_accuracy"] == 0.75  # of the 4 rows without error, the last is wrong
    assert agg["cited"] == 0.5  # answered kb rows: cited, not cited
    assert agg["valid_citation_rate"] == 0.5
    assert agg["hit@5"] == pytest.approx(round(2 / 3, 4))  # the error row retrieved nothing
    assert agg["mrr"] == pytest.approx(round((1 + 1 / 3 + 0) / 3, 4))
    # Brier over rows without error: (0.9-1)^2, (0.9-0)^2, (0.1-1)^2 -> 1.63 / 3
    assert agg["brier"] == pytest.approx(round(1.63 / 3, 4))
    # raw: (0.6-1)^2 + (0.6-0)^2 = 0.52 over 2
    assert agg["brier_raw"] == pytest.approx(0.26)
    assert agg["ece_raw"] == pytest.approx(0.1)  # one band: |0.5 - 0.6|
    assert agg["latency_p50_ms"] == 20 and agg["latency_p95_ms"] == 50  # of 10, 30, 20, 50
    assert agg["latency_mean_ms"] == 27.5
    assert (agg["input_tokens"], agg["output_tokens"]) == (20, 10)
    assert agg["cost_usd"] is None and agg["judge_correct"] is None
    assert agg["sql_match"] is None and agg["assertions_passed"] is None


def test_aggregate_of_nothing_is_nulls_not_errors() -> None:
    agg = aggregate([], k=5)
    assert agg["cases"] == 0 and agg["correct"] is None and agg["latency_p50_ms"] is None


def test_assertions_passed_leaves_skipped_checks_out() -> None:
    row = score_case(
        KB,
        _outcome("5 minutes"),
        model="m",
        assertions=[
            AssertionResult("contains", True, ""),
            AssertionResult("regex", False, ""),
            AssertionResult("llm_judge", None, "skipped: no judge model configured"),
        ],
    )
    assert aggregate([row])["assertions_passed"] == 0.5


def test_model_aggregates_compares_each_perturbed_row_with_its_clean_row() -> None:
    other = EvalCase("k2", "q2", "kb", ("9 days",), ("hr/leave.md",))
    rows = [
        _row(KB, "5 minutes", retrieved=("a.md", "b.md")),
        _row(KB, "6 minutes", variant="typos", retrieved=("a.md", "c.md")),
        _row(KB, "5 minutes", variant="filler", retrieved=("a.md", "b.md")),
        _row(other, "9 days", retrieved=("hr/leave.md",)),
        _row(other, "9 days", variant="typos", retrieved=("hr/leave.md",)),
        _row(other, "", variant="filler", error="down"),  # left out of drift
        _row(KB, "6 minutes", model="other"),
    ]
    result = model_aggregates(rows, k=2)
    assert list(result) == ["m", "other"]
    mine = result["m"]
    assert mine["overall"]["cases"] == 2 and mine["overall"]["correct"] == 1.0
    assert set(mine["by_dimension"]) == {"kb"}
    assert len(mine["reliability"]) == 10
    robust = mine["robustness"]
    assert robust["perturbations"] == ["typos", "filler"]
    assert robust["answer_drift"] == pytest.approx(round(1 / 3, 4))  # 3 pairs, 1 flipped
    # overlaps: KB/typos 1/2, KB/filler 1, other/typos 1 -> 2.5 / 3
    assert robust["retrieval_overlap@2"] == pytest.approx(round(2.5 / 3, 4))
    typos = robust["by_perturbation"]["typos"]
    assert typos == {"cases": 2, "correct": 0.5, "answer_drift": 0.5, "retrieval_overlap@2": 0.75}
    filler = robust["by_perturbation"]["filler"]
    assert filler["cases"] == 2 and filler["correct"] == 0.5 and filler["answer_drift"] == 0.0
    assert result["other"]["robustness"]["answer_drift"] is None
