"""Synced sources through the CLI (`almanac sources ...`) and the API (`/api/sources`, admins
only): declaring, syncing with progress and one final line, history, removal, bad input
refused with nothing changed, and scheduled syncs queued as jobs when they fall due."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from backend.bootstrap import Container, bootstrap, start_job_worker
from backend.cli.main import app
from backend.config import Settings
from tests.conftest import FixedClock, asgi_client, issue_key, make_settings
from tests.website_server import website
from use_cases.access.domain import CLI_ADMIN
from use_cases.sources.manage import SOURCE_SCHEDULE, SOURCE_SYNC, AddSourceRequest
from use_cases.sources.sync import SyncRequest

runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _folder(root: Path) -> Path:
    (root / "policies").mkdir(parents=True)
    (root / "travel.md").write_text("# Travel\n\nTrain tickets are refunded within 30 days.\n")
    (root / "policies" / "parking.md").write_text("# Parking\n\nVisitors park in bay 7.\n")
    (root / ".git").mkdir()
    (root / ".git" / "notes.md").write_text("# Hidden\n\nNever synced.\n")
    return root


def test_the_cli_adds_syncs_lists_and_removes_a_folder_source(env: None, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "handbook")

    code, stdout, stderr = _invoke(
        "sources", "add", "handbook", "--folder", str(folder), "--every", "30m",
        "--collection", "hr",
    )  # fmt: skip
    assert code == 0, stderr
    assert "Added source handbook" in stdout

    code, stdout, stderr = _invoke("sources", "sync", "handbook")
    assert code == 0, stderr
    assert stdout.splitlines()[-1] == "2 added, 0 updated, 0 unchanged, 0 removed, 0 failed"
    assert "added     travel.md" in stderr and "policies/parking.md" in stderr

    (folder / "travel.md").unlink()
    code, stdout, _ = _invoke("sources", "sync", "handbook")
    assert stdout.strip() == "0 added, 0 updated, 1 unchanged, 1 removed, 0 failed"

    code, stdout, _ = _invoke("sources", "list", "--json")
    [listed] = json.loads(stdout)
    assert (listed["name"], listed["kind"], listed["every_s"], listed["collection"]) == (
        "handbook",
        "folder",
        1800,
        "hr",
    )
    assert listed["documents"] == 1
    assert listed["last_sync"]["summary"] == "0 added, 0 updated, 1 unchanged, 1 removed, 0 failed"
    assert listed["next_sync_at"] is not None

    code, stdout, _ = _invoke("docs", "list", "--json")
    assert "handbook/policies/parking.md" in stdout and "notes.md" not in stdout

    code, stdout, _ = _invoke("sources", "remove", "handbook")
    assert code == 0 and "1 document removed" in stdout
    code, stdout, _ = _invoke("docs", "list", "--json")
    assert "handbook/" not in stdout
    assert json.loads(_invoke("sources", "list", "--json")[1]) == []


def test_the_cli_syncs_a_website_and_refuses_its_loopback_address_unless_allowed(
    env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with website() as site:
        site.html("/", '<a href="/travel.html">Travel</a> <a href="/parking.html">Parking</a>')
        site.html(
            "/travel.html", "<h1>Travel</h1><p>Train tickets are refunded within 30 days.</p>"
        )
        site.html("/parking.html", "<h1>Parking</h1><p>Visitors park in bay 7.</p>")
        code, _, stderr = _invoke("sources", "add", "intranet", "--url", f"{site.base}/")
        assert code == 0, stderr

        code, stdout, stderr = _invoke("sources", "sync", "intranet")
        assert code == 1 and "Traceback" not in stderr
        assert stdout.splitlines()[-1].startswith("0 added"), stdout  # 127.0.0.1 is refused
        assert site.paths() == []

        monkeypatch.setenv("SOURCE_ALLOWED_HOSTS", "127.0.0.1")
        monkeypatch.setenv("SOURCE_REQUEST_DELAY_S", "0")
        code, stdout, stderr = _invoke("sources", "sync", "intranet")
        assert code == 0, stderr
        assert stdout.splitlines()[-1] == "3 added, 0 updated, 0 unchanged, 0 removed, 0 failed"
        code, stdout, _ = _invoke("search", "Which bay do visitors park in?", "--json")
        assert f"{site.base}/parking.html" in stdout

        del site.pages["/parking.html"]
        site.html("/", '<a href="/travel.html">Travel</a>')
        code, stdout, stderr = _invoke("sources", "sync", "intranet")
        assert code == 0, stderr
        assert stdout.splitlines()[-1] == "0 added, 1 updated, 1 unchanged, 1 removed, 0 failed"

        site.clear()
        code, stdout, stderr = _invoke("sources", "sync", "intranet")
        assert stdout.splitlines()[-1] == "0 added, 0 updated, 2 unchanged, 0 removed, 0 failed"
        conditional = [h for path, h in site.requests if path != "/robots.txt"]
        assert conditional and all("if-none-match" in {k.lower() for k in h} for h in conditional)


def test_the_cli_refuses_bad_sources_clearly_and_stores_nothing(env: None, tmp_path: Path) -> None:
    cases = [
        (["--url", "ftp://intranet.example/"], "needs an http(s) URL with a host"),
        (["--url", "https://"], "needs an http(s) URL with a host"),
        (["--folder", str(tmp_path / "missing")], "is not a folder"),
        (["--s3", "http://bucket/prefix"], "not an S3 location"),
        (["--folder", str(tmp_path), "--every", "soon"], "not a period"),
        (["--folder", str(tmp_path), "--every", "10s"], "at most every 60 s"),
        (["--folder", str(tmp_path), "--every", "99999999d"], "at least once a year"),
        (["--folder", str(tmp_path), "--every", "9" * 40], "not a period"),
        ([], "exactly one of folder, s3"),
    ]
    for options, message in cases:
        code, _, stderr = _invoke("sources", "add", "handbook", *options)
        assert code == 1, options
        assert message.lower() in " ".join(stderr.split()).lower(), (options, stderr)
        assert "Traceback" not in stderr
    code, _, stderr = _invoke("sources", "add", "Hand Book", "--folder", str(tmp_path))
    assert code == 1 and "is not a source name" in stderr
    code, _, stderr = _invoke("sources", "sync", "nothing")
    assert code == 1 and "No source named 'nothing'" in stderr
    assert json.loads(_invoke("sources", "list", "--json")[1]) == []


def test_a_failed_listing_exits_1_and_keeps_every_document(env: None, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "share")
    assert _invoke("sources", "add", "share", "--folder", str(folder))[0] == 0
    assert _invoke("sources", "sync", "share")[0] == 0
    for path in sorted(folder.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    folder.rmdir()  # an unmounted share

    code, stdout, stderr = _invoke("sources", "sync", "share")

    assert code == 1
    assert stdout.strip() == "0 added, 0 updated, 0 unchanged, 0 removed, 0 failed"
    assert "nothing was removed" in stderr
    [listed] = json.loads(_invoke("sources", "list", "--json")[1])
    assert listed["documents"] == 2
    assert listed["last_sync"]["status"] == "failed"


@pytest.fixture
def shares_container(data_dir: Path, tmp_path: Path) -> Iterator[Container]:
    """AUTH_ENABLED=true, folder sources allowed under tmp_path/shares."""
    settings = make_settings(
        data_dir, auth_enabled=True, source_folder_roots=str(tmp_path / "shares")
    )
    built = bootstrap(settings, clock=FixedClock())
    yield built
    built.close()


async def test_over_an_api_key_a_folder_needs_source_folder_roots(
    auth_container: Container, tmp_path: Path
) -> None:
    folder = _folder(tmp_path / "handbook")
    admin = await issue_key(auth_container, "root", "admin")
    async with asgi_client(auth_container) as http:
        refused = await http.post(
            "/api/sources", headers=admin, json={"name": "etc", "folder": str(folder)}
        )
        assert refused.status_code == 422
        assert "SOURCE_FOLDER_ROOTS" in refused.json()["detail"]
        assert (await http.get("/api/sources", headers=admin)).json() == []


async def test_admins_manage_sources_over_the_api_and_users_cannot(
    shares_container: Container, tmp_path: Path
) -> None:
    auth_container = shares_container
    folder = _folder(tmp_path / "shares" / "handbook")
    outside = _folder(tmp_path / "elsewhere")
    admin = await issue_key(auth_container, "root", "admin")
    user = await issue_key(auth_container, "ana", "user")
    start_job_worker(auth_container)
    async with asgi_client(auth_container) as http:
        assert (await http.get("/api/sources", headers=user)).status_code == 403
        refused = await http.post(
            "/api/sources", headers=admin, json={"name": "x", "url": "file:///etc/passwd"}
        )
        assert refused.status_code == 422
        assert "needs an http(s) url" in refused.json()["detail"].lower()
        out = await http.post(
            "/api/sources", headers=admin, json={"name": "x", "folder": str(outside)}
        )
        assert out.status_code == 422 and "is not under a folder" in out.json()["detail"]
        both = await http.post(
            "/api/sources", headers=admin, json={"name": "x", "folder": "/", "s3": "s3://b/p"}
        )
        assert both.status_code == 422
        assert (await http.get("/api/sources", headers=admin)).json() == []

        created = await http.post(
            "/api/sources",
            headers=admin,
            json={"name": "handbook", "folder": str(folder), "collection": "hr"},
        )
        assert created.status_code == 201, created.text
        assert created.headers["location"] == "/api/sources/handbook"
        assert created.json()["next_sync_at"] is None  # not scheduled: synced when asked
        again = await http.post(
            "/api/sources", headers=admin, json={"name": "handbook", "folder": str(folder)}
        )
        assert again.status_code == 409

        queued = await http.post("/api/sources/handbook/sync", headers=admin)
        assert queued.status_code == 202
        job = await _finished(http, queued.headers["location"], admin)
        assert job["status"] == "done" and job["done"] == 2

        history = (await http.get("/api/sources/handbook/history", headers=admin)).json()
        assert [h["summary"] for h in history] == [
            "2 added, 0 updated, 0 unchanged, 0 removed, 0 failed"
        ]
        shown = (await http.get("/api/sources/handbook", headers=admin)).json()
        assert shown["documents"] == 2 and shown["last_sync"]["status"] == "done"
        assert (await http.get("/api/sources/nothing", headers=admin)).status_code == 404
        assert (await http.post("/api/sources/nothing/sync", headers=admin)).status_code == 404

        kept = await http.delete("/api/sources/handbook?keep_documents=true", headers=admin)
        assert kept.json() == {"name": "handbook", "documents_removed": 0}
        audit = (await http.get("/api/audit?action=source", headers=admin)).json()
        entries = [(e["action"], e["target"], e["actor_user_id"]) for e in audit["entries"]]
        assert entries == [
            ("source.remove", "source:handbook", "root"),
            ("source.add", "source:handbook", "root"),
        ]
        docs = (await http.get("/api/documents?limit=200", headers=admin)).json()
        assert "handbook/travel.md" in json.dumps(docs)


async def _finished(http: httpx.AsyncClient, location: str, headers: dict[str, str]) -> dict:
    for _ in range(600):
        job = (await http.get(location, headers=headers)).json()
        if job["status"] in ("done", "failed"):
            return job
        await asyncio.sleep(0.05)
    pytest.fail(f"the sync job did not end: {job}")


def test_due_sources_are_queued_once_and_an_unscheduled_one_never(
    data_dir: Path, tmp_path: Path
) -> None:
    # This process runs no sync jobs (JOB_KINDS), so what is queued stays queued to be seen.
    settings = make_settings(data_dir, job_kinds="prepare_answers")
    container = bootstrap(settings, clock=FixedClock())
    try:
        _due_sources_are_queued_once(container, tmp_path)
    finally:
        container.close()


def _due_sources_are_queued_once(container: Container, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "handbook")
    sources = container.sources
    asyncio.run(sources.sources.add(CLI_ADMIN, _request("handbook", folder, "30m")))
    asyncio.run(sources.sources.add(CLI_ADMIN, _request("manual", folder, None)))

    # The cluster's schedule looks for due sources: a scheduled one is due when added.
    scheduler = container.adapters.scheduler
    assert scheduler is not None
    assert SOURCE_SCHEDULE in scheduler.tick()
    assert container.adapters.jobs.store.waiting() == {SOURCE_SYNC: 1}
    assert sources.queue_due.run() == []  # claimed by the look: not due while queued ...
    assert container.adapters.jobs.store.waiting() == {SOURCE_SYNC: 1}  # ... queued once


def test_a_sync_that_fell_due_while_no_server_ran_is_queued_after_a_restart(
    settings: Settings, tmp_path: Path
) -> None:
    folder = _folder(tmp_path / "handbook")
    first = bootstrap(settings, clock=FixedClock())
    try:
        asyncio.run(first.sources.sources.add(CLI_ADMIN, _request("handbook", folder, "30m")))
        run = first.sources.sync.run(SyncRequest("handbook"))
        assert run.status == "done"
        assert first.sources.queue_due.run() == []  # next due in 30 minutes
    finally:
        first.close()  # the server is down for an hour

    later = bootstrap(settings, clock=_Later(FixedClock(), timedelta(hours=1)))
    try:
        assert later.sources.queue_due.run() == ["handbook"]
        job = start_job_worker(later)
        _wait_idle(later)
        assert job.store.waiting() == {}
        [last, _] = asyncio.run(later.sources.sources.sync_history("handbook"))
        assert (last.trigger, last.counts.unchanged) == ("schedule", 2)
    finally:
        later.close()


class _Later:
    def __init__(self, clock: FixedClock, by: timedelta) -> None:
        self._clock, self._by = clock, by

    def today(self) -> date:
        return self.now().date()

    def now(self) -> datetime:
        return self._clock.now() + self._by


def _wait_idle(container: Container) -> None:
    runs: list[Any] = []
    for _ in range(2400):  # a deadline for a loaded machine, not a measure of speed
        runs = asyncio.run(container.sources.sources.sync_history("handbook"))
        if len(runs) == 2 and runs[0].status != "running":
            return
        time.sleep(0.05)
    waiting = container.adapters.jobs.store.waiting()
    pytest.fail(f"the scheduled sync did not run: {runs}, jobs queued: {waiting}")


def _request(name: str, folder: Path, every: str | None) -> AddSourceRequest:
    return AddSourceRequest.of_options(name, folder=str(folder), every=every)
