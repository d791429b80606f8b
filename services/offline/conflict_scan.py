"""`ConflictFinder` over the knowledge base: each current document's sections are searched for
(hybrid search, the section's text as the query), and their sentences compared with the
sentences of the other current documents found, by the answers' own rules
(`conflicts.disagreement`): so a pair this report lists is a pair an answer would call
disagreeing, and the other way round.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from services.offline import tuning as offline_tuning
from services.offline.conflicts import disagreement, same_subject_by, values
from services.offline.read import units_of
from services.offline.semantic import SentenceSimilarity
from services.offline.tuning import ConfidenceTuning
from use_cases.knowledge.conflicts import ConflictReport, ConflictSide, DocumentConflict
from use_cases.knowledge.domain import DocumentRecord, SearchHit
from use_cases.knowledge.ports import KnowledgeStore, Retriever

#: Hits compared with each section.
NEIGHBOURS = 5
#: Characters of a section used as its search query.
QUERY_CHARS = 1_000


class KnowledgeConflicts:
    def __init__(
        self,
        store: KnowledgeStore,
        retriever: Retriever,
        similarity: SentenceSimilarity | None = None,
        tuning: ConfidenceTuning | None = None,
    ) -> None:
        self._store = store
        self._retriever = retriever
        # The answers' own bar: the knobs in force when the scan is made.
        knobs = offline_tuning.DEFAULT_TUNING.confidence if tuning is None else tuning
        self._same_subject = same_subject_by(similarity, knobs)

    def find(
        self, limit: int, max_sections: int, stop: Callable[[], bool] = lambda: False
    ) -> ConflictReport:
        found: list[DocumentConflict] = []
        seen: set[tuple[int, int, str]] = set()
        checked = 0
        for record in self._current_documents():
            detail = self._store.get_document(record.id)
            if detail is None:
                continue
            for section in detail.sections:
                mine = _valued_sentences(section.text)
                if not mine:
                    continue
                if checked >= max_sections or stop():
                    return ConflictReport(tuple(found), checked, complete=False)
                checked += 1
                for hit in self._neighbours(record.id, section.text):
                    for conflict in self._compare(record, section.text, mine, hit):
                        key = (
                            min(record.id, hit.document_id),
                            max(record.id, hit.document_id),
                            conflict.unit,
                        )
                        if key not in seen:
                            seen.add(key)
                            found.append(conflict)
                            if len(found) >= limit:
                                return ConflictReport(tuple(found), checked, complete=False)
        return ConflictReport(tuple(found), checked, complete=True)

    def _current_documents(self) -> Iterator[DocumentRecord]:
        offset = 0
        while True:
            page, total = self._store.list_documents(limit=500, offset=offset)
            yield from (d for d in page if d.superseded_by_id is None)
            offset += len(page)
            if not page or offset >= total:
                return

    def _neighbours(self, document_id: int, text: str) -> list[SearchHit]:
        hits = self._retriever.search(text[:QUERY_CHARS], NEIGHBOURS)
        return [
            h
            for h in hits
            if h.superseded_by is None
            and h.document_id != document_id
            and document_id not in {ref.document_id for ref in h.supersedes}
        ]

    def _compare(
        self, record: DocumentRecord, text: str, mine: list[str], hit: SearchHit
    ) -> Iterator[DocumentConflict]:
        theirs = _valued_sentences(hit.section_text)
        whole = {record.id: text, hit.document_id: hit.section_text}
        for sentence in mine:
            for other in theirs:
                pair = disagreement(
                    [sentence, other],
                    [record.id, hit.document_id],
                    lambda _: True,
                    self._same_subject,  # the answers' own bar
                    whole,
                )
                if pair is not None:
                    yield DocumentConflict(
                        pair.unit,
                        ConflictSide(
                            record.id, record.title, record.source, sentence, pair.first_values
                        ),
                        ConflictSide(
                            hit.document_id, hit.title, hit.source, other, pair.second_values
                        ),
                    )


def _valued_sentences(text: str) -> list[str]:
    return [u.text for u in units_of(text, set(), 0, 0) if values(u.text)]
