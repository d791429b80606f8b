"""The offline model's sentence scores must not depend on what was embedded before.

The int8 model quantizes activations with one scale per batch, so a sentence embedded in a
batch with others gets a slightly different vector than alone; batched scoring made an answer
near the bar depend on the questions asked earlier (which sentences were already cached).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from services.knowledge.embedders import MiniLMEmbedder
from services.knowledge.embedders import minilm_build as build
from services.offline.semantic import SentenceSimilarity
from services.offline.sentence_store import SentenceVectorFile
from tests.integration.test_minilm import MODEL_DIR

pytestmark = pytest.mark.skipif(
    not build.is_installed(MODEL_DIR),
    reason=f"local model not installed in {MODEL_DIR}; run `almanac model install`",
)

QUESTION = "code freeze dates over christmas / new year?"
TARGET = "Year-end hard freeze — Dates: 18 December – 2 January; Allowed: Emergency changes only"
OTHERS = [
    "ok",
    "Shifts are one week, starting and ending Monday 10:00 CET, and hand over in a short call "
    "between the outgoing and incoming primary, with the open incidents and alerts reviewed.",
]


def test_a_sentence_scores_the_same_alone_or_among_others() -> None:
    embedder = MiniLMEmbedder(MODEL_DIR)
    alone = SentenceSimilarity(embedder).similarities(QUESTION, [TARGET])[0]
    together = SentenceSimilarity(embedder).similarities(QUESTION, [TARGET, *OTHERS])[0]
    warmed = SentenceSimilarity(embedder)
    warmed.similarities("something else", OTHERS)
    after_others = warmed.similarities(QUESTION, [*OTHERS, TARGET])[-1]

    assert together == pytest.approx(alone, abs=1e-6)
    assert after_others == pytest.approx(alone, abs=1e-6)


def test_embed_each_gives_each_text_its_own_vector() -> None:
    """`embed_each` spreads single-text batches over the cores: the very vectors of one call
    per text, which is what lets prepared and on-demand vectors be interchangeable."""
    embedder = MiniLMEmbedder(MODEL_DIR, threads=2)
    texts = [TARGET, *OTHERS, QUESTION]

    each = embedder.embed_each(texts)

    for row, text in zip(each, texts, strict=True):
        assert np.array_equal(row, embedder.embed_documents([text])[0])


def test_scores_read_from_the_store_equal_those_computed(tmp_path: Path) -> None:
    embedder = MiniLMEmbedder(MODEL_DIR)
    store = SentenceVectorFile(tmp_path / "v.db", embedder.model, embedder.dimension)
    SentenceSimilarity(embedder, store=store).prepare([TARGET, *OTHERS])

    stored = SentenceSimilarity(embedder, store=store).similarities(QUESTION, [TARGET, *OTHERS])
    computed = SentenceSimilarity(embedder).similarities(QUESTION, [TARGET, *OTHERS])

    assert stored == computed
