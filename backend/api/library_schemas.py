"""HTTP shapes of the prompt library (`/api/v1/projects`, `use-cases`, `prompts`) and of its
evaluation views (`/api/v1/datasets`, `/api/v1/eval-runs`). Lists over HTTP are JSON arrays
(`skip`, `limit`), as the prompt playground's document shows them (docs/seeds.md); the CLI's
`--json` prints the pages (`items`, `total`, `limit`, `offset`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from backend.api.eval_schemas import RunSummaryOut
from backend.api.fields import SamplingIn
from use_cases.evaluation.prompt_versions import VersionComparison, VersionRunRequest
from use_cases.evaluation.run_domain import RunRecord
from use_cases.evaluation.runs import MAX_CONCURRENCY
from use_cases.prompts.library import Changes, NewProject, NewPrompt, NewUseCase, VersionPage
from use_cases.prompts.library_domain import (
    MAX_DESCRIPTION_CHARS,
    MAX_NAME_CHARS,
    MAX_TAG_CHARS,
    MAX_TAGS,
    LibraryPrompt,
    Page,
    Project,
    PromptSummary,
    UseCase,
    VersionStats,
    VersionWithStats,
)
from use_cases.prompts.manage_prompts import MAX_PROMPT_CHARS
from use_cases.shared.sampling import NO_SAMPLING

Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION_CHARS)]
Tag = Annotated[str, Field(min_length=1, max_length=MAX_TAG_CHARS)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]


class _Page(BaseModel):
    total: int = Field(description="How many there are in all.")
    limit: int
    offset: int


class ProjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(examples=["Support"])
    description: Description | None = Field("", description="null: none (as an empty one).")

    def to_new(self) -> NewProject:
        return NewProject(self.name, self.description or "")


class LibraryUpdateIn(BaseModel):
    """A project's or use case's new name and/or description (a field left out: unchanged)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description | None = None

    def to_changes(self) -> Changes:
        return Changes(name=self.name, description=self.description)


class ProjectOut(BaseModel):
    id: str = Field(examples=["proj_3f2a9c0d1e2b"])
    name: str
    description: str
    created_at: datetime
    updated_at: datetime = Field(description="When it last changed (its creation if never).")

    @classmethod
    def of(cls, project: Project) -> ProjectOut:
        return cls(
            id=project.id,
            name=project.name,
            description=project.description,
            created_at=project.created_at,
            updated_at=project.updated_at or project.created_at,
        )


class ProjectPageOut(_Page):
    items: list[ProjectOut]

    @classmethod
    def of(cls, page: Page[Project]) -> ProjectPageOut:
        return cls(items=[ProjectOut.of(p) for p in page.items], **_counts(page))


class UseCaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(examples=["triage"])
    description: Description | None = ""

    def to_new(self, project_id: str) -> NewUseCase:
        return NewUseCase(project_id, self.name, self.description or "")


class UseCaseOut(BaseModel):
    id: str = Field(examples=["uc_3f2a9c0d1e2b"])
    project_id: str
    name: str
    description: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, use_case: UseCase) -> UseCaseOut:
        return cls(
            id=use_case.id,
            project_id=use_case.project_id,
            name=use_case.name,
            description=use_case.description,
            created_at=use_case.created_at,
            updated_at=use_case.updated_at or use_case.created_at,
        )


class UseCasePageOut(_Page):
    items: list[UseCaseOut]

    @classmethod
    def of(cls, page: Page[UseCase]) -> UseCasePageOut:
        return cls(items=[UseCaseOut.of(u) for u in page.items], **_counts(page))


class LibraryPromptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    use_case_id: str = Field(min_length=1, max_length=64, examples=["uc_3f2a9c0d1e2b"])
    name: Name = Field(examples=["short answers"])
    description: Description | None = ""
    tags: list[Tag] = Field(
        default_factory=list, max_length=MAX_TAGS, examples=[["terse", "english"]]
    )

    def to_new(self) -> NewPrompt:
        return NewPrompt(self.use_case_id, self.name, self.description or "", tuple(self.tags))


class UseCasePromptIn(BaseModel):
    """A prompt created in the use case of the path (the prompt playground's `PromptCreate`)."""

    model_config = ConfigDict(extra="forbid")

    name: Name = Field(examples=["short answers"])
    description: Description | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)

    def to_new(self, use_case_id: str) -> NewPrompt:
        return NewPrompt(use_case_id, self.name, self.description or "", tuple(self.tags))


class PromptUpdateIn(BaseModel):
    """A prompt's new name, description and/or tags (a field left out: unchanged)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description | None = None
    tags: list[Tag] | None = Field(None, max_length=MAX_TAGS)

    def to_changes(self) -> Changes:
        return Changes(name=self.name, description=self.description, tags=self.tags)


class LibraryPromptOut(BaseModel):
    id: str = Field(examples=["prm_3f2a9c0d1e2b"])
    use_case_id: str
    name: str
    description: str
    tags: list[str]
    key: str = Field(
        description="The name its versions and evaluation runs go by (`prompt_version.type` "
        "of a run): `chat` and `advice` for the built-in prompts, else the prompt's id."
    )
    built_in: bool = Field(description="Its versions are the chat or advice system prompt.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, prompt: LibraryPrompt) -> LibraryPromptOut:
        return cls(
            id=prompt.id,
            use_case_id=prompt.use_case_id,
            name=prompt.name,
            description=prompt.description,
            tags=list(prompt.tags),
            key=prompt.key,
            built_in=prompt.built_in,
            created_at=prompt.created_at,
            updated_at=prompt.updated_at or prompt.created_at,
        )


class PromptWithStatsOut(LibraryPromptOut):
    version_count: int = Field(description="How many versions it has.")
    latest_version: int | None = Field(description="The newest version's number (null: none).")

    @classmethod
    def of_summary(cls, summary: PromptSummary) -> PromptWithStatsOut:
        return cls(
            **LibraryPromptOut.of(summary.prompt).model_dump(),
            version_count=summary.version_count,
            latest_version=summary.latest_version,
        )


class LibraryPromptPageOut(_Page):
    items: list[LibraryPromptOut]

    @classmethod
    def of(cls, page: Page[LibraryPrompt]) -> LibraryPromptPageOut:
        return cls(items=[LibraryPromptOut.of(p) for p in page.items], **_counts(page))


class VersionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        min_length=1,
        max_length=MAX_PROMPT_CHARS,
        description="The template (surrounding whitespace removed); `{{variables}}` allowed.",
        examples=["Answer in one sentence for the {{team}} team."],
    )
    activate: bool = Field(True, description="false: store a draft, not the active version.")


class StatsOut(BaseModel):
    runs: int = Field(description="Evaluation runs started with this version.")
    cases: int = Field(description="Clean rows recorded by those runs.")
    pass_rate: float | None = Field(description="Share of those rows answered correctly.")
    mean_latency_ms: float | None
    cost_usd: float | None = Field(description="Summed over the priced rows.")
    last_run_at: str | None
    last_run_id: str | None
    last_completed_run_id: str | None

    @classmethod
    def of(cls, stats: VersionStats) -> StatsOut:
        return cls(
            runs=stats.runs,
            cases=stats.cases,
            pass_rate=stats.pass_rate,
            mean_latency_ms=stats.mean_latency_ms,
            cost_usd=stats.cost_usd,
            last_run_at=stats.last_run_at,
            last_run_id=stats.last_run_id,
            last_completed_run_id=stats.last_completed_run_id,
        )


class VersionOut(BaseModel):
    version: int
    text: str
    variables: list[str] = Field(description="The `{{variables}}` its text uses.")
    author: str
    created_at: datetime
    active: bool
    stats: StatsOut

    @classmethod
    def of(cls, item: VersionWithStats) -> VersionOut:
        v = item.version
        return cls(
            version=v.version,
            text=v.text,
            variables=list(v.variables),
            author=v.author,
            created_at=v.created_at,
            active=item.active,
            stats=StatsOut.of(item.stats),
        )


class VersionPageOut(_Page):
    prompt_id: str
    active: int | None = Field(description="The active version (null: none).")
    items: list[VersionOut]

    @classmethod
    def of(cls, page: VersionPage) -> VersionPageOut:
        return cls(
            prompt_id=page.prompt.id,
            active=page.active,
            items=[VersionOut.of(v) for v in page.versions.items],
            **_counts(page.versions),
        )


class VersionWriteOut(BaseModel):
    prompt_id: str
    version: int
    active: bool
    changed: bool = Field(description="False: the active version has this text already.")
    variables: list[str]


class EvalRunOut(RunSummaryOut):
    prompt_version: dict[str, Any] | None = Field(
        description="`{type, version}`: the prompt key and version the run used."
    )
    sampling: dict[str, Any] = Field(description="The sampling settings sent with every turn.")
    results: str = Field(description="The run's export: `/api/v1/eval-runs/{run_id}`.")

    @classmethod
    def of(cls, record: RunRecord) -> EvalRunOut:
        return cls(
            **RunSummaryOut.of(record).model_dump(),
            prompt_version=record.prompt_version.as_dict() if record.prompt_version else None,
            sampling=record.settings.sampling.as_dict(),
            results=f"/api/v1/eval-runs/{record.run_id}",
        )


class EvalRunIn(BaseModel):
    """A run of one library prompt version over a dataset across models."""

    model_config = ConfigDict(extra="forbid")

    prompt_id: str = Field(min_length=1, max_length=64, examples=["prm_chat"])
    version: int = Field(ge=1, le=2**31 - 1)
    dataset: str = Field(min_length=1, max_length=64, examples=["answers"])
    models: list[ShortText] | None = Field(
        None, max_length=10, description="Models to run (default: the chat's default model)."
    )
    sampling: SamplingIn | None = Field(
        None, description="temperature, max_tokens, top_p, seed; recorded with the run."
    )
    limit: int | None = Field(None, ge=1, le=100_000, description="Run the first N cases.")
    tags: list[ShortText] | None = Field(
        None, max_length=20, description="Run only the cases with any of these tags."
    )
    concurrency: int | None = Field(None, ge=1, le=MAX_CONCURRENCY)

    def to_request(self) -> VersionRunRequest:
        return VersionRunRequest(
            prompt_id=self.prompt_id,
            version=self.version,
            dataset=self.dataset,
            models=tuple(self.models or ()),
            sampling=self.sampling.sampling() if self.sampling else NO_SAMPLING,
            limit=self.limit,
            tags=tuple(self.tags or ()),
            concurrency=self.concurrency,
        )


def comparison_out(found: VersionComparison) -> dict[str, Any]:
    """The compare gate's report, with which runs stood for the two versions."""
    return {
        "prompt_id": found.prompt_id,
        "a": {"version": found.a, "run_id": found.run_a},
        "b": {"version": found.b, "run_id": found.run_b},
        **found.report.as_dict(),
    }


def _counts(page: Page[Any]) -> dict[str, int]:
    return {"total": page.total, "limit": page.limit, "offset": page.offset}
