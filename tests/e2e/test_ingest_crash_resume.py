"""An ingest killed mid-run (SIGKILL) leaves a consistent knowledge DB; a re-run completes it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.sqlite.connection import connect
from tests.conftest import SAMPLE_DIR


def _documents(db: Path) -> int:
    if not db.exists():
        return 0
    conn = connect(db)
    try:
        return int(conn.execute("SELECT count(*) FROM documents").fetchone()[0])
    except Exception:  # the schema may not exist yet
        return 0
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.slow
def test_a_killed_ingest_leaves_a_consistent_db_and_a_rerun_completes_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    db = data_dir / "knowledge.db"
    env = {**os.environ, "DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
    almanac = str(Path(sys.executable).parent / "almanac")
    folder = str(SAMPLE_DIR / "knowledge_base")
    # A small embedding batch makes the ingest write documents one by one, so there is a
    # moment to kill it in the middle.
    env["EMBEDDING_BATCH_SIZE"] = "4"
    process = subprocess.Popen([almanac, "ingest", folder], env=env, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while _documents(db) < 3 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    written = _documents(db)
    assert 0 < written < 33, f"kill landed at {written} documents"

    conn = connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    orphans = conn.execute(
        "SELECT count(*) FROM documents d WHERE NOT EXISTS "
        "(SELECT 1 FROM chunks c WHERE c.document_id = d.id)"
    ).fetchone()[0]
    assert orphans == 0, "every stored document is complete"
    conn.close()

    rerun = subprocess.run(
        [almanac, "ingest", folder, "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert report["unchanged"] == written
    assert report["added"] == 33 - written and report["failed"] == 0
