"""`make test` is the inner loop; the answer-quality floors (tests marked `answers`) run as
`make check-answers`; CI runs every test (`make test SUITE=all`): the floors in the parallel
session with the rest, then the real-model tests alone, one at a time (their greedy output then
does not depend on what shares the model server), so nothing that guards answers is dropped;
the deep fuzzing run is `make fuzz`, which CI leaves out (every run fuzzes each operation a
little)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable

from _pytest.mark.structures import ParameterSet

from backend.config import PROJECT_ROOT
from tests.e2e.test_readme import _cli_examples
from tests.integration import test_answer_eval as handbook_floor
from tests.integration import test_corpus_answers as corpus_floors

#: The README's examples that evaluate answers or ingest docs/ (a minute or more each).
ANSWER_EXAMPLES = ("eval answers", "seed-from-eval", "ingest docs")


def _makefile() -> str:
    return (PROJECT_ROOT / "Makefile").read_text()


def _recipe(target: str) -> str:
    makefile = _makefile()
    found = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", makefile, flags=re.M)
    assert found, f"no `{target}` target in the Makefile"
    return found.group(1)


def _marks(test: Callable[..., object]) -> set[str]:
    return {mark.name for mark in getattr(test, "pytestmark", ())}


def _suite(name: str) -> str:
    """The marker expression `make test SUITE=name` selects, as make itself resolves it."""
    dry_run = subprocess.run(
        ["make", "-n", "--no-print-directory", "test", f"SUITE={name}"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.findall(r"-m pytest -n .* -m \"([^\"]*)\"", dry_run)
    assert len(found) == 1, dry_run
    return found[0]


def test_make_test_leaves_out_the_answer_floors_and_check_answers_runs_only_them() -> None:
    assert _suite("quick") == "not answers and not local_model"
    assert _suite("answers") == "answers"
    assert "SUITE=answers" in _recipe("check-answers")


def test_ci_runs_every_test_the_real_model_ones_last_and_alone() -> None:
    assert _suite("all") == "not local_model"  # in parallel: everything else
    dry_run = subprocess.run(
        ["make", "-n", "--no-print-directory", "test", "SUITE=all"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    runs = [line for line in dry_run.splitlines() if "-m pytest" in line]
    assert len(runs) == 2, dry_run
    assert "-p no:xdist" in runs[1] and "-m local_model" in runs[1]  # after, one at a time
    assert dry_run.index("tools/local_model.py build") < dry_run.index("-m pytest")
    assert "lint-imports" in dry_run
    assert dry_run.index("bin/mypy") < dry_run.index("-m pytest")  # the type checker, first


def test_the_real_model_tests_also_run_in_their_own_target_after_its_build() -> None:
    recipe = _recipe("test-local-model")
    assert "-m local_model" in recipe
    assert "tools/local_model.py build" in _recipe("local-model-build")
    assert re.search(r"^test-local-model: local-model-build", _makefile(), flags=re.M)


def test_ci_runs_the_readmes_test_command_over_every_test() -> None:
    steps = [
        line.strip()
        for line in (PROJECT_ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip().startswith("make ")
    ]
    assert steps == ["make test SUITE=all"]


def test_every_answer_floor_and_evaluating_readme_example_is_an_answers_test() -> None:
    assert "answers" in _marks(corpus_floors.test_each_corpus_dev_split_stays_above_its_floor)
    assert "answers" in _marks(handbook_floor.test_dev_split_answers_stay_above_the_floor)
    examples = {
        example.values[0]: {mark.name for mark in example.marks}
        if isinstance(example, ParameterSet)
        else set()
        for example in _cli_examples()
    }
    evaluating = {c for c in examples if any(part in c for part in ANSWER_EXAMPLES)}
    assert len(evaluating) >= 4
    assert {c for c, marks in examples.items() if "answers" in marks} == evaluating


def test_the_deep_fuzzing_run_is_a_target_of_its_own_that_ci_leaves_out() -> None:
    recipe = _recipe("fuzz")
    assert "tests/e2e/test_fuzz_api.py" in recipe
    assert "FUZZ_RANDOM=1" in recipe and "FUZZ_EXAMPLES=$(FUZZ_EXAMPLES)" in recipe
    assert "make fuzz" not in (PROJECT_ROOT / ".ci" / "run").read_text()
