"""`EditDatasets` on the in-memory fakes: datasets created, renamed and deleted, their items
edited one at a time, each edit a new version that runs pinned to an earlier one never see."""

from __future__ import annotations

import pytest

from tests.fakes import InMemoryAuditLog, SteppingClock
from tests.fakes.evaluation import InMemoryDatasetStore, InMemoryRunStore
from use_cases.access.audit import RecordAudit
from use_cases.access.domain import Caller
from use_cases.evaluation.dataset_items import EditDatasets, NewDataset
from use_cases.evaluation.datasets import DatasetUpload, ManageDatasets
from use_cases.evaluation.domain import parse_dataset
from use_cases.evaluation.run_domain import RunRecord, RunSettings, StoredDataset
from use_cases.shared.errors import Conflict, Forbidden, InvalidRequest, NotFound

ROOT = Caller("root", "admin", None)
ANA = Caller("ana", "user", "key_ana")
SEV1 = {"id": "sev1", "question": "What is the SEV1 acknowledgement time?", "expect_any": ["5"]}


class World:
    def __init__(self) -> None:
        clock = SteppingClock()
        self.log = InMemoryAuditLog()
        audit = RecordAudit(self.log, clock)
        self.store, self.runs = InMemoryDatasetStore(), InMemoryRunStore()
        self.datasets = ManageDatasets(self.store, clock, audit, bundled_dir=None)
        self.edits = EditDatasets(self.datasets, self.store, self.runs, clock, audit)

    def actions(self) -> list[str]:
        return [e.action for e in self.log.entries]


async def test_a_dataset_grows_item_by_item_each_edit_a_new_version() -> None:
    world = World()
    created = await world.edits.create(ROOT, NewDataset("  Smoke  test ", "Quick"))
    assert (created.id, created.name, created.cases, created.description) == (
        "smoke-test",
        "Smoke test",
        0,
        "Quick",
    )
    first, item = await world.edits.add_item(ROOT, "smoke-test", SEV1)
    assert item == SEV1 and first.cases == 1 and first.version != created.version
    second, added = await world.edits.add_item(
        ROOT, "smoke-test", {"question": "Leave days?", "kind": "refuse"}
    )
    assert added["id"].startswith("item_") and second.cases == 2
    assert [i["id"] for i in await world.edits.items(ROOT, "smoke-test")] == ["sev1", added["id"]]

    _, patched = await world.edits.change_item(
        ROOT, "smoke-test", "sev1", {"tags": ["dev"]}, merge=True
    )
    assert patched == {**SEV1, "tags": ["dev"]}
    _, replaced = await world.edits.change_item(
        ROOT, "smoke-test", "sev1", {"question": "Who is on call?", "kind": "refuse"}, merge=False
    )
    assert replaced == {"question": "Who is on call?", "kind": "refuse", "id": "sev1"}
    after = await world.edits.delete_item(ROOT, "smoke-test", added["id"])
    assert after.cases == 1
    cases = parse_dataset(after.text, fmt="jsonl", origin="x")
    assert [(c.id, c.question) for c in cases] == [("sev1", "Who is on call?")]
    # The versions before stay as they were, for the runs that used them.
    kept = world.store.version("smoke-test", first.version)
    assert kept is not None and kept.cases == 1 and "SEV1" in kept.text
    assert world.actions() == ["eval_dataset.create"] + ["eval_dataset.update"] * 5


async def test_an_edit_back_to_earlier_content_makes_that_version_the_latest() -> None:
    world = World()
    await world.edits.create(ROOT, NewDataset("Smoke", items=(SEV1,)))
    base = await world.edits.get(ROOT, "smoke")
    _, extra = await world.edits.add_item(
        ROOT, "smoke", {"question": "Leave days?", "kind": "refuse"}
    )
    back = await world.edits.delete_item(ROOT, "smoke", extra["id"])
    assert back.version == base.version
    assert (await world.edits.get(ROOT, "smoke")).version == base.version
    assert [i["id"] for i in await world.edits.items(ROOT, "smoke")] == ["sev1"]
    renamed = await world.edits.update(ROOT, "smoke", name="Smoke tests", description="All")
    assert (renamed.id, renamed.name, renamed.description) == ("smoke", "Smoke tests", "All")
    assert renamed.version == base.version and (await world.edits.get(ROOT, "smoke")) == renamed


async def test_bad_items_taken_ids_used_and_bundled_datasets_write_nothing() -> None:
    world = World()
    await world.edits.create(ROOT, NewDataset("Smoke", items=(SEV1,)))
    before = (len(world.log.entries), (await world.edits.get(ROOT, "smoke")).version)
    with pytest.raises(Conflict, match="exists already"):
        await world.edits.create(ROOT, NewDataset("SMOKE"))
    with pytest.raises(Conflict, match="'sev1' already"):
        await world.edits.add_item(
            ROOT, "smoke", {"id": "sev1", "question": "Again?", "kind": "refuse"}
        )
    with pytest.raises(InvalidRequest, match="unknown field 'colour'"):
        await world.edits.add_item(
            ROOT, "smoke", {"question": "Q?", "kind": "refuse", "colour": "red"}
        )
    with pytest.raises(InvalidRequest, match="question"):
        await world.edits.change_item(ROOT, "smoke", "sev1", {"question": " "}, merge=True)
    with pytest.raises(InvalidRequest, match="keeps its id"):
        await world.edits.change_item(ROOT, "smoke", "sev1", {"id": "other"}, merge=True)
    with pytest.raises(NotFound, match="no item 'nope'"):
        await world.edits.delete_item(ROOT, "smoke", "nope")
    with pytest.raises(NotFound, match="No evaluation dataset"):
        await world.edits.add_item(ROOT, "nope", SEV1)
    with pytest.raises(InvalidRequest, match="name"):
        await world.edits.create(ROOT, NewDataset(" ?! "))
    with pytest.raises(Forbidden):
        await world.edits.add_item(ANA, "smoke", {"question": "Mine?"})
    with pytest.raises(Forbidden):
        await world.edits.items(ANA, "smoke")
    settings = RunSettings(concurrency=1, k=5, robustness=(), seed=0)
    world.runs.create(
        RunRecord("run_1", "completed", "smoke", "v", ("m",), None, settings, "root", "t", 1)
    )
    with pytest.raises(Conflict, match="1 evaluation run"):
        await world.edits.delete(ROOT, "smoke")
    assert (len(world.log.entries), (await world.edits.get(ROOT, "smoke")).version) == before

    await world.datasets.upload(
        ROOT, DatasetUpload("other.jsonl", b'{"question": "Q?", "kind": "refuse"}\n')
    )
    await world.edits.delete(ROOT, "other")
    with pytest.raises(NotFound):
        await world.edits.get(ROOT, "other")
    assert world.actions()[-1] == "eval_dataset.delete"


async def test_the_bundled_dataset_is_not_edited() -> None:
    world = World()
    with pytest.raises(Conflict, match="'answers' exists already"):
        await world.edits.create(ROOT, NewDataset("Answers"))
    text = '{"question": "Q?", "kind": "refuse"}\n'
    world.store.put(StoredDataset("answers", "Bundled", "v1", "", "bundled", "jsonl", text, "t", 1))
    for edit in (
        world.edits.delete(ROOT, "answers"),
        world.edits.add_item(ROOT, "answers", SEV1),
        world.edits.update(ROOT, "answers", name="Mine"),
    ):
        with pytest.raises(Conflict, match="bundled"):
            await edit
