"""Ingestion of a 100-page PDF: the PDF loader alone (median of a few runs) and the whole
pipeline (load, chunk, embed, store) once, with the configured local embedder.

The PDF is the LaTeX guides corpus's pdfTeX manuals joined into one document (bookmarks,
marginal notes, hyphenation), cut at `--pages` pages.

    python -m bench.bench_pdf_ingest [--pages 100] [--runs 3]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

from pypdf import PdfReader, PdfWriter

from backend.components import LOCAL_MODEL_DIRNAME
from backend.config import Settings
from backend.features.knowledge import ingest_batch_chunks, pipeline_signature
from services.clock import SystemClock
from services.knowledge.chunking import HeadingChunker
from services.knowledge.embedders import MiniLMEmbedder
from services.knowledge.loaders import FileLoader
from services.knowledge.store import SqliteKnowledgeStore
from use_cases.knowledge.ingest import IngestDocuments, IngestPolicy, IngestRequest, IngestSource

ROOT = Path(__file__).resolve().parents[1]
GUIDES = ROOT / "sample_data/corpora/latex-guides/documents"


def joined_pdf(pages: int) -> bytes:
    """The guides' pages, in file order, as one PDF of `pages` pages (with their outlines)."""
    writer = PdfWriter()
    for path in sorted(GUIDES.glob("*.pdf")):
        if len(writer.pages) >= pages:
            break
        reader = PdfReader(path)
        writer.append(reader, pages=(0, min(pages - len(writer.pages), len(reader.pages))))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data = joined_pdf(args.pages)
    loader = FileLoader()
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        document = loader.load("guides.pdf", data)
        times.append(time.perf_counter() - started)
    print(
        f"loaded a {args.pages}-page PDF ({len(data) // 1024} KiB, {len(document.sections)} "
        f"sections) in {statistics.median(times):.2f} s (median of {args.runs})"
    )

    settings = Settings(_env_file=None)
    embedder = MiniLMEmbedder(settings.embeddings.models_dir / LOCAL_MODEL_DIRNAME)
    embedder.embed_documents(["warm up"])
    with tempfile.TemporaryDirectory(prefix="almanac-pdf-ingest-") as tmp:
        store = SqliteKnowledgeStore(Path(tmp) / "k.db")
        ingest = IngestDocuments(
            store,
            loader,
            HeadingChunker(),
            embedder,
            SystemClock(),
            pipeline_signature=pipeline_signature(settings.chunking, embedder),
            policy=IngestPolicy(embed_batch_chunks=ingest_batch_chunks(settings.embeddings)),
        )
        started = time.perf_counter()
        report = ingest.run(
            IngestRequest(sources=[IngestSource("guides.pdf", "guides.pdf", lambda: data)])
        )
        elapsed = time.perf_counter() - started
        store.close()
    print(
        f"ingested it end to end ({report.chunks_written} chunks, embedding included) "
        f"in {elapsed:.1f} s"
    )


if __name__ == "__main__":
    main()
