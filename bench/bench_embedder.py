"""Throughput and latency of the local MiniLM embedder on SciFact passages.

Run from the repository root:

    python -m bench.bench_embedder [--data ../shared/data/scifact] [--passages 2000]
    python -m bench.bench_embedder --batching [--passages 300]

Passages are cut from SciFact abstracts at 126 word pieces (128 with [CLS]/[SEP]), the
size of our retrieval chunks; queries are SciFact's claims. Bar (2 cores): >= 80 passages/s.

`--batching` measures instead what running texts in batches would give: for each
grouping, the cosine of every batched vector to the text's own (min / p1 / mean) and the
CPU time per text on one thread, against each text run alone. Passages are cut at 20 to 160
word pieces (the lengths of chunks and of scored sentences), so that lengths differ.
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

    return Settings().embeddings.models_dir


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


def batching(embedder: MiniLMEmbedder, texts: list[str], caps: list[int]) -> None:
    """Print, per grouping, CPU ms per text and the cosine of batched to one-at-a-time vectors.

    Groupings (deterministic: texts sorted by token length, then by text): `equal length`
    puts only texts of the same token count together (no padding), `sorted, padded` cuts the
    sorted list into batches and pads each to its longest text. Runs the graph directly, one
    thread, so the CPU time is the graph's own."""
    import numpy as np

    from services.knowledge.embedders.minilm import _clean

    session, tokenizer = embedder._load()  # the graph itself, outside the embedder's policy
    encodings = tokenizer.encode_batch([_clean(t) for t in texts], add_special_tokens=True)
    lengths = [len(e.ids) for e in encodings]

    def run(rows: list[int]) -> np.ndarray:
        ids = np.zeros((len(rows), max(lengths[i] for i in rows)), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, i in enumerate(rows):
            ids[row, : lengths[i]] = encodings[i].ids
            mask[row, : lengths[i]] = 1
        (vectors,) = session.run(None, {"input_ids": ids, "attention_mask": mask})
        return vectors

    def timed(groups: list[list[int]]) -> tuple[np.ndarray, float]:
        out = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
        started = time.process_time()
        for rows in groups:
            out[rows] = run(rows)
        return out, (time.process_time() - started) * 1000 / len(texts)

    order = sorted(range(len(texts)), key=lambda i: (lengths[i], texts[i]))
    run(order[:8])  # warm the kernels
    alone, alone_ms = timed([[i] for i in order])
    print(
        f"texts      {len(texts)}, {min(lengths)}-{max(lengths)} word pieces "
        f"(mean {sum(lengths) / len(lengths):.0f}), {len(set(lengths))} distinct lengths"
    )
    print(f"alone      {alone_ms:.2f} ms CPU per text")
    for cap in caps:
        same: list[list[int]] = []
        for i in order:
            if same and lengths[same[-1][0]] == lengths[i] and len(same[-1]) < cap:
                same[-1].append(i)
            else:
                same.append([i])
        padded = [order[k : k + cap] for k in range(0, len(order), cap)]
        for name, groups in (("equal length", same), ("sorted, padded", padded)):
            vectors, ms = timed(groups)
            cosines = np.sum(vectors * alone, axis=1)  # both unit rows
            print(
                f"{name:15s} <= {cap:3d} rows: {ms:6.2f} ms CPU per text "
                f"({alone_ms / ms:.2f}x), {len(groups)} runs; cosine to alone min "
                f"{cosines.min():.5f} p1 {np.percentile(cosines, 1):.5f} "
                f"mean {cosines.mean():.5f}"
            )


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
    parser.add_argument(
        "--batching", action="store_true", help="measure batched runs against one at a time"
    )
    parser.add_argument(
        "--caps", default="2,16,64", help="with --batching: the most texts a batch may hold"
    )
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

    if args.batching:
        texts = [
            passage
            for size in (18, 40, 70, 100, 158)
            for passage in load_passages(
                data / "corpus.jsonl",
                embedder.model_dir / "tokenizer.json",
                args.passages // 5,
                tokens=size,
            )
        ]
        batching(embedder, texts, [int(cap) for cap in args.caps.split(",")])
        return 0

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
