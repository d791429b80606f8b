"""An evaluation corpus in another format answers as it does in its own: each document
converted by a Debian tool, the corpus ingested alone into a fresh data directory as
`almanac eval answers --corpus` does, and its split scored beside the original's. Printed,
never asserted (the floors of tests/integration/test_corpus_answers.py hold the originals).

    python -m bench.bench_converted_corpora --corpus black-docs --to docx
    python -m bench.bench_converted_corpora --corpus latex-guides --to scan

- `docx`, `pptx`: pandoc (Markdown, HTML or reST in; its images dropped, as a document
  exported without them). pandoc knows no MyST: a `{warning}` directive becomes code.
- `scan`: poppler's `pdftoppm -r 150 -gray -jpeg`, then `img2pdf`: an image-only PDF of
  each page, as a scanner makes; the loaders read it by OCR.

For the questions answered only in the original format, the bench also says how many of
them have an expected fact (as the scoring finds it in an answer) anywhere in the text the
loaders read from a source the question expects, once converted: a question whose fact the
conversion lost cannot be answered, one whose fact is there was lost by the answerer
(search, sections, sentences). Counts only; no question is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from backend.bootstrap import Container
from backend.cli.common import open_container, settings_for_cli
from backend.cli.eval_commands import CORPORA_DIR, corpus_report, evaluate, load_split
from use_cases.evaluation.answers import AnswerCase, AnswerReport, mentions_fact

#: pandoc's readers; Markdown without `smart`, so `--required-version` stays two hyphens (as
#: the Markdown loader reads it) instead of an en dash.
_PANDOC_INPUT = {".md": "markdown-smart", ".markdown": "markdown-smart"}
_PANDOC_INPUT |= {".html": "html", ".htm": "html"}
_PANDOC_INPUT |= {".rst": "rst", ".txt": "rst"}


def convert(source: Path, target_dir: Path, to: str) -> Path:
    """`source` converted to `to` under `target_dir` (same stem)."""
    if to == "scan":
        pages = target_dir / f".{source.stem}-pages"
        pages.mkdir()
        command = ["pdftoppm", "-r", "150", "-gray", "-jpeg", str(source), str(pages / "p")]
        subprocess.run(command, check=True)
        target = target_dir / f"{source.stem}.pdf"
        subprocess.run(
            ["img2pdf", *sorted(map(str, pages.iterdir())), "-o", str(target)], check=True
        )
        shutil.rmtree(pages)
        return target
    target = target_dir / f"{source.stem}.{to}"
    fmt = _PANDOC_INPUT[source.suffix.lower()]
    text = source.read_text(encoding="utf-8", errors="replace")
    if fmt.startswith("html"):  # pandoc's PowerPoint writer stops at an image it cannot find
        text = re.sub(r"<img\b[^>]*>", "", text, flags=re.IGNORECASE)
    subprocess.run(
        ["pandoc", "-f", fmt, "-t", to, "-o", str(target)],
        input=text.encode(),
        check=True,
        capture_output=True,
    )
    return target


class Converted(NamedTuple):
    report: AnswerReport
    seconds: float  # converting the files
    files: int  # converted
    fact_kept: dict[str, bool]  # case id -> an expected fact is in its sources' stored text


def converted_report(name: str, split: str, to: str) -> Converted:
    """The corpus `name` converted to `to`, scored on `split`, with the conversion's time,
    how many files it converted, and for each case whether its facts survived it."""
    folder = CORPORA_DIR / name
    with tempfile.TemporaryDirectory(prefix=f"almanac-{name}-{to}-") as tmp:
        documents = Path(tmp) / "documents"
        started = time.perf_counter()
        count = 0
        for source in sorted((folder / "documents").rglob("*")):
            if not source.is_file():
                continue
            target_dir = documents / source.parent.relative_to(folder / "documents")
            target_dir.mkdir(parents=True, exist_ok=True)
            wanted = to != "scan" or source.suffix.lower() == ".pdf"
            if wanted and (to == "scan" or source.suffix.lower() in _PANDOC_INPUT):
                convert(source, target_dir, to)
                count += 1
            else:
                shutil.copy2(source, target_dir / source.name)
        seconds = time.perf_counter() - started
        data = Path(tmp) / "data"
        settings = settings_for_cli().updated(
            data_dir=data,
            database_url=None,
            knowledge_db=None,
            app_db=None,
            tables_db=None,
            load_sample_data=True,
            sample_data_dir=documents,
            sample_tables_dir=folder / "tables",
            sample_lexicon_file=folder / "lexicon.json",
            lexicon_file=None,
        )
        cases = _renamed_cases(folder / "eval", Path(tmp) / "eval", to)
        loaded = load_split(split, cases)
        with open_container(settings, with_sample=True) as container:
            report = evaluate(container, f"{name}-{to}/{split}", split, None, cases, lambda _: None)
            kept = facts_kept(loaded, stored_texts(container))
        return Converted(report, seconds, count, kept)


def stored_texts(container: Container) -> dict[str, str]:
    """Each stored document's text (its sections joined), by source."""
    knowledge = container.knowledge
    texts: dict[str, str] = {}
    while True:
        page = asyncio.run(knowledge.list_documents.execute(limit=500, offset=len(texts)))
        for record in page.documents:
            detail = asyncio.run(knowledge.get_document.execute(record.id))
            texts[record.source] = "\n".join(section.text for section in detail.sections)
        if not page.documents or len(texts) >= page.total:
            return texts


def facts_kept(cases: list[AnswerCase], texts: dict[str, str]) -> dict[str, bool]:
    """For each case with facts and sources: whether one of its facts is in the stored text
    of one of the sources it expects."""
    kept = {}
    for case in cases:
        if not case.expect_any or not case.expect_sources:
            continue
        found = [
            text
            for source, text in texts.items()
            for expected in case.expect_sources
            if _same_source(source, expected)
        ]
        kept[case.id] = any(mentions_fact(text, case.expect_any) for text in found)
    return kept


def _same_source(source: str, expected: str) -> bool:
    """Whether a stored source is the one a case expects, as the scoring matches them."""
    path, expected = source.replace("\\", "/"), expected.strip("/")
    return path == expected or path.endswith("/" + expected)


def _renamed_cases(source: Path, target: Path, to: str) -> Path:
    """The corpus's cases with the sources they expect renamed as converted (`x.md` ->
    `x.docx`), so "cited" counts the converted files."""
    target.mkdir()
    for split in source.glob("*.jsonl"):
        lines = []
        for line in split.read_text(encoding="utf-8").splitlines():
            case = json.loads(line) if line.strip() else None
            if case is not None and to != "scan":
                case["expect_sources"] = [
                    _renamed(expected, to) for expected in case.get("expect_sources", [])
                ]
            lines.append(json.dumps(case) if case is not None else line)
        (target / split.name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def _renamed(path: str, to: str) -> str:
    stem, dot, suffix = path.rpartition(".")
    known = dot and f".{suffix.lower()}" in _PANDOC_INPUT
    return f"{stem}.{to}" if known else path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--to", choices=("docx", "pptx", "scan"), required=True)
    parser.add_argument("--split", default="dev")
    args = parser.parse_args()
    started = time.perf_counter()
    original = corpus_report(args.corpus, args.split)
    original_s = time.perf_counter() - started
    started = time.perf_counter()
    converted = converted_report(args.corpus, args.split, args.to)
    report, converting_s, count = converted.report, converted.seconds, converted.files
    converted_s = time.perf_counter() - started - converting_s
    print(
        f"{args.corpus} ({args.split}), {count} files converted to {args.to} "
        f"in {converting_s:.0f} s"
    )
    print(f"{'format':<10} {'correct':>8} {'cited':>6} {'refusal':>8} {'s':>6}")
    for label, found, seconds in (
        ("original", original, original_s),
        (args.to, report, converted_s),
    ):
        print(
            f"{label:<10} {found.correct:>4}/{found.cases:<3} {found.cited or 0:>6.2f} "
            f"{found.refusal_accuracy or 0:>8.2f} {seconds:>6.0f}"
        )
    print(f"difference: {report.correct - original.correct:+d} correct")
    lost = {r.id for r in report.failures} - {r.id for r in original.failures}
    gained = {r.id for r in original.failures} - {r.id for r in report.failures}
    print(f"wrong only when converted: {', '.join(sorted(lost)) or 'none'}")
    checked = [converted.fact_kept[i] for i in lost if i in converted.fact_kept]
    print(
        f"  of these, an expected fact is in the converted text of a source they expect: "
        f"{sum(checked)} of {len(checked)}"
    )
    print(f"right only when converted: {', '.join(sorted(gained)) or 'none'}")


if __name__ == "__main__":
    main()
