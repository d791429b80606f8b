"""HTTP shapes of the cleaning-benchmark endpoints. A run's results and metrics are the
export's JSON as it is (see docs/cleaning.md)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from use_cases.cleaning.ports import CleaningRun
from use_cases.cleaning.runs import MAX_CONCURRENCY, MAX_REPEATS, CleaningRunRequest

ShortText = Annotated[str, Field(min_length=1, max_length=200)]


class CleaningRunIn(BaseModel):
    """What to run; every field has a default (all tables, dimensions and difficulties, the
    offline cleaner, seed 0, one repeat)."""

    model_config = ConfigDict(extra="forbid")

    models: list[ShortText] | None = Field(
        None, max_length=10, description="Cleaners to run (default: offline-rules)."
    )
    tables: list[ShortText] | None = Field(None, max_length=50)
    dimensions: list[ShortText] | None = Field(
        None, max_length=4, description="Some of accuracy, completeness, consistency, uniqueness."
    )
    difficulties: list[ShortText] | None = Field(
        None, max_length=3, description="Some of easy, medium, hard."
    )
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of the error injector.")
    repeats: int = Field(1, ge=1, le=MAX_REPEATS, description="Times each task is cleaned.")
    concurrency: int | None = Field(None, ge=1, le=MAX_CONCURRENCY)

    def to_request(self) -> CleaningRunRequest:
        return CleaningRunRequest(
            models=tuple(self.chosen_models()),
            tables=tuple(self.tables or ()),
            dimensions=tuple(self.dimensions or ()),
            difficulties=tuple(self.difficulties or ()),
            seed=self.seed,
            repeats=self.repeats,
            concurrency=self.concurrency,
        )

    def chosen_models(self) -> list[str]:
        return list(self.models or ())


class BenchmarkRunIn(CleaningRunIn):
    """`POST /api/benchmark/run` (the data-cleaning benchmark's API): a cleaning run, of
    `model` (that API's one model) and/or `models`; an empty body runs the offline cleaner on
    every task."""

    model: ShortText | None = Field(None, examples=["offline-rules"])

    def chosen_models(self) -> list[str]:
        return [*([self.model] if self.model else []), *(self.models or ())]


class CleaningRunOut(BaseModel):
    run_id: str = Field(examples=["clean_5d1f0c9a2b7e"])
    status: str
    models: list[str]
    tasks: int
    total: int
    settings: dict[str, object]
    created_by: str
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    results: str = Field(description="Where to poll: `/api/cleaning/runs/{run_id}`.")

    @classmethod
    def of(
        cls, run: CleaningRun, *, results: str = "/api/cleaning/runs/{run_id}"
    ) -> CleaningRunOut:
        """`results`: where to poll, a path with `{run_id}` (the data-cleaning benchmark's
        start answers its own `/api/results/{run_id}`)."""
        return cls(
            run_id=run.run_id,
            status=run.status,
            models=list(run.models),
            tasks=len(run.task_ids),
            total=run.total,
            settings=dict(run.settings),
            created_by=run.created_by,
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            error=run.error,
            results=results.format(run_id=run.run_id),
        )


class CleaningRunListOut(BaseModel):
    runs: list[CleaningRunOut]
