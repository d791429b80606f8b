"""The offline model's sentence scores must not depend on what was embedded before.

The int8 model quantizes activations with one scale per batch, so a sentence embedded in a
batch with others gets a slightly different vector than alone; batched scoring made an answer
near the bar depend on the questions asked earlier (which sentences were already cached).
"""

from __future__ import annotations

import pytest

from services.knowledge.embedders import MiniLMEmbedder
from services.knowledge.embedders import minilm_build as build
from services.offline.semantic import SentenceSimilarity
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
