"""The bundled answer-evaluation set on the offline model: a floor under the measured dev
score, so a regression in answer composition fails CI. Only `dev` runs here: `test` is read
only to report figures (docs/notes/benchmarks.md), never to tune or gate on. The floor is an
`answers` test: `make check-answers` runs it (CI too, after `make test`)."""

from __future__ import annotations

import pytest

from backend.bootstrap import Container
from backend.cli.eval_commands import EVAL_DIR, load_split
from use_cases.evaluation.answers import EvaluateAnswersRequest

# Measured on dev (836 cases, 2026-11-26): 89.4% correct, 98.1% cited, 94.4% refusal accuracy.
FLOOR_CORRECT = 0.85
FLOOR_CITED = 0.95
FLOOR_REFUSAL = 0.91


@pytest.mark.answers
@pytest.mark.slow
async def test_dev_split_answers_stay_above_the_floor(container: Container) -> None:
    cases = load_split("dev")
    report = await container.evaluation.evaluate_answers.execute(
        EvaluateAnswersRequest(cases, split="dev")
    )
    failures = "\n".join(f"{r.id}: {r.question} -> {r.answer[:200]}" for r in report.failures)
    assert report.model == "offline-extractive"
    assert report.cases == len(cases) >= 60
    assert report.accuracy is not None and report.accuracy >= FLOOR_CORRECT, failures
    assert report.cited is not None and report.cited >= FLOOR_CITED, failures
    assert report.refusal_accuracy is not None and report.refusal_accuracy >= FLOOR_REFUSAL
    assert not await container.chat.chats.list("almanac-eval")  # evaluating leaves no chats


def test_the_bundled_set_has_both_splits_and_every_kind() -> None:
    dev, test = load_split("dev"), load_split("test")
    assert len(dev) + len(test) >= 80
    assert not {c.id for c in dev} & {c.id for c in test}
    for split in (dev, test):
        assert {c.kind for c in split} == {"kb", "recency", "sql", "kb+sql", "refuse", "follow_up"}
    assert (EVAL_DIR / "README.md").is_file()
