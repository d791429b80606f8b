"""How much the trained reader should move the offline answerer's candidates: each corpus
ingested once, its split answered for every (weight, candidates read) setting.

Run from the repository root:

    python -m bench.reader_fit [--split dev] [--corpus NAME ...] [--weights 0,0.25,0.5]
        [--top 8,16]

Prints one row per corpus and setting: right answers, cases, confidence AUROC. Weight 0 is
today's hand-made ranking (the reader is still run). Fit on dev only; a test split is for
reporting the chosen setting, once. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import backend.cli.eval_commands as eval_commands  # noqa: E402
from backend.cli.common import open_container  # noqa: E402
from bench.confidence_fit import tuned_corpora  # noqa: E402
from services.offline import compose  # noqa: E402


def _floats(text: str) -> list[str]:
    return [x for x in text.split(",") if x]


def fit(name: str, split: str, weights: list[float], tops: list[int]) -> list[str]:
    rows = []
    with tempfile.TemporaryDirectory(prefix=f"almanac-fit-{name}-") as tmp:
        settings, eval_dir = eval_commands.corpus_settings(name, Path(tmp))
        cases = None if eval_dir == eval_commands.EVAL_DIR else eval_dir
        baseline: set[str] | None = None
        with open_container(settings, with_sample=True) as container:
            for top in tops:
                for weight in weights:
                    weight, _, share = str(weight).partition("/")
                    weight = float(weight)
                    compose.READER_EVIDENCE = float(share or 1.0)
                    compose.READ_TOP, compose.READER_WEIGHT = top, weight
                    report = eval_commands.evaluate(
                        container, f"{name}/{split}", split, None, cases, lambda _r: None
                    )
                    auroc = "-" if report.auroc is None else f"{report.auroc:.2f}"
                    rows.append(
                        f"| {name} | {top} | {weight}/{compose.READER_EVIDENCE} | "
                        f"{report.correct}/{report.cases} | {auroc} |"
                    )
                    right = {r.id for r in report.results if r.correct}
                    if baseline is None:
                        baseline = right
                    else:
                        print("  lost", sorted(baseline - right), "won", sorted(right - baseline))
                    print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="dev")
    parser.add_argument("--corpus", action="append")
    parser.add_argument("--weights", default="0,0.25,0.5,0.75")
    parser.add_argument("--top", default=str(compose.READ_TOP))
    args = parser.parse_args(argv)
    os.environ["ANSWER_PROCESSES"] = "false"  # the settings above apply in this process
    print("| corpus | read | weight | right | AUROC |\n|---|---|---|---|---|")
    for name in args.corpus or tuned_corpora():
        fit(name, args.split, _floats(args.weights), [int(t) for t in _floats(args.top)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
