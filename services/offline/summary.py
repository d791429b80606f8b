"""The offline model's conversation summary: extractive, no generation (the
`ExtractiveSummariser` port of `use_cases/conversations`). Separate from the answerer.

Each message ("role: text") is split into sentences; every sentence is embedded with the
project's embedder; a sentence's score is its cosine similarity to the conversation's
centroid (how central it is), plus a small bonus for coming early in the conversation
(openings state what a conversation is about) and for a question of the user's. The best
sentences are kept, in the conversation's order, until `max_chars`. Sentences shorter than
4 words carry little and are skipped when there are others. A conversation of more than
`max_sentences` sentences is sampled evenly across its length, so the work stays bounded
(embedding is about 50-100 sentences a second on one core here).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from services.offline import tuning as offline_tuning
from services.offline.tuning import SummaryTuning
from use_cases.knowledge.ports import Embedder
from use_cases.shared.sentences import split_sentences as sentences_of

__all__ = ["CentroidSummariser", "split_sentences"]

_ROLE = re.compile(r"^(user|assistant):\s*")


def split_sentences(text: str) -> list[str]:
    """The text's sentences, each line on its own (a chat message's lines are not joined)."""
    return [" ".join(s.split()) for line in text.splitlines() for s in sentences_of(line)]


class CentroidSummariser:
    def __init__(
        self,
        embedder: Embedder,
        *,
        max_sentences: int = 400,
        pick: int = 5,
        tuning: SummaryTuning | None = None,
    ) -> None:
        """`tuning`: the bonuses (`SummaryTuning`); `tuning.DEFAULT_TUNING`'s as they are when
        the summariser is made, without one."""
        self._embedder = embedder
        self._tuning = offline_tuning.DEFAULT_TUNING.summary if tuning is None else tuning
        self._max_sentences = max_sentences
        self._pick = pick

    def summarise(self, texts: Sequence[str], *, max_chars: int) -> str:
        sentences: list[tuple[str, bool]] = []  # (sentence, said by the user)
        for text in texts:
            role = _ROLE.match(text)
            body = text[role.end() :] if role else text
            user = bool(role and role.group(1) == "user")
            sentences += [(s, user) for s in split_sentences(body)]
        if not sentences:
            return ""
        substantial = [s for s in sentences if len(s[0].split()) >= 4]
        sentences = substantial or sentences
        if len(sentences) > self._max_sentences:
            step = len(sentences) / self._max_sentences
            sentences = [sentences[int(i * step)] for i in range(self._max_sentences)]
        if len(sentences) <= 2:
            return _joined([s for s, _ in sentences], max_chars)
        vectors = np.asarray(self._embedder.embed_documents([s for s, _ in sentences]))
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        centroid = vectors.mean(axis=0)
        centroid = centroid / max(float(np.linalg.norm(centroid)), 1e-9)
        n = len(sentences)
        bonus = self._tuning
        scores = [
            float(vectors[i] @ centroid)
            + bonus.position_bonus * (1 - i / n)
            + (bonus.question_bonus if user and sentence.endswith("?") else 0.0)
            for i, (sentence, user) in enumerate(sentences)
        ]
        ranked = sorted(range(n), key=lambda i: (-scores[i], i))
        chosen: list[int] = []
        size = 0
        for i in ranked:
            if len(chosen) == self._pick:
                break
            length = len(sentences[i][0]) + 1
            if chosen and size + length > max_chars:
                continue
            chosen.append(i)
            size += length
        return _joined([sentences[i][0] for i in sorted(chosen)], max_chars)


def _joined(sentences: list[str], max_chars: int) -> str:
    text = " ".join(sentences)
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"
