"""Background jobs and the processes that run them."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, field_validator

from backend.config.base import SettingsGroup


class JobSettings(SettingsGroup):
    """Background jobs (uploads, evaluation and cleaning runs, imports, the conflict scan): which
    of them a process runs, and how processes tell a live worker from a dead one
    (docs/deployment.md)."""

    model_config = ConfigDict(title="Background jobs and workers")

    run_jobs: bool = Field(
        True,
        description="Whether this server process also runs background jobs. `almanac serve "
        "--no-jobs` sets it false (HTTP only: the jobs it queues are run by `almanac worker` "
        "processes); PostgreSQL only.",
    )
    job_kinds: str = Field(
        "",
        max_length=500,
        description="Job kinds this process runs, comma-separated (`ingest_upload`, "
        "`eval_run`, `cleaning_run`, `conversation_import`, `conflict_scan`); empty: every "
        "kind. `almanac worker --kinds` says the same for one worker.",
    )
    concurrency: int | None = Field(
        None,
        ge=1,
        le=64,
        description="Jobs of each kind one process runs at once. Unset: each kind's own "
        "(one upload, one import, a few evaluation and cleaning runs). `almanac worker "
        "--concurrency` says the same for one worker.",
        validation_alias="job_concurrency",
    )
    lease_seconds: float = Field(
        30.0,
        ge=1,
        le=3600,
        description="A running job whose worker renewed it no longer ago than this is left "
        "to it; after that any worker takes it over (the worker renews it every third of "
        "this).",
        validation_alias="job_lease_seconds",
    )
    process_heartbeat_seconds: float = Field(
        5.0,
        gt=0,
        le=600,
        description="PostgreSQL: how often each process renews its row in `processes`, by "
        "which the others know it is alive.",
    )
    process_timeout_seconds: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="PostgreSQL: a process whose row was not renewed for this long is dead: "
        "its jobs are taken over, its streaming answers marked interrupted, its staged "
        "rows removed. Keep it several heartbeats long.",
    )
    outage_budget_seconds: float = Field(
        600.0,
        ge=0,
        le=24 * 3600,
        description="How long a job rides out an unreachable database or pooler: its step "
        "is run again with backoff (the attempt not counted) until this has passed since the "
        "outage began; then it fails as `database_unavailable`. 0: it fails at once.",
        validation_alias="job_outage_budget_seconds",
    )
    conflict_scan_interval_seconds: float = Field(
        0.0,
        ge=0,
        le=7 * 24 * 3600,
        description="Run the conflict scan as a job this often, once per cluster (the workers "
        "take turns); 0: only when an admin asks (GET /api/documents/conflicts) and the "
        "knowledge base changed since the last scan.",
    )

    @field_validator("process_timeout_seconds")
    @classmethod
    def _longer_than_a_heartbeat(cls, value: float, info: Any) -> float:
        heartbeat = info.data.get("process_heartbeat_seconds")
        if heartbeat is not None and value <= heartbeat:
            raise ValueError(
                "PROCESS_TIMEOUT_SECONDS must be longer than PROCESS_HEARTBEAT_SECONDS "
                "(several heartbeats: one late renewal must not look like a death)."
            )
        return value

    @property
    def kinds(self) -> frozenset[str] | None:
        """The kinds JOB_KINDS names, or None for every kind."""
        names = {name.strip() for name in self.job_kinds.split(",") if name.strip()}
        return frozenset(names) or None
