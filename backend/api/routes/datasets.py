"""`/api/v1/datasets/{id}` and `/api/v1/datasets/{id}/items`: create, read, rename and delete
evaluation datasets and edit their items (cases) one at a time, as the prompt playground's
document has them (docs/seeds.md, 001). Each edit stores a new version of the dataset; the
runs that used an earlier one keep it (`use_cases/evaluation/dataset_items.py`). Admins only.
The list of datasets, `GET /api/v1/datasets`, is in `library.py`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from backend.api.deps import MAX_PAGE_OFFSET, MAX_PAGE_SIZE, AdminDep, ContainerDep
from backend.api.eval_schemas import TaskOut
from backend.api.openapi import problem_responses
from use_cases.evaluation.dataset_items import NewDataset

router = APIRouter(prefix="/api/v1", tags=["prompt library"])

DatasetId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$", description="A dataset id.")
]
ItemId = Annotated[str, Path(min_length=1, max_length=200, description="An item's (case's) id.")]
ItemBody = Annotated[
    dict[str, Any],
    Body(
        description="A case: `question` (required), `kind`, `expect_any`, `expect_sources`, "
        "`variables`, `tags`, `assertions` ... (docs/evaluation-runs.md); `id` optional.",
        examples=[
            {
                "id": "sev1",
                "question": "What is the SEV1 acknowledgement time?",
                "expect_any": ["5 minutes"],
            }
        ],
    ),
]
_CHANGED = problem_responses(404, 409, 422)


class DatasetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, examples=["Smoke"])
    description: str | None = Field(None, max_length=1000)
    items: list[dict[str, Any]] = Field(
        default_factory=list, max_length=10_000, description="Its first items (cases), if any."
    )


class DatasetUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=1000)


class DatasetItemOut(BaseModel):
    """An item as stored: its case's fields, `id` always present."""

    model_config = ConfigDict(extra="allow")

    id: str
    dataset_id: str
    dataset_version: str = Field(description="The dataset version this item was read from.")


def _item(dataset: str, version: str, record: dict[str, Any]) -> DatasetItemOut:
    return DatasetItemOut(**{**record, "dataset_id": dataset, "dataset_version": version})


@router.post(
    "/datasets",
    response_model=TaskOut,
    status_code=201,
    responses=problem_responses(409, 422),
    summary="Create an evaluation dataset (its id the slug of its name), empty or with items; "
    "admins only",
)
async def create_dataset(container: ContainerDep, admin: AdminDep, body: DatasetIn) -> TaskOut:
    new = NewDataset(body.name, body.description or "", tuple(body.items))
    return TaskOut.of(await container.evaluation.dataset_edits.create(admin, new))


# `GET /api/v1/datasets/{dataset_id}` (the dataset and a page of its items) is
# routes/evaluation.py's.


@router.patch(
    "/datasets/{dataset_id}",
    response_model=TaskOut,
    responses=_CHANGED,
    summary="Rename or describe a dataset (the fields given); admins only",
)
@router.put("/datasets/{dataset_id}", response_model=TaskOut, responses=_CHANGED)
async def update_dataset(
    container: ContainerDep, admin: AdminDep, dataset_id: DatasetId, body: DatasetUpdateIn
) -> TaskOut:
    updated = await container.evaluation.dataset_edits.update(
        admin, dataset_id, name=body.name, description=body.description
    )
    return TaskOut.of(updated)


@router.delete(
    "/datasets/{dataset_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(404, 409),
    summary="Delete a dataset, every version (409: a run used it, or it is the bundled one); "
    "admins only",
)
async def delete_dataset(container: ContainerDep, admin: AdminDep, dataset_id: DatasetId) -> None:
    await container.evaluation.dataset_edits.delete(admin, dataset_id)


@router.get(
    "/datasets/{dataset_id}/items",
    response_model=list[DatasetItemOut],
    responses=problem_responses(404),
    summary="A dataset's items (its latest version's cases), in order; admins only",
)
async def list_items(
    container: ContainerDep,
    admin: AdminDep,
    response: Response,
    dataset_id: DatasetId,
    skip: Annotated[int, Query(ge=0, le=MAX_PAGE_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
) -> list[DatasetItemOut]:
    edits = container.evaluation.dataset_edits
    dataset = await edits.get(admin, dataset_id)
    records = await edits.items(admin, dataset_id)
    response.headers["X-Total-Count"] = str(len(records))
    return [_item(dataset.id, dataset.version, r) for r in records[skip : skip + limit]]


@router.post(
    "/datasets/{dataset_id}/items",
    response_model=DatasetItemOut,
    status_code=201,
    responses=_CHANGED,
    summary="Add an item (a case) to a dataset: a new version; admins only",
)
async def add_item(
    container: ContainerDep, admin: AdminDep, dataset_id: DatasetId, body: ItemBody
) -> DatasetItemOut:
    dataset, item = await container.evaluation.dataset_edits.add_item(admin, dataset_id, body)
    return _item(dataset.id, dataset.version, item)


@router.get(
    "/datasets/{dataset_id}/items/{item_id}",
    response_model=DatasetItemOut,
    responses=problem_responses(404),
    summary="One item of a dataset; admins only",
)
async def get_item(
    container: ContainerDep, admin: AdminDep, dataset_id: DatasetId, item_id: ItemId
) -> DatasetItemOut:
    edits = container.evaluation.dataset_edits
    dataset = await edits.get(admin, dataset_id)
    return _item(dataset.id, dataset.version, await edits.item(admin, dataset_id, item_id))


@router.patch(
    "/datasets/{dataset_id}/items/{item_id}",
    response_model=DatasetItemOut,
    responses=_CHANGED,
    summary="Change an item's fields (those given): a new version of the dataset; admins only",
)
async def patch_item(
    container: ContainerDep,
    admin: AdminDep,
    dataset_id: DatasetId,
    item_id: ItemId,
    body: ItemBody,
) -> DatasetItemOut:
    changed = await container.evaluation.dataset_edits.change_item(
        admin, dataset_id, item_id, body, merge=True
    )
    return _item(changed[0].id, changed[0].version, changed[1])


@router.put(
    "/datasets/{dataset_id}/items/{item_id}",
    response_model=DatasetItemOut,
    responses=_CHANGED,
    summary="Replace an item (its id kept): a new version of the dataset; admins only",
)
async def put_item(
    container: ContainerDep,
    admin: AdminDep,
    dataset_id: DatasetId,
    item_id: ItemId,
    body: ItemBody,
) -> DatasetItemOut:
    changed = await container.evaluation.dataset_edits.change_item(
        admin, dataset_id, item_id, body, merge=False
    )
    return _item(changed[0].id, changed[0].version, changed[1])


@router.delete(
    "/datasets/{dataset_id}/items/{item_id}",
    status_code=204,
    response_class=Response,
    responses=_CHANGED,
    summary="Delete an item: a new version of the dataset; admins only",
)
async def delete_item(
    container: ContainerDep, admin: AdminDep, dataset_id: DatasetId, item_id: ItemId
) -> None:
    await container.evaluation.dataset_edits.delete_item(admin, dataset_id, item_id)
