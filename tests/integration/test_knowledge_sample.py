"""The bundled sample knowledge base through the real pipeline on both backends: ingestion
(`IngestDocuments`: loader, chunker, local MiniLM, staging, versions) and hybrid search, whose
top hits must name the document each sample question is about."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from backend.components import LOCAL_MODEL_DIRNAME
from backend.config import Settings
from backend.sources import collect_sources
from services.clock import SystemClock
from services.knowledge.chunking import HeadingChunker
from services.knowledge.embedders.minilm import MiniLMEmbedder
from services.knowledge.embedders.minilm_build import is_installed
from services.knowledge.loaders import FileLoader
from tests.knowledge_backends import make_retriever, open_store
from tests.narrowing import present
from use_cases.knowledge.domain import SavedDocument
from use_cases.knowledge.ingest import IngestDocuments, IngestRequest

pytestmark = pytest.mark.slow

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


class CachedEmbedder:
    """MiniLM with its vectors kept for the other backend's run (the same texts are embedded
    for both; embedding them once halves the test's time)."""

    def __init__(self, inner: MiniLMEmbedder) -> None:
        self.inner = inner
        self.model, self.dimension = inner.model, inner.dimension
        self.cache: dict[tuple[str, str], np.ndarray] = {}

    def embed_documents(self, texts: Sequence[str]) -> list[np.ndarray]:
        missing = [t for t in dict.fromkeys(texts) if ("d", t) not in self.cache]
        for text, vector in zip(missing, self.inner.embed_documents(missing), strict=True):
            self.cache["d", text] = np.asarray(vector)
        return [self.cache["d", t] for t in texts]

    def embed_query(self, text: str) -> np.ndarray:
        if ("q", text) not in self.cache:
            self.cache["q", text] = np.asarray(self.inner.embed_query(text))
        return self.cache["q", text]


class RecordingPreparation:
    """`AnswerPreparation` that records which documents it was given, once saved."""

    def __init__(self, prepared: list[int]) -> None:
        self._prepared = prepared

    def schedule(self, documents: Sequence[SavedDocument]) -> str | None:
        self._prepared.extend(d.document_id for d in documents)
        return None


@pytest.fixture(scope="module")
def embedder() -> CachedEmbedder:
    model_dir = Settings().embeddings.models_dir / LOCAL_MODEL_DIRNAME
    if not is_installed(model_dir):
        pytest.skip(f"the local MiniLM model is not installed in {model_dir} (run `make model`)")
    return CachedEmbedder(MiniLMEmbedder(model_dir))


@pytest.mark.slow
def test_the_sample_knowledge_base_ingests_and_answers_its_questions(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, embedder: CachedEmbedder
) -> None:
    questions = [
        json.loads(line)
        for line in (SAMPLE / "questions.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    kb = [q for q in questions if q["kind"] == "kb"]
    with open_store(backend, tmp_path, request) as store:
        loader = FileLoader()
        prepared: list[int] = []
        ingest = IngestDocuments(
            store,
            loader,
            HeadingChunker(),
            embedder,
            SystemClock(),
            pipeline_signature="sample",
            preparation=RecordingPreparation(prepared),
        )
        sources = collect_sources([SAMPLE / "knowledge_base"], loader)
        report = ingest.run(IngestRequest(sources=sources))
        assert not report.failed, report.failed
        assert report.count("added") == store.stats().documents >= 30
        added = [i.document_id for i in report.items if i.status == "added"]
        assert sorted(prepared) == sorted(_known(added))
        prepared.clear()
        again = ingest.run(
            IngestRequest(sources=collect_sources([SAMPLE / "knowledge_base"], loader))
        )
        assert again.count("added") == 0  # unchanged files are recognised
        assert prepared == []  # and not prepared again

        retriever = make_retriever(store, embedder)
        try:
            top1 = top3 = 0
            for q in kb:
                hits = retriever.search(q["question"], k=3)
                sources_found = [h.source for h in hits]
                top1 += sources_found[:1] == [q["source"]]
                top3 += q["source"] in sources_found
            password = retriever.search("minimum password length", k=5)
        finally:
            retriever.close()
    assert top3 >= 0.9 * len(kb), (backend, top1, top3, len(kb))
    assert top1 >= 0.75 * len(kb), (backend, top1, top3, len(kb))
    # The recorded `supersedes` relation: the current policy ranks above the old one.
    ranked = [h.source for h in password]
    assert ranked[0] == "policies/password-policy-2025.md"
    old = [h for h in password if h.superseded_by is not None]
    assert all(present(h.superseded_by).source == "policies/password-policy-2025.md" for h in old)


def _known(ids: list[int | None]) -> list[int]:
    """The ids of added documents, every one of which has its id."""
    assert None not in ids, ids
    return [i for i in ids if i is not None]
