"""A real manual ingested end to end: chunks/s from files on disk to a searchable, answerable
knowledge base, with everything the service does at ingestion (load, chunk, embed, write,
and the offline answerer's sentence vectors), into an empty data directory whose vector file
is empty too, so nothing is taken from a cache.

    python -m bench.bench_corpus_ingest [--corpus sqlite-docs] [--no-prepare]

`--no-prepare` also runs the same ingestion with PREPARE_SENTENCES=false, to show what the
sentence preparation costs on top of the chunks' own embedding.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from backend.bootstrap import bootstrap
from backend.components import build_embedder
from backend.config import Settings
from backend.sources import collect_sources
from use_cases.access.domain import CLI_ADMIN
from use_cases.knowledge.ingest import IngestRequest

CORPORA = Path(__file__).resolve().parents[1] / "sample_data" / "corpora"


def ingest_once(documents: Path, *, prepare: bool) -> tuple[int, int, float]:
    """Documents and chunks written, and the seconds the ingestion took (start-up excluded)."""
    with tempfile.TemporaryDirectory(prefix="almanac-corpus-ingest-") as tmp:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            data_dir=Path(tmp),
            embedding_provider="local",
            load_sample_data=False,
            prepare_sentences=prepare,
        )
        embedder = build_embedder(settings)
        embedder.embed_documents(["warm up"])  # the model's loading is start-up, not ingestion
        container = bootstrap(settings, embedder=embedder)
        try:
            sources = collect_sources([documents], container.knowledge.ingest)
            started = time.perf_counter()
            report = container.admin.admin_ingest.run(CLI_ADMIN, IngestRequest(sources=sources))
            elapsed = time.perf_counter() - started
        finally:
            container.close()
    if report.problems:
        raise SystemExit(f"ingestion reported problems: {report.problems}")
    written = report.count("added") + report.count("updated")
    return written, report.chunks_written, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="sqlite-docs", help="a folder of sample_data/corpora")
    parser.add_argument(
        "--no-prepare", action="store_true", help="also measure without sentence preparation"
    )
    args = parser.parse_args()
    documents = CORPORA / args.corpus / "documents"
    runs = [True, False] if args.no_prepare else [True]
    for prepare in runs:
        docs, chunks, elapsed = ingest_once(documents, prepare=prepare)
        label = "sentences prepared" if prepare else "PREPARE_SENTENCES=false"
        print(
            f"{args.corpus}: {docs} documents, {chunks} chunks in {elapsed:.1f} s: "
            f"{chunks / elapsed:.1f} chunks/s end to end ({label})"
        )


if __name__ == "__main__":
    main()
