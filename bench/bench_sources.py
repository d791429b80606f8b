"""Synced sources: a first sync's items per second, and an idle re-sync of unchanged items
(nothing read, parsed or embedded), for a folder and for an S3 bucket (moto's server, a dev
dependency, on loopback). Figures are printed, nothing is asserted (docs/notes/benchmarks.md).

Each item is a small Markdown page (a heading and two paragraphs, one chunk); the container
is the real one (the budgeted loaders in their child process, the local embedder, SQLite),
in a temporary data directory with no sample.

    python -m bench.bench_sources [--items 1000] [--kinds folder,s3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from backend.bootstrap import bootstrap
from backend.config import Settings
from backend.logging import configure_logging
from use_cases.access.domain import CLI_ADMIN
from use_cases.sources.manage import AddSourceRequest
from use_cases.sources.sync import SyncRequest

WORDS = (
    "badge", "parking", "visitor", "desk", "canteen", "laptop", "travel", "refund", "expense",
    "leave", "holiday", "printer", "office", "meeting", "room", "floor", "lift", "security",
    "contract", "invoice", "supplier", "training", "safety",
)  # fmt: skip


def page(n: int) -> str:
    words = [WORDS[(n * 7 + i * 3) % len(WORDS)] for i in range(60)]
    return (
        f"# Page {n}\n\nThis page is about {WORDS[n % len(WORDS)]} number {n}.\n\n"
        + " ".join(words)
        + ".\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--kinds", default="folder,s3")
    args = parser.parse_args()
    configure_logging("WARNING")
    for kind in args.kinds.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            run(kind.strip(), args.items, Path(tmp))


def run(kind: str, items: int, tmp: Path) -> None:
    server = None
    if kind == "s3":
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        os.environ.update(
            AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
        )
        endpoint = f"http://{host}:{port}"
    settings = Settings(
        _env_file=None,
        data_dir=tmp / "data",
        load_sample_data=False,
        log_level="WARNING",
        s3_endpoint_url=endpoint if server else None,
        s3_region="us-east-1",
    )
    container = bootstrap(settings)
    try:
        location = write_items(kind, items, tmp, endpoint if server else None)
        request = AddSourceRequest.of_options("bench", **{kind: location})
        asyncio.run(container.sources.sources.add(CLI_ADMIN, request))
        embedder = container.adapters.embedder
        calls: list[int] = []
        real = embedder.embed_documents

        def counting(texts):
            calls.append(len(texts))
            return real(texts)

        embedder.embed_documents = counting  # type: ignore[method-assign]  # counts each batch

        start = time.perf_counter()
        first = container.sources.sync.run(SyncRequest("bench"))
        first_s = time.perf_counter() - start
        embedded = sum(calls)
        calls.clear()
        start = time.perf_counter()
        idle = container.sources.sync.run(SyncRequest("bench"))
        idle_s = time.perf_counter() - start
        print(f"{kind}: {items} items")
        print(
            f"  first sync   {first_s:7.1f} s  {items / first_s:7.1f} items/s  "
            f"({first.counts.line()}; {embedded} chunks embedded)"
        )
        print(
            f"  idle re-sync {idle_s:7.2f} s  {items / idle_s:7.0f} items/s  "
            f"({idle.counts.line()}; {sum(calls)} chunks embedded)"
        )
    finally:
        container.close()
        if server is not None:
            server.stop()


def write_items(kind: str, items: int, tmp: Path, endpoint: str | None) -> str:
    if kind == "folder":
        root = tmp / "pages"
        for n in range(items):
            path = root / f"section-{n % 10}" / f"page-{n:05d}.md"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(page(n))
        return root.as_posix()
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="bench-pages")
    for n in range(items):
        client.put_object(
            Bucket="bench-pages",
            Key=f"site/section-{n % 10}/page-{n:05d}.md",
            Body=page(n).encode(),
        )
    return "s3://bench-pages/site/"


if __name__ == "__main__":
    main()
