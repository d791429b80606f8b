"""Documents keep their own dates: the file's own (front matter, Office properties, PDF and
HTML metadata), else the file's modification time (folder ingests, synced folders), else
none (dating from the ingestion), with `updated_from` saying which
(use_cases/knowledge/ingest.py, "Dates")."""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend.bootstrap import bootstrap
from backend.cli.main import app
from services.sources.folder import FolderReader
from tests.conftest import asgi_client, make_settings

DATED = "---\ntitle: Leave Policy\nupdated: 2024-03-01\n---\n\n# Leave\n\nLeave is 25 days.\n"
UNDATED = "# Travel\n\nTrain tickets are booked through the travel desk.\n"


def _touch(path: Path, day: date) -> None:
    stamp = datetime(day.year, day.month, day.day, 12).timestamp()
    os.utime(path, (stamp, stamp))


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "company"
    folder.mkdir()
    (folder / "leave.md").write_text(DATED)
    (folder / "travel.md").write_text(UNDATED)
    (folder / "future.md").write_text("# Lockers\n\nLockers are emptied on Fridays.\n")
    _touch(folder / "leave.md", date(2025, 1, 2))  # the property wins over the file's time
    _touch(folder / "travel.md", date(2023, 5, 6))
    _touch(folder / "future.md", date(2999, 1, 1))  # a wrong clock: not the newest word
    return folder


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"DATA_DIR": str(tmp_path / "data"), "LOAD_SAMPLE_DATA": "false"}
    values |= {"LOG_LEVEL": "WARNING"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def test_a_folder_ingest_dates_documents_by_property_else_modification_time(
    tmp_path: Path, env: dict[str, str]
) -> None:
    folder = _folder(tmp_path)
    runner = CliRunner()
    ingested = runner.invoke(app, ["ingest", str(folder), "--no-wait"], env=env)
    assert ingested.exit_code == 0, ingested.output

    listed = runner.invoke(app, ["docs", "list", "--json"], env=env)

    dates = {
        d["source"]: (d["updated_at"], d["updated_from"])
        for d in json.loads(listed.stdout)["documents"]
    }
    assert dates == {
        "leave.md": ("2024-03-01", "property"),
        "travel.md": ("2023-05-06", "mtime"),
        "future.md": (None, "ingest"),
    }
    searched = runner.invoke(app, ["search", "train tickets travel desk", "--json"], env=env)
    hit = json.loads(searched.stdout)["hits"][0]
    assert (hit["source"], hit["updated_at"]) == ("travel.md", "2023-05-06")  # what cites it


async def test_an_upload_without_a_date_dates_from_its_ingestion(tmp_path: Path) -> None:
    container = bootstrap(make_settings(tmp_path / "data", load_sample_data=False))
    try:
        async with asgi_client(container) as http:
            files = {"file": ("travel.md", UNDATED.encode())}
            uploaded = await http.post("/api/documents", files=files)
            dated = await http.post("/api/documents", files={"file": ("leave.md", DATED.encode())})
    finally:
        container.close()
    assert uploaded.status_code == 201, uploaded.text
    document = uploaded.json()["document"]
    assert (document["updated_at"], document["updated_from"]) == (None, "ingest")
    assert dated.json()["document"]["updated_from"] == "property"


def test_a_synced_folder_item_carries_its_modification_day(tmp_path: Path) -> None:
    folder = _folder(tmp_path)

    events = list(FolderReader(folder, lambda name: name.endswith(".md"), 1_000_000).read({}))

    modified = {event.key: getattr(event, "modified", None) for event in events}
    assert modified["travel.md"] == date(2023, 5, 6)
