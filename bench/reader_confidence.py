"""How much of the offline answer's confidence the trained reader should set: each corpus
ingested once, its split answered with `ConfidenceTuning.reader_share` at 0 and at 1 (a changed
`tuning.DEFAULT_TUNING`, which each turn's answer context takes), and the
confidence AUROC of every share between, mixed from the two runs.

Run from the repository root (the reader installed: `almanac model install`):

    python -m bench.reader_confidence --corpus rst-spec --corpus sqlite-docs [--split dev]

No answer changes with the share (checked: the two runs' answers are compared), so the two
runs are enough. The mix is close to, not exactly, what a share gives end to end: the caps
on an answer's confidence (a conflict, no fact of the asked kind) are applied to each run's
figure before mixing. Choose on dev splits the reader was not trained on; a test split is
for reporting, once. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import cast

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import backend.cli.eval_commands as eval_commands  # noqa: E402
from backend.cli.common import open_container  # noqa: E402
from services.offline import tuning  # noqa: E402
from use_cases.calibration.stats import auroc  # noqa: E402

#: The knobs in force, restored after each corpus.
DEFAULT = tuning.DEFAULT_TUNING

SHARES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)


def shares(name: str, split: str) -> str:
    """One row: the corpus's split, its right answers, and the AUROC at each share."""
    with tempfile.TemporaryDirectory(prefix=f"almanac-share-{name}-") as tmp:
        settings, eval_dir = eval_commands.corpus_settings(name, Path(tmp))
        settings = settings.updated(offline_reader=True)
        cases = None if eval_dir == eval_commands.EVAL_DIR else eval_dir
        runs = []
        with open_container(settings, with_sample=True) as container:
            for share in (0.0, 1.0):
                confidence = replace(DEFAULT.confidence, reader_share=share)
                tuning.DEFAULT_TUNING = replace(DEFAULT, confidence=confidence)
                report = eval_commands.evaluate(
                    container, f"{name}/{split}", split, None, cases, lambda _r: None
                )
                runs.append({r.id: r for r in report.results})
        tuning.DEFAULT_TUNING = DEFAULT
    alone, read = runs
    if any(alone[i].answer != read[i].answer for i in alone):
        raise SystemExit(f"{name}/{split}: the reader's share changed an answer")
    figures = []
    for share in SHARES:
        # `read[i].confidence` is not None by the filter (a checker narrows no indexed item)
        points = [
            (
                (1 - share) * r.confidence + share * cast(float, read[i].confidence),
                r.correct,
            )
            for i, r in alone.items()
            if not r.refused and r.confidence is not None and read[i].confidence is not None
        ]
        value = auroc(points)
        figures.append("-" if value is None else f"{value:.3f}")
    right = sum(r.correct for r in alone.values())
    return f"| {name} | {split} | {right}/{len(alone)} | " + " | ".join(figures) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", action="append", required=True)
    parser.add_argument("--split", default="dev")
    args = parser.parse_args(argv)
    os.environ["ANSWER_PROCESSES"] = "false"  # the shares above apply in this process
    print("| corpus | split | right | " + " | ".join(f"AUROC at {s}" for s in SHARES) + " |")
    print("|---" * (3 + len(SHARES)) + "|")
    for name in args.corpus:
        print(shares(name, args.split), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
