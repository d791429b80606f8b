"""The in-memory job queue: order, states, progress, a full queue, shutting down."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from services.job_queue import ThreadJobQueue
from use_cases.domain import DocumentRecord, IngestItem, UploadResult
from use_cases.errors import InvalidDocument, ServiceBusy
from use_cases.jobs import ChunkProgress, JobView

RECORD = DocumentRecord(
    id=1,
    source="a.md",
    title="A",
    category=None,
    updated_at=None,
    media_type="text/markdown",
    content_hash="h",
    size_bytes=1,
    section_count=1,
    chunk_count=2,
    ingested_at=datetime(2026, 1, 1, tzinfo=UTC),
)
RESULT = UploadResult(IngestItem("a.md", "added", 1, chunks=2), RECORD)


def _wait(queue: ThreadJobQueue, job_id: str, status: str) -> JobView:
    for _ in range(500):
        job = queue.get(job_id)
        if job is not None and job.status == status:
            return job
        time.sleep(0.01)
    raise AssertionError(f"job never reached {status}: {queue.get(job_id)}")


def test_a_job_goes_queued_running_done_with_its_progress_and_result() -> None:
    queue = ThreadJobQueue()
    gate = threading.Event()

    def work(progress: ChunkProgress) -> UploadResult:
        progress(1, 2)
        gate.wait(5)
        progress(2, 2)
        return RESULT

    blocker = queue.submit("first.md", lambda progress: (gate.wait(5), RESULT)[1])
    job = queue.submit("a.md", work)
    assert job.status == "queued" and job.chunks_total is None
    _wait(queue, blocker.id, "running")
    assert queue.get(job.id).status == "queued"  # type: ignore[union-attr]

    gate.set()
    done = _wait(queue, job.id, "done")

    assert (done.chunks_done, done.chunks_total) == (2, 2)
    assert done.result == RESULT and done.error is None
    assert done.started_at is not None and done.finished_at is not None
    queue.close()


def test_a_failing_job_keeps_the_domain_error_and_hides_unexpected_ones() -> None:
    queue = ThreadJobQueue()

    def refused(progress: ChunkProgress) -> UploadResult:
        raise InvalidDocument("a.md has no text to index.")

    def broken(progress: ChunkProgress) -> UploadResult:
        raise RuntimeError("secret internals")

    first, second = queue.submit("a.md", refused), queue.submit("b.md", broken)
    failed = _wait(queue, first.id, "failed")
    crashed = _wait(queue, second.id, "failed")

    assert (failed.error.type, failed.error.detail) == (  # type: ignore[union-attr]
        "invalid_document",
        "a.md has no text to index.",
    )
    assert crashed.error.type == "internal_error"  # type: ignore[union-attr]
    assert "secret" not in crashed.error.detail  # type: ignore[union-attr]
    queue.close()


def test_a_full_queue_refuses_more_work() -> None:
    queue = ThreadJobQueue(max_pending=2)
    gate = threading.Event()
    queue.submit("a.md", lambda progress: (gate.wait(5), RESULT)[1])
    queue.submit("b.md", lambda progress: RESULT)

    with pytest.raises(ServiceBusy):
        queue.submit("c.md", lambda progress: RESULT)
    gate.set()
    queue.close()


def test_closing_cancels_the_running_job_at_its_next_progress_report_and_the_waiting_ones() -> None:
    queue = ThreadJobQueue()
    started = threading.Event()

    def long(progress: ChunkProgress) -> UploadResult:
        started.set()
        for done in range(1, 1000):
            time.sleep(0.01)
            progress(done, 1000)
        return RESULT

    running = queue.submit("long.md", long)
    waiting = queue.submit("next.md", lambda progress: RESULT)
    started.wait(5)

    queue.close()

    assert queue.get(running.id).error.type == "job_cancelled"  # type: ignore[union-attr]
    assert queue.get(waiting.id).status == "failed"  # type: ignore[union-attr]
    with pytest.raises(ServiceBusy):
        queue.submit("late.md", lambda progress: RESULT)
