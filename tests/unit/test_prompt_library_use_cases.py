"""The prompt library's use cases on in-memory fakes: projects, use cases, tagged prompts,
versions with their statistics; running and comparing versions."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.fakes import (
    FakeModelResolver,
    InMemoryAuditLog,
    InMemoryJobQueue,
    InMemoryPromptStore,
    SteppingClock,
)
from tests.fakes.evaluation import InMemoryDatasetStore, InMemoryRunStore
from tests.fakes.prompt_library import FixedVersionStats, InMemoryPromptLibraryStore
from use_cases.access.audit import RecordAudit
from use_cases.access.domain import Caller
from use_cases.evaluation.datasets import DatasetUpload, ManageDatasets
from use_cases.evaluation.prompt_versions import EvaluatePromptVersions, VersionRunRequest
from use_cases.evaluation.runs import BenchmarkRuns
from use_cases.prompts.domain import ADVICE, CHAT, PromptDefault, PromptTypes
from use_cases.prompts.library import (
    Changes,
    ManagePromptLibrary,
    NewProject,
    NewPrompt,
    NewUseCase,
)
from use_cases.prompts.library_domain import Removed, VersionStats
from use_cases.prompts.manage_prompts import ManagePrompts
from use_cases.shared.errors import Conflict, Forbidden, InvalidRequest, NotFound
from use_cases.shared.sampling import Sampling

ROOT = Caller("root", "admin", "key_root")
ANA = Caller("ana", "user", "key_ana")


@dataclass
class World:
    library: ManagePromptLibrary
    versions: InMemoryPromptStore = field(default_factory=InMemoryPromptStore)
    stats: FixedVersionStats = field(default_factory=FixedVersionStats)
    log: InMemoryAuditLog = field(default_factory=InMemoryAuditLog)

    def audited(self) -> list[tuple[str, str]]:
        return [(e.action, e.target) for e in self.log.entries]


@pytest.fixture
def world() -> World:
    versions, stats, log, clock = (
        InMemoryPromptStore(),
        FixedVersionStats(),
        InMemoryAuditLog(),
        SteppingClock(),
    )
    audit = RecordAudit(log, clock)
    types = PromptTypes({CHAT: PromptDefault("Built-in chat."), ADVICE: PromptDefault("Advice.")})
    system = ManagePrompts(types, versions, audit, clock)
    library = ManagePromptLibrary(
        InMemoryPromptLibraryStore(), versions, stats, system, audit, clock
    )
    return World(library, versions, stats, log)


async def _tree(library: ManagePromptLibrary) -> tuple[str, str, str]:
    project = await library.create_project(ROOT, NewProject("  Support   desk ", "Help"))
    use_case = await library.create_use_case(ROOT, NewUseCase(project.id, "triage"))
    prompt = await library.create_prompt(
        ROOT, NewPrompt(use_case.id, "short", tags=(" Terse", "EN", "terse", " "))
    )
    return project.id, use_case.id, prompt.id


async def test_a_tree_is_created_with_clean_names_and_tags_and_each_step_is_audited(
    world: World,
) -> None:
    project_id, use_case_id, prompt_id = await _tree(world.library)
    project = await world.library.project(ROOT, project_id)
    prompt = await world.library.prompt(ROOT, prompt_id)
    assert project.name == "Support desk" and project_id.startswith("proj_")
    assert (prompt.tags, prompt.key, prompt.built_in) == (("terse", "en"), prompt_id, False)
    assert (await world.library.use_case(ROOT, use_case_id)).project_id == project_id
    assert world.audited() == [
        ("project.create", f"project:{project_id}"),
        ("use_case.create", f"use_case:{use_case_id}"),
        ("library_prompt.create", f"library_prompt:{prompt_id}"),
    ]
    tagged = await world.library.prompts(ROOT, tag="TERSE")
    assert [p.id for p in tagged.items] == [prompt_id] and tagged.total == 1
    assert (await world.library.prompts(ROOT, use_case_id="uc_chat")).items[0].key == CHAT


async def test_taken_names_missing_parents_and_bad_fields_write_nothing(world: World) -> None:
    project_id, use_case_id, _ = await _tree(world.library)
    before = len(world.log.entries)
    with pytest.raises(Conflict, match="named 'Support desk'"):
        await world.library.create_project(ROOT, NewProject("Support desk"))
    with pytest.raises(Conflict, match="has a use case 'triage'"):
        await world.library.create_use_case(ROOT, NewUseCase(project_id, "triage"))
    with pytest.raises(Conflict, match="has a prompt 'short'"):
        await world.library.create_prompt(ROOT, NewPrompt(use_case_id, "short"))
    with pytest.raises(NotFound, match="No project"):
        await world.library.create_use_case(ROOT, NewUseCase("proj_nope", "x"))
    with pytest.raises(NotFound, match="No use case"):
        await world.library.prompts(ROOT, use_case_id="uc_nope")
    with pytest.raises(InvalidRequest, match="name"):
        await world.library.create_project(ROOT, NewProject(" \t "))
    with pytest.raises(InvalidRequest, match="tags"):
        await world.library.create_prompt(ROOT, NewPrompt(use_case_id, "x", tags=("t" * 41,)))
    with pytest.raises(InvalidRequest, match="limit"):
        await world.library.projects(ROOT, limit=0)
    assert len(world.log.entries) == before
    assert (await world.library.projects(ROOT)).total == 2


async def test_users_can_neither_read_nor_change_the_library(world: World) -> None:
    with pytest.raises(Forbidden):
        await world.library.projects(ANA)
    with pytest.raises(Forbidden):
        await world.library.create_project(ANA, NewProject("Mine"))
    with pytest.raises(Forbidden):
        await world.library.versions(ANA, "prm_chat")


async def test_versions_of_a_library_prompt_may_use_any_variable_and_carry_their_stats(
    world: World,
) -> None:
    _, _, prompt_id = await _tree(world.library)
    one = await world.library.create_version(ROOT, prompt_id, " One. ")
    two = await world.library.create_version(ROOT, prompt_id, "For {{team}}.", activate=False)
    three = await world.library.create_version(ROOT, prompt_id, "For {{team}}, briefly.")
    again = await world.library.create_version(ROOT, prompt_id, "For {{team}}, briefly.")
    assert [one.prompt.version, two.prompt.version, three.prompt.version] == [1, 2, 3]
    assert (two.prompt.active, three.prompt.active, three.prompt.variables) == (
        False,
        True,
        ("team",),
    )
    assert (again.changed, again.prompt.version) == (False, 3)
    world.stats.stats[prompt_id] = {2: VersionStats(runs=2, cases=4, pass_rate=0.75)}

    page = await world.library.versions(ROOT, prompt_id, limit=2)
    assert (page.active, page.versions.total) == (3, 3)
    assert [(v.version.version, v.active, v.stats.runs) for v in page.versions.items] == [
        (3, True, 0),
        (2, False, 2),
    ]
    assert (await world.library.version(ROOT, prompt_id, 2)).stats.pass_rate == 0.75

    switched = await world.library.activate(ROOT, prompt_id, 2)
    assert switched.changed and world.versions.active[prompt_id] == 2
    assert not (await world.library.activate(ROOT, prompt_id, 2)).changed
    with pytest.raises(NotFound, match="no version 9"):
        await world.library.activate(ROOT, prompt_id, 9)
    assert [a for a, t in world.audited() if t == f"prompt:{prompt_id}"] == [
        "prompt.create",
        "prompt.create",
        "prompt.create",
        "prompt.activate",
    ]


async def test_the_built_in_prompts_versions_are_the_system_prompts_with_their_rules(
    world: World,
) -> None:
    created = await world.library.create_version(ROOT, "prm_chat", "Answer on {{today}}.")
    assert created.prompt.prompt_type == CHAT and world.versions.active[CHAT] == 1
    with pytest.raises(InvalidRequest, match="team"):
        await world.library.create_version(ROOT, "prm_chat", "For {{team}}.")
    draft = await world.library.create_version(ROOT, "prm_advice", "For {{team}}.", activate=False)
    assert draft.prompt.prompt_type == ADVICE and ADVICE not in world.versions.active
    with pytest.raises(InvalidRequest, match="team"):
        await world.library.activate(ROOT, "prm_advice", 1)
    assert ("prompt.create", "prompt:chat") in world.audited()


class _Chat:
    def __init__(self) -> None:
        self.models = FakeModelResolver()

    def model_identifier(self, requested: str | None) -> str:
        return self.models.resolve(requested).identifier


@dataclass
class _Compare:
    calls: list[tuple[str, str, str | None]] = field(default_factory=list)

    async def execute(self, caller: Caller, a: str, b: str, fail_on: str | None = None) -> Any:
        self.calls.append((a, b, fail_on))
        return {"compared": (a, b)}


async def test_a_version_run_records_the_prompt_key_and_sampling_and_compare_uses_latest_runs(
    world: World,
) -> None:
    _, _, prompt_id = await _tree(world.library)
    await world.library.create_version(ROOT, prompt_id, "One.")
    clock = SteppingClock()
    audit = RecordAudit(InMemoryAuditLog(), clock)
    datasets = ManageDatasets(InMemoryDatasetStore(), clock, audit, bundled_dir=None)
    case = {"id": "c1", "question": "Q?", "kind": "kb", "expect_any": ["x"]}
    await datasets.upload(ROOT, DatasetUpload("one.jsonl", json.dumps(case).encode()))
    runs, jobs, compare = InMemoryRunStore(), InMemoryJobQueue(), _Compare()
    benchmark = BenchmarkRuns(
        datasets,
        runs,
        None,  # type: ignore[arg-type]  # executes nothing here
        _Chat(),  # type: ignore[arg-type]  # a chat of one scripted answer
        world.versions,
        clock,
        audit,
        jobs,
        default_concurrency=1,
    )
    evaluations = EvaluatePromptVersions(
        world.library,
        benchmark,
        compare,  # type: ignore[arg-type]  # a comparison of the one call it makes
        datasets,
        runs,
    )
    sampling = Sampling(temperature=0.0, seed=7)
    record = await evaluations.start(
        ROOT, VersionRunRequest(prompt_id, 1, "one", sampling=sampling)
    )
    assert record.prompt_version is not None
    assert record.prompt_version.as_dict() == {"type": prompt_id, "version": 1}
    assert record.settings.sampling == sampling
    assert (await evaluations.runs(ROOT)).total == 1
    assert [d.id for d in (await evaluations.datasets(ROOT)).items] == ["one"]
    with pytest.raises(InvalidRequest, match="no version 2"):
        await evaluations.start(ROOT, VersionRunRequest(prompt_id, 2, "one"))
    with pytest.raises(NotFound, match="No prompt"):
        await evaluations.start(ROOT, VersionRunRequest("prm_nope", 1, "one"))

    with pytest.raises(NotFound, match="no completed evaluation run"):
        await evaluations.compare(ROOT, prompt_id, 1, 2)
    with pytest.raises(InvalidRequest, match="same"):
        await evaluations.compare(ROOT, prompt_id, 1, 1)
    await world.library.create_version(ROOT, prompt_id, "Two.")
    world.stats.stats[prompt_id] = {
        1: VersionStats(runs=1, last_completed_run_id="run_aaaaaaaaaaaa"),
        2: VersionStats(runs=2, last_completed_run_id="run_bbbbbbbbbbbb"),
    }
    found = await evaluations.compare(ROOT, prompt_id, 1, 2, "correct<0")
    assert (found.run_a, found.run_b) == ("run_aaaaaaaaaaaa", "run_bbbbbbbbbbbb")
    assert compare.calls == [("run_aaaaaaaaaaaa", "run_bbbbbbbbbbbb", "correct<0")]


async def test_updates_change_only_the_fields_given_and_are_audited(world: World) -> None:
    project_id, use_case_id, prompt_id = await _tree(world.library)
    project = await world.library.update_project(ROOT, project_id, Changes(name=" Help   desk "))
    assert (project.name, project.description) == ("Help desk", "Help")
    assert project.updated_at is not None
    use_case = await world.library.update_use_case(ROOT, use_case_id, Changes(description="Sort"))
    assert (use_case.name, use_case.description) == ("triage", "Sort")
    prompt = await world.library.update_prompt(ROOT, prompt_id, Changes(tags=["FR", "fr"]))
    assert (prompt.name, prompt.tags, prompt.key) == ("short", ("fr",), prompt_id)
    assert await world.library.prompt(ROOT, prompt_id) == prompt
    assert world.audited()[-3:] == [
        ("project.update", f"project:{project_id}"),
        ("use_case.update", f"use_case:{use_case_id}"),
        ("library_prompt.update", f"library_prompt:{prompt_id}"),
    ]
    before = len(world.log.entries)
    with pytest.raises(Conflict, match="named 'Default'"):
        await world.library.update_project(ROOT, project_id, Changes(name="Default"))
    with pytest.raises(NotFound, match="No use case"):
        await world.library.update_use_case(ROOT, "uc_nope", Changes(name="x"))
    with pytest.raises(InvalidRequest, match="name"):
        await world.library.update_prompt(ROOT, prompt_id, Changes(name="  "))
    with pytest.raises(Forbidden):
        await world.library.update_project(ANA, project_id, Changes(name="x"))
    assert len(world.log.entries) == before
    assert (await world.library.project(ROOT, project_id)).name == "Help desk"


async def test_deletes_take_the_children_keep_the_versions_and_spare_the_built_ins(
    world: World,
) -> None:
    project_id, use_case_id, prompt_id = await _tree(world.library)
    await world.library.create_version(ROOT, prompt_id, "Be brief.")
    other = await world.library.create_prompt(ROOT, NewPrompt(use_case_id, "long"))
    summary = await world.library.prompt_summary(ROOT, prompt_id)
    assert (summary.version_count, summary.latest_version) == (1, 1)
    assert await world.library.delete_prompt(ROOT, other.id) == Removed()
    assert await world.library.delete_project(ROOT, project_id) == Removed(1, 1)
    for read, gone in (
        (world.library.project, project_id),
        (world.library.use_case, use_case_id),
        (world.library.prompt, prompt_id),
    ):
        with pytest.raises(NotFound):
            await read(ROOT, gone)
    assert world.versions.get_version(prompt_id, 1) is not None  # runs still read it
    assert world.audited()[-2:] == [
        ("library_prompt.delete", f"library_prompt:{other.id}"),
        ("project.delete", f"project:{project_id}"),
    ]
    before = len(world.log.entries)
    for delete, built_in in (
        (world.library.delete_prompt, "prm_chat"),
        (world.library.delete_use_case, "uc_advice"),
        (world.library.delete_project, "proj_default"),
    ):
        with pytest.raises(Conflict, match="built"):
            await delete(ROOT, built_in)
    with pytest.raises(NotFound):
        await world.library.delete_prompt(ROOT, prompt_id)
    with pytest.raises(Forbidden):
        await world.library.delete_prompt(ANA, "prm_chat")
    assert len(world.log.entries) == before
    assert (await world.library.prompt_summary(ROOT, "prm_chat")).version_count == 0
