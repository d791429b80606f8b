"""Scores of one cleaning result against its task's ground truth, and their aggregates.

Rules (docs/cleaning.md gives the formulas with a worked example):
- Repairs. A cell error is repaired when its cell ends with the clean value
  (`values.same_value`); a duplicate is repaired when one copy of its group is removed. A
  change that leaves a cell's value as it was is no action at all.
  TP = errors repaired. FP = actions that repair nothing: a change on an error cell to another
  wrong value, a change on a clean cell, a removal beyond the copies of a group (the last
  copy of a row, or a row that had none). FN = errors not repaired.
  precision = TP / (TP + FP) (0 without actions), recall = TP / (TP + FN),
  F1 = 2PR / (P + R) (0 when P + R = 0).
- Corruption rate = clean cells broken / clean cells. Clean cells are the cells of the
  dirty table that hold no error, outside the inserted copies; one is broken when it ends
  with another value, or its row is removed with no copy left.
- Drift: per column of the clean table, the distance between the cleaned and the clean
  column: for `number` columns the Wasserstein-1 distance between their numbers divided by
  the clean column's range (capped at 1; missing and unreadable cells left out), else the
  Jensen-Shannon divergence (base 2, in [0, 1]) between their value frequencies (missing
  counted as a value). The drift score is the mean over columns. `drift_dirty` is the same for
  the dirty table, what a cleaner that does nothing scores.
- Aggregates over tasks micro-average: TP, FP, FN and cells are summed, then divided; the
  auditability score is the mean of the tasks' that have one (a failed task has none).
"""

from __future__ import annotations

import bisect
import itertools
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from use_cases.cleaning.domain import DIFFICULTIES, CleaningResult, Table, Task, apply
from use_cases.cleaning.values import column_kind, number, same_value


@dataclass(frozen=True)
class RepairCounts:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True)
class TaskScore:
    repairs: RepairCounts
    clean_cells: int
    broken_cells: int
    drift_score: float
    drift_dirty: float
    drift_by_column: Mapping[str, float]

    @property
    def corruption_rate(self) -> float:
        return self.broken_cells / self.clean_cells if self.clean_cells else 0.0

    def as_dict(self) -> dict[str, Any]:
        r = self.repairs
        return {
            "precision": round(r.precision, 4),
            "recall": round(r.recall, 4),
            "f1": round(r.f1, 4),
            "tp": r.tp,
            "fp": r.fp,
            "fn": r.fn,
            "corruption_rate": round(self.corruption_rate, 6),
            "clean_cells": self.clean_cells,
            "broken_cells": self.broken_cells,
            "drift_score": round(self.drift_score, 6),
            "drift_dirty": round(self.drift_dirty, 6),
            "drift_by_column": {c: round(d, 6) for c, d in self.drift_by_column.items()},
        }


def score(task: Task, result: CleaningResult) -> TaskScore:
    dirty, truth = task.dirty, task.truth
    clean_rows = truth.clean.rows
    cell_errors = {(e.row, e.column): e for e in task.truth.errors if e.column is not None}
    copies = {e.row for e in truth.errors if e.column is None}
    removed = {r.row for r in result.removals}
    changes = {
        (c.row, c.column): c.value
        for c in result.changes
        if not same_value(c.value, dirty.cell(c.row, c.column))
    }
    tp = fp = fn = 0
    broken = clean = 0
    groups: dict[int, list[int]] = defaultdict(list)
    for row, origin in enumerate(truth.origin):
        groups[origin].append(row)
    lost_rows: set[int] = set()
    for members in groups.values():
        extra = len(members) - 1
        gone = sum(1 for m in members if m in removed)
        tp += min(gone, extra)
        fp += max(0, gone - extra)
        fn += extra - min(gone, extra)
        if gone == len(members):
            lost_rows.update(members)
    for row, origin in enumerate(truth.origin):
        if row in copies:
            continue  # a copy's cells are repaired by its removal, not by changes
        for index, column in enumerate(dirty.columns):
            key = (row, column)
            final = changes.get(key, dirty.rows[row][index])
            error = cell_errors.get(key)
            if error is not None:
                repaired = row not in lost_rows and same_value(final, error.clean or "")
                tp += repaired
                fn += not repaired
                fp += key in changes and not repaired
                continue
            clean += 1
            wrong = not same_value(final, clean_rows[origin][index])
            broken += row in lost_rows or wrong
            fp += key in changes and wrong
    kinds = {c: column_kind(truth.clean.column(c)) for c in truth.clean.columns}
    drift, by_column = table_drift(apply(dirty, result), truth.clean, kinds)
    drift_dirty, _ = table_drift(dirty, truth.clean, kinds)
    return TaskScore(RepairCounts(tp, fp, fn), clean, broken, drift, drift_dirty, by_column)


# --- drift ------------------------------------------------------------------------------------


def table_drift(
    cleaned: Table, clean: Table, kinds: Mapping[str, str] | None = None
) -> tuple[float, dict[str, float]]:
    """`kinds`: each clean column's `values.column_kind` (computed when not given)."""
    by_column: dict[str, float] = {}
    for column in clean.columns:
        reference = clean.column(column)
        values = cleaned.column(column)
        kind = kinds[column] if kinds is not None else column_kind(reference)
        if kind == "number":
            by_column[column] = numeric_drift(values, reference)
        else:
            by_column[column] = jensen_shannon(Counter(values), Counter(reference))
    mean = sum(by_column.values()) / len(by_column) if by_column else 0.0
    return mean, by_column


def numeric_drift(values: Iterable[str], reference: Iterable[str]) -> float:
    u = [x for x in map(number, values) if x is not None]
    v = [x for x in map(number, reference) if x is not None]
    if not u or not v:
        return 0.0 if not u and not v else 1.0
    span = max(v) - min(v)
    distance = wasserstein_1(u, v)
    if span == 0:
        return 0.0 if distance == 0 else 1.0
    return min(1.0, distance / span)


def wasserstein_1(u: Sequence[float], v: Sequence[float]) -> float:
    """The area between the two empirical distribution functions."""
    us, vs = sorted(u), sorted(v)
    points = sorted(set(us) | set(vs))
    total = 0.0
    for left, right in itertools.pairwise(points):
        fu = bisect.bisect_right(us, left) / len(us)
        fv = bisect.bisect_right(vs, left) / len(vs)
        total += abs(fu - fv) * (right - left)
    return total


def jensen_shannon(p: Mapping[str, int], q: Mapping[str, int]) -> float:
    """Jensen-Shannon divergence, base 2, of two frequency tables (0 identical, 1 disjoint)."""
    np_, nq = sum(p.values()), sum(q.values())
    if not np_ or not nq:
        return 0.0 if np_ == nq else 1.0
    total = 0.0
    for key in set(p) | set(q):
        a, b = p.get(key, 0) / np_, q.get(key, 0) / nq
        m = (a + b) / 2
        if a:
            total += 0.5 * a * math.log2(a / m)
        if b:
            total += 0.5 * b * math.log2(b / m)
    return max(0.0, min(1.0, total))


# --- aggregates -------------------------------------------------------------------------------


def _sum(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    tp = sum(r["tp"] for r in rows)
    fp = sum(r["fp"] for r in rows)
    fn = sum(r["fn"] for r in rows)
    counts = RepairCounts(tp, fp, fn)
    clean = sum(r["clean_cells"] for r in rows)
    broken = sum(r["broken_cells"] for r in rows)
    return {
        "tasks": len(rows),
        "precision": round(counts.precision, 4),
        "recall": round(counts.recall, 4),
        "f1": round(counts.f1, 4),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "corruption_rate": round(broken / clean, 6) if clean else 0.0,
        "drift_score": _mean(r["drift_score"] for r in rows),
        "drift_dirty": _mean(r["drift_dirty"] for r in rows),
        "auditability_score": _mean(
            r["auditability_score"] for r in rows if r.get("auditability_score") is not None
        ),
        "latency_ms": _mean(r["latency_ms"] for r in rows),
        "input_tokens": sum(r["input_tokens"] for r in rows),
        "output_tokens": sum(r["output_tokens"] for r in rows),
        "cost_usd": round(sum(r["cost_usd"] for r in rows), 6),
    }


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return round(sum(values) / len(values), 6) if values else None


def model_aggregates(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per model: `overall`, `by_dimension`, `by_difficulty`, `reliability`, `robustness`.

    - reliability: `valid_rate` = tasks answered with a valid result / tasks run, and
      `f1_std` = the mean over tasks of the standard deviation of F1 across a run's repeats
      (0 with one repeat, or a deterministic cleaner).
    - robustness: F1 at each difficulty and `ratio` = F1(hard) / F1(easy) (None when easy
      F1 is 0), `drop` = F1(easy) - F1(hard).
    """
    by_model: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        by_model[row["model"]].append(row)
    out: dict[str, dict[str, Any]] = {}
    for model, mine in by_model.items():
        scored = [r for r in mine if r.get("tp") is not None]
        dims: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        levels: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        repeats: dict[str, list[float]] = defaultdict(list)
        for r in scored:
            dims[r["dimension"]].append(r)
            levels[r["difficulty"]].append(r)
            repeats[r["task_id"]].append(r["f1"])
        by_difficulty = {d: _sum(levels[d]) for d in DIFFICULTIES if levels.get(d)}
        easy = by_difficulty.get("easy", {}).get("f1")
        hard = by_difficulty.get("hard", {}).get("f1")
        valid = sum(1 for r in mine if r.get("valid"))
        out[model] = {
            "overall": _sum(scored),
            "by_dimension": {d: _sum(rs) for d, rs in dims.items()},
            "by_difficulty": by_difficulty,
            "reliability": {
                "tasks": len(mine),
                "valid": valid,
                "valid_rate": round(valid / len(mine), 4) if mine else 0.0,
                "repeats": max((len(v) for v in repeats.values()), default=0),
                "f1_std": _mean(
                    statistics.pstdev(v) if len(v) > 1 else 0.0 for v in repeats.values()
                ),
            },
            "robustness": {
                "f1_by_difficulty": {d: a["f1"] for d, a in by_difficulty.items()},
                "ratio": round(hard / easy, 4) if easy and hard is not None else None,
                "drop": round(easy - hard, 4) if easy is not None and hard is not None else None,
            },
        }
    return out
