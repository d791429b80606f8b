"""HTTP shapes of synced sources (`/api/sources`), also the CLI's `--json`."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from backend.api.errors import status_for_code
from backend.api.problems import Problem, problem_body
from use_cases.jobs.queue import JobView
from use_cases.sources.domain import SourceView, SyncRun


class SourceIn(BaseModel):
    """Exactly one of `folder`, `s3` and `url` says where the documents are."""

    name: str = Field(
        min_length=1,
        max_length=63,
        description="Lower-case letters, digits, `-`, `_`; the first part of every document "
        "key the source brings (`handbook/travel.md`).",
        examples=["handbook"],
    )
    folder: str | None = Field(
        default=None, max_length=4096, description="A folder on the server's machine."
    )
    s3: str | None = Field(
        default=None,
        max_length=1100,
        description="`s3://BUCKET/PREFIX` (credentials from the server's environment).",
        examples=["s3://acme-docs/handbook/"],
    )
    url: str | None = Field(
        default=None, max_length=2048, description="A website's start page or sitemap."
    )
    every: str | None = Field(
        default=None,
        max_length=16,
        description="Sync on a schedule: `90s`, `30m`, `2h`, `1d` (at least a minute); "
        "omitted: only when asked.",
        examples=["30m"],
    )
    collection: str | None = Field(
        default=None,
        max_length=200,
        description="The collection its documents belong to (kept for per-team access).",
    )


class ItemErrorOut(BaseModel):
    key: str = Field(examples=["scans/1998-minutes.pdf"])
    reason: str = Field(examples=["scans/1998-minutes.pdf has no text to index."])


class SyncRunOut(BaseModel):
    id: int
    status: str = Field(description="`running`, `done` or `failed`.", examples=["done"])
    trigger: str = Field(description="`manual` or `schedule`.", examples=["schedule"])
    started_at: datetime
    finished_at: datetime | None
    added: int
    updated: int
    unchanged: int
    removed: int
    failed: int
    summary: str = Field(examples=["2 added, 1 updated, 40 unchanged, 1 removed, 0 failed"])
    error: str | None = Field(
        description="Why the listing failed (then nothing was removed).", examples=[None]
    )
    errors: list[ItemErrorOut] = Field(description="The items that failed (the first 50).")

    @classmethod
    def of(cls, run: SyncRun) -> SyncRunOut:
        counts = run.counts
        return cls(
            id=run.id,
            status=run.status,
            trigger=run.trigger,
            started_at=run.started_at,
            finished_at=run.finished_at,
            added=counts.added,
            updated=counts.updated,
            unchanged=counts.unchanged,
            removed=counts.removed,
            failed=counts.failed,
            summary=counts.line(),
            error=run.error,
            errors=[ItemErrorOut(key=e.key, reason=e.reason) for e in run.errors],
        )


class SourceOut(BaseModel):
    name: str = Field(examples=["handbook"])
    kind: str = Field(description="`folder`, `s3` or `url`.", examples=["s3"])
    location: str = Field(examples=["s3://acme-docs/handbook/"])
    every_s: int | None = Field(description="Seconds between syncs (null: on demand).")
    collection: str | None
    created_at: datetime
    next_sync_at: datetime | None = Field(description="When the next sync is due.")
    documents: int = Field(description="Documents the source has in the knowledge base.")
    last_sync: SyncRunOut | None

    @classmethod
    def of(cls, view: SourceView) -> SourceOut:
        spec = view.spec
        return cls(
            name=spec.name,
            kind=spec.kind,
            location=spec.location,
            every_s=spec.every_s,
            collection=spec.collection,
            created_at=view.created_at,
            next_sync_at=view.next_sync_at,
            documents=view.documents,
            last_sync=SyncRunOut.of(view.last_run) if view.last_run else None,
        )


class SourceRemovedOut(BaseModel):
    name: str
    documents_removed: int = Field(description="0 with `keep_documents=true`.")


class SyncJobOut(BaseModel):
    id: str = Field(description="Poll `GET /api/sources/{name}/jobs/{id}` for its progress.")
    status: str = Field(description="`queued`, `running`, `done` or `failed`.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    done: int = Field(description="Items decided so far.")
    total: int | None = Field(description="Items expected (grows while the listing is read).")
    error: Problem | None

    @classmethod
    def of(cls, job: JobView) -> SyncJobOut:
        error = None
        if job.error is not None:
            code = job.error.type
            error = Problem.model_validate(
                problem_body(status_for_code(code), code, job.error.detail)
            )
        return cls(
            id=job.id,
            status=job.status,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            done=job.chunks_done,
            total=job.chunks_total,
            error=error,
        )
