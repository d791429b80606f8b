"""Answer-ready after searchable: the answering model's work ahead for newly saved documents
(the offline model's sentence vectors) runs as a background job once ingestion has
committed them, so a folder is searchable at the embedder's speed.

Rules:
- One job (`prepare_answers`) per ingest run that saved documents, queued after the run's
  last commit; its payload names each document with the content hash it was saved with and
  its chunks. Progress is counted in chunks, as an upload's is: a document's chunks are done
  once its sentences are.
- A document removed, or replaced by other content, before its turn is skipped; one removed
  or replaced while its sentences were being prepared has what the job added for it dropped
  again (`AnswerPreparer.forget`). The job never leaves work behind for a document that is
  gone, and never fails because of one.
- The work is a cache: a question asked before the job is done is answered identically (the
  answer embeds what its hits lack, the same way), only later. So a job that cannot be
  queued is logged and the ingest goes on, and running it twice (a job taken over after its
  process died, or resumed at the next start: use_cases/jobs/queue.py) costs time only.
- The job is shown at `/api/jobs/{id}` like an upload's (to admins; to no one else), and its
  result counts the documents prepared and skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from loguru import logger

from use_cases.jobs.queue import PREPARE_ANSWERS, ChunkProgress, JobQueue, JobRun, run_blocking
from use_cases.knowledge.domain import SavedDocument
from use_cases.knowledge.ports import AnswerPreparer, KnowledgeStore
from use_cases.shared.errors import AlmanacError


class PrepareAnswers:
    """The `AnswerPreparation` port as a background job; the module docstring has the rules.
    Without a `preparer` (nothing is prepared ahead: PREPARE_SENTENCES=false, or a hosted
    embedder) it still ends the jobs an earlier configuration left queued, preparing nothing."""

    def __init__(
        self,
        jobs: JobQueue,
        store: KnowledgeStore,
        preparer: AnswerPreparer | None,
        *,
        poll_s: float = 0.1,
    ) -> None:
        self._jobs = jobs
        self._store = store
        self._preparer = preparer
        self._poll_s = poll_s

    def schedule(self, documents: Sequence[SavedDocument]) -> str | None:
        """Queue the job for `documents` (called after they are committed); its id."""
        if not documents:
            return None
        chunks = sum(d.chunks for d in documents)
        payload = {
            "documents": [
                {"id": d.document_id, "content_hash": d.content_hash, "chunks": d.chunks}
                for d in documents
            ]
        }
        noun = "document" if len(documents) == 1 else "documents"
        try:
            job = self._jobs.submit(
                PREPARE_ANSWERS, f"answers for {len(documents)} {noun} ({chunks} chunks)", payload
            )
        except AlmanacError as exc:  # a closing queue: answers do the work themselves
            logger.warning("Answer preparation not queued: {}", exc.detail)
            return None
        return job.id

    async def run_job(self, job: JobRun) -> dict[str, Any]:
        """The `prepare_answers` job handler."""
        documents = _documents(job.payload)
        return await run_blocking(lambda: self.run(documents, job.progress))

    def run(
        self, documents: Sequence[SavedDocument], progress: ChunkProgress | None = None
    ) -> dict[str, Any]:
        """Synchronous body: prepare each document still stored with the content it was
        saved with. `progress(chunks done, chunks)` may raise `JobCancelled` to stop."""
        total = sum(d.chunks for d in documents)
        done, prepared, skipped = 0, 0, 0
        if progress is not None:
            progress(0, total)
        for document in documents:
            if self._preparer is not None and self._current(document):
                report = _share(progress, done, document.chunks, total)
                detail = self._store.get_document(document.document_id)
                work = self._preparer.prepare(detail, report) if detail is not None else None
                if work is not None and self._current(document):
                    prepared += 1
                else:  # removed or replaced meanwhile: nothing of it stays behind
                    if work is not None:
                        self._preparer.forget(work)
                    skipped += 1
            else:
                skipped += 1
            done += document.chunks
            if progress is not None:
                progress(done, total)
        return {"prepared": prepared, "skipped": skipped, "chunks": total}

    async def wait(self, job_id: str, on_progress: ChunkProgress | None = None) -> str:
        """Until the job ends (the CLI, the benchmark, tests); its final status. A job that
        is no longer kept counts as done."""
        while True:
            job = await asyncio.to_thread(self._jobs.get, job_id)
            if job is None:
                return "done"
            if on_progress is not None and job.chunks_total is not None:
                on_progress(job.chunks_done, job.chunks_total)
            if job.status in ("done", "failed"):
                return job.status
            await asyncio.sleep(self._poll_s)

    def _current(self, document: SavedDocument) -> bool:
        record = self._store.get_record(document.document_id)
        return record is not None and record.content_hash == document.content_hash


def _share(
    progress: ChunkProgress | None, done: int, chunks: int, total: int
) -> Callable[[float], None] | None:
    """A document's progress (a share of its sentences) as chunks of the whole job."""
    if progress is None:
        return None
    return lambda share: progress(done + int(chunks * share), total)


def _documents(payload: Mapping[str, Any]) -> list[SavedDocument]:
    return [
        SavedDocument(int(d["id"]), str(d["content_hash"]), int(d["chunks"]))
        for d in payload.get("documents", [])
    ]
