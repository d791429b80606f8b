"""How sure an answer is: the confidence estimator and the confidence phrases.

`estimate_confidence` turns a turn's evidence into a number in 0..1, the *raw* confidence.
It is a heuristic, not a probability; the response log measures how honest it is (observed
accuracy per band, Brier score, ECE, see `use_cases/calibration/stats.py`) and the
recalibration map (`use_cases/calibration/analytics.py`) turns it into one.

The formula (every constant is named below):

- An answer refused by the provider's content filter, or withheld: `REFUSAL_CONFIDENCE`.
- The can't-find answer (`NOT_FOUND_ANSWER`): confidence that nothing relevant exists falls as
  retrieval gets stronger: `NOT_FOUND_BASE + NOT_FOUND_SPAN * (1 - top)`, where `top` is the
  strength of the best passage retrieved in the turn (0 when nothing was retrieved). So it
  lies in 0.15..0.40: a can't-find answer is never reported as likely.
- Any other answer:
  - each cited piece of evidence has a strength in 0..1: a document passage its retrieval score
    divided by `score_ceiling` (1.0 for the default convex fusion and for reranking scores;
    `2 / (k + 1)`, the best possible score, under Reciprocal Rank Fusion), clipped; a table
    lookup `TABLE_STRENGTH` (the rows came from an exact query);
  - `support = 1 - prod(1 - SUPPORT_WEIGHT * strength)` over the cited evidence (a noisy-OR:
    each more piece of support adds, with diminishing returns; 0 when nothing is cited);
  - `focus = best cited strength / best retrieved strength` (1 when the answer cites the
    strongest passage found, less when it leans on weaker ones and ignores the best);
  - `evidence = ANSWER_FLOOR + ANSWER_SPAN * support * (FOCUS_FLOOR + (1 - FOCUS_FLOOR) * focus)`;
  - if the model reported its own confidence (the offline model does, from the evidence of the
    sentences it quotes: `services/offline/compose.py`), the estimate is that figure instead:
    the model read the passages, the retrieval scores only say how they ranked (measured on
    the corpora's evaluation sets, averaging the two separated right from wrong answers less
    well than the model's figure alone, see docs/notes/benchmarks.md);
  - if the model's answer cited passages no tool returned (removed before the answer was
    stored), the estimate is multiplied by `INVENTED_CITATION_FACTOR`: a model that invents
    sources is less to be trusted on what it says.

Properties (unit-tested): the result is in 0..1; citing one more piece of evidence, or a
cited passage scoring higher, never lowers it; a stronger passage the answer did not cite
never raises it; a can't-find answer is never above `NOT_FOUND_BASE + NOT_FOUND_SPAN`, and
gets lower as retrieval gets stronger; a higher model-reported confidence never lowers it;
an answer that invented citations is below the same answer without them.

Confidence phrases: a confidence is shown with a phrase ("very low" .. "very high") chosen by
versioned thresholds, each phrase's lower bound. The defaults (version 0) split 0..1 in fifths:
very low < 0.2 <= low < 0.4 <= moderate < 0.6 <= high < 0.8 <= very high. Those lower bounds
are also what each phrase promises (a "high" answer should be right at least 60% of the time);
auto-tuning moves the thresholds so that the promise holds on the observed feedback.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

REFUSAL_CONFIDENCE = 0.1
NOT_FOUND_BASE = 0.15
NOT_FOUND_SPAN = 0.25
TABLE_STRENGTH = 0.9
SUPPORT_WEIGHT = 0.6
ANSWER_FLOOR = 0.1
ANSWER_SPAN = 0.85
FOCUS_FLOOR = 0.5
INVENTED_CITATION_FACTOR = 0.5

PHRASES: tuple[str, ...] = ("very low", "low", "moderate", "high", "very high")
#: Lower bound of each phrase but the first, in the order of PHRASES[1:].
DEFAULT_THRESHOLDS: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8)


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence of a turn: `kind` "document" or "table", a retrieval score for a
    document passage (None when unknown)."""

    kind: str
    score: float | None = None


def as_evidence(item: Any) -> Evidence:
    """A citation (`use_cases.chat.citations.Citation`), a source as a dict
    (`ChatResult.sources`), or anything with `kind` and `score`, as `Evidence`."""
    if isinstance(item, Evidence):
        return item
    if isinstance(item, Mapping):
        kind, score = item.get("kind"), item.get("score")
    else:
        kind, score = getattr(item, "kind", None), getattr(item, "score", None)
    number = float(score) if isinstance(score, int | float) and math.isfinite(score) else None
    return Evidence(str(kind or "document"), number)


def _strength(evidence: Evidence, score_ceiling: float) -> float:
    if evidence.kind == "table":
        return TABLE_STRENGTH
    if evidence.score is None or score_ceiling <= 0:
        return 0.0
    return min(1.0, max(0.0, evidence.score / score_ceiling))


def estimate_confidence(
    cited: Iterable[Any],
    retrieved: Iterable[Any] = (),
    *,
    not_found: bool = False,
    refused: bool = False,
    model_confidence: float | None = None,
    invented_citations: int = 0,
    score_ceiling: float = 1.0,
) -> float:
    """The raw confidence of one answer, 0..1, rounded to 4 places (see the module docstring).

    `cited`: the evidence the answer cites; `retrieved`: everything the turn's tools returned
    (cited items may be repeated there or not); both take anything `as_evidence` reads.
    """
    if refused:
        return REFUSAL_CONFIDENCE
    cited_strengths = [_strength(as_evidence(c), score_ceiling) for c in cited]
    all_strengths = cited_strengths + [_strength(as_evidence(r), score_ceiling) for r in retrieved]
    top = max(all_strengths, default=0.0)
    if not_found:
        value = NOT_FOUND_BASE + NOT_FOUND_SPAN * (1.0 - top)
    else:
        support = 1.0 - math.prod(1.0 - SUPPORT_WEIGHT * s for s in cited_strengths)
        best_cited = max(cited_strengths, default=0.0)
        focus = best_cited / top if top > 0 else 0.0
        value = ANSWER_FLOOR + ANSWER_SPAN * support * (FOCUS_FLOOR + (1 - FOCUS_FLOOR) * focus)
        if model_confidence is not None and math.isfinite(model_confidence):
            value = min(1.0, max(0.0, model_confidence))
        if invented_citations > 0:
            value *= INVENTED_CITATION_FACTOR
    return round(min(1.0, max(0.0, value)), 4)


def rrf_score_ceiling(rrf_k: int | None, reranked: bool) -> float:
    """The best score a passage can have: 1.0 for convex fusion and reranking scores, 2/(k+1)
    for Reciprocal Rank Fusion of the two legs (first in both)."""
    if reranked or rrf_k is None:
        return 1.0
    return 2.0 / (rrf_k + 1)


@dataclass(frozen=True)
class PhraseThresholds:
    """The lower bound of each phrase but "very low" (ascending, in 0..1), and their version:
    0 is the built-in default, 1, 2, ... were applied by auto-tuning."""

    bounds: tuple[float, ...] = DEFAULT_THRESHOLDS
    version: int = 0
    source: str = "default"
    author: str | None = None
    created_at: datetime | None = None

    def __post_init__(self) -> None:
        if len(self.bounds) != len(PHRASES) - 1:
            raise ValueError(f"Expected {len(PHRASES) - 1} thresholds, got {len(self.bounds)}.")
        if any(not 0.0 <= b <= 1.0 for b in self.bounds) or list(self.bounds) != sorted(
            self.bounds
        ):
            raise ValueError(f"Thresholds must be ascending within 0..1: {self.bounds}.")

    def phrase_for(self, confidence: float) -> str:
        phrase = PHRASES[0]
        for name, bound in zip(PHRASES[1:], self.bounds, strict=True):
            if confidence >= bound:
                phrase = name
        return phrase

    def ranges(self) -> list[dict[str, Any]]:
        """Each phrase with the confidences it covers: `[min, max)` (the last up to 1.0)."""
        lows = (0.0, *self.bounds)
        highs = (*self.bounds, 1.0)
        return [
            {"phrase": p, "min": lo, "max": hi}
            for p, lo, hi in zip(PHRASES, lows, highs, strict=True)
        ]

    def as_dict(self) -> dict[str, float]:
        return dict(zip(PHRASES[1:], self.bounds, strict=True))


DEFAULT_PHRASES = PhraseThresholds()


def phrase_promises(thresholds: Sequence[float] = DEFAULT_THRESHOLDS) -> dict[str, float]:
    """What each phrase promises: the least observed accuracy it stands for."""
    return dict(zip(PHRASES[1:], thresholds, strict=True))
