"""docs/upgrading.md, followed: a data directory made by the previous version's own code is
upgraded by today's.

The previous version is the newest row of CHANGELOG.md's "Versions and their commits"; its
`backend/`, `services/` and `use_cases/` come out of git (`git archive`) and run, with this
virtualenv, as separate `almanac` processes: an ingest of a few files and an API key. Then
today's `almanac` migrates the directory, and must list and find the same documents, keep the
key, re-read every file once when LOADERS_VERSION changed (the page says so), and reindex.
A clone without that commit (a shallow one) skips, saying so.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from backend.config import PROJECT_ROOT
from services.knowledge.loaders import LOADERS_VERSION
from tests.conftest import SAMPLE_DIR

PAGE = PROJECT_ROOT / "docs" / "upgrading.md"
CHANGELOG = PROJECT_ROOT / "CHANGELOG.md"
#: A version row of the changelog's table: | 0.11.0 | 2026-11-28 | `096fe84...` | 1,073 |
VERSION_ROW = re.compile(r"^\| (\d+\.\d+\.\d+) \| [\d-]+ \| `([0-9a-f]{40})` \|", re.M)
#: A migration's name as the page lists it: `knowledge_0008_collections`.
MIGRATION_NAME = re.compile(r"`([a-z_]+_\d{4}(?:_[a-z_]+)?)`")
#: A few files of the sample handbook: enough to search, quick to embed.
FILES = ["access-control-policy.md", "remote-work-policy.md", "data-retention-policy.md"]


def previous_version() -> tuple[str, str]:
    """The newest version of the changelog's table, and its commit."""
    rows = VERSION_ROW.findall(CHANGELOG.read_text(encoding="utf-8"))
    assert rows, "CHANGELOG.md has no 'Versions and their commits' table"
    return rows[0]


def _old_tree(commit: str, into: Path) -> Path:
    """The previous version's Python packages, out of git; skips when git cannot give them."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed: the previous version's code comes from git")
    known = subprocess.run(
        ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=PROJECT_ROOT, capture_output=True
    )
    if known.returncode != 0:
        pytest.skip(
            f"commit {commit[:12]} (the previous version) is not in this clone's history "
            "(a shallow clone?): fetch it, e.g. `git fetch --unshallow`"
        )
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit, "backend", "services", "use_cases"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
    )
    into.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


def _almanac(code: Path, data_dir: Path, cwd: Path, *args: str) -> str:
    """`almanac ARGS` of the code in `code`, on `data_dir`; its standard output."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("SENTENCE_VECTORS_DB", "PYTHONPATH")},
        "PYTHONPATH": str(code),
        "DATA_DIR": str(data_dir),
        "LOG_LEVEL": "WARNING",
        "PREPARE_SENTENCES": "false",
        "LOAD_SAMPLE_DATA": "false",
        "NO_COLOR": "1",
    }
    env.pop("ALMANAC_KNOWLEDGE", None)
    result = subprocess.run(
        [sys.executable, "-c", "from backend.cli.main import app; app()", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (code, args, result.stdout, result.stderr)
    return result.stdout


def _json(code: Path, data_dir: Path, cwd: Path, *args: str) -> Any:
    return json.loads(_almanac(code, data_dir, cwd, *args, "--json"))


def _migrations(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT name FROM schema_migrations ORDER BY rowid")]


def _page_migrations() -> set[str]:
    return set(MIGRATION_NAME.findall(PAGE.read_text(encoding="utf-8")))


@pytest.mark.slow
def test_a_data_directory_of_the_previous_version_upgrades_as_the_page_says(
    tmp_path: Path,
) -> None:
    version, commit = previous_version()
    old = _old_tree(commit, tmp_path / f"almanac-{version}")
    new = PROJECT_ROOT
    folder = tmp_path / "policies"
    folder.mkdir()
    for name in FILES:
        shutil.copy(SAMPLE_DIR / "knowledge_base" / "policies" / name, folder / name)
    data = tmp_path / "data"
    cwd = tmp_path / "work"  # neither checkout: `python -c` puts the working directory first
    cwd.mkdir()

    # The previous version makes the data directory.
    _almanac(old, data, cwd, "ingest", str(folder))
    key_args = ("--user", "sam", "--role", "admin", "--name", "before-upgrade")
    key = _json(old, data, cwd, "keys", "create", *key_args)
    before_docs = _json(old, data, cwd, "docs", "list")["documents"]
    before = {db: _migrations(data / db) for db in ("knowledge.db", "app.db")}
    match = re.search(
        r"^LOADERS_VERSION = (\d+)$",
        (old / "services/knowledge/loaders/__init__.py").read_text(encoding="utf-8"),
        re.M,
    )
    assert match, "the previous version has no LOADERS_VERSION"
    old_loaders = int(match.group(1))

    # `almanac db migrate` applies what the page lists, and keeps the older steps.
    _almanac(new, data, cwd, "db", "migrate")
    _almanac(new, data, cwd, "db", "check")
    applied: set[str] = set()
    for db, names in before.items():
        after = _migrations(data / db)
        assert after[: len(names)] == names, db
        applied |= set(after[len(names) :])
    assert applied, "no migration was applied: is the previous version the newest row?"
    assert applied <= _page_migrations(), (
        f"docs/upgrading.md does not list {sorted(applied - _page_migrations())}"
    )

    # The documents and the key are still there, and searchable.
    after_docs = _json(new, data, cwd, "docs", "list")["documents"]
    assert [(d["id"], d["source"], d["title"]) for d in after_docs] == [
        (d["id"], d["source"], d["title"]) for d in before_docs
    ]
    assert key["name"] == "before-upgrade"
    assert [k["name"] for k in _json(new, data, cwd, "keys", "list")] == ["before-upgrade"]
    hits = _json(new, data, cwd, "search", "data retention schedule", "--limit", "3")["hits"]
    assert hits and hits[0]["source"] == "data-retention-policy.md"

    # LOADERS_VERSION changed: the first ingest after the upgrade re-reads every file (same
    # ids), the next finds them unchanged. The page names both numbers.
    assert f"`LOADERS_VERSION` {old_loaders} → {LOADERS_VERSION}" in PAGE.read_text(
        encoding="utf-8"
    )
    report = _json(new, data, cwd, "ingest", str(folder))
    if old_loaders != LOADERS_VERSION:
        assert (report["updated"], report["unchanged"], report["added"]) == (len(FILES), 0, 0)
        assert {item["document_id"] for item in report["items"]} == {d["id"] for d in before_docs}
    again = _json(new, data, cwd, "ingest", str(folder))
    assert (again["unchanged"], again["updated"], again["added"]) == (len(FILES), 0, 0)

    # `almanac reindex` re-embeds every chunk of the upgraded index.
    chunks = sum(d["chunk_count"] for d in _json(new, data, cwd, "docs", "list")["documents"])
    out = _almanac(new, data, cwd, "reindex")
    assert f"Re-embedded {chunks} chunks" in out
    hits = _json(new, data, cwd, "search", "data retention schedule", "--limit", "3")["hits"]
    assert hits and hits[0]["source"] == "data-retention-policy.md"
