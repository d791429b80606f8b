"""Searchable first, answer-ready next: ingestion commits the chunks and queues the offline
answerer's sentence vectors as a background job (`prepare_answers`). Real ingestion, the real
local embedder, real SQLite and PostgreSQL, HTTP through the ASGI app.

- A question asked before the job has run gets the very answer it gets after (its hits'
  sentences embedded on demand, each on its own, as the job embeds them).
- The job is shown at `/api/jobs/{id}`, and a restart in the middle of it leaves it queued:
  the next start runs it to the end.
- A document removed or replaced while its sentences wait leaves none of them behind.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from backend.bootstrap import Container, bootstrap
from backend.config import PROJECT_ROOT
from backend.sources import collect_sources
from services.offline.prepared import sentence_texts_of
from services.offline.semantic import SentenceSimilarity
from tests.conftest import FixedClock, asgi_client, make_settings
from tests.narrowing import present
from use_cases.access.domain import CLI_ADMIN
from use_cases.jobs.prepare_answers import PrepareAnswers
from use_cases.knowledge.domain import IngestReport, SavedDocument
from use_cases.knowledge.ingest import IngestRequest

CORPUS = PROJECT_ROOT / "sample_data" / "corpora" / "black-docs"
DOCUMENTS = ("faq.md", "getting_started.md", "usage_and_configuration/the_basics.md")
#: The corpus's own questions about those documents, and two it cannot answer.
QUESTION_IDS = ("bk-kb-01", "bk-kb-18", "bk-kb-03", "bk-kb-08", "bk-kb-44", "bk-rf-12")


class Gate:
    """Holds every answer preparation until `open()` (the job stays running, reporting
    progress, so it can still be cancelled by a closing server)."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.entered = threading.Event()

    def open(self) -> None:
        self.opened.set()


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Gate:
    held = Gate()
    original = PrepareAnswers.run

    def run(
        self: PrepareAnswers,
        documents: Sequence[SavedDocument],
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, Any]:
        total = sum(d.chunks for d in documents)
        if progress is not None:
            progress(0, total)
        held.entered.set()
        while not held.opened.wait(0.05):
            if progress is not None:
                progress(0, total)  # raises once the job is cancelled
        return original(self, documents, progress)

    monkeypatch.setattr(PrepareAnswers, "run", run)
    return held


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The sentences embedded for scoring from now on (not the questions)."""
    texts: list[str] = []
    original = SentenceSimilarity._embed_many

    def recording(self: SentenceSimilarity, batch: Sequence[str]) -> list[Any]:
        texts.extend(batch)
        return original(self, batch)

    monkeypatch.setattr(SentenceSimilarity, "_embed_many", recording)
    return texts


def _questions() -> list[str]:
    cases = [
        json.loads(line)
        for line in (CORPUS / "eval" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    by_id = {case["id"]: case["question"] for case in cases}
    return [by_id[case_id] for case_id in QUESTION_IDS]


def _container(data_dir: Path, database_url: str | None = None) -> Container:
    settings = make_settings(
        data_dir,
        prepare_sentences=True,
        load_sample_data=False,
        **({"database_url": database_url} if database_url else {}),
    )
    return bootstrap(settings, clock=FixedClock())


def _ingest(container: Container, paths: Sequence[Path]) -> IngestReport:
    sources = collect_sources(list(paths), container.knowledge.ingest)
    report = container.admin.admin_ingest.run(CLI_ADMIN, IngestRequest(sources=sources))
    assert not report.problems, report.problems
    return report


def _corpus_files(folder: Path) -> list[Path]:
    """The chosen documents, copied under `folder` with their paths."""
    for name in DOCUMENTS:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((CORPUS / "documents" / name).read_bytes())
    return [folder]


def _wait(container: Container, job_id: str) -> str:
    return asyncio.run(container.knowledge.prepare_answers.wait(job_id))


async def _answers(container: Container, questions: Sequence[str]) -> list[tuple[str, Any]]:
    found = []
    async with asgi_client(container) as client:
        for question in questions:
            response = await client.post("/chat", json={"message": question})
            assert response.status_code == 200, response.text
            body = response.json()
            found.append((body["answer"], body["sources"]))
    return found


def _job(container: Container, job_id: str) -> dict[str, Any]:
    async def get() -> dict[str, Any]:
        async with asgi_client(container) as client:
            response = await client.get(f"/api/jobs/{job_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    return asyncio.run(get())


@pytest.fixture
def corpus(tmp_path: Path) -> list[Path]:
    return _corpus_files(tmp_path / "black-docs")


@pytest.mark.slow
def test_answers_asked_before_the_sentences_are_ready_are_the_answers_after(
    tmp_path: Path, corpus: list[Path], gate: Gate, embedded: list[str]
) -> None:
    questions = _questions()

    early = _container(tmp_path / "early")
    try:
        report = _ingest(early, corpus)
        assert report.answers_job is not None
        assert gate.entered.wait(60)  # the job runs, held before its first sentence
        before = asyncio.run(_answers(early, questions))
        assert _job(early, report.answers_job)["status"] == "running"
        assert embedded  # the questions embedded their hits' sentences themselves
        gate.open()
        assert _wait(early, report.answers_job) == "done"
    finally:
        early.close()

    ready = _container(tmp_path / "ready")
    try:
        prepared = _ingest(ready, corpus)
        assert prepared.answers_job is not None
        assert _wait(ready, prepared.answers_job) == "done"
    finally:
        ready.close()
    embedded.clear()
    fresh = _container(tmp_path / "ready")  # nothing in memory: every vector from the file
    try:
        after = asyncio.run(_answers(fresh, questions))
    finally:
        fresh.close()

    assert embedded == []  # answer-ready: no question embedded a sentence
    assert [answer for answer, _ in before] == [answer for answer, _ in after]
    assert before == after
    assert any("88" in answer for answer, _ in after)  # and they are answers, not refusals


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> Iterator[str | None]:
    yield str(request.getfixturevalue("pg_url")) if backend == "postgresql" else None


DOCUMENT = """---
title: Bicycle Parking Rules
updated: 2026-01-12
---

# Bicycle Parking Rules

## Storage

Bicycles are parked in the basement racks of the Rotterdam office, level -1.
Cargo bikes use the two wide bays next to the lift.

## Charging

E-bike batteries may be charged at the lockers on level -1 only, never at desks.
"""


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _sentences(container: Container, source: str) -> list[str]:
    store = container.adapters.store
    record = store.get_by_source(source)
    assert record is not None
    detail = store.get_document(record.id)
    assert detail is not None
    return sentence_texts_of(detail)


def _kept(container: Container, texts: Collection[str]) -> set[str]:
    vectors = container.adapters.sentence_vectors
    assert vectors is not None
    return set(vectors.get_many(list(texts)))


def test_a_restart_during_the_preparation_leaves_it_queued_and_the_next_start_ends_it(
    tmp_path: Path, database_url: str | None, gate: Gate
) -> None:
    path = _write(tmp_path / "docs", "bicycles.md", DOCUMENT)
    first = _container(tmp_path / "data", database_url)
    try:
        report = _ingest(first, [path])
        job_id = report.answers_job
        assert job_id is not None
        assert gate.entered.wait(60)
        shown = _job(first, job_id)
        assert (shown["kind"], shown["status"]) == ("prepare_answers", "running")
        assert shown["progress"]["chunks_total"] == report.chunks_written
        texts = _sentences(first, "bicycles.md")
        assert _kept(first, texts) == set()
    finally:
        first.close()  # the server stops in the middle of the job

    gate.open()
    second = _container(tmp_path / "data", database_url)
    try:
        assert present(second.adapters.jobs.get(job_id)).status == "queued"
        second.adapters.jobs.start()  # as a server's start does
        assert _wait(second, job_id) == "done"
        shown = _job(second, job_id)
        assert shown["status"] == "done"
        assert shown["progress"]["chunks_done"] == shown["progress"]["chunks_total"]
        assert _kept(second, texts) == set(texts)
    finally:
        second.close()


def test_a_document_removed_or_replaced_before_its_sentences_are_ready_leaves_none(
    tmp_path: Path, database_url: str | None, gate: Gate
) -> None:
    folder = tmp_path / "docs"
    _write(folder, "bicycles.md", DOCUMENT)
    _write(folder, "lockers.md", "# Lockers\n\nLockers are emptied every Friday at 18:00.\n")
    container = _container(tmp_path / "data", database_url)
    try:
        report = _ingest(container, [folder])
        assert report.answers_job is not None and gate.entered.wait(60)
        removed = _sentences(container, "bicycles.md")
        old = _sentences(container, "lockers.md")
        bicycles = container.adapters.store.get_by_source("bicycles.md")
        assert bicycles is not None
        asyncio.run(container.admin.admin_remove_document.execute(CLI_ADMIN, bicycles.id))
        _write(folder, "lockers.md", "# Lockers\n\nLockers are emptied every Monday at 07:00.\n")
        replaced = _ingest(container, [folder / "lockers.md"])
        assert replaced.count("updated") == 1 and replaced.answers_job is not None
        new = _sentences(container, "lockers.md")
        gate.open()

        assert _wait(container, report.answers_job) == "done"
        assert _wait(container, replaced.answers_job) == "done"

        result = present(container.adapters.jobs.store.get(report.answers_job)).result
        assert result == {"prepared": 0, "skipped": 2, "chunks": report.chunks_written}
        assert _kept(container, removed) == set()
        assert _kept(container, set(old) - set(new)) == set()
        assert _kept(container, new) == set(new)
    finally:
        container.close()
