"""Throughput and latency of the local MiniLM embedder on SciFact passages.

Run from the repository root:

    python -m bench.bench_embedder [--data ../shared/data/scifact] [--passages 2000]

Passages are cut from SciFact abstracts at 126 word pieces (128 with [CLS]/[SEP]), the
size of our retrieval chunks; queries are SciFact's claims. Bar (2 cores): >= 80 passages/s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from services.knowledge.embedders.minilm import MiniLMEmbedder  # noqa: E402
from services.knowledge.embedders.minilm_build import MODEL_FILE  # noqa: E402

DEFAULT_DATA = Path("/work/shared/data/scifact")
FALLBACK_DATA = REPO_ROOT.parent / "shared" / "data" / "scifact"


def _default_models_dir() -> Path:
    """MODELS_DIR as the app resolves it (environment, .env, default cache folder)."""
    from backend.config import Settings

    return Settings().models_dir


def load_passages(corpus: Path, tokenizer_path: Path, n: int, tokens: int = 126) -> list[str]:
    """First `n` windows of `tokens` word pieces from the corpus, cut at token boundaries."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    passages: list[str] = []
    with corpus.open(encoding="utf-8") as handle:
        for line in handle:
            doc = json.loads(line)
            text = f"{doc.get('title', '')}\n{doc.get('text', '')}".strip()
            offsets = tokenizer.encode(text, add_special_tokens=False).offsets
            for start in range(0, len(offsets), tokens):
                window = offsets[start : start + tokens]
                if len(window) < tokens // 2:
                    break
                passages.append(text[window[0][0] : window[-1][1]])
                if len(passages) >= n:
                    return passages
    return passages


def load_queries(path: Path, n: int) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line, _ in zip(handle, range(n), strict=False)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=None, help=f"SciFact folder (default {DEFAULT_DATA})"
    )
    parser.add_argument("--models-dir", type=Path, default=None, help="default: MODELS_DIR")
    parser.add_argument("--model-file", default=MODEL_FILE, help="ONNX file in the model folder")
    parser.add_argument("--passages", type=int, default=2000, help="passages to embed")
    parser.add_argument("--queries", type=int, default=200, help="queries to time one by one")
    parser.add_argument("--threads", type=int, default=None, help="texts at once (CPUs)")
    args = parser.parse_args(argv)

    data = args.data or (DEFAULT_DATA if DEFAULT_DATA.is_dir() else FALLBACK_DATA)
    embedder = MiniLMEmbedder(
        args.models_dir or _default_models_dir(),
        threads=args.threads,
        model_file=args.model_file,
    )
    started = time.perf_counter()
    embedder.warm_up()
    load_s = time.perf_counter() - started

    passages = load_passages(
        data / "corpus.jsonl", embedder.model_dir / "tokenizer.json", args.passages
    )
    queries = load_queries(data / "queries.jsonl", args.queries)
    embedder.embed_documents(passages[:64])  # warm the kernels

    started, cpu_started = time.perf_counter(), time.process_time()
    vectors = embedder.embed_documents(passages)
    doc_s, doc_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started

    for query in queries[:10]:
        embedder.embed_query(query)
    latencies: list[float] = []
    for query in queries:
        t0 = time.perf_counter()
        embedder.embed_query(query)
        latencies.append((time.perf_counter() - t0) * 1000)
    cuts = statistics.quantiles(latencies, n=100)

    threads = args.threads or "all"
    print(f"model      {embedder.model_dir / args.model_file}")
    print(f"setup      {os.cpu_count()} CPUs, {threads} threads, each text on its own")
    print(f"load       {load_s * 1000:.0f} ms")
    print(
        f"passages   {len(passages)} x ~128 tokens in {doc_s:.2f} s: "
        f"{len(passages) / doc_s:.1f} passages/s "
        f"({len(passages) / doc_cpu_s:.1f} per CPU-second; CPU busy {doc_cpu_s / doc_s:.2f} cores)"
    )
    print(f"queries    {len(latencies)}: p50 {cuts[49]:.2f} ms, p95 {cuts[94]:.2f} ms")
    print(f"vectors    {vectors.shape} {vectors.dtype}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
