"""What each of the offline answerer's checks does on every corpus: the dev split answered
with the check in force and with it switched off, one check at a time.

Run from the repository root:

    python -m bench.check_ablation [--split dev] [--corpus NAME ...] [--check NAME ...]

Each corpus is ingested alone into a fresh data directory once (as `almanac eval answers
--corpus` does) and its split answered once per check; the held-out corpora (`"held_out":
true` in corpus.json) are left out unless named with --corpus. Printed: per check and corpus,
the cases answered right with the check off minus with it on (negative: the check helps
there) and the same for refusal accuracy. The checks are switched off in this process only
(their knobs set to zero in `tuning.DEFAULT_TUNING`, or their test answering "no");
nothing is asserted, and nothing in the answerer changes.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from backend.bootstrap import Container  # noqa: E402
from backend.cli.common import open_container  # noqa: E402
from backend.cli.eval_commands import (  # noqa: E402
    EVAL_DIR,
    corpus_settings,
    evaluate,
    load_split,
)
from bench.confidence_fit import tuned_corpora  # noqa: E402
from services.offline import bar, choose, tuning  # noqa: E402
from use_cases.evaluation.answers import AnswerReport  # noqa: E402


@contextmanager
def _patched(module: object, name: str, value: object) -> Iterator[None]:
    before = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, before)


def _tuned(stage: str, **knobs: float) -> contextlib.AbstractContextManager[None]:
    """The answerer with `knobs` of `Tuning.<stage>` changed: each turn's answer context
    takes `tuning.DEFAULT_TUNING` as it is when the turn is answered."""
    knobs_now = tuning.DEFAULT_TUNING
    changed = replace(knobs_now, **{stage: replace(getattr(knobs_now, stage), **knobs)})
    return _patched(tuning, "DEFAULT_TUNING", changed)


#: Each check, and how to switch it off. The refusal checks raise the bar or refuse; the
#: ranking checks move a sentence down.
CHECKS: dict[str, Callable[[], object]] = {
    # a question word no retrieved passage and no document holds raises the bar
    "absent-term": lambda: _tuned("choose", absent_term_penalty=0.0),
    # a name that is no English word, named nowhere in the knowledge base
    "foreign-term": lambda: _tuned("choose", foreign_term_penalty=0.0),
    # a question word only one other sentence holds (and, with it, the quantity it must hold)
    "rare-term": lambda: _patched(bar, "_rare_term_elsewhere", lambda *a, **k: None),
    # "how many partitions ...": a stated quantity must count the thing asked about
    "counted-thing": lambda: _patched(choose, "counted_words", lambda question: []),
    # "the per km rate in Germany": other countries' figures do not answer
    "other-places": lambda: _patched(choose, "asked_countries", lambda question: frozenset()),
    # a quantity asked for must be stated by a chosen sentence (all quantity checks)
    "quantity-stated": lambda: _patched(choose, "asks_quantity", lambda question: False),
    # a phone number asked for must be given
    "contact-asked": lambda: _patched(choose, "_contact_asked", lambda question: None),
    # ranking: a sentence without the identifier the question names ranks lower
    "missing-identifier": lambda: _tuned("score", missing_identifier_penalty=0.0),
    # ranking: a sentence on topic only through its heading ranks lower
    "heading-only": lambda: _tuned("score", heading_only_penalty=0.0),
}


def _scores(report: AnswerReport) -> tuple[int, float]:
    return report.correct, report.refusal_accuracy or 0.0


def run(corpora: list[str], split: str, checks: list[str]) -> dict[str, dict[str, tuple]]:
    """corpus -> {"in force": (correct, refusal accuracy, cases), check: (...), ...}."""
    table: dict[str, dict[str, tuple]] = {}
    for name in corpora:
        print(f"{name} ({split})...", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix=f"almanac-{name}-") as tmp:
            settings, eval_dir = corpus_settings(name, Path(tmp))
            load_split(split, eval_dir)
            cases = None if eval_dir == EVAL_DIR else eval_dir
            with open_container(settings, with_sample=True) as container:
                label = f"{name}/{split}"
                row = {"in force": _score(container, label, split, cases)}
                for check in checks:
                    with CHECKS[check]():  # type: ignore[attr-defined]  # each check is a context manager
                        row[check] = _score(container, label, split, cases)
                table[name] = row
    return table


def _score(container: Container, label: str, split: str, cases: Path | None) -> tuple:
    report = evaluate(container, label, split, None, cases, _quiet)
    return (*_scores(report), report.cases)


def _quiet(_: object) -> None:
    return None


def print_table(table: dict[str, dict[str, tuple]], checks: list[str]) -> None:
    corpora = list(table)
    print("| check off | " + " | ".join(corpora) + " | helps on |")
    print("|---|" + "---|" * len(corpora) + "---|")
    base = {c: table[c]["in force"] for c in corpora}
    print(
        "| (all in force) | "
        + " | ".join(f"{base[c][0]}/{base[c][2]}, {base[c][1]:.3f}" for c in corpora)
        + " | |"
    )
    for check in checks:
        cells, helps = [], 0
        for c in corpora:
            correct, refusal, _ = table[c][check]
            delta = correct - base[c][0]
            helps += delta < 0
            cells.append(f"{delta:+d}, {refusal - base[c][1]:+.3f}")
        print(f"| {check} | " + " | ".join(cells) + f" | {helps} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="dev")
    parser.add_argument("--corpus", action="append", help="only these (default: all tuned)")
    parser.add_argument("--check", action="append", choices=sorted(CHECKS))
    args = parser.parse_args(argv)
    checks = args.check or list(CHECKS)
    table = run(args.corpus or tuned_corpora(), args.split, checks)
    print_table(table, checks)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
