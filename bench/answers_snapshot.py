"""Record the offline answerer's answers on every corpus, and check that two records match.

Run from the repository root:

    python -m bench.answers_snapshot record before.json [--corpus NAME ...] [--split dev test]
    python -m bench.answers_snapshot compare before.json after.json

`record` ingests each corpus alone into a fresh data directory (as `almanac eval answers
--corpus` does), answers its splits and writes, per corpus, split and case, the exact answer
text, its confidence and its sources, with the split's score (cases right, AUROC, wrong
answers at 0.9 or more). `compare` says which answers differ, byte for byte: a change meant
to keep the answers (moving a knob into `Tuning`) must print none. It takes minutes (every
corpus is ingested), so it is a bench, never a test. Nothing is asserted besides the exit
status of `compare` (1 when an answer differs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from backend.bootstrap import load_sample_data_if_empty  # noqa: E402
from backend.cli.common import open_container  # noqa: E402
from backend.cli.eval_commands import (  # noqa: E402
    EVAL_DIR,
    corpus_names,
    corpus_settings,
    evaluate,
    load_split,
)
from use_cases.evaluation.answers import CaseResult  # noqa: E402

#: A wrong answer at this confidence or more is the failure the confidence must avoid.
OVERCONFIDENT = 0.9


def _quiet(result: CaseResult) -> None:
    return None


def _split_record(results: list[CaseResult], report: Any) -> dict[str, Any]:
    wrong = [r.confidence for r in results if not r.correct and r.confidence is not None]
    return {
        "correct": report.correct,
        "cases": report.cases,
        "auroc": report.auroc,
        "wrong_at_0_9": sum(c >= OVERCONFIDENT for c in wrong),
        "latency_p50_ms": report.latency_p50_ms,
        "answers": {
            r.id: {
                "answer": r.answer,
                "confidence": r.confidence,
                "sources": list(r.sources),
                "correct": r.correct,
                "error": r.error,
            }
            for r in results
        },
    }


def record_corpus(name: str, splits: list[str]) -> dict[str, Any]:
    """Corpus `name` ingested once, each of `splits` answered."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix=f"almanac-snap-{name}-") as tmp:
        settings, eval_dir = corpus_settings(name, Path(tmp))
        with open_container(settings) as container:
            loaded = load_sample_data_if_empty(container)
            if loaded is not None and loaded.answers_job is not None:
                asyncio.run(container.knowledge.prepare_answers.wait(loaded.answers_job))
            cases = None if eval_dir == EVAL_DIR else eval_dir
            for split in splits:
                load_split(split, eval_dir)
                results: list[CaseResult] = []
                report = evaluate(container, f"{name}/{split}", split, None, cases, results.append)
                out[split] = _split_record(results, report)
                print(
                    f"{name:14} {split:4} {report.correct}/{report.cases} "
                    f"AUROC {report.auroc if report.auroc is None else round(report.auroc, 3)} "
                    f"wrong>=0.9 {out[split]['wrong_at_0_9']} p50 {report.latency_p50_ms} ms",
                    flush=True,
                )
    return out


def record(path: Path, corpora: list[str], splits: list[str]) -> int:
    data: dict[str, Any] = {}
    for name in corpora:
        data[name] = record_corpus(name, splits)
        path.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


def compare(before_path: Path, after_path: Path) -> int:
    before = json.loads(before_path.read_text(encoding="utf-8"))
    after = json.loads(after_path.read_text(encoding="utf-8"))
    differing = 0
    for corpus, splits in before.items():
        for split, record_ in splits.items():
            other = after.get(corpus, {}).get(split)
            if other is None:
                print(f"{corpus}/{split}: missing from {after_path}")
                differing += 1
                continue
            for case, answer in record_["answers"].items():
                new = other["answers"].get(case)
                keys = ("answer", "confidence", "sources")
                if new is None or any(answer[k] != new[k] for k in keys):
                    differing += 1
                    print(f"{corpus}/{split} {case}: differs")
    print(f"{differing} answers differ")
    return 1 if differing else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("record", help="answer every corpus and write the answers")
    rec.add_argument("path", type=Path)
    rec.add_argument("--corpus", action="append", help="one corpus (repeatable); default all")
    rec.add_argument("--split", nargs="+", default=["dev", "test"], choices=["dev", "test"])
    cmp = commands.add_parser("compare", help="which answers differ between two records")
    cmp.add_argument("before", type=Path)
    cmp.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    if args.command == "record":
        return record(args.path, args.corpus or corpus_names(), args.split)
    return compare(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
