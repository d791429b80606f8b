"""Uploading one document over HTTP: checked in the request, ingested now or as a job.

Rules:
- Only admins upload (`Forbidden`, 403, before anything is read or checked). What an upload
  writes is audited as the uploading admin's action (`document.ingest`, or
  `document.replace` for `replace_id`): at once, or when its background job completes (the
  job keeps the admin as its actor and `created_by`). Unchanged uploads are not recorded.
- The file name is reduced to its last path part; it gives the type and the source (the
  key a later upload of the same name meets). An empty name is refused (422).
- More than `max_bytes` is refused (413). The presentation layer reads at most `read_limit`
  bytes of an upload (one past the limit: enough to tell, never more held).
- The cheap checks answer in the request, before any parsing: the type and whether the bytes
  are text (415), a source held by a document with other content when no `replace_id` says
  to replace it (409 `document_exists`; an upload never replaces silently), the bytes of
  another stored document (409 `duplicate_document`), an unknown `replace_id` (404). The
  same name and bytes again is `unchanged`, at once.
- An upload's title must be its own: the title of a document it neither replaces nor
  supersedes is refused (409 `title_taken`), so an upload cannot pose as a policy.
- Up to `job_bytes` the document is ingested in the request. Larger ones become a background
  job (see use_cases/jobs/queue.py): the caller gets the job to poll, whose result is what a direct
  upload would have answered. Dates, `supersedes:`, the title and the chunk limit are checked
  when the document is parsed: in the request, or as the job's error. The job holds the bytes
  and the request (file name, category, `replace_id`, the admin), not code, so any server
  process can run it (`run_job`); its result is stored as JSON (`result_to_json`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from typing import Any

from use_cases.access.domain import Caller, require_admin
from use_cases.admin.actions import IngestAsAdmin
from use_cases.jobs.queue import (
    INGEST_UPLOAD,
    ChunkProgress,
    JobQueue,
    JobRun,
    JobView,
    run_blocking,
)
from use_cases.knowledge.collections import ResolveReadScope
from use_cases.knowledge.domain import DocumentRecord, IngestItem, UploadResult
from use_cases.knowledge.ingest import CollectionChoice, IngestRequest, IngestSource
from use_cases.knowledge.ports import KnowledgeStore
from use_cases.shared.errors import InvalidRequest, NotFound, PayloadTooLarge


@dataclass(frozen=True)
class UploadRequest:
    filename: str
    data: bytes
    category: str | None = None
    replace_id: int | None = None
    collection: str | None = None
    """The collection to put it in (None: the default one, or a replaced document's own)."""


@dataclass(frozen=True)
class UploadOutcome:
    """Either the ingested document (`result`) or the background job that will ingest it."""

    result: UploadResult | None = None
    job: JobView | None = None


class UploadDocument:
    """Checks and ingests one uploaded file; the module docstring has the rules."""

    def __init__(
        self,
        ingest: IngestAsAdmin,
        store: KnowledgeStore,
        jobs: JobQueue,
        *,
        max_bytes: int,
        job_bytes: int,
        file_types: tuple[str, ...],
        collections: ResolveReadScope | None = None,
    ) -> None:
        self._collections = collections
        self._ingest = ingest
        self._store = store
        self._jobs = jobs
        self._max_bytes = max_bytes
        self._job_bytes = job_bytes
        self._file_types = file_types

    @property
    def file_types(self) -> tuple[str, ...]:
        """The file name endings an upload may have (".md", ".pdf", ...): the document
        loaders' types, which decide; an upload of another type is refused (415)."""
        return self._file_types

    @property
    def read_limit(self) -> int:
        """How many bytes of an upload to read: one past `max_bytes`, so an upload over the
        limit is refused without holding more of it."""
        return self._max_bytes + 1

    async def execute(self, actor: Caller, request: UploadRequest) -> UploadOutcome:
        require_admin(actor, "Uploading documents")
        name = request.filename.strip().replace("\\", "/").rsplit("/", 1)[-1]
        if not name:
            raise InvalidRequest("The upload has no file name; the type is taken from it.")
        if len(request.data) > self._max_bytes:
            raise PayloadTooLarge(
                f"{name} is larger than the {self._max_bytes:,}-byte upload limit "
                "(MAX_UPLOAD_BYTES)."
            )
        data = request.data
        category = (request.category or "").strip() or None
        collection = await asyncio.to_thread(self._collection, request.collection)
        ingest = self._request(name, data, category, request.replace_id, collection)
        unchanged = await asyncio.to_thread(self._ingest.check, actor, ingest)
        if unchanged is not None:
            return UploadOutcome(result=await asyncio.to_thread(self._result, unchanged))
        if len(data) > self._job_bytes:
            payload = {
                "actor": {"user_id": actor.user_id, "role": actor.role, "key_id": actor.key_id},
                "filename": name,
                "category": category,
                "replace_id": request.replace_id,
                "collection": None if collection is None else [collection.collection_id],
            }
            job = await asyncio.to_thread(
                self._jobs.submit,
                INGEST_UPLOAD,
                name,
                payload,
                data=data,
                created_by=actor.user_id,
            )
            return UploadOutcome(job=job)
        return UploadOutcome(result=await asyncio.to_thread(self._run, actor, ingest, None))

    async def run_job(self, job: JobRun) -> dict[str, Any]:
        """The `ingest_upload` job handler: ingest the stored bytes as the uploading admin."""
        payload = job.payload
        actor = Caller(**payload["actor"])
        if job.data is None:
            raise NotFound(f"The bytes of upload job {job.id} are gone; upload the file again.")
        ingest = replace(
            self._request(
                payload["filename"],
                job.data,
                payload["category"],
                payload["replace_id"],
                _choice(payload.get("collection")),
            ),
            lease=job.lease,
        )
        result = await run_blocking(lambda: self._run(actor, ingest, job.progress))
        return result_to_json(result)

    @staticmethod
    def _request(
        name: str,
        data: bytes,
        category: str | None,
        replace_id: int | None,
        collection: CollectionChoice | None = None,
    ) -> IngestRequest:
        return IngestRequest(
            sources=[IngestSource(source=name, name=name, read=lambda: data)],
            category=category,
            collection=collection,
            raise_errors=True,
            replace_id=replace_id,
            distinct_title=True,
        )

    def _run(
        self, actor: Caller, request: IngestRequest, progress: ChunkProgress | None
    ) -> UploadResult:
        if progress is not None:
            request = replace(request, on_chunks=progress)
        report = self._ingest.run(actor, request)
        return self._result(report.items[0], report.answers_job)

    def _collection(self, name: str | None) -> CollectionChoice | None:
        """The collection an upload names (checked before anything is stored)."""
        if name is None or not name.strip():
            return None
        if self._collections is None:
            raise InvalidRequest("Collections are not available here.")
        return CollectionChoice(self._collections.collection_id(name))

    def _result(self, item: IngestItem, answers_job: str | None = None) -> UploadResult:
        assert item.document_id is not None
        record = self._store.get_record(item.document_id)
        if record is None:  # removed in the meantime
            raise NotFound(f"Document {item.document_id} was removed while it was ingested.")
        return UploadResult(item, record, answers_job)


def result_to_json(result: UploadResult) -> dict[str, Any]:
    """An upload's result as JSON (dates as ISO strings), for a job's stored result."""
    return {
        "item": _jsonable(asdict(result.item)),
        "document": _jsonable(asdict(result.document)),
        "answers_job": result.answers_job,
    }


def result_from_json(data: Mapping[str, Any]) -> UploadResult:
    item = dict(data["item"])
    if item.get("replaced") is not None:
        item["replaced"] = _record(item["replaced"])
    return UploadResult(IngestItem(**item), _record(data["document"]), data.get("answers_job"))


def _choice(stored: Any) -> CollectionChoice | None:
    """A job payload's collection: None, or a one-item list of its id (null: the default)."""
    return None if stored is None else CollectionChoice(stored[0])


def _record(data: Mapping[str, Any]) -> DocumentRecord:
    fields = dict(data)
    if fields.get("updated_at") is not None:
        fields["updated_at"] = date.fromisoformat(fields["updated_at"])
    fields["ingested_at"] = datetime.fromisoformat(fields["ingested_at"])
    fields["withheld_instructions"] = tuple(fields.get("withheld_instructions") or ())
    return DocumentRecord(**fields)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(v) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    return value
