"""An evaluation run reads what its starter may (docs/collections.md): its turns, the search
its retrieval metrics score. A run an admin starts reads every collection; the same run,
resumed after its starter lost the admin role, reads as a user (the default collection and
their grants), not as the evaluation user and never past the starter's own scope."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from backend.bootstrap import Container, bootstrap
from backend.sources import collect_sources
from tests.conftest import FixedClock, make_settings
from use_cases.access.domain import CLI_ADMIN, Caller
from use_cases.evaluation.datasets import DatasetUpload
from use_cases.evaluation.runs import RunRequest
from use_cases.knowledge.collections import Grant
from use_cases.knowledge.ingest import CollectionChoice, IngestRequest

SECRET = "lumenvault"
DOC = (
    "---\ntitle: Salary bands 2026\n---\n# Salary bands\n\n"
    "The zebraquartz salary band for level five is the lumenvault band of 91,000 euros.\n"
)
CASES = [
    {
        "id": "hr",
        "question": "What is the zebraquartz salary band for level five?",
        "kind": "kb",
        "expect_any": [SECRET],
        "expect_sources": ["salary-bands-lumen.md"],
    }
]


def _world(data_dir: Path, tmp_path: Path) -> tuple[Container, Caller]:
    container = bootstrap(make_settings(data_dir), clock=FixedClock())
    hr = container.knowledge.collections.create_now(CLI_ADMIN, "hr")
    file = tmp_path / "salary-bands-lumen.md"
    file.write_text(DOC, encoding="utf-8")
    report = container.admin.admin_ingest.run(
        CLI_ADMIN,
        IngestRequest(
            sources=collect_sources([file], container.knowledge.ingest),
            collection=CollectionChoice(hr.id),
        ),
    )
    assert not report.failed
    return container, Caller("dora", "admin", None)


async def _run(container: Container, starter: Caller) -> dict[str, Any]:
    text = "".join(json.dumps(c) + "\n" for c in CASES)
    await container.evaluation.datasets.upload(starter, DatasetUpload("hr.jsonl", text.encode()))
    record = await container.evaluation.benchmark.start(
        starter, RunRequest(task_id="hr", concurrency=1)
    )
    await container.evaluation.benchmark.execute(record.run_id)
    export = await container.evaluation.benchmark.export(CLI_ADMIN, record.run_id)
    assert export["status"] == "completed", export
    [row] = export["cases"]
    return dict(row)


async def test_a_run_reads_every_collection_while_its_starter_is_an_admin(
    data_dir: Path, tmp_path: Path
) -> None:
    container, dora = _world(data_dir, tmp_path)
    try:
        await container.access.create_key.execute(CLI_ADMIN, user_id="dora", role="admin")
        row = await _run(container, dora)
    finally:
        container.close()
    assert SECRET in row["answer"].lower(), row
    assert "salary-bands-lumen.md" in row["retrieved"], row


async def test_a_run_whose_starter_is_no_longer_an_admin_reads_as_that_user(
    data_dir: Path, tmp_path: Path
) -> None:
    container, dora = _world(data_dir, tmp_path)
    try:
        made = await container.access.create_key.execute(CLI_ADMIN, user_id="dora", role="admin")
        await container.access.revoke_key.execute(CLI_ADMIN, made.key.id)
        row = await _run(container, dora)
        # Granted the collection, the same user's run reads it.
        container.knowledge.collections.grant_now(CLI_ADMIN, "hr", Grant("user", "dora"))
        granted = await _run(container, dora)
    finally:
        container.close()
    assert SECRET not in row["answer"].lower() and row["correct"] is False, row
    assert "salary-bands-lumen.md" not in json.dumps([row["retrieved"], row["sources"]]), row
    assert SECRET in granted["answer"].lower(), granted
