"""Uploads and their background jobs, on in-memory fakes: only admins upload, a job is its
uploader's (and the admins'), and a job writes as the admin who uploaded."""

from __future__ import annotations

import json
from dataclasses import replace as replace_record
from datetime import UTC, date, datetime
from typing import Any

import pytest

from tests.fakes import InMemoryJobQueue
from use_cases.access.domain import Caller
from use_cases.admin.uploads import UploadDocument, UploadRequest, result_from_json, result_to_json
from use_cases.jobs.queue import EVAL_RUN, INGEST_UPLOAD, GetJob
from use_cases.knowledge.domain import DocumentRecord, IngestItem, IngestReport, UploadResult
from use_cases.knowledge.ingest import IngestRequest
from use_cases.shared.errors import Forbidden, InvalidRequest, NotFound, PayloadTooLarge

ROOT = Caller("root", "admin", "key_root")
OPS = Caller("ops", "admin", "key_ops")
ANA = Caller("ana", "user", "key_ana")
RECORD = DocumentRecord(
    id=7,
    source="handbook.md",
    title="Handbook",
    category=None,
    updated_at=None,
    media_type="text/markdown",
    content_hash="h",
    size_bytes=5000,
    section_count=1,
    chunk_count=40,
    ingested_at=datetime(2026, 3, 2, tzinfo=UTC),
)


class RecordingAdminIngest:
    """Stands in for `IngestAsAdmin`: remembers who ran what (it would audit as them)."""

    def __init__(self) -> None:
        self.checked: list[Caller] = []
        self.ran: list[tuple[Caller, IngestRequest]] = []

    def check(self, actor: Caller, request: IngestRequest) -> IngestItem | None:
        self.checked.append(actor)
        return None

    def run(self, actor: Caller, request: IngestRequest) -> IngestReport:
        self.ran.append((actor, request))
        return IngestReport((IngestItem("handbook.md", "added", RECORD.id, chunks=40),))


class OneRecordStore:
    def get_record(self, document_id: int) -> DocumentRecord | None:
        return RECORD if document_id == RECORD.id else None


def _upload(ingest: Any, jobs: InMemoryJobQueue) -> UploadDocument:
    upload = UploadDocument(
        ingest,
        OneRecordStore(),  # type: ignore[arg-type]  # the one read an upload job makes of the store
        jobs,
        max_bytes=10_000,
        job_bytes=1_000,
        file_types=(".md",),
    )
    jobs.register(INGEST_UPLOAD, upload.run_job, decode=result_from_json)
    return upload


async def test_a_large_upload_is_a_job_of_its_admin_that_writes_as_that_admin() -> None:
    ingest, jobs = RecordingAdminIngest(), InMemoryJobQueue()

    outcome = await _upload(ingest, jobs).execute(ROOT, UploadRequest("handbook.md", b"x" * 5000))

    assert outcome.job is not None and outcome.job.created_by == "root"
    assert ingest.ran == []  # nothing written until the job runs
    await jobs.run_all()  # from the job's payload and bytes (JSON), as another process would
    [(actor, request)] = ingest.ran
    assert actor == ROOT and request.distinct_title
    [source] = request.sources
    assert (source.name, source.read()) == ("handbook.md", b"x" * 5000)
    done = jobs.get(outcome.job.id)
    assert done is not None and done.result is not None and done.result.document == RECORD
    assert done.result.item == IngestItem("handbook.md", "added", RECORD.id, chunks=40)


def test_an_upload_result_survives_its_json_form() -> None:
    replaced = replace_record(RECORD, id=3, updated_at=date(2025, 1, 2))
    result = UploadResult(IngestItem("handbook.md", "updated", 7, 40, replaced=replaced), RECORD)

    assert result_from_json(json.loads(json.dumps(result_to_json(result)))) == result


async def test_only_admins_upload_and_nothing_is_checked_for_others() -> None:
    ingest, jobs = RecordingAdminIngest(), InMemoryJobQueue()

    with pytest.raises(Forbidden, match="admin role"):
        await _upload(ingest, jobs).execute(ANA, UploadRequest("handbook.md", b"x" * 5000))

    assert (ingest.checked, ingest.ran, jobs.jobs) == ([], [], {})


async def test_a_job_is_shown_to_the_admin_who_created_it_and_to_other_admins() -> None:
    jobs = InMemoryJobQueue()
    job = jobs.submit(INGEST_UPLOAD, "handbook.md", {}, created_by="root")

    assert (await GetJob(jobs).execute(ROOT, job.id)).id == job.id
    assert (await GetJob(jobs).execute(OPS, job.id)).id == job.id


async def test_anyone_elses_job_is_not_found_like_a_missing_one() -> None:
    jobs = InMemoryJobQueue()
    job = jobs.submit(INGEST_UPLOAD, "handbook.md", {}, created_by="root")

    with pytest.raises(NotFound) as theirs:
        await GetJob(jobs).execute(ANA, job.id)
    with pytest.raises(NotFound) as missing:
        await GetJob(jobs).execute(ANA, "job-none")
    assert str(theirs.value).replace(job.id, "ID") == str(missing.value).replace("job-none", "ID")


async def test_only_upload_jobs_are_shown_as_jobs() -> None:
    jobs = InMemoryJobQueue()
    job = jobs.submit(EVAL_RUN, "evaluation run", {"run_id": "run_1"}, created_by="root")

    with pytest.raises(NotFound):
        await GetJob(jobs).execute(ROOT, job.id)


# -- the checks made in the request, before anything is read or parsed -------------------------


async def test_an_upload_without_a_file_name_is_refused_before_any_check() -> None:
    ingest, jobs = RecordingAdminIngest(), InMemoryJobQueue()

    with pytest.raises(InvalidRequest, match="no file name"):
        await _upload(ingest, jobs).execute(ROOT, UploadRequest(" ../dir/ ", b"# Text"))

    assert (ingest.checked, ingest.ran) == ([], [])


async def test_the_file_name_is_reduced_to_its_last_part_which_is_the_source() -> None:
    ingest, jobs = RecordingAdminIngest(), InMemoryJobQueue()

    await _upload(ingest, jobs).execute(
        ROOT, UploadRequest("..\\..\\etc/handbook.md", b"# Text", category=" ops ")
    )

    [(_, request)] = ingest.ran
    [source] = request.sources
    assert (source.source, source.name, request.category) == ("handbook.md", "handbook.md", "ops")


async def test_an_upload_over_the_limit_is_refused_without_being_checked() -> None:
    ingest, jobs = RecordingAdminIngest(), InMemoryJobQueue()
    upload = _upload(ingest, jobs)

    with pytest.raises(PayloadTooLarge, match="10,000-byte upload limit"):
        await upload.execute(ROOT, UploadRequest("handbook.md", b"x" * upload.read_limit))

    assert upload.read_limit == 10_001  # what the route reads: enough to tell, no more
    assert (ingest.checked, ingest.ran, jobs.jobs) == ([], [], {})
