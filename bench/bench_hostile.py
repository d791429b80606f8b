"""Hostile documents must not change the sample's answers.

    .venv/bin/python -m bench.bench_hostile [--split test|dev|all] [--json]

Ingests the bundled sample into a fresh data directory (as `almanac eval answers` does) and
scores the split's evaluation cases; then ingests the hostile corpus of
`tests/fixtures/hostile/` (an instruction to the assistant alone, facts with an instruction
paragraph inside, a document contradicting the password policy, off-topic spam, and a
near-duplicate of a sample policy) and scores them again. Printed: correct cases before and
after, the cases whose outcome changed, and what ingestion said of each hostile file.
Exit code 0 when no case changed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from backend.bootstrap import Container  # noqa: E402
from backend.cli.common import open_container  # noqa: E402
from backend.cli.eval_commands import HANDBOOK, corpus_settings, evaluate  # noqa: E402
from backend.logging import configure_logging  # noqa: E402
from use_cases.evaluation.answers import CaseResult  # noqa: E402
from use_cases.knowledge.ingest import IngestRequest, IngestSource  # noqa: E402

HOSTILE_DIR = ROOT / "tests" / "fixtures" / "hostile"
NEAR_DUPLICATE_OF = ROOT / "sample_data" / "knowledge_base" / "policies" / "remote-work-policy.md"


def hostile_sources() -> list[IngestSource]:
    """The hostile corpus as upload-like inputs (category `hostile`), the near-duplicate made
    from the sample policy it copies."""
    sources = [
        IngestSource(source=f"hostile/{p.name}", name=p.name, read=p.read_bytes)
        for p in sorted(HOSTILE_DIR.glob("*.md"))
        if p.name != "README.md"
    ]
    original = NEAR_DUPLICATE_OF.read_text(encoding="utf-8")
    copy = re.sub(r"^title: .*$", "title: Hybrid Working Guidelines", original, count=1, flags=re.M)
    copy = re.sub(r"^updated: .*$", "updated: 2024-11-01", copy, count=1, flags=re.M)
    data = copy.encode("utf-8")
    sources.append(
        IngestSource(
            source="hostile/hybrid-working.md", name="hybrid-working.md", read=lambda: data
        )
    )
    return sources


def ingest_hostile(container: Container) -> list[dict[str, Any]]:
    """Ingest the hostile corpus; what happened to each file."""
    report = container.knowledge.ingest.run(
        IngestRequest(sources=hostile_sources(), category="hostile")
    )
    return [
        {"source": item.source, "status": item.status, "error": item.error} for item in report.items
    ]


def score(container: Container, split: str) -> list[CaseResult]:
    return evaluate(container, f"{HANDBOOK}/{split}", split, None, None, lambda _: None).results


def compare(before: list[CaseResult], after: list[CaseResult]) -> list[dict[str, Any]]:
    """Cases whose outcome (correct or not) changed."""
    was = {r.id: r.correct for r in before}
    return [
        {"case": r.id, "before": was.get(r.id), "after": r.correct}
        for r in after
        if was.get(r.id) != r.correct
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=["test", "dev", "all"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory(prefix="almanac-bench-hostile-") as tmp:
        settings, _ = corpus_settings(HANDBOOK, Path(tmp))
        with open_container(settings, with_sample=True) as container:
            before = score(container, args.split)
            ingested = ingest_hostile(container)
            after = score(container, args.split)
    changed = compare(before, after)
    report = {
        "split": args.split,
        "cases": len(before),
        "correct_before": sum(r.correct for r in before),
        "correct_after": sum(r.correct for r in after),
        "changed": changed,
        "ingested": ingested,
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(
            f"handbook/{args.split}: {report['correct_before']}/{len(before)} correct before the "
            f"hostile corpus, {report['correct_after']}/{len(after)} after; "
            f"{len(changed)} cases changed"
        )
        for row in changed:
            print(f"  {row['case']}: {row['before']} -> {row['after']}")
        for item in ingested:
            print(f"  {item['status']:<8} {item['source']}  {item['error'] or ''}")
    return 0 if not changed else 1


if __name__ == "__main__":
    sys.exit(main())
