"""A real manual ingested end to end: chunks/s from files on disk to a searchable, then an
answerable knowledge base, with everything the service does at ingestion (load, chunk,
embed, write, and the offline answerer's sentence vectors), into an empty data directory
whose vector file is empty too, so nothing is taken from a cache.

    python -m bench.bench_corpus_ingest [--corpus sqlite-docs] [--no-prepare] [--unsigned-weights]

Two moments are timed from the start of the run: **searchable**, when the ingest returns
(every chunk embedded and committed: search finds the documents), and **answer-ready**, when
the background job that prepares the offline answerer's sentence vectors is done (questions
then embed only themselves; before that they are answered the same, embedding their hits'
sentences). `--no-prepare` also runs the same ingestion with PREPARE_SENTENCES=false, where
searchable is the whole of it. `--unsigned-weights` also runs each with the local embedder's
graph as installed, never with its signed-weights twin (`signed_weights.py`: the same vectors,
less CPU where the CPU has VNNI), to compare the two on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from backend.bootstrap import bootstrap
from backend.components import build_embedder
from backend.config import Settings
from backend.sources import collect_sources
from services.knowledge.embedders import MiniLMEmbedder
from use_cases.access.domain import CLI_ADMIN
from use_cases.knowledge.ingest import IngestRequest

CORPORA = Path(__file__).resolve().parents[1] / "sample_data" / "corpora"


@dataclass(frozen=True)
class Timing:
    documents: int
    chunks: int
    searchable_s: float
    answer_ready_s: float | None
    searchable_cpu_s: float
    answer_ready_cpu_s: float | None


def cpu_seconds() -> float:
    """CPU seconds of this process so far (every thread: the embedder's, the answer
    preparation's): what the work cost, less sensitive than wall time to a machine shared
    with other work. The parses run in the fork server's children and are not counted."""
    return time.process_time()


def ingest_once(documents: Path, *, prepare: bool, signed: bool = True) -> Timing:
    """Documents and chunks written, and when they were searchable and answer-ready
    (seconds from the start of the ingestion; start-up excluded)."""
    with tempfile.TemporaryDirectory(prefix="almanac-corpus-ingest-") as tmp:
        settings = Settings(
            _env_file=None,
            data_dir=Path(tmp),
            embedding_provider="local",
            load_sample_data=False,
            prepare_sentences=prepare,
        )
        embedder = build_embedder(settings)
        if not signed:
            assert isinstance(embedder, MiniLMEmbedder)
            embedder = MiniLMEmbedder(embedder.model_dir, signed_weights=False)
        embedder.embed_documents(["warm up"])  # the model's loading is start-up, not ingestion
        container = bootstrap(settings, embedder=embedder)
        try:
            sources = collect_sources([documents], container.knowledge.ingest)
            started, cpu = time.perf_counter(), cpu_seconds()
            report = container.admin.admin_ingest.run(CLI_ADMIN, IngestRequest(sources=sources))
            searchable = time.perf_counter() - started
            searchable_cpu = cpu_seconds() - cpu
            answer_ready = answer_ready_cpu = None
            if report.answers_job is not None:
                status = asyncio.run(container.knowledge.prepare_answers.wait(report.answers_job))
                if status != "done":
                    raise SystemExit(f"the answer preparation ended {status}")
                answer_ready = time.perf_counter() - started
                answer_ready_cpu = cpu_seconds() - cpu
        finally:
            container.close()
    if report.problems:
        raise SystemExit(f"ingestion reported problems: {report.problems}")
    written = report.count("added") + report.count("updated")
    return Timing(
        written, report.chunks_written, searchable, answer_ready, searchable_cpu, answer_ready_cpu
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="sqlite-docs", help="a folder of sample_data/corpora")
    parser.add_argument(
        "--no-prepare", action="store_true", help="also measure without sentence preparation"
    )
    parser.add_argument(
        "--unsigned-weights",
        action="store_true",
        help="also measure with the local embedder's graph as installed (no signed weights)",
    )
    args = parser.parse_args()
    documents = CORPORA / args.corpus / "documents"
    preparing = [True, False] if args.no_prepare else [True]
    weights = [True, False] if args.unsigned_weights else [True]
    for prepare in preparing:
        for signed in weights:
            report(
                args.corpus, prepare, signed, ingest_once(documents, prepare=prepare, signed=signed)
            )


def report(corpus: str, prepare: bool, signed: bool, timing: Timing) -> None:
    label = "sentences prepared" if prepare else "PREPARE_SENTENCES=false"
    if not signed:
        label += ", unsigned weights"
    chunks = timing.chunks
    print(
        f"{corpus} ({label}): {timing.documents} documents, {chunks} chunks; "
        f"searchable in {timing.searchable_s:.1f} s ({chunks / timing.searchable_s:.1f} "
        f"chunks/s, {timing.searchable_cpu_s:.1f} CPU s)"
        + (
            f", answer-ready in {timing.answer_ready_s:.1f} s "
            f"({chunks / timing.answer_ready_s:.1f} chunks/s, "
            f"{timing.answer_ready_cpu_s or 0:.1f} CPU s)"
            if timing.answer_ready_s is not None
            else ""
        )
    )


if __name__ == "__main__":
    main()
