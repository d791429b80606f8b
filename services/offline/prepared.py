"""`SentencePreparer`: the offline model's `AnswerPreparer`. For a stored document it embeds
the document's sentences as answers will score them (`candidates.sentence_texts` of each
section, as the search tool hands it over) into the shared `SentenceVectorStore`, so that
no question, the first included, waits for the embedding of a passage it retrieved. It runs
after ingestion has committed the document, as a background job (`PrepareAnswers`,
use_cases/jobs/prepare_answers.py): a question asked before then embeds the sentences of its
own hits, each on its own, which gives the very vectors this writes (`semantic.py`).

Measured on a 2-core AMD EPYC (2026-11-24): the bundled sample's 1,188 sentences take ~7 s
on both cores, once per data directory.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from loguru import logger

from services.offline.candidates import sentence_texts
from services.offline.semantic import SentenceSimilarity
from use_cases.knowledge.domain import DocumentDetail, PreparedWork
from use_cases.shared.errors import AlmanacError
from use_cases.tables.markdown import escape_html


class SentencePreparer:
    def __init__(self, similarity: SentenceSimilarity) -> None:
        self._similarity = similarity

    def prepare(
        self, document: DocumentDetail, on_progress: Callable[[float], None] | None = None
    ) -> PreparedWork:
        """Embed what the store lacks of the document's sentences. A domain error raised by
        `on_progress` (the job is cancelled) stops it and is raised; any other failure is
        logged (a cache: the answer embeds what it needs itself)."""
        started = time.perf_counter()
        record = document.document
        try:
            texts = sentence_texts_of(document)
            embedded = self._similarity.prepare_texts(texts, on_progress)
        except AlmanacError:
            raise
        except Exception as exc:
            logger.opt(exception=exc).warning(
                "Sentences of {} not prepared: {}", record.source, exc
            )
            return PreparedWork()
        logger.debug(
            "Prepared {} sentences of {} ({} new) in {:.2f} s",
            len(texts),
            record.source,
            len(embedded),
            time.perf_counter() - started,
        )
        return PreparedWork(tuple(embedded))

    def forget(self, work: PreparedWork) -> None:
        try:
            self._similarity.forget(work.texts)
        except Exception as exc:  # a cache: what stays is found by no other text
            logger.opt(exception=exc).warning("Prepared sentences not removed: {}", exc)


def sentence_texts_of(document: DocumentDetail) -> list[str]:
    """A stored document's sentences as answers score them, section by section."""
    title = document.document.title
    return [
        text
        for section in document.sections
        for text in sentence_texts(_as_hit(title, section.heading_path, section.text))
    ]


def _as_hit(title: str, heading_path: tuple[str, ...], text: str) -> dict[str, Any]:
    """A section as the search tool hands it to the model (`use_cases.chat.agent`)."""
    return {"title": title, "section": " > ".join(heading_path), "text": escape_html(text)}
