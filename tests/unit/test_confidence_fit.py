"""The confidence fitting bench: the logistic fit recovers a known model, each corpus weighs
the same, and the held-out corpus is never answered."""

from __future__ import annotations

import math
import random

import pytest

from bench.confidence_fit import fit, report, score, tuned_corpora
from services.offline.tuning import DEFAULT_TUNING


def _rows(corpus: str, n: int, bias: float, weights: dict[str, float], seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        features = {name: rng.random() for name in weights}
        logit = bias + sum(w * features[k] for k, w in weights.items())
        right = rng.random() < 1 / (1 + math.exp(-logit))
        rows.append({"corpus": corpus, "id": f"{corpus}-{i}", "correct": right, **features})
    return rows


def test_the_fit_recovers_the_model_the_answers_were_drawn_from() -> None:
    rows = _rows("a", 4000, -2.0, {"meaning": 3.0, "lexical": 1.5}, seed=1)
    bias, meaning, lexical = fit(rows, ["meaning", "lexical"], l2=0.0)
    assert abs(bias + 2.0) < 0.3 and abs(meaning - 3.0) < 0.4 and abs(lexical - 1.5) < 0.4


def test_each_corpus_weighs_the_same_however_many_answers_it_has() -> None:
    big = _rows("big", 3000, 2.0, {"meaning": 0.0}, seed=2)  # mostly right
    small = _rows("small", 300, -2.0, {"meaning": 0.0}, seed=3)  # mostly wrong
    (bias, _) = fit(big + small, ["meaning"], l2=0.0)
    # unweighted, the big corpus would pull the bias near +1.45; balanced, it sits near 0
    assert abs(bias) < 0.3


def test_the_held_out_corpus_is_not_among_those_fitted_on() -> None:
    names = tuned_corpora()
    assert "postgres-docs" not in names
    assert "handbook" in names and len(names) >= 5


def test_the_left_out_mean_is_over_the_corpora_the_reader_never_read(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = []
    for name, seed in (("handbook", 4), ("black-docs", 5), ("unseen-manual", 6)):
        for row in _rows(name, 200, -1.0, {"whole": 4.0}, seed=seed):
            in_force = dict.fromkeys(DEFAULT_TUNING.confidence.weights, 0.5)
            rows.append({**in_force, **row, "passage": 1.0, "typed": 1.0})
    report(rows, ["whole"])
    printed = capsys.readouterr().out
    assert "never read (unseen-manual):" in printed
    # the columns are the confidence as reported: never above the ceiling
    tuning = DEFAULT_TUNING.confidence
    assert max(score(r, 5.0, {"whole": 5.0}) for r in rows) <= tuning.ceiling
