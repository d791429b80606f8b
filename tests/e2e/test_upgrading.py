"""docs/upgrading.md, followed: a data directory made by the previous version's own code is
upgraded by today's `almanac`.

The directory (tests/previous_version.py) is made twice over: live, by the previous version's
code out of git (skipped, saying why, in a clone without that commit), and from the committed
copy of one made that way (always). Today's `almanac` then migrates it and must apply only
migrations the page lists, keep the older ones, list and find the same documents, keep the
API key, re-read every file once when LOADERS_VERSION changed (the page names both numbers),
and reindex.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from backend.config import PROJECT_ROOT
from services.knowledge.loaders import LOADERS_VERSION
from tests.previous_version import (
    DATABASES,
    FILES,
    Previous,
    build,
    from_fixture,
    previous_version,
    run_almanac,
)

PAGE = PROJECT_ROOT / "docs" / "upgrading.md"
#: A migration's name as the page lists it: `knowledge_0008_collections`.
MIGRATION_NAME = re.compile(r"`([a-z_]+_\d{4}(?:_[a-z_]+)?)`")
QUERY, EXPECTED = "data retention schedule", "data-retention-policy.md"


def _migrations(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT name FROM schema_migrations ORDER BY rowid")]


@pytest.fixture(params=["git", "fixture"])
def previous(request: pytest.FixtureRequest, tmp_path: Path) -> Previous:
    if request.param == "fixture":
        return from_fixture(tmp_path)
    made = build(tmp_path)
    if isinstance(made, str):
        pytest.skip(made)
    return made


@pytest.mark.slow
def test_a_data_directory_of_the_previous_version_upgrades_as_the_page_says(
    previous: Previous, tmp_path: Path
) -> None:
    page = PAGE.read_text(encoding="utf-8")
    version, commit = previous_version()
    assert (previous.before["version"], previous.before["commit"]) == (version, commit)
    data, folder = previous.data_dir, previous.folder
    cwd = tmp_path / "today"  # outside the checkout: `python -c` puts it first on the path
    cwd.mkdir()

    def almanac(*args: str) -> str:
        return run_almanac(PROJECT_ROOT, data, cwd, *args)

    def as_json(*args: str) -> Any:
        return json.loads(almanac(*args, "--json"))

    # `almanac db migrate` applies migrations the page lists, after the older ones.
    before = {db: _migrations(data / db) for db in DATABASES}
    almanac("db", "migrate")
    almanac("db", "check")
    applied: set[str] = set()
    for db, names in before.items():
        after = _migrations(data / db)
        assert after[: len(names)] == names, db
        applied |= set(after[len(names) :])
    assert applied, f"no migration applied to {version}'s files: is it the previous version?"
    listed = set(MIGRATION_NAME.findall(page))
    assert applied <= listed, f"docs/upgrading.md does not list {sorted(applied - listed)}"

    # The documents and the key are still there, and the documents searchable.
    documents = as_json("docs", "list")["documents"]
    assert [{k: d[k] for k in ("id", "source", "title")} for d in documents] == (
        previous.before["documents"]
    )
    keys = as_json("keys", "list")
    assert [(k["name"], k["user_id"], k["role"]) for k in keys] == [
        tuple(previous.before["key"][k] for k in ("name", "user_id", "role"))
    ]
    hits = as_json("search", QUERY, "--limit", "3")["hits"]
    assert hits and hits[0]["source"] == EXPECTED

    # After a LOADERS_VERSION change the first ingest re-reads every file (same ids), the
    # next finds them unchanged; the page names both numbers.
    old_loaders = previous.before["loaders_version"]
    assert f"`LOADERS_VERSION` {old_loaders} → {LOADERS_VERSION}" in page
    report = as_json("ingest", str(folder))
    if old_loaders != LOADERS_VERSION:
        assert (report["updated"], report["unchanged"], report["added"]) == (len(FILES), 0, 0)
        assert {item["document_id"] for item in report["items"]} == {d["id"] for d in documents}
    again = as_json("ingest", str(folder))
    assert (again["unchanged"], again["updated"], again["added"]) == (len(FILES), 0, 0)

    # `almanac reindex` re-embeds every chunk of the upgraded index.
    chunks = sum(d["chunk_count"] for d in as_json("docs", "list")["documents"])
    assert f"Re-embedded {chunks} chunks" in almanac("reindex")
    hits = as_json("search", QUERY, "--limit", "3")["hits"]
    assert hits and hits[0]["source"] == EXPECTED
