"""Every file of an ingested folder is accounted for: read, skipped with the reason, failed
with the reason, or ignored as a temporary or lock file (backend/sources.py), in the CLI's
report and in the ingest `almanac serve --knowledge PATH` runs at start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend.bootstrap import bootstrap
from backend.cli.common import settings_for_cli
from backend.cli.main import app
from backend.cli.serve_commands import _ingest_knowledge
from services.sources.folder import FolderReader
from tests.conftest import asgi_client, issue_key, make_settings

IGNORED = ["~$Handbook.docx", ".~lock.Fire_Safety.odt#", "notes.tmp", ".DS_Store", "Thumbs.db"]


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "company"
    (folder / "hr").mkdir(parents=True)
    (folder / "leave.md").write_text("# Leave\n\nAnnual leave is 25 days a year.\n")
    (folder / "hr" / "receipts.pages").write_bytes(b"PK\x03\x04 not read")
    (folder / "broken.docx").write_bytes(b"this is no Word document")
    for name in IGNORED:
        (folder / name).write_bytes(b"\x00lock")
    (folder / ".git").mkdir()
    (folder / ".git" / "config.tmp").write_text("not looked at")
    return folder


def _ending(output: str, summary: str) -> list[str]:
    """The report's last lines: the three before its summary line (the one starting with
    `summary`), and the summary; a log line a worker writes after it is not the report's."""
    lines = output.strip().splitlines()
    at = max(i for i, line in enumerate(lines) if line.startswith(summary))
    return lines[at - 3 : at + 1]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"DATA_DIR": str(tmp_path / "data"), "LOAD_SAMPLE_DATA": "false"}
    values |= {"LOG_LEVEL": "WARNING", "COLUMNS": "300"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def test_the_cli_ingest_names_what_it_skipped_failed_and_ignored(
    tmp_path: Path, env: dict[str, str]
) -> None:
    folder = _folder(tmp_path)

    result = CliRunner().invoke(app, ["ingest", str(folder), "--no-wait"], env=env)

    assert result.exit_code == 1, result.output  # a file failed
    last = _ending(result.output, "1 added, ")
    assert last[0].startswith("failed broken.docx: ")
    assert last[1].startswith("skipped hr/receipts.pages: ") and ".docx" in last[1]  # supported
    assert last[2] == "ignored 5 temporary or lock files: " + ", ".join(sorted(IGNORED))
    assert last[3].startswith(
        "1 added, 0 updated, 0 unchanged, 0 removed, 1 failed, 1 skipped, 5 ignored"
    )

    again = CliRunner().invoke(app, ["ingest", str(folder), "--no-wait", "--json"], env=env)
    report = json.loads(again.stdout)
    assert [s["source"] for s in report["skipped"]] == ["hr/receipts.pages"]
    assert "not supported" in report["skipped"][0]["reason"]
    assert report["ignored"] == sorted(IGNORED)


def test_the_knowledge_start_names_them_too(
    tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path)

    _ingest_knowledge(settings_for_cli(), folder)

    last = _ending(capsys.readouterr().err, "1 added, ")
    assert last[0].startswith("failed broken.docx: ")
    assert last[1].startswith("skipped hr/receipts.pages: ")
    assert last[2].startswith("ignored 5 temporary or lock files: ")
    assert "1 failed, 1 skipped, 5 ignored" in last[3]


def test_a_failure_is_named_once_per_change_of_its_file(
    tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path)
    _ingest_knowledge(settings_for_cli(), folder)
    assert "failed broken.docx: " in capsys.readouterr().err

    _ingest_knowledge(settings_for_cli(), folder)  # the next start, the file unchanged
    again = capsys.readouterr().err
    assert "broken.docx" not in again
    assert (
        again.strip()
        .splitlines()[-1]
        .endswith("; 1 failed as before, the file unchanged (almanac docs problems)")
    )

    (folder / "broken.docx").write_bytes(b"still no Word document, but another one")
    _ingest_knowledge(settings_for_cli(), folder)
    assert "failed broken.docx: " in capsys.readouterr().err


async def test_the_problems_are_listed_for_admins(tmp_path: Path, env: dict[str, str]) -> None:
    folder = _folder(tmp_path)
    _ingest_knowledge(settings_for_cli(), folder)
    container = bootstrap(make_settings(tmp_path / "data", load_sample_data=False))
    try:
        async with asgi_client(container) as http:
            listed = await http.get("/api/documents/problems")
    finally:
        container.close()

    assert listed.status_code == 200, listed.text
    problems = {p["source"]: p for p in listed.json()["problems"]}
    assert sorted(problems) == ["broken.docx", "hr/receipts.pages"]  # lock files: ignored
    assert problems["broken.docx"]["status"] == "failed"
    assert problems["hr/receipts.pages"]["status"] == "skipped"
    assert "supported types" in problems["hr/receipts.pages"]["reason"]
    assert all("origin" not in p for p in problems.values())  # never shown to clients

    cli = CliRunner().invoke(app, ["docs", "problems", "--json"], env=env)
    assert cli.exit_code == 0, cli.output
    assert [p["source"] for p in json.loads(cli.stdout)["problems"]] == list(problems)


async def test_the_problems_list_is_for_admins_only(tmp_path: Path) -> None:
    container = bootstrap(make_settings(tmp_path / "data", auth_enabled=True))
    try:
        user, admin = await issue_key(container, "ann"), await issue_key(container, "it", "admin")
        async with asgi_client(container) as http:
            refused = await http.get("/api/documents/problems", headers=user)
            listed = await http.get("/api/documents/problems", headers=admin)
    finally:
        container.close()
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert listed.status_code == 200 and listed.json() == {"problems": []}


def test_a_folder_source_never_reads_temporary_or_lock_files(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    reader = FolderReader(folder, lambda name: name.endswith((".md", ".docx")), 1_000_000)

    keys = [event.key for event in reader.read({})]

    assert keys == ["broken.docx", "leave.md"]  # not ~$Handbook.docx, an open file's lock
