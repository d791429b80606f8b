"""Collections: each team's documents for its own members; admins only (docs/collections.md)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Response

from backend.api.collection_schemas import (
    CollectionIn,
    CollectionListOut,
    CollectionOut,
    DocumentAccessOut,
    GrantIn,
)
from backend.api.deps import AdminDep, ContainerDep, RowId
from backend.api.openapi import problem_responses

router = APIRouter(prefix="/api/collections", tags=["collections"])

CollectionName = Annotated[str, Path(min_length=1, max_length=63, examples=["hr"])]


@router.get("", response_model=CollectionListOut, summary="List collections; admins only")
async def list_collections(container: ContainerDep, admin: AdminDep) -> CollectionListOut:
    found = await container.knowledge.collections.list(admin)
    return CollectionListOut(collections=[CollectionOut.of(c) for c in found])


@router.post(
    "",
    response_model=CollectionOut,
    status_code=201,
    responses=problem_responses(409, 422),
    summary="Create a collection; admins only (audited)",
)
async def create_collection(
    container: ContainerDep, admin: AdminDep, body: CollectionIn
) -> CollectionOut:
    created = await container.knowledge.collections.create(admin, body.name, body.description)
    return CollectionOut.of(created)


@router.get(
    "/{name}",
    response_model=CollectionOut,
    responses=problem_responses(404),
    summary="One collection with its grants; admins only",
)
async def get_collection(
    container: ContainerDep, admin: AdminDep, name: CollectionName
) -> CollectionOut:
    return CollectionOut.of(await container.knowledge.collections.get(admin, name))


@router.delete(
    "/{name}",
    status_code=204,
    responses=problem_responses(404, 409),
    summary="Delete an empty collection; admins only (audited)",
)
async def delete_collection(
    container: ContainerDep, admin: AdminDep, name: CollectionName
) -> Response:
    await container.knowledge.collections.delete(admin, name)
    return Response(status_code=204)


@router.post(
    "/{name}/grants",
    response_model=CollectionOut,
    responses=problem_responses(404, 409, 422),
    summary="Let a user or a group read a collection; admins only (audited)",
)
async def grant_collection(
    container: ContainerDep, admin: AdminDep, name: CollectionName, body: GrantIn
) -> CollectionOut:
    return CollectionOut.of(await container.knowledge.collections.grant(admin, name, body.grant()))


@router.post(
    "/{name}/revoke",
    response_model=CollectionOut,
    responses=problem_responses(404, 422),
    summary="Take a user's or a group's grant away; acts on their next request (audited)",
)
async def revoke_collection(
    container: ContainerDep, admin: AdminDep, name: CollectionName, body: GrantIn
) -> CollectionOut:
    return CollectionOut.of(await container.knowledge.collections.revoke(admin, name, body.grant()))


@router.get(
    "/access/{document_id}",
    response_model=DocumentAccessOut,
    responses=problem_responses(404),
    summary="Who may read a document, and through which grant; admins only",
)
async def who_can_read(
    container: ContainerDep, admin: AdminDep, document_id: RowId
) -> DocumentAccessOut:
    access = await asyncio.to_thread(
        container.knowledge.collections.who_can_read, admin, document_id
    )
    return DocumentAccessOut.of(access)
