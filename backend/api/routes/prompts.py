"""`/api/llm-prompts/{type}`: the versioned system prompts; admins only, reads included."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from backend.api.deps import SQLITE_MAX_INTEGER, AdminDep, ContainerDep, PageLimit, PageOffset
from backend.api.llm_schemas import PromptIn, PromptOut, PromptVersionsOut
from backend.api.openapi import problem_responses

router = APIRouter(prefix="/api/llm-prompts", tags=["admin"])

PromptType = Annotated[
    str, Path(min_length=1, max_length=64, description="The prompt type: `chat`.")
]
Version = Annotated[
    int, Path(ge=1, le=SQLITE_MAX_INTEGER, description="A version number (1 or more).")
]
_NOT_FOUND = problem_responses(404)
#: 422: the text is empty or too long, or (to be put in force) it uses variables the service
#: cannot fill.
_NOT_FOUND_OR_UNFILLABLE = problem_responses(404, 422)


@router.get(
    "/{prompt_type}",
    response_model=PromptOut,
    responses=_NOT_FOUND,
    summary="The system prompt in force (a version, or the default); admins only",
)
async def active_prompt(
    container: ContainerDep, admin: AdminDep, prompt_type: PromptType
) -> PromptOut:
    return PromptOut.of(await container.prompts.prompts.show(admin, prompt_type))


@router.get(
    "/{prompt_type}/default",
    response_model=PromptOut,
    responses=_NOT_FOUND,
    summary="The default system prompt of the type; admins only",
)
async def default_prompt(
    container: ContainerDep, admin: AdminDep, prompt_type: PromptType
) -> PromptOut:
    return PromptOut.of(await container.prompts.prompts.default(admin, prompt_type))


@router.post(
    "/{prompt_type}",
    response_model=PromptOut,
    status_code=201,
    responses={
        200: {"model": PromptOut, "description": "The active version has this text: no change"},
        **_NOT_FOUND_OR_UNFILLABLE,
    },
    summary="Store a new version of the system prompt, active or a draft; admins only",
)
async def create_prompt_version(
    container: ContainerDep,
    admin: AdminDep,
    prompt_type: PromptType,
    body: PromptIn,
    response: Response,
) -> PromptOut:
    write = await container.prompts.prompts.create(
        admin, prompt_type, body.text, activate=body.activate
    )
    if not write.changed:
        response.status_code = 200
    return PromptOut.of(write.prompt)


@router.get(
    "/{prompt_type}/versions",
    response_model=PromptVersionsOut,
    responses=_NOT_FOUND,
    summary="Every stored version of the system prompt, newest first; admins only",
)
async def prompt_versions(
    container: ContainerDep,
    admin: AdminDep,
    prompt_type: PromptType,
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> PromptVersionsOut:
    page = await container.prompts.prompts.versions(admin, prompt_type, limit=limit, offset=offset)
    return PromptVersionsOut.of(prompt_type, page)


@router.post(
    "/{prompt_type}/versions/{version}/activate",
    response_model=PromptOut,
    responses=_NOT_FOUND_OR_UNFILLABLE,
    summary="Make a stored version the system prompt in force; admins only",
)
async def activate_prompt_version(
    container: ContainerDep, admin: AdminDep, prompt_type: PromptType, version: Version
) -> PromptOut:
    write = await container.prompts.prompts.activate(admin, prompt_type, version)
    return PromptOut.of(write.prompt)


@router.delete(
    "/{prompt_type}",
    response_model=PromptOut,
    responses=_NOT_FOUND,
    summary="Revert to the default system prompt (versions are kept); admins only",
)
async def reset_prompt(
    container: ContainerDep, admin: AdminDep, prompt_type: PromptType
) -> PromptOut:
    write = await container.prompts.prompts.reset(admin, prompt_type)
    return PromptOut.of(write.prompt)
