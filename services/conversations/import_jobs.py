"""The `ImportJobs` port on the job queue (`services/job_queue.py`): export imports run as
jobs of kind `conversation_import`; their progress is the queue's (done, total) counted in
conversations, their result the handler's JSON as stored."""

from __future__ import annotations

from services.job_queue import QueueLimits, StoredJob, WorkerJobQueue
from use_cases.conversations.import_domain import ImportJobView
from use_cases.conversations.imports import CONVERSATION_IMPORT

__all__ = ["IMPORT_LIMITS", "QueuedImportJobs"]

#: Import jobs waiting or running (all processes) before an upload is refused (503): 16 of
#: everyone's, 2 of one user's (so one user's large exports cannot turn everyone away).
IMPORT_LIMITS = QueueLimits("export imports", max_pending=16, per_user=2, retry_after_s=30)


class QueuedImportJobs:
    def __init__(self, queue: WorkerJobQueue) -> None:
        self._queue = queue

    def submit(self, name: str, data: bytes, *, created_by: str) -> ImportJobView:
        view = self._queue.submit(
            CONVERSATION_IMPORT,
            name,
            {"user_id": created_by, "filename": name},
            data=data,
            created_by=created_by,
        )
        stored = self._queue.store.get(view.id)
        assert stored is not None
        return _view(stored)

    def get(self, job_id: str) -> ImportJobView | None:
        stored = self._queue.store.get(job_id)
        if stored is None or stored.kind != CONVERSATION_IMPORT:
            return None
        return _view(stored)


def _view(job: StoredJob) -> ImportJobView:
    return ImportJobView(
        id=job.id,
        name=job.name,
        status=job.status,
        created_at=job.created_at,
        created_by=job.created_by,
        started_at=job.started_at,
        finished_at=job.finished_at,
        conversations_done=job.chunks_done,
        conversations_total=job.chunks_total,
        result=dict(job.result) if job.result is not None else None,
        error_type=job.error.type if job.error else None,
        error_detail=job.error.detail if job.error else None,
    )
