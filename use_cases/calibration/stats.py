"""The statistics of calibration, on (confidence, outcome) pairs. Pure functions.

Definitions (N responses with feedback, confidence c_i in 0..1, outcome o_i 1 if right):
- **Brier score** = (1/N) * sum (c_i - o_i)^2. 0 is perfect; always saying 0.5 scores 0.25.
- **Bands**: ten equal-width bands of confidence, [0.0, 0.1), [0.1, 0.2), ..., [0.9, 1.0]
  (1.0 falls in the last). Per band: the responses, those with feedback, their mean confidence,
  observed accuracy (share right) and Brier score; `is_calibrated` when the mean confidence is
  within `tolerance` (default 0.1) of the observed accuracy. A band without feedback has nulls.
- **ECE** (expected calibration error) = sum over bands of (n_b / N) * |accuracy_b -
  mean confidence_b|: how far, on average over answers, stated confidence is from the truth.
- **AUROC** (area under the ROC curve) = the chance that a right response, drawn at random,
  has a higher confidence than a wrong one (ties count half): how well confidence *separates*
  right from wrong, whatever its scale. 0.5 is chance, 1.0 perfect; null without both.
- **Drift**: the ECE of each ISO week (`2026-W09`) by the response's time.

No feedback means nulls, never a division by zero. Figures are rounded to 4 places.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

BANDS = 10
DEFAULT_TOLERANCE = 0.1
#: Bands with less feedback than this are ignored when suggesting phrase thresholds.
MIN_BAND_FEEDBACK = 5

Pair = tuple[float, bool]


def _r(value: float) -> float:
    return round(value, 4)


def band_of(confidence: float) -> int:
    """0..9; the rounding keeps 0.3 in band 3 although 0.3 * 10 is 2.9999999999999996."""
    return min(BANDS - 1, max(0, math.floor(round(confidence * BANDS, 9))))


def brier_score(pairs: Sequence[Pair]) -> float | None:
    if not pairs:
        return None
    return _r(sum((c - float(o)) ** 2 for c, o in pairs) / len(pairs))


def accuracy(pairs: Sequence[Pair]) -> float | None:
    return _r(sum(o for _, o in pairs) / len(pairs)) if pairs else None


def mean_confidence(values: Sequence[float]) -> float | None:
    return _r(sum(values) / len(values)) if values else None


@dataclass(frozen=True)
class Band:
    index: int
    lower: float
    upper: float
    responses: int
    with_feedback: int
    mean_confidence: float | None
    observed_accuracy: float | None
    brier_score: float | None
    is_calibrated: bool | None

    @property
    def label(self) -> str:
        return f"{self.lower:.1f}-{self.upper:.1f}"

    @property
    def gap(self) -> float | None:
        if self.mean_confidence is None or self.observed_accuracy is None:
            return None
        return _r(abs(self.observed_accuracy - self.mean_confidence))


def bands(
    pairs: Sequence[Pair],
    all_confidences: Iterable[float] = (),
    *,
    tolerance: float = DEFAULT_TOLERANCE,
) -> list[Band]:
    """The ten bands of `pairs` (responses with feedback); `all_confidences` (every response,
    with feedback or not) only adds to the `responses` counts."""
    grouped: list[list[Pair]] = [[] for _ in range(BANDS)]
    counts = [0] * BANDS
    for c, o in pairs:
        grouped[band_of(c)].append((c, o))
    for c in all_confidences:
        counts[band_of(c)] += 1
    result = []
    for index, items in enumerate(grouped):
        mean = mean_confidence([c for c, _ in items])
        acc = accuracy(items)
        result.append(
            Band(
                index=index,
                lower=index / BANDS,
                upper=(index + 1) / BANDS,
                responses=max(counts[index], len(items)),
                with_feedback=len(items),
                mean_confidence=mean,
                observed_accuracy=acc,
                brier_score=brier_score(items),
                is_calibrated=None
                if mean is None or acc is None
                else abs(acc - mean) <= tolerance + 1e-9,
            )
        )
    return result


def expected_calibration_error(pairs: Sequence[Pair]) -> float | None:
    if not pairs:
        return None
    total = 0.0
    for band in bands(pairs):
        if band.with_feedback:
            assert band.mean_confidence is not None and band.observed_accuracy is not None
            # unrounded means, so the ECE does not carry the bands' rounding
            items = [(c, o) for c, o in pairs if band_of(c) == band.index]
            mean = sum(c for c, _ in items) / len(items)
            acc = sum(o for _, o in items) / len(items)
            total += len(items) / len(pairs) * abs(acc - mean)
    return _r(total)


def auroc(pairs: Sequence[Pair]) -> float | None:
    """See the module docstring; rank-based (Mann-Whitney U), O(n log n)."""
    right = sum(1 for _, o in pairs if o)
    wrong = len(pairs) - right
    if not right or not wrong:
        return None
    ordered = sorted(pairs, key=lambda pair: pair[0])
    rank_sum, index = 0.0, 0
    while index < len(ordered):
        end = index
        while end + 1 < len(ordered) and ordered[end + 1][0] == ordered[index][0]:
            end += 1
        mean_rank = (index + end) / 2 + 1  # tied confidences share their mean rank
        rank_sum += mean_rank * sum(1 for _, o in ordered[index : end + 1] if o)
        index = end + 1
    u = rank_sum - right * (right + 1) / 2
    return _r(u / (right * wrong))


def iso_week(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class WeekDrift:
    week: str
    responses: int
    ece: float | None
    brier_score: float | None


def weekly_drift(items: Iterable[tuple[datetime, float, bool]]) -> list[WeekDrift]:
    """ECE and Brier score per ISO week, oldest first (weeks without feedback left out)."""
    weeks: dict[str, list[Pair]] = {}
    for moment, c, o in items:
        weeks.setdefault(iso_week(moment), []).append((c, o))
    return [
        WeekDrift(week, len(pairs), expected_calibration_error(pairs), brier_score(pairs))
        for week, pairs in sorted(weeks.items())
    ]


def suggest_thresholds(
    band_list: Sequence[Band], promises: Sequence[float], *, min_feedback: int = MIN_BAND_FEEDBACK
) -> tuple[float, ...] | None:
    """Phrase lower bounds that keep each phrase's promise on the observed feedback.

    For each promised accuracy p (ascending), the bound is the lower edge of the lowest band
    from which every band with at least `min_feedback` items is right at least p of the
    time; 1.0 when no band qualifies (the phrase is then only given at confidence 1.0).
    None when no band has enough feedback to judge.
    """
    judged = [b for b in band_list if b.with_feedback >= min_feedback]
    if not judged:
        return None
    bounds = []
    for promise in promises:
        bound = 1.0
        for band in reversed(judged):
            assert band.observed_accuracy is not None
            if band.observed_accuracy + 1e-9 < promise:
                break
            bound = band.lower
        bounds.append(round(bound, 4))
    return tuple(bounds)


#: Rated answers a phrase threshold's move must rest on: those whose phrase the move changes
#: (with confidence between where the threshold is and where the feedback would put it).
MIN_MOVE_FEEDBACK = 10
#: The least room each phrase keeps (one band): thresholds rise strictly, so every phrase,
#: "very low" included, still covers some confidences.
PHRASE_GAP = 0.1


@dataclass(frozen=True)
class ThresholdMove:
    """What tuning does with one phrase's lower bound, and why."""

    phrase: str
    promise: float
    current: float
    target: float
    """Where the promise alone puts it on the feedback (`suggest_thresholds`)."""
    suggested: float
    rated: int
    """Rated answers between `current` and `target` (the answers whose phrase would change)."""
    reason: str

    @property
    def action(self) -> str:
        if self.suggested == self.current:
            return "keep"
        return "lower" if self.suggested < self.current else "raise"


def tune_thresholds(
    band_list: Sequence[Band],
    promises: Sequence[float],
    current: Sequence[float],
    names: Sequence[str],
    *,
    min_band_feedback: int = MIN_BAND_FEEDBACK,
    min_move_feedback: int = MIN_MOVE_FEEDBACK,
    gap: float = PHRASE_GAP,
) -> list[ThresholdMove] | None:
    """The phrase thresholds the feedback supports, one `ThresholdMove` per phrase; None when
    no band has `min_band_feedback` rated answers.

    1. Target: where the promise alone puts each bound (`suggest_thresholds`).
    2. Evidence: a bound moves to its target only if at least `min_move_feedback` rated
       answers lie between the two (the answers the move relabels); else it stays.
    3. Order: bounds rise by at least `gap` from `gap` up (each is raised as needed, which
       keeps every promise: a raised phrase covers only confidences that kept it), and stay
       within 1.0 (lowered from the top down only when the room runs out).
    """
    targets = suggest_thresholds(band_list, promises, min_feedback=min_band_feedback)
    if targets is None:
        return None
    chosen: list[float] = []
    reasons: list[str] = []
    rated_between: list[int] = []
    for promise, now, target in zip(promises, current, targets, strict=True):
        low, high = sorted((now, target))
        rated = sum(b.with_feedback for b in band_list if low - 1e-9 <= b.lower < high - 1e-9)
        rated_between.append(rated)
        if target == now:
            chosen.append(now)
            reasons.append(f"the feedback for its promise of {promise:.0%} puts it there")
        elif rated < min_move_feedback:
            chosen.append(now)
            reasons.append(
                f"the feedback alone would move it to {target:.2f}, but only {rated} rated "
                f"answer{'s' if rated != 1 else ''} lie between {low:.2f} and {high:.2f} "
                f"(at least {min_move_feedback} needed to move it)"
            )
        elif target < now:
            chosen.append(target)
            reasons.append(
                f"the {rated} rated answers from {target:.2f} up to {now:.2f} are right at "
                f"least {promise:.0%} of the time in every band with enough feedback"
            )
        else:
            chosen.append(target)
            reasons.append(
                f"below {target:.2f} a band with enough feedback is right less than "
                f"{promise:.0%} of the time ({rated} rated answers from {now:.2f} to "
                f"{target:.2f})"
            )
    bounds = _spread(chosen, gap)
    moves = []
    for i, (name, promise, now, target) in enumerate(
        zip(names, promises, current, targets, strict=True)
    ):
        reason = reasons[i]
        if bounds[i] > chosen[i]:
            reason += f"; raised to {bounds[i]:.2f} to stay {gap:.2f} above the phrase below"
        elif bounds[i] < chosen[i]:
            reason += f"; lowered to {bounds[i]:.2f} to leave room for the phrases above"
        moves.append(ThresholdMove(name, promise, now, target, bounds[i], rated_between[i], reason))
    return moves


def _spread(bounds: Sequence[float], gap: float) -> list[float]:
    """`bounds` raised as little as needed to rise by `gap` from `gap` up, then capped at 1.0
    from the top down (each at least `gap` below the next)."""
    spread: list[float] = []
    floor = gap
    for bound in bounds:
        spread.append(_r(max(bound, floor)))
        floor = spread[-1] + gap
    ceiling = 1.0
    for i in reversed(range(len(spread))):
        spread[i] = _r(min(spread[i], ceiling))
        ceiling = spread[i] - gap
    return spread
