"""A folder gives only what is inside it: a file that links out of a synced or ingested folder
is never read, and it is named with the reason, over the API, the CLI and `--knowledge`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend.bootstrap import Container, bootstrap, start_job_worker
from backend.cli.main import app
from backend.sources import collect_sources
from services.sources.confined import OUTSIDE, OutsideFolder, read_inside
from services.sources.folder import FolderReader
from tests.conftest import FixedClock, asgi_client, issue_key, make_settings
from tests.e2e.test_sources import _finished
from use_cases.knowledge.ingest import IngestRequest
from use_cases.sources.ports import ItemRefused, SourceEvent

#: A line no document inside the shares holds: found by a search only if the link was read.
SECRET = "zebrafinch quillwort nightjar: the vault code is 4417"

runner = CliRunner()


def _secret_file(tmp_path: Path) -> Path:
    outside = tmp_path / "private" / "secrets.txt"
    outside.parent.mkdir(parents=True, exist_ok=True)
    outside.write_text(f"Private notes\n\n{SECRET}\n")
    return outside


def _share(folder: Path, secret: Path) -> Path:
    """A shared folder with a policy, a link to a file inside it (kept) and a link out of it."""
    (folder / "policies").mkdir(parents=True, exist_ok=True)
    (folder / "policies" / "travel.md").write_text(
        "# Travel\n\nTrains are booked in second class.\n"
    )
    (folder / ".archive").mkdir()
    (folder / ".archive" / "leave.md").write_text("# Leave\n\nLeave is asked a week ahead.\n")
    (folder / "leave.md").symlink_to(folder / ".archive" / "leave.md")
    (folder / "passwd.txt").symlink_to(secret)
    return folder


@pytest.fixture
def shares_container(data_dir: Path, tmp_path: Path) -> Iterator[Container]:
    settings = make_settings(
        data_dir, auth_enabled=True, source_folder_roots=str(tmp_path / "shares")
    )
    built = bootstrap(settings, clock=FixedClock())
    yield built
    built.close()


async def test_a_synced_folder_never_publishes_a_file_it_links_to_outside_itself(
    shares_container: Container, tmp_path: Path
) -> None:
    folder = _share(tmp_path / "shares" / "team", _secret_file(tmp_path))
    admin = await issue_key(shares_container, "root", "admin")
    user = await issue_key(shares_container, "ana", "user")
    start_job_worker(shares_container)
    async with asgi_client(shares_container) as http:
        created = await http.post(
            "/api/sources", headers=admin, json={"name": "team", "folder": str(folder)}
        )
        assert created.status_code == 201, created.text
        queued = await http.post("/api/sources/team/sync", headers=admin)
        await _finished(http, queued.headers["location"], admin)

        [run] = (await http.get("/api/sources/team/history", headers=admin)).json()
        assert run["summary"] == "2 added, 0 updated, 0 unchanged, 0 removed, 1 failed"
        assert run["errors"] == [{"key": "passwd.txt", "reason": OUTSIDE}]
        found = await http.get(
            "/api/search", headers=user, params={"q": "zebrafinch quillwort vault code"}
        )
        assert found.status_code == 200
        assert "4417" not in found.text and "passwd.txt" not in found.text
        trains = await http.get("/api/search", headers=user, params={"q": "trains second class"})
        assert "team/policies/travel.md" in trains.text  # what is inside is read as before


async def test_a_file_turned_into_a_link_out_of_the_folder_loses_its_document(
    shares_container: Container, tmp_path: Path
) -> None:
    secret = _secret_file(tmp_path)
    folder = tmp_path / "shares" / "team"
    folder.mkdir(parents=True)
    (folder / "notes.md").write_text("# Notes\n\nThe canteen opens at noon.\n")
    admin = await issue_key(shares_container, "root", "admin")
    start_job_worker(shares_container)
    async with asgi_client(shares_container) as http:
        await http.post("/api/sources", headers=admin, json={"name": "team", "folder": str(folder)})
        first = await http.post("/api/sources/team/sync", headers=admin)
        await _finished(http, first.headers["location"], admin)
        (folder / "notes.md").unlink()
        (folder / "notes.md").symlink_to(secret)
        second = await http.post("/api/sources/team/sync", headers=admin)
        await _finished(http, second.headers["location"], admin)

        latest = (await http.get("/api/sources/team/history", headers=admin)).json()[0]
        assert latest["summary"] == "0 added, 0 updated, 0 unchanged, 1 removed, 1 failed"
        docs = (await http.get("/api/documents?limit=50", headers=admin)).text
        assert "team/notes.md" not in docs


def test_a_link_swapped_in_after_the_listing_is_refused_when_it_is_read(tmp_path: Path) -> None:
    secret = _secret_file(tmp_path)
    folder = tmp_path / "team"
    folder.mkdir()
    (folder / "notes.md").write_text("# Notes\n\nThe canteen opens at noon.\n")
    reader = FolderReader(folder, lambda name: name.endswith(".md"), 1 << 20)
    events = reader.read({})
    # The listing is made (and the file checked) before the first event is yielded; the
    # file becomes a link out of the folder between that check and its read.
    original = reader._fetch

    def swapped_then_fetched(key: str, path: Path, version: str) -> SourceEvent:
        path.unlink()
        path.symlink_to(secret)
        return original(key, path, version)

    reader._fetch = swapped_then_fetched  # type: ignore[method-assign]  # the race, made sure
    [event] = list(events)
    assert event == ItemRefused("notes.md", OUTSIDE)


def test_reads_inside_the_folder_follow_links_and_refuse_what_is_not_a_file(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "team"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.md").write_text("inside")
    (folder / "link.md").symlink_to(folder / "sub" / "a.md")
    assert read_inside(folder / "link.md", folder)[0] == b"inside"
    (folder / "out.md").symlink_to(_secret_file(tmp_path))
    with pytest.raises(OutsideFolder):
        read_inside(folder / "out.md", folder)
    with pytest.raises(OutsideFolder):  # inside this folder, but outside the allowed roots
        read_inside(folder / "link.md", folder, roots=(tmp_path / "shares",))
    os.mkfifo(folder / "pipe.md")
    with pytest.raises(OutsideFolder):  # never blocks waiting for a writer
        read_inside(folder / "pipe.md", folder)


def test_almanac_ingest_names_a_link_out_of_the_folder_and_reads_the_rest(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in {"DATA_DIR": str(data_dir), "LOAD_SAMPLE_DATA": "false"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(data_dir)
    folder = _share(tmp_path / "team", _secret_file(tmp_path))

    result = runner.invoke(app, ["ingest", str(folder), "--prune", "--json"])

    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    failed = [(i["source"], i["error"]) for i in report["items"] if i["status"] == "failed"]
    assert failed == [("passwd.txt", f"cannot read: {OUTSIDE}")]
    assert report["added"] == 2
    searched = runner.invoke(app, ["search", "zebrafinch quillwort vault code", "--json"])
    assert "4417" not in searched.stdout


def test_a_knowledge_folder_is_read_without_what_it_links_to_outside(
    data_dir: Path, tmp_path: Path
) -> None:
    """`serve --knowledge` and the bundled sample take their inputs from the same walk."""
    folder = _share(tmp_path / "team", _secret_file(tmp_path))
    container = bootstrap(make_settings(data_dir, load_sample_data=False), clock=FixedClock())
    try:
        sources = collect_sources([folder], container.knowledge.ingest)
        report = container.knowledge.ingest.run(IngestRequest(sources=sources))
    finally:
        container.close()
    outcome = {item.source: (item.status, item.error) for item in report.items}
    assert outcome["passwd.txt"] == ("failed", f"cannot read: {OUTSIDE}")
    assert outcome["policies/travel.md"][0] == "added"
