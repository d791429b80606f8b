"""The `almanac` CLI for ingestion, documents and search, on real SQLite files."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend.cli.main import app
from backend.config import PROJECT_ROOT
from backend.features import adapters as adapters_feature
from backend.features import knowledge as knowledge_feature
from tests import hostile_inputs
from tests.endless_loader import EndlessPdfLoader

runner = CliRunner()


@pytest.fixture
def env(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"DATA_DIR": str(data_dir), "LOAD_SAMPLE_DATA": "false", "LOG_LEVEL": "WARNING"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(data_dir)  # no stray .env from the repository
    return values


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_search_json_puts_the_current_policy_first(env: dict[str, str]) -> None:
    code, out, _ = run("search", "how often must passwords be rotated", "--json")
    assert code == 0
    hits = json.loads(out)["hits"]
    assert hits[0]["updated_at"] == "2025-09-15"


def test_search_prints_readable_hits(env: dict[str, str]) -> None:
    code, out, _ = run("search", "who owns incident response", "--limit", "2")
    assert code == 0
    assert "Incident Response Runbook" in out


def test_ingest_is_idempotent_and_prune_removes_deleted_files(
    env: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "handbook"
    write(folder / "policies" / "parking.md", "# Parking\n\nVisitors park in bay 7.\n")
    write(folder / "notes.txt", "Team notes\n\nThe coffee machine is on floor 2.\n")

    code, out, _ = run("ingest", str(folder), "--json")
    assert code == 0, out
    report = json.loads(out)
    assert (report["added"], report["failed"]) == (2, 0)
    categories = {Path(i["source"]).name: i for i in report["items"]}
    assert set(categories) == {"parking.md", "notes.txt"}

    code, out, _ = run("ingest", str(folder), "--json")
    assert json.loads(out)["unchanged"] == 2

    (folder / "notes.txt").unlink()
    write(folder / "policies" / "parking.md", "# Parking\n\nVisitors park in bay 9 now.\n")
    code, out, _ = run("ingest", str(folder), "--prune", "--json")
    report = json.loads(out)
    assert (report["updated"], report["removed"]) == (1, 1)

    code, out, _ = run("docs", "list", "--category", "policies", "--json")
    titles = [d["title"] for d in json.loads(out)["documents"]]
    assert "Parking" in titles


def test_ingest_reports_a_bad_file_and_keeps_the_good_ones(
    env: dict[str, str], tmp_path: Path
) -> None:
    good = write(tmp_path / "good.md", "# Good\n\nUseful text here.\n")
    empty = write(tmp_path / "empty.md", "")
    corrupt = tmp_path / "broken.pdf"
    corrupt.write_bytes(b"%PDF-1.4 garbage")
    code, out, err = run("ingest", str(good), str(empty), str(corrupt))
    assert code == 1
    assert "1 added" in out and "2 failed" in out
    assert "empty" in err and "broken.pdf" in err
    assert "Traceback" not in out + err


def test_ingest_stops_a_costly_file_at_its_cpu_budget_and_keeps_the_rest_of_the_folder(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PDF's parse never ends (tests/endless_loader.py), so the breach is certain on any
    machine: a real PDF that outlasts 1 s of CPU on one machine finished in time on a faster one.
    The real hostile PDFs and their budgets are tested in tests/e2e/test_hostile_documents.py."""
    monkeypatch.setenv("PARSE_CPU_SECONDS", "1")
    # The CLI's budgeted loader builds this one in its child process (by import, as it builds
    # the real one), so the real child, its RLIMIT_CPU and the CLI's report are what run.
    monkeypatch.setattr(adapters_feature, "FileLoader", EndlessPdfLoader)
    folder = tmp_path / "docs"
    write(folder / "a-good.md", "# Good\n\nUseful text here.\n")
    write(folder / "z-good.md", "# Also good\n\nMore useful text.\n")
    (folder / "heavy.pdf").write_bytes(hostile_inputs.fan_out_pdf(pages=2, content=1024))
    code, out, err = run("ingest", str(folder))
    assert code == 1
    assert "2 added" in out and "1 failed" in out, err
    assert "heavy.pdf" in err and "more than 1 s of CPU" in err
    assert "Traceback" not in out + err
    code, out, _ = run("docs", "list", "--limit", "100", "--json")
    sources = {d["source"] for d in json.loads(out)["documents"]}
    assert {"a-good.md", "z-good.md"} <= sources and "heavy.pdf" not in sources


def test_ingest_says_how_readable_each_pdfs_text_is_and_warns_when_it_is_not(
    env: dict[str, str], tmp_path: Path
) -> None:
    from tests.unit.test_loaders import make_pdf

    readable = tmp_path / "groff-ms.pdf"
    shutil.copy(PROJECT_ROOT / "tests/fixtures/pdf/groff-ms.pdf", readable)
    glued = tmp_path / "glued.pdf"
    glued.write_bytes(
        make_pdf(["Itisimportanttounderstandthatthehigherlevelpackage\nisloadedfirstandthen"])
    )
    code, out, err = run("ingest", str(readable), str(glued))
    assert code == 0, out + err
    lines = [" ".join(line.split()) for line in err.splitlines()]
    assert "pdf groff-ms.pdf: 98% of its text in known English words" in lines
    warning = next(line for line in lines if "glued.pdf" in line)
    assert warning.startswith("warning glued.pdf: 0% of its text in known English words")
    assert "glued together" in warning

    code, out, err = run("ingest", str(readable))  # unchanged: nothing read, nothing said
    assert "groff-ms.pdf" not in err


def test_ingest_of_a_missing_path_is_a_clear_error(env: dict[str, str]) -> None:
    code, _, err = run("ingest", "/no/such/folder")
    assert code == 1
    assert "does not exist" in err


def test_docs_show_and_remove(env: dict[str, str]) -> None:
    code, out, _ = run("docs", "list", "--limit", "1", "--json")
    document = json.loads(out)["documents"][0]
    code, out, _ = run("docs", "show", str(document["id"]), "--json")
    assert code == 0 and json.loads(out)["sections"]
    code, out, _ = run("docs", "remove", str(document["id"]), "--yes")
    assert code == 0
    code, _, err = run("docs", "show", str(document["id"]))
    assert code == 1 and "No document" in err


def test_search_with_an_empty_query_is_a_clear_error(env: dict[str, str]) -> None:
    code, _, err = run("search", "   ")
    assert code == 1
    assert "empty" in err


def test_the_installed_console_script_runs(env: dict[str, str]) -> None:
    script = Path(sys.executable).parent / "almanac"
    result = subprocess.run(
        [str(script), "search", "SEV1 response time", "--json", "--limit", "1"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["hits"]


def test_ingest_stores_sources_relative_to_the_folder_and_says_what_it_replaced(
    env: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "handbook"
    write(
        folder / "policies" / "parking.md", "---\nupdated: 2025-01-05\n---\n# Parking\n\nBay 7.\n"
    )
    code, out, _ = run("ingest", str(folder), "--json")
    assert json.loads(out)["items"][0]["source"] == "policies/parking.md"

    write(
        folder / "policies" / "parking.md", "---\nupdated: 2025-02-01\n---\n# Parking\n\nBay 9.\n"
    )
    code, out, err = run("ingest", str(folder))

    assert code == 0
    assert "1 updated" in out
    assert "replaced the version" in err and "updated 2025-01-05" in err
    code, out, _ = run("docs", "list", "--json")
    sources = [d["source"] for d in json.loads(out)["documents"]]
    assert "policies/parking.md" in sources
    assert not [s for s in sources if s.startswith("/")]


def test_a_file_whose_source_is_held_by_another_document_needs_replace(
    env: dict[str, str], tmp_path: Path
) -> None:
    first = write(tmp_path / "a" / "guide.md", "# Guide\n\nThe first guide.\n")
    other = write(tmp_path / "b" / "guide.md", "# Guide\n\nA different guide.\n")
    assert run("ingest", str(first.parent))[0] == 0

    code, out, err = run("ingest", str(other.parent))

    assert code == 1
    assert "1 conflict" in out and "--replace" in err
    code, out, _ = run("search", "different guide", "--json")
    assert all("different" not in h["text"] for h in json.loads(out)["hits"])

    code, out, _ = run("ingest", str(other.parent), "--replace", "--json")
    report = json.loads(out)
    assert code == 0 and report["updated"] == 1
    assert report["items"][0]["replaced"]["title"] == "Guide"


def test_duplicates_future_dates_and_binary_files_are_reported_and_skipped(
    env: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "drop"
    write(folder / "a.md", "# Visitors\n\nVisitors sign in at the desk.\n")
    write(folder / "b-copy.md", "# Visitors\n\nVisitors sign in at the desk.\n")
    write(folder / "future.md", "---\nupdated: 2099-01-01\n---\n# Future\n\nFrom the future.\n")
    (folder / "photo.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)) * 8)

    code, out, _ = run("ingest", str(folder), "--json")

    report = json.loads(out)
    by_source = {i["source"]: i for i in report["items"]}
    assert by_source["a.md"]["status"] == "added"
    assert by_source["b-copy.md"]["status"] == "duplicate"
    assert "same content as 'a.md'" in by_source["b-copy.md"]["error"]
    assert by_source["future.md"]["status"] == "failed"
    assert "2099-01-01" in by_source["future.md"]["error"]
    assert by_source["photo.md"]["status"] == "failed"
    assert "not a text file" in by_source["photo.md"]["error"]
    assert code == 1  # the failures need attention; the duplicate alone would not


def test_a_new_loader_version_re_indexes_unchanged_files(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "manual"
    write(folder / "page.html", "<h1>Kettle</h1><nav>Home Next</nav><p>Descale monthly.</p>")
    code, out, _ = run("ingest", str(folder), "--json")
    assert code == 0 and json.loads(out)["added"] == 1, out
    # the same bytes read by loaders that make other text of them: indexed again, in place
    monkeypatch.setattr(knowledge_feature, "LOADERS_VERSION", knowledge_feature.LOADERS_VERSION + 1)
    code, out, _ = run("ingest", str(folder), "--json")
    report = json.loads(out)
    assert (report["updated"], report["unchanged"], report["added"]) == (1, 0, 0), out
    code, out, _ = run("docs", "list", "--json")
    pages = [d for d in json.loads(out)["documents"] if d["source"] == "page.html"]
    assert len(pages) == 1  # replaced, not added beside the old one


def _by_source(documents: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(d["source"]): d for d in documents}


def test_ingesting_a_subfolder_keeps_its_version_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`almanac ingest sample_data/knowledge_base/policies` failed two documents,
    whose `supersedes: policies/...` is written relative to the parent folder."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for key, value in {"DATA_DIR": str(data_dir), "LOAD_SAMPLE_DATA": "false"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(data_dir)
    policies = tmp_path / "copy" / "policies"
    shutil.copytree(PROJECT_ROOT / "sample_data" / "knowledge_base" / "policies", policies)

    code, out, _ = run("ingest", str(policies), "--json")

    report = json.loads(out)
    assert code == 0 and report["failed"] == 0, out
    code, out, _ = run("docs", "list", "--limit", "100", "--json")
    documents = _by_source(json.loads(out)["documents"])
    ids = {source.removeprefix("password-policy-"): d["id"] for source, d in documents.items()}
    links = {
        source.removeprefix("password-policy-"): (d["supersedes_id"], d["superseded_by_id"])
        for source, d in documents.items()
        if source.startswith("password-policy-")
    }
    assert links == {
        "2022.md": (None, ids["2023.md"]),
        "2023.md": (ids["2022.md"], ids["2025.md"]),
        "2025.md": (ids["2023.md"], None),
    }


@pytest.mark.parametrize(
    "named",
    [
        "password-policy-2025.md",
        "knowledge_base/policies/password-policy-2025.md",
        "Password and Credential Rotation Policy",
    ],
)
def test_supersedes_may_name_a_stored_document_by_file_name_path_or_title(
    env: dict[str, str], tmp_path: Path, named: str
) -> None:
    write(
        tmp_path / "drafts" / "password-policy-2026.md",
        f"---\ntitle: Password Policy 2026\nupdated: 2026-01-05\nsupersedes: {named}\n---\n"
        "# Rotation\n\nPasswords change on compromise only, and every passkey is registered.\n",
    )
    code, out, _ = run("ingest", str(tmp_path / "drafts"), "--json")
    assert code == 0 and json.loads(out)["failed"] == 0, out
    code, out, _ = run("docs", "list", "--limit", "100", "--json")
    documents = _by_source(json.loads(out)["documents"])
    current = documents["policies/password-policy-2025.md"]
    assert documents["password-policy-2026.md"]["supersedes_id"] == current["id"]


def _jobs(data_dir: Path) -> list[tuple[str, str]]:
    with closing(sqlite3.connect(data_dir / "app.db")) as db:
        return db.execute("SELECT kind, status FROM jobs ORDER BY seq").fetchall()


def test_ingest_says_when_the_documents_are_searchable_and_when_answer_ready(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREPARE_SENTENCES", "true")
    folder = tmp_path / "notes"
    write(folder / "lockers.md", "# Lockers\n\nLockers are emptied every Friday at 18:00.\n")

    code, out, err = run("ingest", str(folder))

    assert code == 0, err
    assert re.search(r"searchable 1 chunks in [\d.]+ s \([\d.]+ chunks/s\)", err), err
    assert re.search(r"answer-ready 1 chunks in [\d.]+ s \([\d.]+ chunks/s\)", err), err
    assert _jobs(Path(env["DATA_DIR"]))[-1] == ("prepare_answers", "done")

    write(folder / "desks.md", "# Desks\n\nDesks are booked a week ahead.\n")
    code, out, err = run("ingest", str(folder), "--json", "--no-wait")

    assert code == 0, err
    report = json.loads(out)
    assert report["added"] == 1 and report["answers_job"]
    # The moment it became searchable is reported; answer-ready is not, with --no-wait.
    assert isinstance(report["searchable_s"], float) and report["answer_ready_s"] is None
    # Left to a server (queued, or handed back as the command ended), or already done; never
    # left `running` by a worker that is gone (tests/integration/test_job_queue.py).
    kind, status = _jobs(Path(env["DATA_DIR"]))[-1]
    assert kind == "prepare_answers" and status in ("queued", "done"), (status, err)
