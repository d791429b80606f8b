"""`PrepareAnswers` on fakes: which documents a preparation job prepares, skips, or undoes,
and how it counts its progress (tests/e2e/test_answer_readiness.py runs it for real)."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import FixedClock
from tests.fakes.knowledge import (
    HashingEmbedder,
    InMemoryKnowledgeStore,
    SentenceChunker,
    TextLoader,
)
from use_cases.jobs.prepare_answers import PrepareAnswers
from use_cases.knowledge.domain import DocumentDetail, PreparedWork, SavedDocument
from use_cases.knowledge.ingest import IngestDocuments, IngestRequest, IngestSource


class Preparer:
    """`AnswerPreparer` that records what it prepared and forgot; `during` runs in the
    middle of a document's preparation (another request changing the knowledge base)."""

    def __init__(self) -> None:
        self.prepared: list[str] = []
        self.forgotten: list[PreparedWork] = []
        self.during: Callable[[DocumentDetail], None] = lambda detail: None

    def prepare(
        self, document: DocumentDetail, on_progress: Callable[[float], None] | None = None
    ) -> PreparedWork:
        if on_progress is not None:
            on_progress(0.5)
        self.during(document)
        self.prepared.append(document.document.source)
        return PreparedWork((f"sentences of {document.document.source}",))

    def forget(self, work: PreparedWork) -> None:
        self.forgotten.append(work)


class NoJobs:
    """The job queue is not used by `run` (the job handler's synchronous body)."""

    def submit(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("run() queues nothing")


def _saved(store: InMemoryKnowledgeStore, *texts: tuple[str, str]) -> list[SavedDocument]:
    ingest = IngestDocuments(
        store,
        TextLoader(),
        SentenceChunker(),
        HashingEmbedder(),
        FixedClock(),
        pipeline_signature="test",
    )
    sources = [IngestSource(name, name, _reading(body)) for name, body in texts]
    report = ingest.run(IngestRequest(sources=sources))
    saved = []
    for item in report.items:
        record = store.get_record(item.document_id or 0)
        assert record is not None
        saved.append(SavedDocument(record.id, record.content_hash, record.chunk_count))
    return saved


def _prepare(store: InMemoryKnowledgeStore, preparer: Preparer) -> PrepareAnswers:
    return PrepareAnswers(NoJobs(), store, preparer)  # type: ignore[arg-type]  # a queue that takes no job


def test_each_document_still_stored_as_saved_is_prepared_and_progress_counts_chunks() -> None:
    store, preparer = InMemoryKnowledgeStore(), Preparer()
    saved = _saved(store, ("a.txt", "title: A\n\nOne. Two."), ("b.txt", "title: B\n\nThree."))
    progress: list[tuple[int, int]] = []

    result = _prepare(store, preparer).run(
        saved, lambda done, total: progress.append((done, total))
    )

    total = sum(d.chunks for d in saved)
    assert preparer.prepared == ["a.txt", "b.txt"]
    assert result == {"prepared": 2, "skipped": 0, "chunks": total}
    assert progress[0] == (0, total) and progress[-1] == (total, total)
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)


def test_a_document_removed_or_replaced_before_its_turn_is_skipped() -> None:
    store, preparer = InMemoryKnowledgeStore(), Preparer()
    removed, replaced = _saved(store, ("a.txt", "title: A\n\nOne."), ("b.txt", "title: B\n\nTwo."))
    store.delete_document(removed.document_id)
    stale = SavedDocument(replaced.document_id, "the hash of an earlier version", replaced.chunks)

    result = _prepare(store, preparer).run([removed, stale])

    assert preparer.prepared == []
    assert result["skipped"] == 2


def test_a_document_removed_while_it_was_prepared_has_that_work_undone() -> None:
    store, preparer = InMemoryKnowledgeStore(), Preparer()
    (saved,) = _saved(store, ("a.txt", "title: A\n\nOne."))

    def remove(detail: DocumentDetail) -> None:
        store.delete_document(detail.document.id)

    preparer.during = remove

    result = _prepare(store, preparer).run([saved])

    assert preparer.forgotten == [PreparedWork(("sentences of a.txt",))]
    assert result == {"prepared": 0, "skipped": 1, "chunks": saved.chunks}


def _reading(body: str) -> Callable[[], bytes]:
    """A source's reader of `body`."""
    return lambda: body.encode()
