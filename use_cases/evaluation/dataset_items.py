"""Creating, renaming and deleting evaluation datasets, and editing their items one at a time
(`/api/v1/datasets`, `/api/v1/datasets/{id}/items`).

Rules:
- An item is one case of the dataset (`eval_domain.case_from` fields), identified by its `id`
  (given, or `item_` and 12 hex when left out); ids are unique within the dataset.
- A dataset version is never changed: each edit of its items stores a new version (the
  items as JSONL, its content hash the version) and makes it the latest, so the runs that used
  an earlier version keep reading exactly what they ran. An edit that goes back to earlier
  content makes that version the latest again.
- A new dataset may be empty (a run over it is refused until it has items); its id is its
  name's slug, and a taken id is `Conflict`.
- Renaming or describing a dataset applies to its latest version.
- Deleting a dataset deletes every version; it is `Conflict` while an evaluation run used it
  (its export and statistics read it). The bundled dataset is neither edited nor deleted
  (`Conflict`): the sample's files define it.
- Admins only; each change is audited (`eval_dataset.create`, `.update`, `.delete`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypedDict

from use_cases.access.audit import RecordAudit
from use_cases.access.domain import Caller, require_admin
from use_cases.evaluation.datasets import BUNDLED_ID, MAX_DATASET_BYTES, ManageDatasets, slug
from use_cases.evaluation.domain import (
    case_from,
    dataset_records,
    dataset_version,
    parse_dataset,
    records_text,
)
from use_cases.evaluation.run_domain import DatasetStore, RunStore, StoredDataset
from use_cases.shared.clock import Clock, utc
from use_cases.shared.errors import Conflict, InvalidRequest, NotFound

DATASET_CREATE = "eval_dataset.create"
DATASET_UPDATE = "eval_dataset.update"
DATASET_DELETE = "eval_dataset.delete"

Item = dict[str, Any]


class _TextFields(TypedDict, total=False):
    """The fields an edit may change besides the records (a dataset's name, its description)."""

    name: str
    description: str


@dataclass(frozen=True)
class NewDataset:
    name: str
    description: str = ""
    items: tuple[Mapping[str, Any], ...] = ()


class EditDatasets:
    """Creates, renames and deletes datasets; lists and edits their items (module rules)."""

    def __init__(
        self,
        datasets: ManageDatasets,
        store: DatasetStore,
        runs: RunStore,
        clock: Clock,
        audit: RecordAudit,
    ) -> None:
        self._datasets = datasets
        self._store = store
        self._runs = runs
        self._clock = clock
        self._audit = audit

    # --- datasets ---------------------------------------------------------------------------

    async def create(self, caller: Caller, new: NewDataset) -> StoredDataset:
        require_admin(caller, "Changing evaluation datasets")
        return await asyncio.to_thread(self._create, caller, new)

    def _create(self, caller: Caller, new: NewDataset) -> StoredDataset:
        name = " ".join(new.name.split())
        dataset_id = slug(name)
        if not dataset_id:
            raise InvalidRequest("field 'name': give the dataset a name with letters or digits.")
        if dataset_id == BUNDLED_ID or self._store.latest(dataset_id) is not None:
            raise Conflict(f"A dataset {dataset_id!r} exists already; choose another name.")
        records: list[Item] = []
        for record in new.items:
            records.append(self._checked(record, records, where="field 'items'"))
        draft = StoredDataset(
            dataset_id, name, "", new.description.strip(), "upload", "jsonl", "", "", 0
        )
        stored = self._store_version(draft, records)
        self._audit.record(
            caller,
            DATASET_CREATE,
            f"eval_dataset:{dataset_id}",
            after={"version": stored.version, "cases": stored.cases},
        )
        return stored

    async def get(self, caller: Caller, dataset_id: str) -> StoredDataset:
        require_admin(caller, "Reading evaluation datasets")
        return await asyncio.to_thread(self._datasets.stored, dataset_id)

    async def update(
        self,
        caller: Caller,
        dataset_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> StoredDataset:
        require_admin(caller, "Changing evaluation datasets")

        def change(latest: StoredDataset, records: list[Item]) -> list[Item]:
            return records

        fields: _TextFields = {}
        if name is not None:
            fields["name"] = " ".join(name.split())
            if not fields["name"]:
                raise InvalidRequest("field 'name': give the dataset a name.")
        if description is not None:
            fields["description"] = description.strip()
        stored, _ = await asyncio.to_thread(self._edit, caller, dataset_id, change, fields)
        return stored

    async def delete(self, caller: Caller, dataset_id: str) -> None:
        require_admin(caller, "Changing evaluation datasets")
        await asyncio.to_thread(self._delete, caller, dataset_id)

    def _delete(self, caller: Caller, dataset_id: str) -> None:
        latest = self._editable(dataset_id)
        used = self._runs.dataset_runs(latest.id)
        if used:
            raise Conflict(
                f"{used} evaluation run(s) used dataset {latest.id!r}; their results read it, "
                "so it cannot be deleted."
            )
        versions = self._store.delete(latest.id)
        self._audit.record(
            caller, DATASET_DELETE, f"eval_dataset:{latest.id}", after={"versions": versions}
        )

    # --- items ------------------------------------------------------------------------------

    async def items(self, caller: Caller, dataset_id: str) -> list[Item]:
        require_admin(caller, "Reading evaluation datasets")
        return await asyncio.to_thread(lambda: self._records(self._datasets.stored(dataset_id)))

    async def item(self, caller: Caller, dataset_id: str, item_id: str) -> Item:
        require_admin(caller, "Reading evaluation datasets")
        records = await self.items(caller, dataset_id)
        return _find(records, dataset_id, item_id)

    async def add_item(
        self, caller: Caller, dataset_id: str, record: Mapping[str, Any]
    ) -> tuple[StoredDataset, Item]:
        require_admin(caller, "Changing evaluation datasets")
        added: list[Item] = []

        def change(latest: StoredDataset, records: list[Item]) -> list[Item]:
            added.append(self._checked(record, records, where="item"))
            return [*records, added[0]]

        stored, _ = await asyncio.to_thread(self._edit, caller, dataset_id, change, {})
        return stored, added[0]

    async def change_item(
        self,
        caller: Caller,
        dataset_id: str,
        item_id: str,
        fields: Mapping[str, Any],
        *,
        merge: bool,
    ) -> tuple[StoredDataset, Item]:
        """The item with `fields` merged in (`merge`) or in place of its own; its id stays."""
        require_admin(caller, "Changing evaluation datasets")
        if "id" in fields and fields["id"] != item_id:
            raise InvalidRequest("field 'id': an item keeps its id; add a new item instead.")
        changed: list[Item] = []

        def change(latest: StoredDataset, records: list[Item]) -> list[Item]:
            old = _find(records, dataset_id, item_id)
            others = [r for r in records if r is not old]
            body = {**old, **fields} if merge else {**fields}
            changed.append(self._checked({**body, "id": item_id}, others, where="item"))
            return [changed[0] if r is old else r for r in records]

        stored, _ = await asyncio.to_thread(self._edit, caller, dataset_id, change, {})
        return stored, changed[0]

    async def delete_item(self, caller: Caller, dataset_id: str, item_id: str) -> StoredDataset:
        require_admin(caller, "Changing evaluation datasets")

        def change(latest: StoredDataset, records: list[Item]) -> list[Item]:
            old = _find(records, dataset_id, item_id)
            return [r for r in records if r is not old]

        stored, _ = await asyncio.to_thread(self._edit, caller, dataset_id, change, {})
        return stored

    # --- helpers ----------------------------------------------------------------------------

    def _edit(
        self,
        caller: Caller,
        dataset_id: str,
        change: Callable[[StoredDataset, list[Item]], list[Item]],
        fields: _TextFields,
    ) -> tuple[StoredDataset, list[Item]]:
        latest = self._editable(dataset_id)
        records = change(latest, self._records(latest))
        stored = self._store_version(replace(latest, **fields), records)
        self._audit.record(
            caller,
            DATASET_UPDATE,
            f"eval_dataset:{latest.id}",
            before={"version": latest.version, "cases": latest.cases},
            after={"version": stored.version, "cases": stored.cases, **fields},
        )
        return stored, records

    def _editable(self, dataset_id: str) -> StoredDataset:
        if dataset_id == BUNDLED_ID:
            self._datasets.stored(dataset_id)  # NotFound when there is none
            raise Conflict(
                f"{BUNDLED_ID!r} is the bundled dataset, defined by the sample's files; "
                "create a dataset of your own."
            )
        return self._datasets.stored(dataset_id)

    def _records(self, stored: StoredDataset) -> list[Item]:
        return dataset_records(stored.text, fmt=stored.fmt, origin=stored.id)

    def _checked(self, record: Mapping[str, Any], others: list[Item], *, where: str) -> Item:
        """The record as a case would read it, with its id (new when left out), or a 422."""
        body = dict(record)
        body.setdefault("id", f"item_{uuid.uuid4().hex[:12]}")
        case = case_from(body, where)
        if any(r["id"] == case.id for r in others):
            raise Conflict(f"The dataset has an item {case.id!r} already.")
        return {**body, "id": case.id}

    def _store_version(self, base: StoredDataset, records: list[Item]) -> StoredDataset:
        text = records_text(records)
        if len(text.encode()) > MAX_DATASET_BYTES:
            raise InvalidRequest(f"A dataset may hold at most {MAX_DATASET_BYTES} bytes.")
        cases = parse_dataset(text, fmt="jsonl", origin=base.id)
        return self._store.put_latest(
            replace(
                base,
                version=dataset_version(text),
                fmt="jsonl",
                text=text,
                cases=len(cases),
                source="upload",
                created_at=utc(self._clock.now()).isoformat(timespec="seconds"),
            )
        )


def _find(records: list[Item], dataset_id: str, item_id: str) -> Item:
    for record in records:
        if record["id"] == item_id:
            return record
    raise NotFound(f"Dataset {dataset_id!r} has no item {item_id!r}.")
