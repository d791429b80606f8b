"""A data directory made by the previous version's own code (tests/e2e/test_upgrading.py).

The previous version is the newest row of CHANGELOG.md's "Versions and their commits". Its
`backend/`, `services/` and `use_cases/` come out of git (`git archive` of that commit) and run
with this virtualenv as separate `almanac` processes: an ingest of a few files of the sample
handbook and an API key. A clone without that commit (a shallow one) cannot do this, so the
same directory is committed too, as `tests/fixtures/upgrade/almanac-VERSION.tar.gz` (its
`knowledge.db` and `app.db`, and `before.json`: what that version listed). Rebuild it, after
a release moves the table's newest row, from the checkout's root:

    PYTHONPATH=$PWD .venv/bin/python -m tests.previous_version

Rules: nothing here imports today's Almanac to make the directory; the old code runs in its
own processes, from a working directory outside both trees.
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
import tempfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.config import PROJECT_ROOT

CHANGELOG = PROJECT_ROOT / "CHANGELOG.md"
FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "upgrade"
#: A version row of the changelog's table: | 0.11.0 | 2026-11-28 | `096fe84...` | 1,073 |
VERSION_ROW = re.compile(r"^\| (\d+\.\d+\.\d+) \| [\d-]+ \| `([0-9a-f]{40})` \|", re.M)
#: A few policies of the sample handbook (none names another): quick to embed, searchable.
FILES = ("access-control-policy.md", "remote-work-policy.md", "data-retention-policy.md")
SAMPLE_POLICIES = PROJECT_ROOT / "sample_data" / "knowledge_base" / "policies"
#: The files of a data directory the fixture keeps (sentence_vectors.db is a cache).
DATABASES = ("knowledge.db", "app.db")
KEY_ARGS = ("--user", "sam", "--role", "admin", "--name", "before-upgrade")


def previous_version() -> tuple[str, str]:
    """The newest version of the changelog's table, and its commit."""
    rows = VERSION_ROW.findall(CHANGELOG.read_text(encoding="utf-8"))
    if not rows:
        raise RuntimeError("CHANGELOG.md has no 'Versions and their commits' table")
    version, commit = rows[0]
    return version, commit


def fixture_path(version: str) -> Path:
    return FIXTURES / f"almanac-{version}.tar.gz"


@dataclass(frozen=True)
class Previous:
    """A data directory of the previous version and what that version listed in it."""

    data_dir: Path
    folder: Path  # the folder it ingested (FILES)
    before: dict[str, Any]  # version, commit, loaders_version, documents, key, folder


def copy_folder(into: Path) -> Path:
    into.mkdir(parents=True)
    for name in FILES:
        shutil.copy(SAMPLE_POLICIES / name, into / name)
    return into


def old_tree(commit: str, into: Path) -> Path | str:
    """The previous version's Python packages, out of git; a reason when git cannot give them."""
    if shutil.which("git") is None:
        return "git is not installed: the previous version's code comes from git"
    known = subprocess.run(
        ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=PROJECT_ROOT, capture_output=True
    )
    if known.returncode != 0:
        return (
            f"commit {commit[:12]} (the previous version) is not in this clone's history "
            "(a shallow clone?): `git fetch --unshallow` to test with its code"
        )
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit, "backend", "services", "use_cases"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
    )
    into.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


def run_almanac(code: Path, data_dir: Path, cwd: Path, *args: str) -> str:
    """`almanac ARGS` of the code in `code` (a tree with `backend/`), on `data_dir`, offline;
    its standard output. A failure raises with both outputs."""
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in ("SENTENCE_VECTORS_DB", "PYTHONPATH", "ALMANAC_KNOWLEDGE")
        },
        "PYTHONPATH": str(code),
        "DATA_DIR": str(data_dir),
        "LOG_LEVEL": "WARNING",
        "PREPARE_SENTENCES": "false",
        "LOAD_SAMPLE_DATA": "false",
        "NO_COLOR": "1",
    }
    result = subprocess.run(
        [sys.executable, "-c", "from backend.cli.main import app; app()", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise AssertionError(f"{code}: almanac {' '.join(args)}: {result.stdout}{result.stderr}")
    return result.stdout


def build(work: Path) -> Previous | str:
    """Make the data directory with the previous version's code, under `work`; a reason when
    its code is not at hand."""
    version, commit = previous_version()
    code = old_tree(commit, work / f"almanac-{version}")
    if isinstance(code, str):
        return code
    folder = copy_folder(work / "policies")
    data_dir = work / "data"
    cwd = work / "cwd"
    cwd.mkdir()
    run_almanac(code, data_dir, cwd, "ingest", str(folder))
    key = json.loads(run_almanac(code, data_dir, cwd, "keys", "create", *KEY_ARGS, "--json"))
    documents = json.loads(run_almanac(code, data_dir, cwd, "docs", "list", "--json"))
    match = re.search(
        r"^LOADERS_VERSION = (\d+)$",
        (code / "services/knowledge/loaders/__init__.py").read_text(encoding="utf-8"),
        re.M,
    )
    if match is None:
        raise RuntimeError(f"{version} has no LOADERS_VERSION")
    before = {
        "version": version,
        "commit": commit,
        "loaders_version": int(match.group(1)),
        "documents": [
            {"id": d["id"], "source": d["source"], "title": d["title"]}
            for d in documents["documents"]
        ],
        "key": {"name": key["name"], "user_id": key["user_id"], "role": key["role"]},
        "folder": str(folder),
    }
    return Previous(data_dir, folder, before)


def write_fixture(previous: Previous) -> Path:
    """The committed copy of `previous`: its databases and `before.json`, gzipped."""
    path = fixture_path(previous.before["version"])
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name in DATABASES:
            tar.add(previous.data_dir / name, arcname=name)
        data = json.dumps(previous.before, indent=2).encode()
        info = tarfile.TarInfo("before.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


def from_fixture(work: Path) -> Previous:
    """The committed data directory of the previous version, unpacked under `work`. Missing
    (the table moved on and nobody rebuilt it) is an error, never a skip."""
    version, _ = previous_version()
    path = fixture_path(version)
    if not path.exists():
        raise FileNotFoundError(
            f"{path.relative_to(PROJECT_ROOT)} is missing: run `python -m tests.previous_version`"
        )
    data_dir = work / "data"
    data_dir.mkdir(parents=True)
    with tarfile.open(path) as tar:
        tar.extractall(data_dir, filter="data")
    before = json.loads((data_dir / "before.json").read_text(encoding="utf-8"))
    (data_dir / "before.json").unlink()
    folder = copy_folder(work / "policies")
    _moved(data_dir / "knowledge.db", Path(before["folder"]), folder)
    return Previous(data_dir, folder, before)


def _moved(knowledge_db: Path, old: Path, new: Path) -> None:
    """The one change made to the committed files: the documents' origins (the absolute
    paths of the files ingested) point into `new`, where the test copied the folder, as if
    it had been there when the previous version ingested it. An ingest of the same files
    from another path is refused as a conflict by every version, upgraded or not."""
    with closing(sqlite3.connect(knowledge_db)) as conn, conn:
        conn.execute(
            "UPDATE documents SET origin = ? || substr(origin, ?) WHERE origin LIKE ? || '/%'",
            (str(new), len(str(old)) + 1, str(old)),
        )


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        previous = build(Path(work))
        if isinstance(previous, str):
            raise SystemExit(previous)
        path = write_fixture(previous)
    print(f"Wrote {path.relative_to(PROJECT_ROOT)} ({path.stat().st_size:,} bytes).")


if __name__ == "__main__":
    main()
