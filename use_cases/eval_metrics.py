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
removed), the maximum over `expect_any`, the Sources block excluded.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from use_cases import calibration_stats as stats
from use_cases.chat_domain import Source
from use_cases.evaluation import _source_matches as source_matches
from use_cases.evaluation import answer_body, is_refusal, matches_fact

if TYPE_CHECKING:
    from use_cases.eval_assertions import AssertionResult
    from use_cases.eval_domain import CaseOutcome, EvalCase

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


def normalise_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles, single spaces."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


def exact_match(answer: str, expect_any: Sequence[str]) -> float | None:
    """1.0 if the normalised answer body equals one normalised expected string, else 0.0."""
    if not expect_any:
        return None
    got = normalise_answer(answer_body(answer))
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
    got = normalise_answer(answer_body(answer)).split()
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
    """One ROW of the JSON export (see docs/evaluation.md)."""
    raise NotImplementedError


def aggregate(rows: Sequence[Mapping[str, Any]], *, k: int = 5) -> dict[str, Any]:
    """One AGG of the JSON export over rows (the caller passes clean rows of one model)."""
    raise NotImplementedError


def reliability(rows: Sequence[Mapping[str, Any]], *, bands: int = 5) -> list[dict[str, Any]]:
    """The reliability diagram's bands over clean rows with a confidence."""
    raise NotImplementedError


def robustness(rows: Sequence[Mapping[str, Any]], *, k: int = 5) -> dict[str, Any]:
    """The robustness block of one model: each perturbed row against its clean row."""
    raise NotImplementedError


_ = (stats, matches_fact, is_refusal)
