"""Fit the offline answer's confidence on the corpora's dev splits, and show what separates
right from wrong answers.

Run from the repository root:

    python -m bench.confidence_fit [--split dev] [--features meaning,lexical]
                                   [--save rows.json | --load rows.json] [--calibrate]

Every corpus but the held-out ones (`"held_out": true` in its corpus.json) is ingested alone
into a fresh data directory and its split answered, as `almanac eval answers --corpus` does;
for each answered case (not refused) the features of its answer
(`services.offline.confidence.confidence_features`) are recorded with whether it was right.
Printed, per corpus and for the union: how well each feature alone separates right from
wrong (AUROC), the AUROC of the confidence in force (`ConfidenceTuning.weights`), of a logistic
model of `--features` fitted on the union (L2-regularised, by Newton's method, each corpus
weighing the same) and of the same model fitted without the corpus it is scored on ("left
out": the figure to trust for documents nobody fitted on), and its coefficients: the
figures to put in `ConfidenceTuning.bias` / `weights` (services/offline/tuning.py). Each
model is scored as the confidence an answer reports (`shown_confidence`: with the trained
reader's share, the passage discount, the ceiling and the caps), and the mean "left out"
figure is printed over the corpora whose dev splits the reader never learnt from.
With `--calibrate` (on answered or `--load`ed rows), what is printed instead is whether a last
step, a Platt scaling of the confidence reported, would make its labels truer: per corpus, the
calibration error and how many answers labelled *very high* and *high* were right, in force
and through a scaling fitted on the other corpora alone (docs/tuning.md says why none is in
force).
Nothing is asserted. The held-out corpus is never read here: measure it with `almanac eval answers`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from backend.cli.eval_commands import (  # noqa: E402
    CORPORA_DIR,
    HANDBOOK,
    corpus_names,
    corpus_report,
)
from services.offline.confidence import observing_confidence, shown_confidence  # noqa: E402
from services.offline.tuning import DEFAULT_TUNING  # noqa: E402
from use_cases.calibration.stats import auroc, expected_calibration_error  # noqa: E402
from use_cases.confidence.estimator import DEFAULT_PHRASES  # noqa: E402
from use_cases.evaluation.answers import CaseResult  # noqa: E402

Row = dict[str, Any]

#: The confidence model in force.
IN_FORCE = DEFAULT_TUNING.confidence

#: The corpora whose dev splits the trained reader learnt from (docs/reader.md): its belief
#: on them is near perfect, so the AUROC of any model that mixes it in is flattering there;
#: the mean "left out" figure is taken over the other corpora.
READER_READ = frozenset({HANDBOOK, "black-docs", "latex-guides", "python-howtos"})


def tuned_corpora() -> list[str]:
    """Every corpus `--corpus` knows but those marked held out."""
    names = []
    for name in corpus_names():
        manifest = CORPORA_DIR / name / "corpus.json"
        held_out = manifest.is_file() and json.loads(manifest.read_text("utf-8")).get("held_out")
        if name != HANDBOOK and held_out:
            continue
        names.append(name)
    return names


def collect(name: str, split: str) -> list[Row]:
    """The answered cases of corpus `name`'s split: features and whether each was right.

    Cases are answered one at a time (`EVAL_CONCURRENCY=1`, set by `main`), so the last
    answer composed before a case ends is that case's own: a typo-corrected question is not
    the question the case asked, so the question cannot tell whose features they are."""
    heard: list[dict[str, float]] = []
    rows: list[Row] = []

    def on_answer(_question: str, features: dict[str, float]) -> None:
        heard[:] = [features]

    def on_case(result: CaseResult) -> None:
        features = heard.pop() if heard else None
        if features is not None and not result.refused and result.error is None:
            row = {"corpus": name, "id": result.id, "correct": result.correct, **features}
            rows.append(row | {"final": result.confidence or 0.0})

    with observing_confidence(on_answer):
        corpus_report(name, split, on_case=on_case)
    return rows


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x))))


def fit(rows: Sequence[Row], features: Sequence[str], l2: float = 0.1) -> list[float]:
    """Bias then one weight per feature: L2-regularised logistic regression (the bias is not
    penalised), by Newton's method on the 1 + k parameters. Each corpus weighs the same in
    the fit however many answers it has (the handbook's dev split is ten times the others':
    unweighted, the fit would be the handbook's)."""
    k = len(features) + 1
    weights = [0.0] * k
    xs = [[1.0, *(float(r[f]) for f in features)] for r in rows]
    ys = [1.0 if r["correct"] else 0.0 for r in rows]
    sizes = Counter(str(r["corpus"]) for r in rows)
    shares = [len(rows) / len(sizes) / sizes[str(r["corpus"])] for r in rows]
    for _ in range(50):
        grad = [l2 * w if j else 0.0 for j, w in enumerate(weights)]
        hess = [[(l2 if i == j and i else 0.0) for j in range(k)] for i in range(k)]
        for x, y, share in zip(xs, ys, shares, strict=True):
            p = _logistic(sum(w * v for w, v in zip(weights, x, strict=True)))
            for i in range(k):
                grad[i] += share * (p - y) * x[i]
                for j in range(k):
                    hess[i][j] += share * p * (1 - p) * x[i] * x[j]
        step = _solve(hess, grad)
        weights = [w - s for w, s in zip(weights, step, strict=True)]
        if max(abs(s) for s in step) < 1e-8:
            break
    return weights


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """x with a·x = b (Gaussian elimination with partial pivoting; a is small and SPD)."""
    n = len(b)
    m = [[*row, rhs] for row, rhs in zip(a, b, strict=True)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(n):
            if r != col and m[col][col]:
                factor = m[r][col] / m[col][col]
                m[r] = [a - factor * c for a, c in zip(m[r], m[col], strict=True)]
    return [m[i][n] / m[i][i] if m[i][i] else 0.0 for i in range(n)]


def score(row: Row, bias: float, weights: Mapping[str, float]) -> float:
    """The confidence the answer of `row` would report with this logistic model: mixed with
    the reader's belief, less for a lower-ranked passage, under the ceiling and the caps, as
    `services.offline.confidence.shown_confidence` computes it (the reader's share of it is
    what makes the hand-made model's own AUROC a poor guide)."""
    tuning = replace(IN_FORCE, bias=bias, weights=MappingProxyType(dict(weights)))
    return shown_confidence({k: float(v) for k, v in row.items() if k not in _NOT_FEATURES}, tuning)


_NOT_FEATURES = frozenset({"corpus", "id", "correct"})


def _auc(rows: Sequence[Row], value: str | Callable[[Row], float]) -> str:
    pairs = [(value(r) if callable(value) else float(r[value]), bool(r["correct"])) for r in rows]
    figure = auroc(pairs)
    return "n/a" if figure is None else f"{figure:.2f}"


def report(rows: Sequence[Row], features: Sequence[str]) -> None:
    coefficients = fit(rows, features)
    fitted = dict(zip(features, coefficients[1:], strict=True))
    names = sorted({str(r["corpus"]) for r in rows}, key=lambda n: (n != HANDBOOK, n))
    singles = [f for f in rows[0] if f not in ("corpus", "id", "correct")] if rows else []
    header = ["corpus", "answered", "right", "in force", "fitted", "left out", *singles]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    unseen: dict[str, float] = {}
    for name in [*names, "all"]:
        part = [r for r in rows if name in ("all", r["corpus"])]
        if name == "all":
            left_out = ""
        else:  # fitted on the other corpora only: how the model does on documents it never saw
            other = fit([r for r in rows if r["corpus"] != name], features)
            weights = dict(zip(features, other[1:], strict=True))

            def left_out_score(r: Row, b: float = other[0], w: dict[str, float] = weights) -> float:
                return score(r, b, w)

            left_out = _auc(part, left_out_score)
            if name not in READER_READ and left_out != "n/a":
                unseen[name] = float(left_out)
        cells = [
            name,
            str(len(part)),
            str(sum(bool(r["correct"]) for r in part)),
            _auc(part, lambda r: score(r, IN_FORCE.bias, dict(IN_FORCE.weights))),
            _auc(part, lambda r: score(r, coefficients[0], fitted)),
            left_out,
            *(_auc(part, f) for f in singles),
        ]
        print("| " + " | ".join(cells) + " |")
    print()
    if unseen:
        mean = sum(unseen.values()) / len(unseen)
        print(
            f"left out, mean over the dev splits the reader never read ({', '.join(unseen)}): "
            f"{mean:.3f}"
        )
    print(f"in force: bias {IN_FORCE.bias}, weights {dict(IN_FORCE.weights)}")
    print(
        f"fitted on {len(rows)} answers: bias {coefficients[0]:.2f}, weights "
        + "{"
        + ", ".join(f'"{f}": {w:.2f}' for f, w in fitted.items())
        + "}"
    )


def _shown(row: Row) -> float:
    """The confidence `row`'s answer reports with the model in force."""
    return shown_confidence(
        {k: float(v) for k, v in row.items() if k not in _NOT_FEATURES}, IN_FORCE
    )


def _logit(x: float) -> float:
    x = min(1.0 - 1e-6, max(1e-6, x))
    return math.log(x / (1.0 - x))


def fit_calibration(rows: Sequence[Row]) -> tuple[float, float]:
    """(slope, intercept) of a Platt scaling of the confidence reported, each corpus weighing
    the same (`fit` on the one feature logit(c))."""
    points = [{"corpus": r["corpus"], "correct": r["correct"], "z": _logit(_shown(r))}
              for r in rows]  # fmt: skip
    intercept, slope = fit(points, ["z"], l2=0.01)
    return slope, intercept


def calibrated(confidence: float, slope: float, intercept: float) -> float:
    """`confidence` through the Platt scaling, under the ceiling in force."""
    return min(_logistic(slope * _logit(confidence) + intercept), IN_FORCE.ceiling)


def _labels(pairs: Sequence[tuple[float, bool]]) -> str:
    """ECE, then right/answered (share) at "very high" and at "high"."""
    cells = [f"{expected_calibration_error(pairs) or 0.0:.3f}"]
    for phrase in ("very high", "high"):
        items = [o for c, o in pairs if DEFAULT_PHRASES.phrase_for(c) == phrase]
        share = f"{100 * len(items) / len(pairs):.0f}%" if pairs else "-"
        cells.append(f"{sum(items)}/{len(items)} ({share})")
    return " | ".join(cells)


def calibration_report(rows: Sequence[Row]) -> None:
    """Per corpus: ECE and the *very high* and *high* labels' precision of the confidence in
    force, and of it through a Platt scaling fitted on the other corpora alone ("left out":
    what documents nobody fitted on would get); then the scaling fitted on all of them."""
    names = sorted({str(r["corpus"]) for r in rows}, key=lambda n: (n != HANDBOOK, n))
    print("| corpus | in force: ECE | very high | high | left out: ECE | very high | high |")
    print("|---|---|---|---|---|---|---|")
    for name in [*names, "all"]:
        part = [r for r in rows if name in ("all", r["corpus"])]
        others = rows if name == "all" else [r for r in rows if r["corpus"] != name]
        slope, intercept = fit_calibration(others)
        shown = [(_shown(r), bool(r["correct"])) for r in part]
        scaled = [(calibrated(c, slope, intercept), o) for c, o in shown]
        print(f"| {name} | {_labels(shown)} | {_labels(scaled)} |")
    slope, intercept = fit_calibration(rows)
    print(
        f"\nPlatt scaling fitted on {len(rows)} answers: "
        f"slope {slope:.3f}, intercept {intercept:.3f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="dev", help="dev (default), test or all")
    parser.add_argument("--corpus", action="append", help="only these (default: all not held out)")
    parser.add_argument("--features", default=",".join(IN_FORCE.weights))
    parser.add_argument("--save", type=Path, help="write the recorded rows to this JSON file")
    parser.add_argument("--load", type=Path, help="refit on rows saved before (no answering)")
    parser.add_argument(
        "--calibrate", action="store_true", help="fit the calibration step (Platt) instead"
    )
    args = parser.parse_args(argv)
    # One case at a time, composed in this process: see `collect`.
    os.environ["EVAL_CONCURRENCY"] = "1"
    os.environ["ANSWER_PROCESSES"] = "false"
    if args.load:
        rows = json.loads(args.load.read_text(encoding="utf-8"))
    else:
        rows = []
        for name in args.corpus or tuned_corpora():
            print(f"answering {name} ({args.split})...", file=sys.stderr)
            rows.extend(collect(name, args.split))
    if args.save:
        args.save.write_text(json.dumps(rows), encoding="utf-8")
    if not rows:
        print("no answered cases")
        return 1
    if args.calibrate:
        calibration_report(rows)
        return 0
    report(rows, [f.strip() for f in args.features.split(",") if f.strip()])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
