"""Search latency at 10k and 100k chunks: BM25-only, vector-only and hybrid, p50/p95.

    .venv/bin/python bench/bench_search.py                      # 10k and 100k chunks
    .venv/bin/python bench/bench_search.py --sizes 10000 --queries 100
    .venv/bin/python bench/bench_search.py --sizes 100000 --results .bench/top5.json  # same hits?

Corpus: synthetic chunks of ~95 words (~128 tokens) recombined from SciFact abstracts (read in
place from ../shared/data/scifact, never copied): each chunk is a run of sentences from one
abstract (at least 60% of its words) filled up with sentences from another, titled like the
first. Four chunks make a document (two sections of two chunks), with one of five categories.

Vectors (say which in any report): with `--vectors pool` (the default when the local MiniLM
model is installed) every SciFact abstract is embedded once with MiniLM, and a synthetic chunk
gets the normalised mix of its two source abstracts' vectors (weighted by their share of the
words) plus small Gaussian noise; queries are the real MiniLM embeddings of the SciFact
claims. With `--vectors random` chunk and query vectors are random unit vectors (latency is
the same; the binary shortlist's recall is then a worst case).

With `--collections N` the documents are spread over N collections (document i in collection
i mod N) and a reader of 3 of them searches beside the unfiltered search of the same run: its
p50 against the unfiltered one, and its recall@10 against an exact filtered search (the same
scope, each leg exhaustive: FTS5 without a posting budget, every vector scored), and the
machine's load average; `bench/bench_pg_search.py --collections N` does the same on
PostgreSQL (`compare_scoped` is shared). The vectors are synthetic either way (pooled or
random, never each chunk embedded): fit for latency, not for retrieval quality.

Latency excludes the query embedding (queries are embedded up front) and is measured after
one warm-up pass over the queries (the stem and frequency caches are then warm, as in a
running server). Databases are cached under .bench/ (gitignored); `--rebuild` recreates them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.knowledge.hybrid import HybridRetriever  # noqa: E402
from services.knowledge.lexical import LexicalSearcher  # noqa: E402
from services.knowledge.retrieval import SqliteHybridRetriever  # noqa: E402
from services.knowledge.store import SqliteKnowledgeStore  # noqa: E402
from services.knowledge.vector_index import ResidentVectors  # noqa: E402
from use_cases.knowledge.domain import DocumentDraft, EmbeddingInfo, SectionDraft  # noqa: E402
from use_cases.knowledge.scope import ReadScope  # noqa: E402

DIM = 384
CATEGORIES = ("biology", "medicine", "chemistry", "genetics", "other")
CHUNK_WORDS = 95
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(])")


def load_scifact(data: Path) -> tuple[list[dict[str, str]], list[str]]:
    corpus = [json.loads(line) for line in (data / "corpus.jsonl").open(encoding="utf-8")]
    queries = [json.loads(line)["text"] for line in (data / "queries.jsonl").open(encoding="utf-8")]
    return corpus, queries


def synthetic_chunks(
    corpus: list[dict[str, str]], count: int, seed: int = 0
) -> list[tuple[str, str, int, int, float]]:
    """(title, text, abstract A, abstract B, share of A's words)."""
    rng = random.Random(seed)
    sentences = [[s for s in _SENTENCE.split(d["text"]) if s.strip()] for d in corpus]
    chunks: list[tuple[str, str, int, int, float]] = []
    while len(chunks) < count:
        a = rng.randrange(len(corpus))
        if not sentences[a]:
            continue
        start = rng.randrange(len(sentences[a]))
        parts: list[str] = []
        words_a = 0
        for sentence in sentences[a][start:]:
            if words_a >= CHUNK_WORDS * 0.6:
                break
            parts.append(sentence)
            words_a += len(sentence.split())
        b = rng.randrange(len(corpus))
        words_b = 0
        while words_a + words_b < CHUNK_WORDS and sentences[b]:
            sentence = sentences[b][rng.randrange(len(sentences[b]))]
            parts.append(sentence)
            words_b += len(sentence.split())
        share = words_a / max(1, words_a + words_b)
        chunks.append((corpus[a]["title"], " ".join(parts), a, b, share))
    return chunks


def embed_pool(
    corpus: list[dict[str, str]], queries: list[str], models_dir: Path, cache: Path
) -> tuple[np.ndarray, np.ndarray]:
    pool_file, query_file = cache / "pool-abstracts.npy", cache / "pool-queries.npy"
    if pool_file.exists() and query_file.exists():
        return np.load(pool_file), np.load(query_file)
    from services.knowledge.embedders.minilm import MiniLMEmbedder

    embedder = MiniLMEmbedder(models_dir)
    print(f"embedding {len(corpus)} abstracts and {len(queries)} queries once (MiniLM)...")
    started = time.perf_counter()
    pool = np.asarray(embedder.embed_documents([f"{d['title']}\n{d['text']}" for d in corpus]))
    query_vectors = np.asarray(embedder.embed_documents(queries))
    print(f"  done in {time.perf_counter() - started:.0f} s")
    np.save(pool_file, pool)
    np.save(query_file, query_vectors)
    return pool, query_vectors


def chunk_vectors(
    chunks: Sequence[tuple[str, str, int, int, float]], pool: np.ndarray | None, seed: int
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if pool is None:
        vectors = rng.standard_normal((len(chunks), DIM)).astype(np.float32)
    else:
        a = np.array([c[2] for c in chunks])
        b = np.array([c[3] for c in chunks])
        share = np.array([c[4] for c in chunks], dtype=np.float32)[:, None]
        vectors = share * pool[a] + (1 - share) * pool[b]
        vectors += rng.normal(0, 0.02, vectors.shape).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def build(
    path: Path, corpus: list[dict[str, str]], size: int, pool: np.ndarray | None, model: str
) -> None:
    if path.exists():
        return
    print(f"building {path.name}: {size} chunks ...", flush=True)
    started = time.perf_counter()
    tmp = path.with_suffix(".tmp")
    for leftover in tmp.parent.glob(tmp.name + "*"):
        leftover.unlink()
    store = SqliteKnowledgeStore(tmp)
    store.check_embedding(EmbeddingInfo(model, DIM))
    chunks = synthetic_chunks(corpus, size)
    vectors = chunk_vectors(chunks, pool, seed=size)
    for doc, start in enumerate(range(0, size, 4)):
        group = chunks[start : start + 4]
        sections = tuple(
            SectionDraft(
                heading_path=(f"Part {i // 2 + 1}",),
                text=" ".join(c[1] for c in group[i : i + 2]),
                chunks=tuple(c[1] for c in group[i : i + 2]),
            )
            for i in range(0, len(group), 2)
        )
        draft = DocumentDraft(
            source=f"synthetic/{doc:06d}.txt",
            content_hash=str(doc),
            title=group[0][0],
            category=CATEGORIES[doc % len(CATEGORIES)],
            updated_at=None,
            media_type="text/plain",
            size_bytes=sum(len(c[1]) for c in group),
            sections=sections,
        )
        store.save_document(draft, vectors[start : start + len(group)])
    for table in ("chunks_fts", "sections_fts"):
        store.connection().execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")
    store.close()
    for suffix in ("-wal", "-shm"):
        leftover = Path(str(tmp) + suffix)
        if leftover.exists():
            leftover.unlink()
    tmp.rename(path)
    print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)


def timed(fn: Callable[[int], object], n: int) -> list[float]:
    for i in range(n):  # warm-up pass: caches as in a running server
        fn(i)
    out = []
    for i in range(n):
        started = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - started) * 1000)
    return out


def report(name: str, ms: list[float]) -> None:
    ordered = sorted(ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(
        f"  {name:<34} p50 {statistics.median(ms):7.2f} ms   p95 {p95:7.2f} ms   "
        f"mean {statistics.fmean(ms):7.2f} ms"
    )


def overlap(a: Sequence[int], b: Sequence[int]) -> float:
    return len(set(a) & set(b)) / max(1, len(b))


def top_hits(
    retriever: SqliteHybridRetriever, queries: list[str], query_vectors: np.ndarray
) -> list[list[str]]:
    """Each query's hybrid top 5, unfiltered and with the benchmark's category filter: every
    field a hit shows (ids, texts, scores, highlight), to compare two versions of the code."""
    results = []
    for i, query in enumerate(queries):
        for category in (None, CATEGORIES[i % len(CATEGORIES)]):
            hits = retriever.search_with_vector(query, query_vectors[i], 5, category)
            results.append([repr(hit) for hit in hits])
    return results


def check_results(path: Path, results: list[list[str]]) -> None:
    """Write `results` to `path`, or, when it exists, compare them with it (exit 1 if any
    query's top 5 differ)."""
    if not path.exists():
        path.write_text(json.dumps(results))
        print(f"  top-5 hits of {len(results)} searches written to {path}")
        return
    expected = json.loads(path.read_text())
    same = sum(a == b for a, b in zip(results, expected, strict=True))
    print(f"  top-5 hits identical to {path.name}: {same}/{len(expected)} searches")
    if same != len(expected):
        sys.exit(1)


def bench(
    path: Path,
    queries: list[str],
    query_vectors: np.ndarray,
    baselines: int,
    results: Path | None = None,
    collections: int = 0,
) -> None:
    if collections:
        spread_over_collections(path, collections)
    retriever = SqliteHybridRetriever(path, None, final_results_limit=5)
    started = time.perf_counter()
    retriever.warm_up()
    resident = retriever.resident
    held = f", {resident.size} sections in resident BM25" if resident and resident.size else ""
    print(
        f"  resident indexes loaded in {time.perf_counter() - started:.2f} s "
        f"({retriever.vectors.size} vectors{held})"
    )
    n = len(queries)
    if results is not None:
        check_results(results, top_hits(retriever, queries, query_vectors))
    report("bm25 (top 50)", timed(lambda i: retriever.search_bm25(queries[i], 50), n))
    report("vector (top 50)", timed(lambda i: retriever.search_vector(query_vectors[i], 50), n))
    report(
        "hybrid (top 5, excl. embedding)",
        timed(lambda i: retriever.search_with_vector(queries[i], query_vectors[i], 5), n),
    )
    report(
        "hybrid, category filter",
        timed(
            lambda i: retriever.search_with_vector(
                queries[i], query_vectors[i], 5, CATEGORIES[i % len(CATEGORIES)]
            ),
            n,
        ),
    )
    if collections:
        bench_collections(retriever, queries, query_vectors, collections)
    if baselines:
        m = min(n, baselines)
        full = SqliteHybridRetriever(
            retriever.store,
            None,
            lexical=LexicalSearcher(level=retriever.lexical.level, posting_budget=10**12),
            resident_min_sections=None,
        )
        budgeted = SqliteHybridRetriever(retriever.store, None, resident_min_sections=None)
        by_chunk = SqliteHybridRetriever(
            retriever.store, None, lexical=LexicalSearcher(level="chunk")
        )
        report(
            f"[ref] bm25 FTS5 budgeted ({m} q)",
            timed(lambda i: budgeted.search_bm25(queries[i], 50), m),
        )
        report(
            f"[ref] bm25 chunk level ({m} q)",
            timed(lambda i: by_chunk.search_bm25(queries[i], 50), m),
        )
        report(
            f"[ref] bm25 FTS5 no budget ({m} q)",
            timed(lambda i: full.search_bm25(queries[i], 50), m),
        )
        report(
            f"[ref] vec0 float KNN ({m} q)",
            timed(lambda i: retriever.search_vector(query_vectors[i], 50, method="vec0"), m),
        )
        report(
            f"[ref] numpy exact ({m} q)",
            timed(lambda i: retriever.search_vector(query_vectors[i], 50, method="exact"), m),
        )
        vector_recall = [
            overlap(
                [h.chunk_id for h in retriever.search_vector(query_vectors[i], 50)],
                [h.chunk_id for h in retriever.search_vector(query_vectors[i], 50, method="exact")],
            )
            for i in range(n)
        ]
        bm25_recall = [
            overlap(
                [h.chunk_id for h in retriever.search_bm25(queries[i], 50)],
                [h.chunk_id for h in full.search_bm25(queries[i], 50)],
            )
            for i in range(m)
        ]
        print(f"  vector top-50 recall vs exact: {statistics.fmean(vector_recall):.4f}")
        print(f"  bm25 top-50 overlap with no-budget FTS5: {statistics.fmean(bm25_recall):.4f}")
    retriever.close()


def spread_over_collections(path: Path, count: int) -> None:
    """Document i into collection (i mod `count`) + 1, once per database file."""
    store = SqliteKnowledgeStore(path)
    conn = store.connection()
    if conn.execute("SELECT count(*) FROM collections").fetchone()[0] != count:
        conn.execute("UPDATE documents SET collection_id = NULL")
        conn.execute("DELETE FROM collections")
        for i in range(1, count + 1):
            conn.execute(
                "INSERT INTO collections (id, name, created_at) VALUES (?, ?, '2026-01-01')",
                (i, f"team-{i:02d}"),
            )
        conn.execute(f"UPDATE documents SET collection_id = (id % {count}) + 1")
    store.close()


def bench_collections(
    retriever: SqliteHybridRetriever, queries: list[str], query_vectors: np.ndarray, count: int
) -> None:
    """A reader of 3 of `count` collections against the unfiltered search of this run, on
    SQLite; the exact reference: FTS5 without a posting budget, every vector scored."""
    exact = SqliteHybridRetriever(
        retriever.store,
        None,
        lexical=LexicalSearcher(level=retriever.lexical.level, posting_budget=10**12),
        vectors=ResidentVectors(exact_threshold=10**9),
        resident_min_sections=None,
    )
    compare_scoped(retriever, exact, queries, query_vectors, count)
    exact.close()


def compare_scoped(
    retriever: HybridRetriever,
    exact: HybridRetriever,
    queries: list[str],
    query_vectors: Sequence[np.ndarray] | np.ndarray,
    count: int,
) -> None:
    """A reader of collections 1-3 and the default one (documents in collections 1 to `count`)
    against the unfiltered search of the same run, each query both ways in turn; then the
    scoped top 10 against `exact`'s (the same scope, each leg exhaustive). Either backend."""
    n = len(queries)
    scope = ReadScope(frozenset({None, 1, 2, 3}))
    plain: list[float] = []
    scoped: list[float] = []
    for timing in (False, True):  # a warm-up pass, then each query both ways in turn, so
        for i in range(n):  # the machine's load falls on both alike
            for kept, asked in ((plain, ReadScope()), (scoped, scope)):
                started = time.perf_counter()
                retriever.search_with_vector(queries[i], query_vectors[i], 5, scope=asked)
                if timing:
                    kept.append((time.perf_counter() - started) * 1000)
    report("hybrid (same run, unfiltered)", plain)
    report(f"hybrid, reader of 3/{count} collections", scoped)
    print(
        f"  scoped p50 / unfiltered p50: {statistics.median(scoped) / statistics.median(plain):.2f}"
    )
    recall = []
    for i in range(n):
        got = [
            h.chunk_id
            for h in retriever.search_with_vector(queries[i], query_vectors[i], 10, scope=scope)
        ]
        want = [
            h.chunk_id
            for h in exact.search_with_vector(queries[i], query_vectors[i], 10, scope=scope)
        ]
        recall.append(overlap(got, want))
    print(f"  scoped recall@10 vs an exact filtered search: {statistics.fmean(recall):.4f}")
    print("  load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    parser.add_argument("--vectors", choices=["auto", "pool", "random"], default="auto")
    parser.add_argument(
        "--models-dir", type=Path, default=Path.home() / ".cache" / "almanac" / "models"
    )
    parser.add_argument(
        "--baselines",
        type=int,
        default=30,
        help="queries for the slow reference methods (0 = skip)",
    )
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument(
        "--collections",
        type=int,
        default=0,
        help="spread the documents over N collections and time a reader of 3 of them",
    )
    parser.add_argument(
        "--results",
        type=Path,
        help="JSON file of every search's top 5: written if absent, else compared (exit 1 if any "
        "differs); for a change that must not change results (one size only)",
    )
    args = parser.parse_args()

    cache = ROOT / ".bench"
    cache.mkdir(exist_ok=True)
    corpus, all_queries = load_scifact(args.data)
    queries = all_queries[: args.queries]
    mode = args.vectors
    if mode == "auto":
        mode = (
            "pool"
            if (args.models_dir / "all-MiniLM-L6-v2" / "manifest.json").exists()
            else ("pool" if (args.models_dir / "manifest.json").exists() else "random")
        )
    pool: np.ndarray | None = None
    if mode == "pool":
        pool, query_pool = embed_pool(corpus, all_queries, args.models_dir, cache)
        query_vectors = query_pool[: len(queries)]
        model = "all-MiniLM-L6-v2 (pooled)"
    else:
        rng = np.random.default_rng(7)
        query_vectors = rng.standard_normal((len(queries), DIM)).astype(np.float32)
        query_vectors /= np.linalg.norm(query_vectors, axis=1, keepdims=True)
        model = "random"
    print(f"vectors: {mode}; queries: {len(queries)} SciFact claims")
    for size in (int(s) for s in args.sizes.split(",") if s.strip()):
        path = cache / f"search-{size}-{mode}.db"
        if args.rebuild and path.exists():
            path.unlink()
        build(path, corpus, size, pool, model)
        print(f"{size} chunks ({path.stat().st_size / 1e6:.0f} MB):")
        bench(path, queries, query_vectors, args.baselines, args.results, args.collections)


if __name__ == "__main__":
    main()
