"""Where the offline answerer's misses lie: for every case it got wrong, whether the sentence
holding the expected fact was among the candidate sentences it ranked, and at which place.

Run from the repository root:

    python -m bench.miss_anatomy [--split dev] [--corpus NAME ...] [--corpora-dir DIR]

Every corpus but the held-out ones (as `bench.confidence_fit`) is ingested alone into a fresh
data directory and its split answered, one case at a time, as `almanac eval answers --corpus`
does. For each question the answerer's ranked candidate sentences are heard
(`services.offline.candidates.observing_candidates`); a candidate holds the fact when one of the
case's `expect_any` facts matches it as an answer quotes it (`Unit.shown`, with its code), by
the rule that scores answers (`matches_fact`). Printed, per corpus, counts only (never a
question's or an answer's text, so the bench can run over check sets that must stay unseen):

- answerable cases: right; wrong or refused with the fact in no retrieved passage ("not
  retrieved"), in a passage but in no candidate sentence ("no candidate": the shortlist left
  it out, or no one sentence states it), in the first candidate, in the 2nd-3rd, the
  4th-10th, or further down;
- must-refuse cases: refused (right) or answered.

"first" means the ranking was right and the composition or the bar was not; "2nd-10th" that
a better ranking of the same candidates would have found it; "not retrieved" that search
must improve, not the answerer.
`--corpora-dir` reads corpora laid out as `sample_data/corpora/` (documents/, eval/) from
another folder, such as check sets kept outside the repository. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import backend.cli.eval_commands as eval_commands  # noqa: E402
from bench.confidence_fit import tuned_corpora  # noqa: E402
from services.offline.candidates import observing_candidates  # noqa: E402
from services.offline.score import Scored  # noqa: E402
from use_cases.evaluation.answers import AnswerCase, CaseResult, matches_fact  # noqa: E402

#: The places a fact can stand among the ranked candidates, as (label, last place or None).
PLACES: tuple[tuple[str, int | None], ...] = (
    ("first", 1),
    ("2nd-3rd", 3),
    ("4th-10th", 10),
    ("further", None),
)
COLUMNS = (
    "answerable",
    "right",
    "not retrieved",
    "no candidate",
    *(label for label, _ in PLACES),
    "must refuse",
    "refused",
)


def fact_place(case: AnswerCase, scored: Sequence[Scored]) -> int | None:
    """The 1-based place of the first candidate holding one of the case's facts, or None; a
    candidate is read as an answer would quote it (`Unit.shown`: with its term and its code)."""
    for place, item in enumerate(scored, start=1):
        if matches_fact(item.unit.shown, case.expect_any):
            return place
    return None


def place_label(place: int | None, retrieved: bool = True) -> str:
    """The column a miss goes in: "not retrieved" or "no candidate" when no candidate holds
    the fact (`retrieved`: whether a retrieved passage does), else the band of `PLACES`
    holding `place`."""
    if place is None:
        return "no candidate" if retrieved else "not retrieved"
    for label, last in PLACES:
        if last is None or place <= last:
            return label
    raise AssertionError("the last band is open")


def classify(
    case: AnswerCase,
    result: CaseResult,
    scored: Sequence[Scored],
    passages: Sequence[str] = (),
) -> list[str]:
    """The columns one case counts in (`passages`: the retrieved passages' texts)."""
    if case.must_refuse:
        return ["must refuse", *(["refused"] if result.correct else [])]
    if result.correct:
        return ["answerable", "right"]
    retrieved = any(matches_fact(text, case.expect_any) for text in passages)
    return ["answerable", place_label(fact_place(case, scored), retrieved)]


def anatomy(name: str, split: str) -> Counter[str]:
    """Corpus `name`'s `split` answered, its cases counted by `classify`."""
    folder = eval_commands.corpus_eval_dir(name)
    cases = {case.id: case for case in eval_commands.load_split(split, folder) if case.id}
    heard: list[tuple[Sequence[Scored], Sequence[str]]] = []
    counts: Counter[str] = Counter()

    def on_candidates(
        _question: str, scored: Sequence[Scored], passages: Sequence[str], _texts: Sequence[str]
    ) -> None:
        heard[:] = [(scored, passages)]

    def on_case(result: CaseResult) -> None:
        # One case at a time (`main`): the last ranking heard is this case's own question's.
        scored, passages = heard.pop() if heard else ((), ())
        case = cases.get(result.id)
        if case is not None:
            counts.update(classify(case, result, scored, passages))

    with observing_candidates(on_candidates):
        eval_commands.corpus_report(name, split, on_case=on_case)
    return counts


def table(counts: Mapping[str, Counter[str]]) -> str:
    """A Markdown table: one row per corpus and one for all of them."""
    total: Counter[str] = Counter()
    for row in counts.values():
        total.update(row)
    lines = [
        "| corpus | " + " | ".join(COLUMNS) + " |",
        "|---|" + "---|" * len(COLUMNS),
    ]
    for name, row in [*counts.items(), ("all", total)]:
        lines.append(f"| {name} | " + " | ".join(str(row[c]) for c in COLUMNS) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="dev", help="dev (default), test or all")
    parser.add_argument("--corpus", action="append", help="only these (default: all not held out)")
    parser.add_argument(
        "--corpora-dir", type=Path, help="read corpora from this folder (default: the bundled)"
    )
    args = parser.parse_args(argv)
    # One case at a time, composed in this process: see `anatomy`.
    os.environ["EVAL_CONCURRENCY"] = "1"
    os.environ["ANSWER_PROCESSES"] = "false"
    if args.corpora_dir is not None:
        eval_commands.CORPORA_DIR = args.corpora_dir.resolve()
    names = args.corpus or tuned_corpora()
    counts: dict[str, Counter[str]] = {}
    for name in names:
        print(f"answering {name} ({args.split})...", file=sys.stderr)
        counts[name] = anatomy(name, args.split)
    print(table(counts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
