"""`/api/v1/projects`, `/api/v1/use-cases`, `/api/v1/prompts`: the prompt library, and
`/api/v1/datasets`, `/api/v1/eval-runs`: evaluating its versions. Admins only, reads included
(like `/api/llm-prompts`). See docs/prompt-library.md.

The lists answer JSON arrays with `skip` and `limit`, and the paths and shapes are those of the
prompt playground's document (docs/seeds.md, 001) where it shows them; `X-Total-Count` says
how many there are in all."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from backend.api.deps import (
    MAX_PAGE_OFFSET,
    MAX_PAGE_SIZE,
    SQLITE_MAX_INTEGER,
    AdminDep,
    ContainerDep,
    PageLimit,
    PageOffset,
)
from backend.api.eval_schemas import TaskOut
from backend.api.library_schemas import (
    EvalRunIn,
    EvalRunOut,
    LibraryPromptIn,
    LibraryUpdateIn,
    ProjectIn,
    ProjectOut,
    PromptUpdateIn,
    PromptWithStatsOut,
    UseCaseIn,
    UseCaseOut,
    UseCasePromptIn,
    VersionIn,
    VersionOut,
    VersionPageOut,
    VersionWriteOut,
    comparison_out,
)
from backend.api.openapi import STARTED_RUN, problem_responses
from backend.api.rate_limit import RateLimited
from use_cases.prompts.manage_prompts import PromptWrite

router = APIRouter(prefix="/api/v1", tags=["prompt library"])

#: An id in a path is any text up to this length: one of another shape than the library's
#: (`proj_...`, lower-case letters, digits and `_`) names nothing, so it is 404 like any
#: unknown id (the prompt playground's contract), never a 422.
_ID_CHARS = 1000
#: The shape of the library's ids, for a query that filters by one.
_ID = r"^[a-z0-9_]+$"
ProjectId = Annotated[str, Path(min_length=1, max_length=_ID_CHARS)]
UseCaseId = Annotated[str, Path(min_length=1, max_length=_ID_CHARS)]
PromptId = Annotated[str, Path(min_length=1, max_length=_ID_CHARS, description="e.g. `prm_chat`.")]
Version = Annotated[
    int, Path(ge=1, le=SQLITE_MAX_INTEGER, description="A version number (1 or more).")
]
CompareVersion = Annotated[int, Query(ge=1, le=SQLITE_MAX_INTEGER)]
RunId = Annotated[str, Path(pattern=r"^run_[0-9a-f]{12}$", description="An evaluation run's id.")]
Skip = Annotated[
    int, Query(ge=0, le=MAX_PAGE_OFFSET, description="Items to skip (0 to 1,000,000).")
]
Limit = Annotated[
    int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Items at most (1 to {MAX_PAGE_SIZE}).")
]
_NOT_FOUND = problem_responses(404)
_CREATED = problem_responses(404, 409, 422)
_UPDATED = problem_responses(404, 409, 422)
_DELETED = problem_responses(404, 409)
TOTAL = "X-Total-Count"


def _total(response: Response, total: int) -> None:
    response.headers[TOTAL] = str(total)


@router.get("/projects", response_model=list[ProjectOut], summary="Projects, by name; admins only")
async def list_projects(
    container: ContainerDep, admin: AdminDep, response: Response, skip: Skip = 0, limit: Limit = 100
) -> list[ProjectOut]:
    page = await container.prompts.prompt_library.projects(admin, limit=limit, offset=skip)
    _total(response, page.total)
    return [ProjectOut.of(p) for p in page.items]


@router.post(
    "/projects",
    response_model=ProjectOut,
    status_code=201,
    responses=problem_responses(409, 422),
    summary="Create a project (its name unique); admins only",
)
async def create_project(container: ContainerDep, admin: AdminDep, body: ProjectIn) -> ProjectOut:
    return ProjectOut.of(
        await container.prompts.prompt_library.create_project(admin, body.to_new())
    )


@router.get(
    "/projects/{project_id}",
    response_model=ProjectOut,
    responses=_NOT_FOUND,
    summary="A project; admins only",
)
async def get_project(
    container: ContainerDep, admin: AdminDep, project_id: ProjectId
) -> ProjectOut:
    return ProjectOut.of(await container.prompts.prompt_library.project(admin, project_id))


@router.patch(
    "/projects/{project_id}",
    response_model=ProjectOut,
    responses=_UPDATED,
    summary="Rename or describe a project (the fields given); admins only",
)
@router.put("/projects/{project_id}", response_model=ProjectOut, responses=_UPDATED)
async def update_project(
    container: ContainerDep, admin: AdminDep, project_id: ProjectId, body: LibraryUpdateIn
) -> ProjectOut:
    updated = await container.prompts.prompt_library.update_project(
        admin, project_id, body.to_changes()
    )
    return ProjectOut.of(updated)


@router.delete(
    "/projects/{project_id}",
    status_code=204,
    response_class=Response,
    responses=_DELETED,
    summary="Delete a project with its use cases and their prompts (409: it holds a built-in "
    "prompt); admins only",
)
async def delete_project(container: ContainerDep, admin: AdminDep, project_id: ProjectId) -> None:
    await container.prompts.prompt_library.delete_project(admin, project_id)


@router.get(
    "/projects/{project_id}/use-cases",
    response_model=list[UseCaseOut],
    responses=_NOT_FOUND,
    summary="A project's use cases, by name; admins only",
)
async def list_use_cases(
    container: ContainerDep,
    admin: AdminDep,
    response: Response,
    project_id: ProjectId,
    skip: Skip = 0,
    limit: Limit = 100,
) -> list[UseCaseOut]:
    page = await container.prompts.prompt_library.use_cases(
        admin, project_id, limit=limit, offset=skip
    )
    _total(response, page.total)
    return [UseCaseOut.of(u) for u in page.items]


@router.post(
    "/projects/{project_id}/use-cases",
    response_model=UseCaseOut,
    status_code=201,
    responses=_CREATED,
    summary="Create a use case in a project (its name unique there); admins only",
)
async def create_use_case(
    container: ContainerDep, admin: AdminDep, project_id: ProjectId, body: UseCaseIn
) -> UseCaseOut:
    created = await container.prompts.prompt_library.create_use_case(admin, body.to_new(project_id))
    return UseCaseOut.of(created)


@router.get(
    "/use-cases/{use_case_id}",
    response_model=UseCaseOut,
    responses=_NOT_FOUND,
    summary="A use case; admins only",
)
async def get_use_case(
    container: ContainerDep, admin: AdminDep, use_case_id: UseCaseId
) -> UseCaseOut:
    return UseCaseOut.of(await container.prompts.prompt_library.use_case(admin, use_case_id))


@router.patch(
    "/use-cases/{use_case_id}",
    response_model=UseCaseOut,
    responses=_UPDATED,
    summary="Rename or describe a use case (the fields given); admins only",
)
@router.put("/use-cases/{use_case_id}", response_model=UseCaseOut, responses=_UPDATED)
async def update_use_case(
    container: ContainerDep, admin: AdminDep, use_case_id: UseCaseId, body: LibraryUpdateIn
) -> UseCaseOut:
    updated = await container.prompts.prompt_library.update_use_case(
        admin, use_case_id, body.to_changes()
    )
    return UseCaseOut.of(updated)


@router.delete(
    "/use-cases/{use_case_id}",
    status_code=204,
    response_class=Response,
    responses=_DELETED,
    summary="Delete a use case with its prompts (409: it holds a built-in prompt); admins only",
)
async def delete_use_case(container: ContainerDep, admin: AdminDep, use_case_id: UseCaseId) -> None:
    await container.prompts.prompt_library.delete_use_case(admin, use_case_id)


@router.get(
    "/use-cases/{use_case_id}/prompts",
    response_model=list[PromptWithStatsOut],
    responses=_NOT_FOUND,
    summary="A use case's prompts by name, each with its version count; admins only",
)
async def list_use_case_prompts(
    container: ContainerDep,
    admin: AdminDep,
    response: Response,
    use_case_id: UseCaseId,
    skip: Skip = 0,
    limit: Limit = 100,
) -> list[PromptWithStatsOut]:
    return await _prompts(container, admin, response, use_case_id, None, skip, limit)


@router.post(
    "/use-cases/{use_case_id}/prompts",
    response_model=PromptWithStatsOut,
    status_code=201,
    responses=_CREATED,
    summary="Create a named, tagged prompt in this use case; admins only",
)
async def create_use_case_prompt(
    container: ContainerDep, admin: AdminDep, use_case_id: UseCaseId, body: UseCasePromptIn
) -> PromptWithStatsOut:
    library = container.prompts.prompt_library
    created = await library.create_prompt(admin, body.to_new(use_case_id))
    return PromptWithStatsOut.of_summary(await library.prompt_summary(admin, created.id))


@router.get(
    "/prompts",
    response_model=list[PromptWithStatsOut],
    responses=_NOT_FOUND,
    summary="Prompts by name, of one use case and with one tag when asked; admins only",
)
async def list_prompts(
    container: ContainerDep,
    admin: AdminDep,
    response: Response,
    use_case_id: Annotated[str | None, Query(max_length=64, pattern=_ID)] = None,
    tag: Annotated[str | None, Query(max_length=40)] = None,
    skip: Skip = 0,
    limit: Limit = 100,
) -> list[PromptWithStatsOut]:
    return await _prompts(container, admin, response, use_case_id, tag, skip, limit)


async def _prompts(
    container: ContainerDep,
    admin: AdminDep,
    response: Response,
    use_case_id: str | None,
    tag: str | None,
    skip: int,
    limit: int,
) -> list[PromptWithStatsOut]:
    library = container.prompts.prompt_library
    page = await library.prompts(admin, use_case_id=use_case_id, tag=tag, limit=limit, offset=skip)
    _total(response, page.total)
    return [PromptWithStatsOut.of_summary(s) for s in await library.summaries(admin, page.items)]


@router.post(
    "/prompts",
    response_model=PromptWithStatsOut,
    status_code=201,
    responses=_CREATED,
    summary="Create a named, tagged prompt in a use case; admins only",
)
async def create_prompt(
    container: ContainerDep, admin: AdminDep, body: LibraryPromptIn
) -> PromptWithStatsOut:
    library = container.prompts.prompt_library
    created = await library.create_prompt(admin, body.to_new())
    return PromptWithStatsOut.of_summary(await library.prompt_summary(admin, created.id))


@router.get(
    "/prompts/{prompt_id}",
    response_model=PromptWithStatsOut,
    responses=_NOT_FOUND,
    summary="A prompt with its version count; admins only",
)
async def get_prompt(
    container: ContainerDep, admin: AdminDep, prompt_id: PromptId
) -> PromptWithStatsOut:
    summary = await container.prompts.prompt_library.prompt_summary(admin, prompt_id)
    return PromptWithStatsOut.of_summary(summary)


@router.patch(
    "/prompts/{prompt_id}",
    response_model=PromptWithStatsOut,
    responses=_UPDATED,
    summary="Rename, describe or tag a prompt (the fields given); admins only",
)
@router.put("/prompts/{prompt_id}", response_model=PromptWithStatsOut, responses=_UPDATED)
async def update_prompt(
    container: ContainerDep, admin: AdminDep, prompt_id: PromptId, body: PromptUpdateIn
) -> PromptWithStatsOut:
    library = container.prompts.prompt_library
    await library.update_prompt(admin, prompt_id, body.to_changes())
    return PromptWithStatsOut.of_summary(await library.prompt_summary(admin, prompt_id))


@router.delete(
    "/prompts/{prompt_id}",
    status_code=204,
    response_class=Response,
    responses=_DELETED,
    summary="Delete a prompt (its versions and runs are kept; 409: a built-in prompt); admins only",
)
async def delete_prompt(container: ContainerDep, admin: AdminDep, prompt_id: PromptId) -> None:
    await container.prompts.prompt_library.delete_prompt(admin, prompt_id)


@router.get(
    "/prompts/{prompt_id}/versions",
    response_model=VersionPageOut,
    responses=_NOT_FOUND,
    summary="A prompt's versions, newest first, each with its run statistics; admins only",
)
async def list_versions(
    container: ContainerDep,
    admin: AdminDep,
    prompt_id: PromptId,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> VersionPageOut:
    page = await container.prompts.prompt_library.versions(
        admin, prompt_id, limit=limit, offset=offset
    )
    return VersionPageOut.of(page)


@router.post(
    "/prompts/{prompt_id}/versions",
    response_model=VersionWriteOut,
    status_code=201,
    responses={
        200: {"model": VersionWriteOut, "description": "The active version has this text."},
        **problem_responses(404, 422),
    },
    summary="Store the next version of a prompt, active or a draft; admins only",
)
async def create_version(
    container: ContainerDep,
    admin: AdminDep,
    prompt_id: PromptId,
    body: VersionIn,
    response: Response,
) -> VersionWriteOut:
    write = await container.prompts.prompt_library.create_version(
        admin, prompt_id, body.text, activate=body.activate
    )
    if not write.changed:
        response.status_code = 200
    return _written(prompt_id, write)


@router.get(
    "/prompts/{prompt_id}/versions/{version}",
    response_model=VersionOut,
    responses=_NOT_FOUND,
    summary="One version of a prompt with its run statistics; admins only",
)
async def get_version(
    container: ContainerDep, admin: AdminDep, prompt_id: PromptId, version: Version
) -> VersionOut:
    return VersionOut.of(await container.prompts.prompt_library.version(admin, prompt_id, version))


@router.post(
    "/prompts/{prompt_id}/versions/{version}/activate",
    response_model=VersionWriteOut,
    responses=problem_responses(404, 422),
    summary="Make a version the prompt's active one; admins only",
)
async def activate_version(
    container: ContainerDep, admin: AdminDep, prompt_id: PromptId, version: Version
) -> VersionWriteOut:
    write = await container.prompts.prompt_library.activate(admin, prompt_id, version)
    return _written(prompt_id, write)


@router.get(
    "/prompts/{prompt_id}/compare",
    responses={
        200: {
            "description": "The compare gate over the newest completed run of version `a` "
            "(the baseline) and of version `b` (see docs/evaluation-runs.md)."
        },
        **problem_responses(404, 422),
    },
    summary="Compare two versions of a prompt by their latest completed runs; admins only",
)
async def compare_versions(
    container: ContainerDep,
    admin: AdminDep,
    prompt_id: PromptId,
    a: CompareVersion,
    b: CompareVersion,
    fail_on: Annotated[str | None, Query(max_length=1000)] = None,
) -> dict[str, Any]:
    found = await container.evaluation.prompt_evaluations.compare(admin, prompt_id, a, b, fail_on)
    return comparison_out(found)


@router.get(
    "/datasets",
    response_model=list[TaskOut],
    summary="The evaluation datasets (latest version of each); admins only",
)
async def list_datasets(
    container: ContainerDep, admin: AdminDep, response: Response, skip: Skip = 0, limit: Limit = 100
) -> list[TaskOut]:
    page = await container.evaluation.prompt_evaluations.datasets(admin, limit=limit, offset=skip)
    _total(response, page.total)
    return [TaskOut.of(d) for d in page.items]


@router.get(
    "/eval-runs",
    response_model=list[EvalRunOut],
    summary="Evaluation runs, newest first; admins only",
)
async def list_eval_runs(
    container: ContainerDep, admin: AdminDep, response: Response, skip: Skip = 0, limit: Limit = 100
) -> list[EvalRunOut]:
    page = await container.evaluation.prompt_evaluations.runs(admin, limit=limit, offset=skip)
    _total(response, page.total)
    return [EvalRunOut.of(r) for r in page.items]


@router.get(
    "/eval-runs/{run_id}",
    responses={
        200: {"description": "The run export (see docs/evaluation-runs.md)."},
        **problem_responses(404),
    },
    summary="One evaluation run: status, progress, aggregates and per-case results; admins only",
)
async def get_eval_run(
    container: ContainerDep,
    admin: AdminDep,
    run_id: Annotated[
        str,
        Path(
            pattern=r"^(run_[0-9a-f]{12}|latest|latest-completed)$",
            description="An evaluation run's id, or `latest` / `latest-completed`.",
        ),
    ],
) -> dict[str, Any]:
    return await container.evaluation.benchmark.export(admin, run_id)


# Its cancel, delete, export and report are routes/evaluation.py's (/api/v1/eval-runs/...).


@router.post(
    "/eval-runs",
    response_model=EvalRunOut,
    status_code=202,
    dependencies=[RateLimited],
    responses={
        **STARTED_RUN,
        **problem_responses(404, 422),
    },
    summary="Run a prompt version over a dataset across models; admins only",
)
async def start_eval_run(
    container: ContainerDep, admin: AdminDep, body: EvalRunIn, response: Response
) -> EvalRunOut:
    record = await container.evaluation.prompt_evaluations.start(admin, body.to_request())
    response.headers["Location"] = f"/api/v1/eval-runs/{record.run_id}"
    return EvalRunOut.of(record)


def _written(prompt_id: str, write: PromptWrite) -> VersionWriteOut:
    prompt = write.prompt
    assert prompt.version is not None  # a write through the library is always a version
    return VersionWriteOut(
        prompt_id=prompt_id,
        version=prompt.version,
        active=prompt.active,
        changed=write.changed,
        variables=list(prompt.variables),
    )
