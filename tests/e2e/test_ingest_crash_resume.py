"""An ingest killed mid-run (SIGKILL) leaves a consistent knowledge DB; a re-run completes it.

The kill lands mid-run whatever the machine's speed: the ingest embeds through a fake
OpenAI server (tests/fake_openai_server.py) that never answers the embeddings of the last
document, so the run cannot finish; the re-run's fake answers everything.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.sqlite.connection import connect
from tests.conftest import SAMPLE_DIR
from tests.fake_openai_server import fake_openai

#: In the last file of the folder (sorted): its embeddings never come back on the first run.
STALL_WORD = "stallingword"


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
    folder = tmp_path / "knowledge_base"
    shutil.copytree(SAMPLE_DIR / "knowledge_base", folder)
    (folder / "zzzz-last.md").write_text(
        f"# Last\n\nThe {STALL_WORD} section is embedded last.\n", encoding="utf-8"
    )
    total = sum(1 for path in folder.rglob("*") if path.is_file())
    env = {
        **{k: v for k, v in os.environ.items() if k != "SENTENCE_VECTORS_DB"},
        "DATA_DIR": str(data_dir),
        "LOG_LEVEL": "WARNING",
        "EMBEDDING_PROVIDER": "openai",
        "EMBEDDING_MODEL": "fake-embedding",
        "OPENAI_API_KEY": "sk-test",
        "PROVIDER_TIMEOUT": "600",  # the stalled request outlives the test: the kill ends it
        "PROVIDER_MAX_RETRIES": "0",
        # A small embedding batch makes the ingest write documents a few at a time.
        "EMBEDDING_BATCH_SIZE": "4",
    }
    almanac = str(Path(sys.executable).parent / "almanac")
    with fake_openai("--stall-embeddings", STALL_WORD) as stalling:
        process = subprocess.Popen(
            [almanac, "ingest", str(folder)],
            env={**env, "OPENAI_BASE_URL": stalling},
            cwd=tmp_path,
        )
        deadline = time.monotonic() + 120
        while _documents(db) < 3 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    written = _documents(db)
    assert 0 < written < total, f"kill landed at {written} of {total} documents"

    conn = connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    orphans = conn.execute(
        "SELECT count(*) FROM documents d WHERE NOT EXISTS "
        "(SELECT 1 FROM chunks c WHERE c.document_id = d.id)"
    ).fetchone()[0]
    assert orphans == 0, "every stored document is complete"
    conn.close()

    with fake_openai() as answering:
        rerun = subprocess.run(
            [almanac, "ingest", str(folder), "--json"],
            env={**env, "OPENAI_BASE_URL": answering},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert report["unchanged"] == written
    assert report["added"] == total - written and report["failed"] == 0
