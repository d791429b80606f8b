"""A large upload as a background job: time, chunks/s and peak memory, end to end.

Generates a Markdown handbook of about `--megabytes` MB (varied sentences under many
headings), starts the application on a temporary data dir with the local embedder, uploads
the file through HTTP (in process, the ASGI app), and polls the job until it is done. Prints
the resident memory before (application started, embedder warmed up), the peak while the
job ran (sampled every 50 ms from
/proc/self/status), the time to 202 and to done, the chunk-limit refusal at the default
MAX_DOCUMENT_CHUNKS, and the file size before and after deleting the document (space is
given back by incremental vacuum). Figures are printed, nothing is asserted.

    python -m bench.bench_large_upload [--megabytes 19] [--max-chunks 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from backend.api.app import create_app
from backend.bootstrap import bootstrap
from backend.config import Settings
from backend.logging import configure_logging
from services.knowledge.store import SqliteKnowledgeStore

_VOCABULARY = """
visitor badge desk shipment carrier route depot invoice tariff customs pallet driver manifest
rotation policy password credential access review incident runbook failover backup restore
certificate renewal webhook delivery retention archive audit quarterly approval manager
finance travel expense hotel flight receipt deadline region warehouse
"""
WORDS = _VOCABULARY.split()


def handbook(megabytes: float, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    parts = ["---\ntitle: Generated Operations Handbook\nupdated: 2025-01-01\n---\n"]
    size, section = 0, 0
    target = int(megabytes * 1024 * 1024)
    while size < target:
        section += 1
        lines = [f"\n## Section {section}: {' '.join(rng.sample(WORDS, 3))}\n"]
        for _ in range(rng.randint(3, 8)):
            sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 24)))
            lines.append(f"{sentence.capitalize()} ({section}-{rng.randint(1, 999)}).")
        block = "\n".join(lines) + "\n"
        parts.append(block)
        size += len(block)
    return "".join(parts).encode()


def memory_mb() -> dict[str, float]:
    """Resident memory (VmRSS) and its anonymous and file-backed parts (SQLite maps the
    database file into memory: those pages count as resident but belong to the page cache)."""
    wanted = {"VmRSS:": "rss", "RssAnon:": "anon", "RssFile:": "file"}
    figures = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key = line.split(maxsplit=1)[0] if line else ""
        if key in wanted:
            figures[wanted[key]] = int(line.split()[1]) / 1024
    return figures


def rss_mb() -> float:
    return memory_mb().get("rss", 0.0)


class PeakRss:
    """Samples the resident set size (and its anonymous part) in a thread while the block
    runs."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak = 0.0
        self.peak_anon = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.is_set():
            figures = memory_mb()
            self.peak = max(self.peak, figures.get("rss", 0.0))
            self.peak_anon = max(self.peak_anon, figures.get("anon", 0.0))
            time.sleep(self.interval)


async def upload_and_wait(
    client: httpx.AsyncClient, name: str, data: bytes
) -> tuple[float, float, dict[str, Any]]:
    started = time.perf_counter()
    response = await client.post("/api/documents", files={"file": (name, data)})
    accepted = time.perf_counter() - started
    if response.status_code != 202:
        return accepted, accepted, {"status": response.status_code, "body": response.json()}
    location, last_line = response.headers["location"], 0.0
    while True:
        job = (await client.get(location)).json()
        if job["status"] in ("done", "failed"):
            return accepted, time.perf_counter() - started, job
        if time.perf_counter() - last_line > 30:
            last_line = time.perf_counter()
            progress = job["progress"]
            print(f"  ... {job['status']} {progress['chunks_done']}/{progress['chunks_total']}")
        await asyncio.sleep(0.5)


def settings_for(data_dir: Path, **overrides: Any) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=data_dir,
        load_sample_data=False,
        embedding_provider="local",
        **overrides,
    )


async def refused_at_the_default_limit(data: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="almanac-large-") as tmp:
        container = bootstrap(settings_for(Path(tmp)))
        limit = container.settings.documents.max_document_chunks
        transport = httpx.ASGITransport(app=create_app(container=container))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            accepted, elapsed, job = await upload_and_wait(client, "big.md", data)
        container.close()
    print(
        f"at MAX_DOCUMENT_CHUNKS={limit}: 202 after {accepted:.2f} s, job {job['status']} "
        f"after {elapsed:.1f} s: {(job.get('error') or {}).get('detail')}"
    )


async def ingested_as_a_job(data: bytes, max_chunks: int) -> None:
    with tempfile.TemporaryDirectory(prefix="almanac-large-") as tmp:
        settings = settings_for(Path(tmp), max_document_chunks=max_chunks)
        container = bootstrap(settings)
        container.adapters.embedder.embed_documents(["warm up"])
        transport = httpx.ASGITransport(app=create_app(container=container))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            before = memory_mb()
            with PeakRss() as peak:
                accepted, elapsed, job = await upload_and_wait(client, "big.md", data)
            after = memory_mb()
            chunks = job["progress"]["chunks_total"] or 0
            print(
                f"job {job['status']}: {chunks:,} chunks, 202 after {accepted:.2f} s, done "
                f"after {elapsed:.0f} s ({chunks / elapsed:.0f} chunks/s)"
            )
            print(
                f"resident memory: {before['rss']:.0f} MB before, peak {peak.peak:.0f} MB during "
                f"the job, {after['rss']:.0f} MB after; anonymous (heap, ONNX arenas): "
                f"{before['anon']:.0f} MB before, peak {peak.peak_anon:.0f} MB, "
                f"{after['anon']:.0f} MB after"
            )
            store = container.adapters.store
            assert isinstance(store, SqliteKnowledgeStore)  # this benchmark runs on SQLite
            db, conn = settings.storage.knowledge_db_path, store.connection()
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            size = db.stat().st_size
            if job["status"] == "done":
                await client.delete(f"/api/documents/{job['result']['document']['id']}")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                print(
                    f"knowledge DB {size / 1e6:.0f} MB with the document, "
                    f"{db.stat().st_size / 1e6:.1f} MB after deleting it"
                )
        container.close()


async def run(megabytes: float, max_chunks: int) -> None:
    data = handbook(megabytes)
    print(f"generated {len(data) / 1024 / 1024:.1f} MB of Markdown")
    await ingested_as_a_job(data, max_chunks)  # first: a fresh process for the memory figures
    await refused_at_the_default_limit(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=19.0)
    parser.add_argument("--max-chunks", type=int, default=100_000)
    args = parser.parse_args()
    configure_logging("WARNING")
    asyncio.run(run(args.megabytes, args.max_chunks))


if __name__ == "__main__":
    main()
