"""Evaluation metrics: pure functions, one definition shared by runs, report and endpoints.

Every formula is in its function's docstring and in docs/evaluation.md ("Metrics").

Retrieval (binary relevance; `ranked` = document sources in retrieval order, `relevant` = the
case's expected document sources; a ranked source matches an expected one when its path equals
it or ends with "/" + it; a document retrieved twice counts once, at its first rank; R = the
number of expected sources):
- hit@k = 1 if any of the top k is relevant, else 0
- recall@k = |relevant found in the top k| / R
- RR = 1 / rank of the first relevant document (0 when none is retrieved); MRR is its mean
- nDCG@k = DCG@k / IDCG@k, DCG@k = sum over the top k of rel_i / log2(i + 1) (i from 1),
  IDCG@k = sum_{i=1..min(R, k)} 1 / log2(i + 1)

Answers: correct as the answer evaluation decides it (`evaluation.score_case`); exact match
and token F1 as SQuAD computes them (lower case, punctuation, articles and extra spaces
removed), the maximum over `expect_any`, the Sources block and citation markers excluded.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from use_cases.calibration import stats
from use_cases.chat.citations import CITATION_MARKER, TABLE_CITATION_MARKER
from use_cases.chat.domain import Source
from use_cases.evaluation.answers import _percentile, answer_body, is_refusal, matches_fact
from use_cases.evaluation.answers import _source_matches as source_matches

if TYPE_CHECKING:
    from use_cases.evaluation.assertions import AssertionResult
    from use_cases.evaluation.domain import CaseOutcome, EvalCase

__all__ = [
    "aggregate",
    "answer_body",
    "answer_drift",
    "citation_precision",
    "citation_recall",
    "exact_match",
    "hit_at_k",
    "is_refusal",
    "ndcg_at_k",
    "overlap_at_k",
    "recall_at_k",
    "reciprocal_rank",
    "score_case",
    "source_matches",
    "sql_rows_match",
    "token_f1",
]


# --- retrieval ----------------------------------------------------------------------------------


def path_matches(expected: str, path: str) -> bool:
    """The rule of `evaluation._source_matches` for a document path."""
    path = path.replace("\\", "/")
    expected = expected.strip("/")
    return path == expected or path.endswith("/" + expected)


def _document_sources(relevant: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(r for r in relevant if not r.startswith("table:")))


def _relevance(ranked: Sequence[str], relevant: Sequence[str]) -> list[int]:
    """Per unique ranked document: the index of the expected source it matches, or -1.
    An expected source matched by an earlier document does not count again."""
    found: set[int] = set()
    out: list[int] = []
    for doc in dict.fromkeys(ranked):
        index = next(
            (i for i, e in enumerate(relevant) if i not in found and path_matches(e, doc)), -1
        )
        if index >= 0:
            found.add(index)
        out.append(index)
    return out


def hit_at_k(ranked: Sequence[str], relevant: Sequence[str], k: int) -> float | None:
    """1.0 if one of the top k documents is relevant, else 0.0; None without relevant ones."""
    docs = _document_sources(relevant)
    if not docs:
        return None
    return 1.0 if any(i >= 0 for i in _relevance(ranked, docs)[:k]) else 0.0


def recall_at_k(ranked: Sequence[str], relevant: Sequence[str], k: int) -> float | None:
    """|relevant documents in the top k| / |relevant documents|."""
    docs = _document_sources(relevant)
    if not docs:
        return None
    return sum(i >= 0 for i in _relevance(ranked, docs)[:k]) / len(docs)


def reciprocal_rank(ranked: Sequence[str], relevant: Sequence[str]) -> float | None:
    """1 / the rank of the first relevant document; 0.0 when none is ranked."""
    docs = _document_sources(relevant)
    if not docs:
        return None
    for rank, index in enumerate(_relevance(ranked, docs), 1):
        if index >= 0:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: Sequence[str], k: int) -> float | None:
    """DCG@k / IDCG@k with binary gains and a log2(rank + 1) discount."""
    docs = _document_sources(relevant)
    if not docs:
        return None
    dcg = sum(
        1.0 / math.log2(rank + 1)
        for rank, index in enumerate(_relevance(ranked, docs)[:k], 1)
        if index >= 0
    )
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(docs), k) + 1))
    return dcg / ideal


def overlap_at_k(a: Sequence[str], b: Sequence[str], k: int) -> float | None:
    """|top-k(a) ∩ top-k(b)| / k' with k' = min(k, max(|a|, |b|)) over unique documents;
    None when both lists are empty."""
    top_a = list(dict.fromkeys(a))[:k]
    top_b = list(dict.fromkeys(b))[:k]
    denominator = min(k, max(len(top_a), len(top_b)))
    if denominator == 0:
        return None
    return len(set(top_a) & set(top_b)) / denominator


# --- answers ------------------------------------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def answer_text(answer: str) -> str:
    """The answer as exact match and token F1 read it: no Sources block, no citation markers
    ([1], [table: directory])."""
    return TABLE_CITATION_MARKER.sub(" ", CITATION_MARKER.sub(" ", answer_body(answer)))


def normalise_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles, single spaces."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


def exact_match(answer: str, expect_any: Sequence[str]) -> float | None:
    """1.0 if the normalised answer body equals one normalised expected string, else 0.0."""
    if not expect_any:
        return None
    got = normalise_answer(answer_text(answer))
    return 1.0 if any(got == normalise_answer(e) for e in expect_any) else 0.0


def _f1(prediction: list[str], truth: list[str]) -> float:
    common = Counter(prediction) & Counter(truth)
    same = sum(common.values())
    if not prediction or not truth:
        return float(prediction == truth)
    if same == 0:
        return 0.0
    precision, recall = same / len(prediction), same / len(truth)
    return 2 * precision * recall / (precision + recall)


def token_f1(answer: str, expect_any: Sequence[str]) -> float | None:
    """max over expected e of F1(tokens(answer body), tokens(e)) on normalised tokens, with
    P = |common| / |answer tokens|, R = |common| / |e tokens| (multiset intersection)."""
    if not expect_any:
        return None
    got = normalise_answer(answer_text(answer)).split()
    return max(_f1(got, normalise_answer(e).split()) for e in expect_any)


# --- citations ----------------------------------------------------------------------------------


def citation_precision(cited: Sequence[Source], expected: Sequence[str]) -> float | None:
    """|cited sources matching an expected source| / |cited sources|; None when nothing is
    cited or nothing is expected."""
    unique = _unique_sources(cited)
    if not unique or not expected:
        return None
    return sum(any(source_matches(e, s) for e in expected) for s in unique) / len(unique)


def citation_recall(cited: Sequence[Source], expected: Sequence[str]) -> float | None:
    """|expected sources matched by a cited source| / |expected sources|; None when nothing
    is expected."""
    wanted = list(dict.fromkeys(expected))
    if not wanted:
        return None
    return sum(any(source_matches(e, s) for s in cited) for e in wanted) / len(wanted)


def _unique_sources(cited: Sequence[Source]) -> list[Source]:
    seen: dict[tuple[str, str, str], Source] = {}
    for s in cited:
        seen.setdefault((s.kind, s.source, s.title), s)
    return list(seen.values())


# --- SQL ----------------------------------------------------------------------------------------


def _cell(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, None)
    if isinstance(value, bool):
        return (1, float(value))
    if isinstance(value, int | float):
        return (1, round(float(value), 6))
    text = " ".join(str(value).split()).casefold()
    try:
        number = float(text.replace(",", ""))
    except ValueError:
        return (2, text)
    return (1, round(number, 6)) if math.isfinite(number) else (2, text)


def sql_rows_match(
    actual_rows: Sequence[Sequence[Any]], expected_rows: Sequence[Sequence[Any]]
) -> bool:
    """The rows as multisets are equal, in any order, after normalising each value: numbers
    (and strings that read as numbers) compare as numbers to 6 decimal places, other strings
    case- and space-insensitively, NULL only to NULL."""

    def normal(rows: Sequence[Sequence[Any]]) -> Counter[tuple[tuple[int, Any], ...]]:
        return Counter(tuple(_cell(v) for v in row) for row in rows)

    return normal(actual_rows) == normal(expected_rows)


# --- robustness ---------------------------------------------------------------------------------


def answer_drift(clean_correct: Sequence[bool], perturbed_correct: Sequence[bool]) -> float | None:
    """The share of pairs (clean, perturbed) whose correctness differs."""
    if len(clean_correct) != len(perturbed_correct):
        raise ValueError("answer_drift needs one perturbed result per clean result")
    if not clean_correct:
        return None
    return sum(c != p for c, p in zip(clean_correct, perturbed_correct, strict=True)) / len(
        clean_correct
    )


# --- rows and aggregates ------------------------------------------------------------------------


def score_case(
    case: EvalCase,
    outcome: CaseOutcome,
    *,
    model: str,
    variant: str = "clean",
    question: str | None = None,
    k: int = 5,
    judge: tuple[bool, str] | None = None,
    assertions: Sequence[AssertionResult] = (),
    cost_usd: float | None = None,
    attempts: int = 1,
) -> dict[str, Any]:
    """One ROW of the JSON export. `question` is the question as asked (the perturbed one for
    a perturbed variant); `judge` defaults to the first llm_judge assertion that ran; `correct`
    is `is_correct`'s verdict."""
    answer = outcome.answer if outcome.error is None else ""
    refused = outcome.error is None and (outcome.refused or is_refusal(answer))
    sql_match = None
    if case.expected_sql_rows is not None:
        sql_match = outcome.sql_rows is not None and sql_rows_match(
            outcome.sql_rows, case.expected_sql_rows
        )
    if judge is None:
        judged = next((a for a in assertions if a.type == "llm_judge" and not a.skipped), None)
        if judged is not None:
            judge = (bool(judged.passed), judged.detail)
    correct = outcome.error is None and is_correct(
        case, answer, refused=refused, sql_match=sql_match, assertions=assertions
    )
    ranked = outcome.retrieved
    return {
        "case_id": case.id,
        "model": model,
        "variant": variant,
        "question": case.question if question is None else question,
        "kind": case.kind,
        "dimension": case.group,
        "difficulty": case.difficulty,
        "tags": list(case.tags),
        "expect_any": list(case.expect_any),
        "expect_sources": list(case.expect_sources),
        "answer": answer,
        "correct": correct,
        "refused": refused,
        "must_refuse": case.must_refuse,
        "cited": (
            any(source_matches(e, s) for e in case.expect_sources for s in outcome.sources)
            if case.expect_sources
            else None
        ),
        "exact_match": exact_match(answer, case.expect_any),
        "token_f1": _r(token_f1(answer, case.expect_any)),
        "citation_precision": _r(citation_precision(outcome.sources, case.expect_sources)),
        "citation_recall": _r(citation_recall(outcome.sources, case.expect_sources)),
        "retrieved": list(ranked),
        f"hit@{k}": hit_at_k(ranked, case.expect_sources, k),
        f"recall@{k}": _r(recall_at_k(ranked, case.expect_sources, k)),
        "rr": _r(reciprocal_rank(ranked, case.expect_sources)),
        f"ndcg@{k}": _r(ndcg_at_k(ranked, case.expect_sources, k)),
        "sql_match": sql_match,
        "confidence": outcome.confidence,
        "confidence_raw": outcome.confidence_raw,
        "judge": None if judge is None else {"passed": judge[0], "reason": judge[1]},
        "assertions": [a.as_dict() for a in assertions],
        "latency_ms": outcome.latency_ms,
        "input_tokens": outcome.input_tokens,
        "output_tokens": outcome.output_tokens,
        "cost_usd": cost_usd,
        "attempts": attempts,
        "error": outcome.error,
    }


def is_correct(
    case: EvalCase,
    answer: str,
    *,
    refused: bool,
    sql_match: bool | None,
    assertions: Sequence[AssertionResult],
) -> bool:
    """Whether an answer that came back (no error) is correct: for a case that must be
    refused, the answer refuses; else the answer does not refuse and one of `expect_any`
    occurs in it (`evaluation.matches_fact`); a case without `expect_any` is correct when its
    SQL rows match, or else when none of its assertions failed and one passed."""
    if case.must_refuse:
        return refused
    if refused:
        return False
    if case.expect_any:
        return matches_fact(answer, case.expect_any)
    if sql_match is not None:
        return sql_match
    return all(a.passed is not False for a in assertions) and any(a.passed for a in assertions)


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _mean(values: Sequence[float | bool | None]) -> float | None:
    known = [float(v) for v in values if v is not None]
    return _r(sum(known) / len(known)) if known else None


def aggregate(rows: Sequence[Mapping[str, Any]], *, k: int = 5) -> dict[str, Any]:
    """One AGG of the JSON export over `rows` (the caller passes the clean rows of one model,
    or of one model and dimension). A rate is the mean over the rows where it is defined;
    null when it is defined for none. See docs/evaluation.md for each definition."""
    answered = [r for r in rows if r["error"] is None and not r["refused"]]
    ok = [r for r in rows if r["error"] is None]
    results = [a for r in rows for a in r["assertions"] if a["passed"] is not None]
    latencies = [int(r["latency_ms"]) for r in ok]
    costs = [r["cost_usd"] for r in rows if r["cost_usd"] is not None]

    def pairs(key: str) -> list[tuple[float, bool]]:
        return [(float(r[key]), bool(r["correct"])) for r in ok if r[key] is not None]

    return {
        "cases": len(rows),
        "errors": len(rows) - len(ok),
        "correct": _mean([r["correct"] for r in rows]),
        "exact_match": _mean([r["exact_match"] for r in rows]),
        "token_f1": _mean([r["token_f1"] for r in rows]),
        "cited": _mean([r["cited"] for r in answered if r["kind"] in ("kb", "recency")]),
        "citation_precision": _mean([r["citation_precision"] for r in rows]),
        "citation_recall": _mean([r["citation_recall"] for r in rows]),
        "valid_citation_rate": _mean([r["cited"] for r in answered]),
        "refusal_accuracy": _mean([r["refused"] == r["must_refuse"] for r in ok]),
        "sql_match": _mean([r["sql_match"] for r in rows]),
        f"hit@{k}": _mean([r.get(f"hit@{k}") for r in rows]),
        f"recall@{k}": _mean([r.get(f"recall@{k}") for r in rows]),
        "mrr": _mean([r["rr"] for r in rows]),
        f"ndcg@{k}": _mean([r.get(f"ndcg@{k}") for r in rows]),
        "brier": stats.brier_score(pairs("confidence")),
        "ece": stats.expected_calibration_error(pairs("confidence")),
        "brier_raw": stats.brier_score(pairs("confidence_raw")),
        "ece_raw": stats.expected_calibration_error(pairs("confidence_raw")),
        "judge_correct": _mean([r["judge"]["passed"] for r in rows if r["judge"] is not None]),
        "assertions_passed": _mean([a["passed"] for a in results]),
        "latency_p50_ms": _percentile(latencies, 0.5) if latencies else None,
        "latency_p95_ms": _percentile(latencies, 0.95) if latencies else None,
        "latency_mean_ms": _r(sum(latencies) / len(latencies)) if latencies else None,
        "input_tokens": sum(int(r["input_tokens"]) for r in rows),
        "output_tokens": sum(int(r["output_tokens"]) for r in rows),
        "cost_usd": round(sum(costs), 6) if costs else None,
    }


def reliability(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The reliability diagram: `calibration_stats.bands` (ten bands of width 0.1) over the
    rows without error that have a confidence, as {band, count, mean_confidence, accuracy}."""
    pairs = [
        (float(r["confidence"]), bool(r["correct"]))
        for r in rows
        if r["error"] is None and r["confidence"] is not None
    ]
    return [
        {
            "band": band.label,
            "count": band.with_feedback,
            "mean_confidence": band.mean_confidence,
            "accuracy": band.observed_accuracy,
        }
        for band in stats.bands(pairs)
    ]


def robustness(rows: Sequence[Mapping[str, Any]], *, k: int = 5) -> dict[str, Any]:
    """The robustness block of one model's rows (clean and perturbed): each perturbed row is
    paired with the clean row of its case; pairs where either row failed with an error are
    left out. answer_drift = share of pairs whose correctness differs; retrieval_overlap@k =
    mean overlap_at_k of the two retrieved lists; per perturbation, `correct` is the share of
    its rows (errors included) that are correct."""
    clean = {r["case_id"]: r for r in rows if r["variant"] == "clean"}
    perturbed = [r for r in rows if r["variant"] != "clean"]
    names = list(dict.fromkeys(r["variant"] for r in perturbed))
    overlap_key = f"retrieval_overlap@{k}"

    def block(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        paired = [
            (clean[r["case_id"]], r)
            for r in items
            if r["case_id"] in clean and r["error"] is None and clean[r["case_id"]]["error"] is None
        ]
        drift = answer_drift([c["correct"] for c, _ in paired], [p["correct"] for _, p in paired])
        overlaps = [overlap_at_k(c["retrieved"], p["retrieved"], k) for c, p in paired]
        return {"answer_drift": _r(drift), overlap_key: _mean(overlaps)}

    return {
        "perturbations": names,
        **block(perturbed),
        "by_perturbation": {
            name: {
                "cases": len(items),
                "correct": _mean([r["correct"] for r in items]),
                **block(items),
            }
            for name in names
            for items in [[r for r in perturbed if r["variant"] == name]]
        },
    }


def model_aggregates(rows: Sequence[Mapping[str, Any]], *, k: int = 5) -> dict[str, Any]:
    """The `aggregates` of the JSON export, per model: overall and per-dimension AGG over the
    clean rows, the reliability bands, and the robustness block."""
    result: dict[str, Any] = {}
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        clean = [r for r in mine if r["variant"] == "clean"]
        dimensions = dict.fromkeys(r["dimension"] for r in clean)
        result[model] = {
            "overall": aggregate(clean, k=k),
            "by_dimension": {
                d: aggregate([r for r in clean if r["dimension"] == d], k=k) for d in dimensions
            },
            "reliability": reliability(clean),
            "robustness": robustness(mine, k=k),
        }
    return result
