"""HTTP shapes of the evaluation endpoints (tasks, runs, models). A run's results and the
metrics are the run export's JSON as it is (see docs/evaluation-runs.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.api.fields import SamplingIn
from use_cases.evaluation.domain import Dataset
from use_cases.evaluation.run_domain import PromptRef, RunRecord, StoredDataset
from use_cases.evaluation.runs import MAX_CONCURRENCY, MAX_K, RunnableModel, RunRequest
from use_cases.shared.sampling import NO_SAMPLING

ShortText = Annotated[str, Field(min_length=1, max_length=200)]


class TaskOut(BaseModel):
    id: str = Field(examples=["answers"])
    name: str
    version: str = Field(description="Content hash of the dataset file (sha256, 12 hex).")
    description: str
    source: Literal["bundled", "upload"]
    cases: int
    created_at: str

    @classmethod
    def of(cls, stored: StoredDataset) -> TaskOut:
        return cls(
            id=stored.id,
            name=stored.name,
            version=stored.version,
            description=stored.description,
            source=stored.source,
            cases=stored.cases,
            created_at=stored.created_at,
        )


class TaskListOut(BaseModel):
    tasks: list[TaskOut]


class TaskUploadOut(TaskOut):
    created: bool = Field(
        description="False when this content was already stored: the version is the earlier "
        "upload's."
    )


class TaskDetailOut(TaskOut):
    """A dataset with one page of its cases (`cases` is how many it holds in all)."""

    limit: int
    offset: int
    items: list[dict[str, Any]] = Field(description="This page of the cases.")

    @classmethod
    def of_dataset(cls, dataset: Dataset, *, limit: int, offset: int) -> TaskDetailOut:
        return cls(
            id=dataset.id,
            name=dataset.name,
            version=dataset.version,
            description=dataset.description,
            source=dataset.source,
            cases=len(dataset.cases),
            created_at=dataset.created_at,
            limit=limit,
            offset=offset,
            items=[_case(c) for c in dataset.cases[offset : offset + limit]],
        )


def _case(case: Any) -> dict[str, Any]:
    return {
        "id": case.id,
        "question": case.question,
        "kind": case.kind,
        "expect_any": list(case.expect_any),
        "expect_sources": list(case.expect_sources),
        "history": list(case.history),
        "must_refuse": case.must_refuse,
        "expected_sql_rows": (
            [list(r) for r in case.expected_sql_rows]
            if case.expected_sql_rows is not None
            else None
        ),
        "dimension": case.dimension,
        "difficulty": case.difficulty,
        "tags": list(case.tags),
        "variables": dict(case.variables),
        "assertions": [a.as_dict() for a in case.assertions],
        "notes": case.notes,
    }


class PromptVersionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=64, examples=["chat"])
    version: int = Field(ge=1, le=2**63 - 1, examples=[2])


class BenchmarkRunIn(BaseModel):
    """What to run. Everything but `task_id` has a default."""

    model_config = ConfigDict(extra="forbid")

    task_id: str = Field(min_length=1, max_length=64, examples=["answers"])
    models: list[ShortText] | None = Field(
        None, max_length=10, description="Models to run (default: the chat's default model)."
    )
    prompt_version: PromptVersionIn | None = Field(
        None, description="Run with this stored prompt version as the system prompt."
    )
    assertions: list[dict[str, Any]] | None = Field(
        None, max_length=50, description="Assertions checked on every case (`type`, `value`)."
    )
    concurrency: int | None = Field(None, ge=1, le=MAX_CONCURRENCY)
    robustness: list[ShortText] | bool | None = Field(
        None,
        description="`true` for every perturbation, or some of typos, case, filler, word_order.",
    )
    seed: int = Field(0, ge=0, le=2**31 - 1)
    k: int = Field(5, ge=1, le=MAX_K, description="Cut-off of the retrieval metrics.")
    limit: int | None = Field(None, ge=1, le=100_000, description="Run the first N cases.")
    tags: list[ShortText] | None = Field(
        None, max_length=20, description="Run only the cases with any of these tags."
    )
    sampling: SamplingIn | None = Field(
        None,
        description="temperature, max_tokens, top_p, seed for every turn of the run (`seed` "
        "here is the model's; the top-level `seed` is the perturbations'); recorded with the "
        "run. The offline model ignores them.",
        examples=[{"temperature": 0, "seed": 7}],
    )

    def to_request(self) -> RunRequest:
        prompt = self.prompt_version
        return RunRequest(
            task_id=self.task_id,
            models=tuple(self.models or ()),
            prompt_version=PromptRef(prompt.type, prompt.version) if prompt else None,
            assertions=self.assertions,
            concurrency=self.concurrency,
            robustness=self.robustness or (),
            seed=self.seed,
            k=self.k,
            limit=self.limit,
            tags=tuple(self.tags or ()),
            sampling=self.sampling.sampling() if self.sampling else NO_SAMPLING,
        )


class RunStartedOut(BaseModel):
    run_id: str = Field(examples=["run_3f2a9c0d1e2b"])
    status: str
    total: int = Field(description="Items to execute (cases x models x variants).")
    results: str = Field(description="Where to poll: `/api/v1/eval-runs/{run_id}`.")

    @classmethod
    def of(cls, record: RunRecord) -> RunStartedOut:
        return cls(
            run_id=record.run_id,
            status=record.status,
            total=record.total,
            results=f"/api/v1/eval-runs/{record.run_id}",
        )


class RunSummaryOut(BaseModel):
    run_id: str
    status: str
    task_id: str
    task_version: str
    models: list[str]
    total: int
    created_by: str
    created_at: str
    finished_at: str | None

    @classmethod
    def of(cls, record: RunRecord) -> RunSummaryOut:
        return cls(
            run_id=record.run_id,
            status=record.status,
            task_id=record.task_id,
            task_version=record.task_version,
            models=list(record.models),
            total=record.total,
            created_by=record.created_by,
            created_at=record.created_at,
            finished_at=record.finished_at,
        )


class RunListOut(BaseModel):
    runs: list[RunSummaryOut]


class ModelOut(BaseModel):
    id: str = Field(examples=["offline-extractive"])
    provider: str
    usable: bool = Field(description="False when the provider is not configured here.")
    default: bool
    reason: str | None = None
    uses: list[Literal["answers", "cleaning"]] = Field(
        description="What a request may name it for: answers (chat, advice, evaluation runs), "
        "cleaning (cleaning benchmark runs; `offline-rules` only cleans)."
    )

    @classmethod
    def of(cls, model: RunnableModel) -> ModelOut:
        return cls(
            id=model.id,
            provider=model.provider,
            usable=model.usable,
            default=model.default,
            reason=model.reason,
            uses=list(model.uses),
        )


class ModelListOut(BaseModel):
    models: list[ModelOut]
