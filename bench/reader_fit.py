"""How much the trained reader should move the offline answerer's candidates: each corpus
ingested once, its split answered for every (weight, candidates read) setting.

Run from the repository root:

    python -m bench.reader_fit [--split dev] [--corpus NAME ...] [--weights 0,0.3/1,0.3/0]
        [--top 8,16]

A setting is the reader's weight (`compose.READER_WEIGHT`), optionally with the share of the
shift that reaches the evidence (`compose.READER_EVIDENCE`, default 1) and the reader's
share of the confidence (`compose.READER_CONFIDENCE`, default 0): "0.3", "0.3/0",
"0/1/0.6". Prints one row per
corpus, split and setting: right answers, cases, confidence AUROC, and the cases lost and won
against the first setting. Weight 0 is the hand-made ranking (the reader is still run). Fit
on dev only; a test split is for reporting, once. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import itertools
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


def fit(name: str, splits: list[str], settings_: list[str], tops: list[int]) -> list[str]:
    """Corpus `name` ingested once; each split answered under each setting ("weight" or
    "weight/evidence share") and number of candidates read. The first setting of a split is
    the one the others' lost and won cases are counted against."""
    rows = []
    with tempfile.TemporaryDirectory(prefix=f"almanac-fit-{name}-") as tmp:
        settings, eval_dir = eval_commands.corpus_settings(name, Path(tmp))
        cases = None if eval_dir == eval_commands.EVAL_DIR else eval_dir
        baseline: dict[str, set[str]] = {}
        with open_container(settings, with_sample=True) as container:
            for split, top, setting in itertools.product(splits, tops, settings_):
                weight, share, belief = [*setting.split("/"), "", ""][:3]
                compose.READ_TOP, compose.READER_WEIGHT = top, float(weight)
                compose.READER_EVIDENCE = float(share or 1.0)
                compose.READER_CONFIDENCE = float(belief or 0.0)
                report = eval_commands.evaluate(
                    container, f"{name}/{split}", split, None, cases, lambda _r: None
                )
                auroc = "-" if report.auroc is None else f"{report.auroc:.2f}"
                rows.append(
                    f"| {name} | {split} | {top} | {setting} | "
                    f"{report.correct}/{report.cases} | {auroc} |"
                )
                right = {r.id for r in report.results if r.correct}
                if split in baseline:
                    lost, won = sorted(baseline[split] - right), sorted(right - baseline[split])
                    print(f"  lost {lost} won {won}", flush=True)
                baseline.setdefault(split, right)
                print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="dev", help="dev, test or both: dev,test")
    parser.add_argument("--corpus", action="append")
    parser.add_argument("--weights", default="0,0.25,0.5,0.75")
    parser.add_argument("--top", default=str(compose.READ_TOP))
    args = parser.parse_args(argv)
    os.environ["ANSWER_PROCESSES"] = "false"  # the settings above apply in this process
    print("| corpus | split | read | setting | right | AUROC |\n|---|---|---|---|---|---|")
    tops = [int(t) for t in args.top.split(",")]
    for name in args.corpus or tuned_corpora():
        fit(name, args.split.split(","), args.weights.split(","), tops)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
