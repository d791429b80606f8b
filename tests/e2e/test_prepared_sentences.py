"""Ingestion prepares a document's sentences for offline answers (PREPARE_SENTENCES): the
first question about a new document embeds no sentence, only itself and its answer read
whole (for the confidence, never stored); without preparation it embeds them
and answers from the same sentence (that prepared and computed vectors score alike:
tests/integration/test_sentence_similarity.py). Real ingestion, the real local embedder,
HTTP through the ASGI app."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from backend.bootstrap import Container, bootstrap
from backend.sources import collect_sources
from services.offline.semantic import SentenceSimilarity
from tests.conftest import FixedClock, asgi_client, make_settings, wait_answer_ready
from use_cases.knowledge.domain import IngestReport
from use_cases.knowledge.ingest import IngestRequest

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
Chargers must carry a CE mark and are inspected every 12 months.
"""

QUESTION = "Where may I charge my e-bike battery?"


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


def _ingest(container: Container, tmp_path: Path) -> IngestReport:
    """Ingest the document and wait until it is answer-ready (its sentences are prepared
    by a background job once it is searchable)."""
    path = tmp_path / "bicycles.md"
    path.write_text(DOCUMENT, encoding="utf-8")
    report = container.knowledge.ingest.run(
        IngestRequest(sources=collect_sources([path], container.knowledge.ingest))
    )
    assert not report.failed and report.count("added") == 1
    wait_answer_ready(container, report)
    return report


async def _ask(container: Container) -> dict[str, Any]:
    async with asgi_client(container) as client:
        response = await client.post("/chat", json={"message": QUESTION})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _container(data_dir: Path, *, prepare: bool) -> Container:
    return bootstrap(make_settings(data_dir, prepare_sentences=prepare), clock=FixedClock())


async def test_a_new_documents_first_question_embeds_no_sentence(
    data_dir: Path, tmp_path: Path, embedded: list[str]
) -> None:
    container = _container(data_dir, prepare=True)
    try:
        vectors = container.adapters.sentence_vectors
        assert vectors is not None
        before = vectors.count()
        _ingest(container, tmp_path)
        prepared = list(embedded)
        embedded.clear()

        body = await _ask(container)

        assert len(prepared) == 4  # one per sentence, each with its document and section
        assert all(text.startswith("Bicycle Parking Rules, ") for text in prepared)
        # The file also keeps the new document's chunk vectors (embedders/cached.py).
        chunks = container.adapters.store.get_by_source("bicycles.md")
        assert chunks is not None
        assert vectors.count() == before + 4 + chunks.chunk_count
        assert "lockers on level -1" in body["answer"]
        assert embedded == []
    finally:
        container.close()


async def test_without_preparation_the_question_embeds_them_and_still_answers(
    data_dir: Path, tmp_path: Path, embedded: list[str]
) -> None:
    container = _container(data_dir, prepare=False)
    try:
        report = _ingest(container, tmp_path)
        assert embedded == []
        assert report.answers_job is None  # nothing queued

        body = await _ask(container)

        assert any("lockers on level -1" in text for text in embedded)
        assert "lockers on level -1" in body["answer"]
    finally:
        container.close()
