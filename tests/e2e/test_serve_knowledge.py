"""`almanac serve --knowledge PATH` (`make run KNOWLEDGE=PATH`): the real command serves a
knowledge base of one folder, without the bundled sample, queried over HTTP; a second start
finds its knowledge base again and follows the folder's changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from backend.cli.knowledge_folder import KNOWLEDGE_ENV, knowledge_data_dir
from backend.config import PROJECT_ROOT
from tests.almanac_serve import ServeChild, start_almanac_serve

BICYCLES = """---
title: Bicycle Parking Rules
---

# Bicycle Parking Rules

## Charging

E-bike batteries may be charged at the lockers on level -1 only, never at desks.
"""

ALMANAC = str(Path(sys.executable).parent / "almanac")

LOCKERS = """# Lockers

Lockers on level -1 are emptied every Friday at 18:00; anything left is kept for a week.
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "LOG_LEVEL": "INFO",
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
        "ANSWER_PROCESSES": "false",  # planning on threads: a quicker start
        "LOAD_SAMPLE_DATA": "true",  # what the configuration says; --knowledge overrides it
    }
    for name in ("DATA_DIR", "DATABASE_URL", "OPENAI_API_KEY", "DEFAULT_MODEL", KNOWLEDGE_ENV):
        env.pop(name, None)
    return env


def _serve(folder: Path, tmp_path: Path, log: str) -> ServeChild:
    return start_almanac_serve(
        [ALMANAC, "serve", "--knowledge", str(folder)],
        env=_env(tmp_path),
        cwd=tmp_path,
        log=tmp_path / log,
    )


def _ask(server: ServeChild, question: str) -> dict:
    response = httpx.post(f"{server.url}/chat", json={"message": question}, timeout=120)
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


@pytest.mark.slow
def test_serve_knowledge_serves_that_folder_alone_and_follows_it_on_the_next_start(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "my docs"
    folder.mkdir()
    (folder / "bicycles.md").write_text(BICYCLES, encoding="utf-8")

    server = _serve(folder, tmp_path, "first.log")
    try:
        health = httpx.get(f"{server.url}/health", timeout=30).json()
        assert health["knowledge_base"]["documents"] == 1  # no sample handbook
        tables = httpx.get(f"{server.url}/api/tables", timeout=30).json()
        assert tables["tables"] == []  # nor its tables
        answer = _ask(server, "Where may I charge my e-bike battery?")
        assert "lockers on level -1" in answer["answer"]
        assert [s["source"] for s in answer["sources"]] == ["bicycles.md"]
    finally:
        server.stop()
    data_dir = knowledge_data_dir(folder, {"XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert (data_dir / "knowledge.db").is_file()
    assert str(data_dir) in server.output()

    # The other commands, run from the same directory, act on the knowledge base served.
    listed = subprocess.run(
        [ALMANAC, "docs", "list", "--json"],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert [d["source"] for d in json.loads(listed.stdout)["documents"]] == ["bicycles.md"]
    assert listed.stderr.startswith(f"Knowledge base of {folder.resolve()} in {data_dir} ")

    (folder / "bicycles.md").unlink()
    (folder / "lockers.md").write_text(LOCKERS, encoding="utf-8")
    again = _serve(folder, tmp_path, "second.log")
    try:
        documents = httpx.get(f"{again.url}/api/documents", timeout=30).json()
        assert [d["source"] for d in documents["documents"]] == ["lockers.md"]
        answer = _ask(again, "When are the lockers emptied?")
        assert "Friday at 18:00" in answer["answer"]
    finally:
        again.stop()


def test_make_run_with_knowledge_serves_that_folder(tmp_path: Path) -> None:
    folder = tmp_path / "my docs"
    dry_run = subprocess.run(
        ["make", "-n", "--no-print-directory", "run", f"KNOWLEDGE={folder}"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert dry_run.stdout.splitlines()[-1].endswith(f'almanac serve --knowledge "{folder}"')


@pytest.mark.slow
def test_serve_knowledge_loads_the_folders_workbooks_as_tables(tmp_path: Path) -> None:
    """A workbook in the folder is loaded as `almanac ingest PATH --prune` loads one: a table
    per sheet, listed by GET /api/tables and answered from offline, the row's table cited."""
    from openpyxl import Workbook

    folder = tmp_path / "shared folder"
    folder.mkdir()
    (folder / "bicycles.md").write_text(BICYCLES, encoding="utf-8")
    book = Workbook()
    rota = book.active
    rota.title = "On-call"
    for row in (["Week", "Engineer"], [11, "Ben Okafor"], [12, "Chloé Martin"], [13, "Dev Patel"]):
        rota.append(row)
    book.save(folder / "rota.xlsx")

    server = _serve(folder, tmp_path, "serve.log")
    try:
        listed = httpx.get(f"{server.url}/api/tables", timeout=30).json()
        assert [(t["name"], t["rows"]) for t in listed["tables"]] == [("rota_on_call", 3)]
        answer = _ask(server, "Who is on call in week 12?")
        assert "Chloé Martin" in answer["answer"], answer
        assert "[table: rota_on_call]" in answer["answer"], answer
        assert answer["sources"][0]["title"] == "table: rota_on_call", answer["sources"]
        lookups = [c["args"]["sql_query"] for c in answer["tool_calls"] if "sql_query" in c["args"]]
        assert lookups and lookups[0].startswith("SELECT"), answer["tool_calls"]
    finally:
        server.stop()
    assert "rota.xlsx: table rota_on_call (3 rows)" in server.output()
