"""End-to-end ingestion throughput: chunks/s through the real pipeline (load, chunk, embed,
write documents + sections + chunks + FTS5 + vectors, one transaction per document).

Passages are ~128 word pieces of SciFact text (read in place), one passage per document, so
each document yields one chunk; the index is written to a temporary directory.

    python -m bench.bench_ingest [--data ../shared/data/scifact] [--passages 2000]
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from pathlib import Path

from backend.components import LOCAL_MODEL_DIRNAME
from backend.config import Settings
from backend.features.knowledge import ingest_batch_chunks, pipeline_signature
from bench.bench_embedder import load_passages
from services.clock import SystemClock
from services.knowledge.chunking import HeadingChunker
from services.knowledge.embedders import MiniLMEmbedder
from services.knowledge.store import SqliteKnowledgeStore
from use_cases.knowledge.domain import ParsedDocument, ParsedSection
from use_cases.knowledge.ingest import IngestDocuments, IngestPolicy, IngestRequest, IngestSource


class PassageLoader:
    def supports(self, name: str) -> bool:
        return True

    def check(self, name: str, data: bytes) -> None:
        return None

    def load(self, name: str, data: bytes) -> ParsedDocument:
        return ParsedDocument(title=name, sections=(ParsedSection((), data.decode()),))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/scifact"))
    parser.add_argument("--passages", type=int, default=2000)
    args = parser.parse_args()
    settings = Settings(_env_file=None)
    model_dir = settings.embeddings.models_dir / LOCAL_MODEL_DIRNAME
    passages = load_passages(
        args.data / "corpus.jsonl", model_dir / "tokenizer.json", args.passages
    )
    embedder = MiniLMEmbedder(model_dir)
    embedder.embed_documents(["warm up"])
    with tempfile.TemporaryDirectory(prefix="almanac-ingest-") as tmp:
        store = SqliteKnowledgeStore(Path(tmp) / "k.db")
        ingest = IngestDocuments(
            store,
            PassageLoader(),
            # Big enough that a ~128-token passage stays one chunk.
            HeadingChunker(chunk_tokens=400, overlap_tokens=0),
            embedder,
            SystemClock(),
            pipeline_signature=pipeline_signature(settings.chunking, embedder),
            policy=IngestPolicy(embed_batch_chunks=ingest_batch_chunks(settings.embeddings)),
        )
        sources = [
            IngestSource(f"passage:{i}", f"passage-{i}", functools.partial(str.encode, p))
            for i, p in enumerate(passages)
        ]
        started = time.perf_counter()
        report = ingest.run(IngestRequest(sources=sources))
        elapsed = time.perf_counter() - started
        store.close()
    chunks = report.chunks_written
    print(f"ingested {len(passages)} documents, {chunks} chunks of ~128 tokens in {elapsed:.1f} s")
    print(f"throughput {chunks / elapsed:.1f} chunks/s end to end (embedding included)")


if __name__ == "__main__":
    main()
