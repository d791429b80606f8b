"""`SentencePreparer`: the offline model's `AnswerPreparer`. When a document is saved it
embeds the document's sentences as answers will score them (`candidates.sentence_texts` of each
section, as the search tool hands it over) into the shared `SentenceVectorStore`, so that
no question, the first included, waits for the embedding of a passage it retrieved.

Measured on a 2-core AMD EPYC (2026-11-24): the bundled sample's 1,188 sentences take ~7 s
on both cores, once per data directory.
"""

from __future__ import annotations

import time
from typing import Any

from loguru import logger

from services.offline.candidates import sentence_texts
from services.offline.semantic import SentenceSimilarity
from use_cases.knowledge.domain import DocumentDraft
from use_cases.tables.markdown import escape_html


class SentencePreparer:
    def __init__(self, similarity: SentenceSimilarity) -> None:
        self._similarity = similarity

    def prepare(self, document: DocumentDraft) -> None:
        started = time.perf_counter()
        try:
            texts = [
                text
                for section in document.sections
                for text in sentence_texts(
                    _as_hit(document.title, section.heading_path, section.text)
                )
            ]
            embedded = self._similarity.prepare(texts)
        except Exception as exc:  # a cache: the answer embeds what it needs itself
            logger.opt(exception=exc).warning(
                "Sentences of {} not prepared: {}", document.source, exc
            )
            return
        logger.debug(
            "Prepared {} sentences of {} ({} new) in {:.2f} s",
            len(texts),
            document.source,
            embedded,
            time.perf_counter() - started,
        )


def _as_hit(title: str, heading_path: tuple[str, ...], text: str) -> dict[str, Any]:
    """A section as the search tool hands it to the model (`use_cases.chat.agent`)."""
    return {"title": title, "section": " > ".join(heading_path), "text": escape_html(text)}
