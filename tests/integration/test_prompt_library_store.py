"""The prompt library's store and the version statistics read from the run store, on real
databases: every test taking `app_db` runs on SQLite and on PostgreSQL (`backend` fixture)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.admin.prompt_library_store import PromptLibraryStore
from services.admin.prompt_store import PromptStore
from services.evaluation.run_store import RunStore
from tests.fakes.prompt_library import InMemoryPromptLibraryStore
from tests.store_backends import AppDb, open_app_db
from use_cases.evaluation.run_domain import PromptRef, RunRecord, RunSettings
from use_cases.prompts.library_domain import LibraryPrompt, Project, Removed, UseCase

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def app_db(backend: str, tmp_path: Path, request: pytest.FixtureRequest):
    yield from open_app_db(backend, tmp_path, request)


def _prompt(prompt_id: str, use_case: str, name: str, tags: tuple[str, ...]) -> LibraryPrompt:
    return LibraryPrompt(prompt_id, use_case, name, "", tags, prompt_id, NOON)


def test_the_default_project_holds_the_built_in_prompts_keyed_by_prompt_type(
    app_db: AppDb,
) -> None:
    store = app_db.open(PromptLibraryStore)
    projects, total = store.projects(limit=10, offset=0)
    assert total == 1 and projects[0].id == "proj_default"
    use_cases, _ = store.use_cases("proj_default", limit=10, offset=0)
    assert [u.id for u in use_cases] == ["uc_advice", "uc_chat"]
    chat = store.prompt("prm_chat")
    assert chat is not None and (chat.key, chat.use_case_id, chat.built_in) == (
        "chat",
        "uc_chat",
        True,
    )
    assert chat.created_at.tzinfo is not None
    store.close()
    reopened = app_db.open(PromptLibraryStore)  # migrations are not applied twice
    assert reopened.projects(limit=10, offset=0)[1] == 1
    reopened.close()


def test_names_are_unique_within_their_parent_and_pages_filter_by_use_case_and_tag(
    app_db: AppDb,
) -> None:
    store = app_db.open(PromptLibraryStore)
    _names_and_pages(store)
    store.close()


def test_the_fake_store_keeps_the_same_contract() -> None:
    _names_and_pages(InMemoryPromptLibraryStore())


def _names_and_pages(store: PromptLibraryStore | InMemoryPromptLibraryStore) -> None:
    assert store.add_project(Project("proj_1", "Support", "Help desk", NOON))
    assert not store.add_project(Project("proj_2", "Support", "", NOON))
    assert store.add_use_case(UseCase("uc_1", "proj_1", "triage", "", NOON))
    assert store.add_use_case(UseCase("uc_2", "proj_1", "replies", "", NOON))
    assert not store.add_use_case(UseCase("uc_3", "proj_1", "triage", "", NOON))
    assert store.add_use_case(UseCase("uc_4", "proj_default", "triage", "", NOON))
    assert store.add_prompt(_prompt("prm_1", "uc_1", "short", ("terse", "en")))
    assert store.add_prompt(_prompt("prm_2", "uc_1", "long", ("en",)))
    assert store.add_prompt(_prompt("prm_3", "uc_2", "polite", ("terse",)))
    assert not store.add_prompt(_prompt("prm_4", "uc_1", "short", ()))
    assert store.project("proj_2") is None and store.prompt("prm_4") is None

    page, total = store.prompts(use_case_id="uc_1", tag=None, limit=10, offset=0)
    assert ([p.name for p in page], total) == (["long", "short"], 2)
    page, total = store.prompts(use_case_id=None, tag="terse", limit=1, offset=1)
    assert ([p.id for p in page], total) == (["prm_1"], 2)
    page, total = store.prompts(use_case_id="uc_1", tag="terse", limit=10, offset=0)
    assert [(p.id, p.tags) for p in page] == [("prm_1", ("terse", "en"))]
    assert store.prompts(use_case_id=None, tag="nope", limit=10, offset=0) == ([], 0)
    assert store.use_cases("proj_1", limit=10, offset=0)[1] == 2


LATER = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)


def test_updates_and_cascading_deletes(app_db: AppDb) -> None:
    store = app_db.open(PromptLibraryStore)
    _updates_and_deletes(store)
    store.close()


def test_the_fake_store_updates_and_deletes_the_same_way() -> None:
    _updates_and_deletes(InMemoryPromptLibraryStore())


def _updates_and_deletes(store: PromptLibraryStore | InMemoryPromptLibraryStore) -> None:
    _names_and_pages(store)
    support = store.project("proj_1")
    assert support is not None and support.updated_at is None
    assert store.update_project(replace(support, name="Helpdesk", updated_at=LATER))
    assert store.project("proj_1") == replace(support, name="Helpdesk", updated_at=LATER)
    assert not store.update_project(replace(support, name="Default", updated_at=LATER))
    assert not store.update_project(Project("proj_nope", "Nope", "", NOON, LATER))
    triage = store.use_case("uc_1")
    assert triage is not None
    assert not store.update_use_case(replace(triage, name="replies", updated_at=LATER))
    assert store.update_use_case(replace(triage, description="Sorting", updated_at=LATER))
    assert store.use_case("uc_1") == replace(triage, description="Sorting", updated_at=LATER)
    short = store.prompt("prm_1")
    assert short is not None
    assert not store.update_prompt(replace(short, name="long", updated_at=LATER))
    renamed = replace(short, name="brief", tags=("en",), updated_at=LATER)
    assert store.update_prompt(renamed)
    assert store.prompt("prm_1") == renamed

    assert store.delete_prompt("prm_2") == Removed()
    assert store.delete_prompt("prm_2") is None and store.prompt("prm_2") is None
    assert store.delete_use_case("uc_4") == Removed(prompts=0)
    assert store.delete_project("proj_1") == Removed(use_cases=2, prompts=2)
    assert store.project("proj_1") is None and store.use_case("uc_2") is None
    assert store.prompt("prm_1") is None and store.prompt("prm_3") is None
    assert store.delete_project("proj_1") is None and store.delete_use_case("uc_1") is None
    assert store.projects(limit=10, offset=0)[1] == 1
    assert store.prompt("prm_chat") is not None  # another project's rows are untouched


def _run(run_id: str, ref: PromptRef | None, at: str) -> RunRecord:
    settings = RunSettings(concurrency=1, k=5, robustness=("typos",), seed=0)
    return RunRecord(run_id, "queued", "answers", "v1", ("m",), ref, settings, "root", at, 2)


def _row(case: str, correct: bool, latency: int, cost: float | None) -> dict[str, object]:
    return {"case_id": case, "correct": correct, "latency_ms": latency, "cost_usd": cost,
            "error": None}  # fmt: skip


def test_version_statistics_come_from_the_runs_that_recorded_the_version(app_db: AppDb) -> None:
    prompts, runs = app_db.open(PromptStore), app_db.open(RunStore)
    prompts.create_version("prm_x", "One.", "root", NOON)
    runs.create(_run("run_000000000001", PromptRef("prm_x", 1), "2026-03-02T12:00:00+00:00"))
    runs.create(_run("run_000000000002", PromptRef("prm_x", 1), "2026-03-02T13:00:00+00:00"))
    runs.create(_run("run_000000000003", PromptRef("prm_x", 2), "2026-03-02T14:00:00+00:00"))
    runs.create(_run("run_000000000004", PromptRef("chat", 1), "2026-03-02T15:00:00+00:00"))
    runs.create(_run("run_000000000005", None, "2026-03-02T16:00:00+00:00"))
    runs.add_row("run_000000000001", ("m", "a", "clean"), _row("a", True, 100, 0.01))
    runs.add_row("run_000000000001", ("m", "b", "clean"), _row("b", False, 300, None))
    runs.add_row("run_000000000001", ("m", "a", "typos"), _row("a", False, 900, 0.5))
    runs.add_row("run_000000000002", ("m", "a", "clean"), _row("a", True, 200, 0.02))
    runs.set_status("run_000000000001", "completed", at="2026-03-02T12:05:00+00:00")

    stats = runs.version_stats("prm_x")
    assert set(stats) == {1, 2}
    one = stats[1]
    assert (one.runs, one.cases, one.pass_rate) == (2, 3, round(2 / 3, 4))
    assert one.mean_latency_ms == 200.0  # (100 + 300 + 200) / 3; the perturbed row is not counted
    assert one.cost_usd == 0.03
    assert (one.last_run_id, one.last_run_at) == ("run_000000000002", "2026-03-02T13:00:00+00:00")
    assert one.last_completed_run_id == "run_000000000001"
    assert (stats[2].runs, stats[2].pass_rate, stats[2].last_completed_run_id) == (1, None, None)
    assert set(runs.version_stats("chat")) == {1}
    assert runs.version_stats("nothing") == {}
    assert runs.count() == 5
    prompts.close()
    runs.close()


def test_two_writers_adding_one_name_at_once_get_one_row(app_db: AppDb) -> None:
    stores = [app_db.open_apart(PromptLibraryStore) for _ in range(4)]
    projects = [Project(f"proj_{i}", "Same", "", NOON) for i in range(len(stores))]
    with ThreadPoolExecutor(len(stores)) as pool:
        added = list(pool.map(lambda s, p: s.add_project(p), stores, projects))
    assert sorted(added) == [False, False, False, True]
    assert stores[0].projects(limit=10, offset=0)[1] == 2  # Default and the one "Same"
    for store in stores:
        store.close()
