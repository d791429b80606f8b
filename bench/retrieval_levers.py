"""Retrieval levers on a BEIR folder (SciFact train): fusion, depth, title, stopwords.

    .venv/bin/python -m bench.retrieval_levers --data ../shared/data/scifact --split train

Builds the index once through the product's ingestion pipeline (cached under .bench/, reused
while the corpus and the pipeline are unchanged), embeds the queries once, fetches each leg's
ranking once per lexical setting, then fuses offline with the retriever's own fusion code, so
a configuration costs seconds. Prints nDCG@10 and recall@100 (document level) per lever, and
2-fold cross-validation for the tuned ones (tune on one half of the queries, score the other).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.cli.bench import index_corpus, load_beir  # noqa: E402
from backend.components import build_embedder  # noqa: E402
from backend.config import Settings  # noqa: E402
from services.knowledge.rrf import convex_combination, reciprocal_rank_fusion  # noqa: E402
from services.knowledge.store import SqliteKnowledgeStore  # noqa: E402

CACHE = ROOT / ".bench"


def open_index(settings: Settings, data: Path, corpus: list[dict[str, Any]], variant: str):
    """The cached index for `variant` ("default", or "notitle": chunks embedded without their
    title), built or topped up through the product's ingestion pipeline."""
    embedder = build_embedder(settings)
    path = CACHE / f"beir-{data.name}-{variant}.db"
    store = SqliteKnowledgeStore(path)
    started = time.perf_counter()
    if variant == "notitle":
        import use_cases.knowledge.ingest as ingest_module

        original = ingest_module.embedding_text  # type: ignore[attr-defined]  # the name ingest imported, patched
        ingest_module.embedding_text = lambda title, heading, chunk: original("", heading, chunk)  # type: ignore[attr-defined,assignment]  # the name ingest imported, patched
        try:
            report = index_corpus(settings, embedder, store, corpus)
        finally:
            ingest_module.embedding_text = original  # type: ignore[attr-defined]  # the name ingest imported, restored
    else:
        report = index_corpus(settings, embedder, store, corpus)
    print(
        f"index {path.name}: {report.chunks_written} chunks written, "
        f"{report.count('unchanged')} documents unchanged, {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return store, embedder


def query_vectors(embedder, data: Path, queries: dict[str, str], ids: list[str]) -> np.ndarray:
    path = CACHE / f"beir-{data.name}-queries-{embedder.model}.json"
    cached: dict[str, list[float]] = json.loads(path.read_text()) if path.exists() else {}
    missing = [q for q in ids if q not in cached]
    for q in missing:
        cached[q] = [float(x) for x in embedder.embed_query(queries[q])]
    if missing:
        path.write_text(json.dumps(cached))
    return np.asarray([cached[q] for q in ids], dtype=np.float32)


@dataclass
class Legs:
    """Per query: the lexical and the dense chunk rankings, deep enough for any setting."""

    lexical: list[list[tuple[int, float]]]
    dense: list[list[tuple[int, float]]]


def fetch_legs(retriever, conn, texts, vectors, depth, lexical=None) -> Legs:
    searcher = lexical or retriever.lexical
    lex, dense = [], []
    for text, vector in zip(texts, vectors, strict=True):
        analyzed = searcher.analyze(conn, text)
        lex.append([(h.chunk_id, h.score) for h in searcher.search(conn, analyzed, depth)])
        dense.append(retriever.vectors.search(vector, depth, None))
    return Legs(lex, dense)


def ndcg10(ranked: Sequence[str], relevant: dict[str, int]) -> float:
    from use_cases.evaluation.retrieval_metrics import ndcg_at_k

    return ndcg_at_k(ranked, relevant, 10)


def recall100(ranked: Sequence[str], relevant: dict[str, int]) -> float:
    from use_cases.evaluation.retrieval_metrics import recall_at_k

    return recall_at_k(ranked, relevant, 100)


# -- offline fusion (mirrors HybridRetriever._fuse: collapse to sections, then fuse) ----------


def collapse(
    hits: Sequence[tuple[int, float]], section_of: dict[int, int]
) -> list[tuple[int, float]]:
    """Best chunk per section, in rank order: (section, that chunk's score)."""
    seen: set[int] = set()
    out: list[tuple[int, float]] = []
    for chunk_id, score in hits:
        section = section_of[chunk_id]
        if section not in seen:
            seen.add(section)
            out.append((section, score))
    return out


def fuse_rrf(legs, k=60.0, weights=(1.0, 1.0)) -> list[int]:
    """The product's RRF (services/knowledge/rrf.py) over section rankings."""
    rankings = [[section for section, _ in leg] for leg in legs]
    return [s for s, _ in reciprocal_rank_fusion(rankings, k=k, weights=weights)]


def fuse_convex(legs, alpha=0.5, how="minmax") -> list[int]:
    """alpha * BM25 + (1 - alpha) * dense. "minmax" is the product's `convex_combination`;
    "zscore" (missing: the leg's lowest z) and "tmm" (theoretical minimum: BM25 0, cosine -1;
    observed maximum) are the alternatives measured against it."""
    if how == "minmax":
        return [s for s, _ in convex_combination(legs, weights=(alpha, 1 - alpha))]
    scaled_legs: list[tuple[dict[int, float], float, float]] = []
    for leg, weight, floor in zip(legs, (alpha, 1 - alpha), (0.0, -1.0), strict=True):
        if not leg:
            continue
        values = np.asarray([v for _, v in leg], dtype=np.float64)
        if how == "zscore":
            scaled = (values - values.mean()) / (values.std() or 1.0)
        elif how == "tmm":
            scaled = (values - floor) / ((values.max() - floor) or 1.0)
        else:
            raise ValueError(how)
        missing = float(scaled.min()) if how == "zscore" else 0.0
        present = {s: float(v) for (s, _), v in zip(leg, scaled, strict=True)}
        scaled_legs.append((present, missing, weight))
    union = dict.fromkeys(s for present, _, _ in scaled_legs for s in present)
    scores = {s: sum(w * p.get(s, m) for p, m, w in scaled_legs) for s in union}
    return sorted(scores, key=lambda s: -scores[s])


class Evaluator:
    def __init__(self, ids, qrels, section_doc):
        self.ids = ids
        self.qrels = qrels
        self.section_doc = section_doc

    def per_query(self, rankings: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        nd, rc = [], []
        for qid, sections in zip(self.ids, rankings, strict=True):
            docs = list(dict.fromkeys(self.section_doc[s] for s in sections))
            nd.append(ndcg10(docs, self.qrels[qid]))
            rc.append(recall100(docs, self.qrels[qid]))
        return np.asarray(nd), np.asarray(rc)


def two_fold(name, configs, score_fn, n_queries, seed=0):
    """Tune on one half of the queries, score the other half; both ways. `score_fn(config)`
    returns per-query nDCG@10. Prints the chosen config per fold and the held-out mean."""
    order = list(range(n_queries))
    random.Random(seed).shuffle(order)
    halves = [
        np.asarray(sorted(order[: n_queries // 2])),
        np.asarray(sorted(order[n_queries // 2 :])),
    ]
    per_config = {c: score_fn(c) for c in configs}
    held_out = []
    for tune, test in ((0, 1), (1, 0)):
        best = max(configs, key=lambda c: per_config[c][halves[tune]].mean())
        value = per_config[best][halves[test]].mean()
        held_out.append((best, value, len(halves[test])))
        print(f"  [{name}] tuned on half {tune}: {best} -> half {test} nDCG@10 {value:.4f}")
    total = sum(v * n for _, v, n in held_out) / n_queries
    print(f"  [{name}] 2-fold held-out nDCG@10 {total:.4f}", flush=True)
    return total


def index_maps(conn: Any) -> tuple[dict[int, int], dict[int, str]]:
    """{chunk id: section id} and {section id: BEIR doc id} of one index."""
    section_of = dict(conn.execute("SELECT id, section_id FROM chunks").fetchall())
    section_doc = {
        sid: src.removeprefix("beir:")
        for sid, src in conn.execute(
            "SELECT s.id, d.source FROM sections s JOIN documents d ON d.id = s.document_id"
        )
    }
    return section_of, section_doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    parser.add_argument("--split", default="train")
    parser.add_argument(
        "--levers",
        default="all",
        help="comma-separated: depth, rrf, convex, title, embed-title, stopwords, "
        "section-bm25, prf, ltr (default: all)",
    )
    parser.add_argument(
        "--product",
        action="store_true",
        help="only run `almanac bench retrieval`'s scoring on the cached index, with RRF_K=60 "
        "(before) and the configured settings (after)",
    )
    args = parser.parse_args()
    levers = set(args.levers.split(","))
    if args.product:
        product_figures(args.data, args.split)
        return

    def want(name: str) -> bool:
        return "all" in levers or name in levers

    from services.knowledge.lexical import LexicalSearcher
    from services.knowledge.retrieval import SqliteHybridRetriever

    settings = Settings()
    corpus, queries, qrels = load_beir(args.data, args.split)
    ids = sorted(queries)
    texts = [queries[q] for q in ids]
    CACHE.mkdir(exist_ok=True)
    store, embedder = open_index(settings, args.data, corpus, "default")
    vectors = query_vectors(embedder, args.data, queries, ids)
    retriever = SqliteHybridRetriever(store, embedder)
    retriever.warm_up()
    conn = store.connection()
    section_of, section_doc = index_maps(conn)
    ev = Evaluator(ids, qrels, section_doc)
    depth_max = 1000
    started = time.perf_counter()
    base = fetch_legs(retriever, conn, texts, vectors, depth_max)
    print(f"{len(ids)} queries, legs fetched in {time.perf_counter() - started:.0f} s", flush=True)

    def sections(legs: Legs, depth: int, owner: dict[int, int] = section_of):
        for lex, den in zip(legs.lexical, legs.dense, strict=True):
            yield (
                collapse(lex[:depth], owner),
                [(s, 1.0 - d) for s, d in collapse(den[:depth], owner)],
            )

    def run(legs: Legs, depth: int, fuse: Callable, owner=section_of, evaluator=ev):
        return evaluator.per_query([fuse(pair) for pair in sections(legs, depth, owner)])

    def row(label: str, result: tuple[np.ndarray, np.ndarray]) -> None:
        print(
            f"  {label:<52} nDCG@10 {result[0].mean():.4f}  recall@100 {result[1].mean():.4f}",
            flush=True,
        )

    def rrf(k: float = 60.0, w: tuple[float, float] = (1.0, 1.0)) -> Callable:
        return lambda pair: fuse_rrf(pair, k, w)

    def convex(alpha: float = 0.5, how: str = "minmax") -> Callable:
        return lambda pair: fuse_convex(pair, alpha, how)

    def bm25_only(pair):
        return [s for s, _ in pair[0]]

    def dense_only(pair):
        return [s for s, _ in pair[1]]

    print("single legs (1000 chunks each):")
    row("BM25 (FTS5, title 4 heading 2 text 1)", run(base, depth_max, bm25_only))
    row("dense (MiniLM, title prepended)", run(base, depth_max, dense_only))
    print("before / after (50 chunks per leg):")
    row("RRF k=60 (before)", run(base, 50, rrf()))
    row("convex, min-max, equal weights (after)", run(base, 50, convex()))

    if want("depth"):
        print("lever: candidates per leg (chunks; recall@100 from the same depth):")
        for depth in (20, 50, 100, 200, 500, 1000):
            row(f"RRF k=60, depth {depth}", run(base, depth, rrf()))
            row(f"convex min-max 0.5, depth {depth}", run(base, depth, convex()))

    if want("rrf"):
        print("lever: RRF k and leg weights (depth 50):")
        grid = [(k, w) for k in (10, 30, 60, 100) for w in (0.6, 0.8, 1.0, 1.25, 1.5)]
        for k, w in grid:
            row(f"RRF k={k}, weights bm25 {w} : dense 1", run(base, 50, rrf(k, (w, 1.0))))
        two_fold("weighted RRF", grid, lambda c: run(base, 50, rrf(c[0], (c[1], 1.0)))[0], len(ids))

    if want("convex"):
        print("lever: convex combination of normalised scores:")
        convex_grid: list[tuple[str, int, float]] = []
        for how in ("minmax", "zscore", "tmm"):
            for depth in (50, 100, 200):
                for alpha in (0.3, 0.4, 0.5, 0.6, 0.7):
                    convex_grid.append((how, depth, alpha))
                    row(
                        f"convex {how}, depth {depth}, bm25 weight {alpha}",
                        run(base, depth, convex(alpha, how)),
                    )
        two_fold("convex", convex_grid, lambda c: run(base, c[1], convex(c[2], c[0]))[0], len(ids))

    if want("title"):
        print("lever: title weight in BM25 (FTS5 column weights; heading 2, text 1), depth 50:")
        for title in (1.0, 2.0, 4.0, 8.0):
            legs = fetch_legs(
                retriever, conn, texts, vectors, 1000, LexicalSearcher(weights=(title, 2.0, 1.0))
            )
            row(f"BM25 alone, title {title:g}", run(legs, 1000, bm25_only))
            row(f"RRF k=60, title {title:g}", run(legs, 50, rrf()))
            row(f"convex, title {title:g}", run(legs, 50, convex()))

    if want("stopwords"):
        print("lever: query stopwords in the BM25 leg, depth 50:")
        for drop in (True, False):
            legs = fetch_legs(
                retriever, conn, texts, vectors, 1000, LexicalSearcher(drop_stopwords=drop)
            )
            label = "dropped" if drop else "kept"
            row(f"BM25 alone, stopwords {label}", run(legs, 1000, bm25_only))
            row(f"RRF k=60, stopwords {label}", run(legs, 50, rrf()))
            row(f"convex, stopwords {label}", run(legs, 50, convex()))

    if want("embed-title"):
        print(
            "lever: title prepended to the embedded chunk text (index 'notitle' without), depth 50:"
        )
        other, _ = open_index(settings, args.data, corpus, "notitle")
        other_retriever = SqliteHybridRetriever(other, embedder)
        other_retriever.warm_up()
        other_conn = other.connection()
        owner, other_doc = index_maps(other_conn)
        other_ev = Evaluator(ids, qrels, other_doc)
        legs = fetch_legs(other_retriever, other_conn, texts, vectors, 1000)
        row("dense alone, chunk text only", run(legs, 1000, dense_only, owner, other_ev))
        row("RRF k=60, chunk text only", run(legs, 50, rrf(), owner, other_ev))
        row("convex, chunk text only", run(legs, 50, convex(), owner, other_ev))
        other_retriever.close()
        other.close()

    if want("section-bm25"):
        # Whole-abstract BM25 (title 2, text 1) from a scratch in-memory FTS5 table: what a
        # section-level lexical index (or re-scoring candidate sections) would add.
        from services.knowledge.store import FTS_TOKENIZER
        from services.sqlite.connection import connect

        scratch = connect(":memory:")
        scratch.execute(
            f"CREATE VIRTUAL TABLE d USING fts5(title, body, tokenize='{FTS_TOKENIZER}')"
        )
        scratch.executemany(
            "INSERT INTO d(rowid, title, body) VALUES (?, ?, ?)",
            [(i, d.get("title") or "", d.get("text") or "") for i, d in enumerate(corpus)],
        )
        section_by_doc = {doc: sid for sid, doc in section_doc.items()}
        print("lever: section-level BM25 (whole abstract) instead of best chunk, depth 50:")
        doc_legs = []
        for text in texts:
            match = retriever.lexical.analyze(conn, text).match
            rows = scratch.execute(
                "SELECT rowid, -bm25(d, 2.0, 1.0) FROM d WHERE d MATCH ? "
                "ORDER BY bm25(d, 2.0, 1.0) LIMIT 50",
                (match,),
            ).fetchall()
            doc_legs.append([(section_by_doc[corpus[r]["_id"]], float(v)) for r, v in rows])
        pairs = list(sections(base, 50))
        row("BM25 alone, section level", ev.per_query([[s for s, _ in leg] for leg in doc_legs]))
        for label, fuse in (
            ("RRF k=60", rrf()),
            ("convex", convex()),
            ("convex z-score", convex(0.5, "zscore")),
        ):
            row(
                f"{label}, section-level BM25",
                ev.per_query([fuse((d, p[1])) for d, p in zip(doc_legs, pairs, strict=True)]),
            )

    if want("prf"):
        print("lever: dense pseudo-relevance feedback (Rocchio on vectors), depth 50:")
        snap = retriever.vectors._snapshot
        assert snap is not None, "the vector index is loaded by the searches above"
        position = {int(c): i for i, c in enumerate(snap.ids[: snap.size])}
        for top, beta in ((3, 0.3), (5, 0.3), (5, 0.6), (10, 0.3)):
            rankings = []
            for i, pair in enumerate(sections(base, 50)):
                first = fuse_convex(pair, 0.5)
                chunk_of: dict[int, int] = {}
                for c, _ in base.dense[i]:
                    chunk_of.setdefault(section_of[c], c)
                feedback = [
                    snap.vectors[position[chunk_of[s]]] for s in first[:top] if s in chunk_of
                ]
                q = vectors[i] + beta * np.mean(feedback, axis=0)
                hits = retriever.vectors.search(q / np.linalg.norm(q), 50, None)
                rankings.append(
                    fuse_convex(
                        (pair[0], [(s, 1.0 - d) for s, d in collapse(hits, section_of)]), 0.5
                    )
                )
            row(f"convex + dense PRF top {top}, beta {beta}", ev.per_query(rankings))

    if want("ltr"):
        print("bound: logistic regression over both legs' features, 2-fold (depth 50):")
        print(f"  {learned_fusion(list(sections(base, 50)), ev, ids, qrels, section_doc):.4f}")

    retriever.close()
    store.close()


def product_figures(data: Path, split: str) -> None:
    """The hybrid figures through the product's path (`run_retrieval_benchmark`)."""
    from backend.cli.bench import run_retrieval_benchmark

    for label, settings in (("RRF_K=60", Settings(rrf_k=60)), ("configured", Settings())):
        figures = run_retrieval_benchmark(
            settings,
            data,
            split,
            quiet=True,
            index_path=CACHE / f"beir-{data.name}-default.db",
        )
        for method, metrics in figures["metrics"].items():
            print(
                f"  {label:<12} {method:<7} nDCG@10 {metrics['ndcg@10']:.4f}  "
                f"recall@100 {metrics['recall@100']:.4f}",
                flush=True,
            )


def learned_fusion(pairs, ev, ids, qrels, section_doc) -> float:
    """nDCG@10 of a logistic-regression fusion (min-max and z scores, reciprocal ranks, both
    legs) trained on one half of the queries and scored on the other, both ways: a bound on
    what any fusion of these two legs can do, not a candidate for the product."""
    feats, labels, groups, candidates = [], [], [], []
    for i, (lex, den) in enumerate(pairs):
        rows: dict[int, Any] = {}
        for leg_index, leg in enumerate((lex, den)):
            values = np.asarray([v for _, v in leg]) if leg else np.zeros(1)
            low, high, mu, sd = values.min(), values.max(), values.mean(), values.std() or 1.0
            for rank, (s, v) in enumerate(leg, 1):
                rows.setdefault(s, [0.0, 0.0, 0.0, 0.0, (low - mu) / sd, (low - mu) / sd])
                rows[s][leg_index] = (v - low) / ((high - low) or 1.0)
                rows[s][2 + leg_index] = 1.0 / (10 + rank)
                rows[s][4 + leg_index] = (v - mu) / sd
        union = list(rows)
        for s in union:
            feats.append(rows[s])
            labels.append(1.0 if qrels[ids[i]].get(section_doc[s], 0) > 0 else 0.0)
            groups.append(i)
        candidates.append(union)
    x, y, g = np.asarray(feats), np.asarray(labels), np.asarray(groups)
    order = list(range(len(pairs)))
    random.Random(0).shuffle(order)
    halves = [set(order[: len(order) // 2]), set(order[len(order) // 2 :])]
    rankings: list[list[int]] = [[] for _ in pairs]
    for tune in (0, 1):
        train = np.asarray([gi in halves[tune] for gi in g])
        mu, sd = x[train].mean(0), x[train].std(0) + 1e-9
        z = np.c_[(x[train] - mu) / sd, np.ones(train.sum())]
        w = np.zeros(z.shape[1])
        for _ in range(3000):
            p = 1 / (1 + np.exp(-z @ w))
            w -= 0.5 * (z.T @ (p - y[train]) / len(z) + 1e-3 * w)
        for i in halves[1 - tune]:
            mask = g == i
            scores = np.c_[(x[mask] - mu) / sd, np.ones(mask.sum())] @ w
            rankings[i] = [candidates[i][j] for j in np.argsort(-scores, kind="stable")]
    return float(ev.per_query(rankings)[0].mean())


if __name__ == "__main__":
    if "--build-only" in sys.argv:
        settings = Settings()
        data = Path(sys.argv[sys.argv.index("--data") + 1])
        corpus, _, _ = load_beir(data, "train")
        for variant in sys.argv[sys.argv.index("--build-only") + 1].split(","):
            store, _ = open_index(settings, data, corpus, variant)
            store.close()
    else:
        main()
