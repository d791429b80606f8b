"""`/api/llm-defaults`: the providers, and the default model of each prompt type; admins only,
reads included."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from backend.api.deps import AdminDep, ContainerDep
from backend.api.llm_schemas import ModelDefaultIn, ModelDefaultOut, ProviderOut, ProvidersOut
from backend.api.openapi import problem_responses

router = APIRouter(prefix="/api/llm-defaults", tags=["admin"])

PromptType = Annotated[
    str, Path(min_length=1, max_length=64, description="The prompt type: `chat`.")
]


# Declared before `/{prompt_type}`, which would otherwise take "providers" for a type.
@router.get(
    "/providers",
    response_model=ProvidersOut,
    summary="Configured providers, their models and whether their keys are set; admins only",
)
async def providers(container: ContainerDep, admin: AdminDep) -> ProvidersOut:
    found = await container.prompts.model_defaults.providers(admin)
    return ProvidersOut(
        providers=[ProviderOut.of(info) for info in found],
        allowed=list(container.prompts.model_defaults.allowed),
    )


@router.get(
    "/{prompt_type}",
    response_model=ModelDefaultOut,
    responses=problem_responses(404),
    summary="The default model of a prompt type; admins only",
)
async def model_default(
    container: ContainerDep, admin: AdminDep, prompt_type: PromptType
) -> ModelDefaultOut:
    return ModelDefaultOut.of(await container.prompts.model_defaults.show(admin, prompt_type))


@router.put(
    "/{prompt_type}",
    response_model=ModelDefaultOut,
    responses=problem_responses(404),
    summary="Set (or with null clear) the default model of a prompt type; admins only",
)
async def set_model_default(
    container: ContainerDep, admin: AdminDep, prompt_type: PromptType, body: ModelDefaultIn
) -> ModelDefaultOut:
    write = await container.prompts.model_defaults.set(admin, prompt_type, body.model)
    return ModelDefaultOut.of(write.effective)
