"""A server killed by SIGKILL in the middle of an upload job and of a streamed answer is
recovered by the next start on the same DATA_DIR (real `almanac serve` processes, real
sockets):

- the upload job is still at GET /api/jobs/{id}, runs again and ends `done`; the rows the
  killed process had staged are gone from knowledge.db, and the document is stored once;
- the answer the killed process was streaming reads `interrupted` as soon as the new
  process answers, not `streaming`.

The model and the embeddings are `bench/fake_openai.py` (a subprocess streaming a word every
50 ms for far longer than the test lasts). Small chunks (CHUNK_TOKENS=32) and the smallest
ingest batch (64 chunks) make the upload a job of several batches. The first server's fake
never answers the embeddings of a chunk in the middle of the document (`--stall-embeddings`),
so the job stops there, whatever the machine's speed, with its first batches staged and
nothing committed; the kill lands then. The test checks that in knowledge.db before
restarting. The second server's fake answers everything.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.sqlite.connection import connect
from tests.almanac_serve import start_almanac_serve
from tests.fake_openai_server import fake_openai

ALMANAC = str(Path(sys.executable).parent / "almanac")
MODEL = "openai:fake-model"
CHAT_ID = "crash-recovery-chat"
#: A general question: the search discipline leaves it to the model (bench/bench_chat.py).
QUESTION = "Explain what a hash function is."
#: 60 sections of ~140 words: ~420 chunks of 32 tokens, 7 batches of 64.
SECTIONS = 60
#: A word in the middle section: the first server's embeddings never come back for its chunk.
STALL_WORD = "stallingword"
EMBEDDING_MODEL = "fake-embedding"
START_S = 120.0
STEP_S = 90.0


def _until(what: str, check: Callable[[], Any], within_s: float, *, alive: Any = None) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after `within_s`."""
    deadline = time.monotonic() + within_s
    while True:
        found = check()
        if found:
            return found
        if alive is not None and alive.poll() is not None:
            pytest.fail(f"{what}: the process exited with {alive.returncode}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {within_s:.0f} s")
        time.sleep(0.05)


def _handbook() -> bytes:
    rng = random.Random(24)
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
        for _ in range(3000)
    ]
    parts = ["# Crash recovery handbook\n\nThe zebracrossing quartermaster keeps the ledger.\n"]
    for number in range(SECTIONS):
        parts.append(f"\n## Section {number}\n\n")
        text = [rng.choice(words) for _ in range(140)]
        if number == SECTIONS // 2:
            text[70] = STALL_WORD
        parts.append(" ".join(text) + ".\n")
    return "".join(parts).encode()


def _count(db: Path, sql: str, *params: object) -> int:
    conn = connect(db)
    try:
        return int(conn.execute(sql, params).fetchone()[0])
    finally:
        conn.close()


def _never_stale(app_db: Path, job_id: str) -> None:
    conn = connect(app_db)
    try:
        with conn:
            updated = conn.execute(
                "UPDATE jobs SET heartbeat_at = '9999-12-31T00:00:00.000000+00:00' "
                "WHERE id = ? AND status = 'running'",
                (job_id,),
            ).rowcount
    finally:
        conn.close()
    assert updated == 1, "the job was running when the server was killed"


class Server:
    """`almanac serve` on `data_dir`, serving once built, its output in a log file (read on
    failure). Its port is one that was free a moment before; another one when that was taken
    before the server bound it (tests/almanac_serve.py)."""

    def __init__(self, data_dir: Path, env: dict[str, str], log: Path) -> None:
        self.child = start_almanac_serve(
            [ALMANAC, "serve"],
            env=env,
            cwd=data_dir.parent,  # no `.env` of the repository is read
            log=log,
            within_s=START_S,
        )
        self.process = self.child.process
        self.url = self.child.url
        self.log = self.child.log

    def ready(self, http: httpx.Client) -> None:
        def answers() -> bool:
            with contextlib.suppress(httpx.TransportError):
                return http.get(f"{self.url}/health", timeout=2).status_code == 200
            return False

        try:
            _until("the server answers /health", answers, START_S, alive=self.process)
        except pytest.fail.Exception:
            print(self.log.read_text()[-4000:])
            raise

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        self.child.stop()


@pytest.fixture
def fake_models() -> Iterator[Callable[..., str]]:
    """Starts fake OpenAI servers (tests/fake_openai_server.py) with the options given;
    returns each one's base URL."""
    with contextlib.ExitStack() as stack:
        yield lambda *options: stack.enter_context(fake_openai(*options))


@pytest.fixture
def servers(tmp_path: Path, fake_models: Callable[..., str]) -> Iterator[Callable[..., Server]]:
    """Starts `almanac serve` on one DATA_DIR; `stall=True` gives it a fake model whose
    embeddings never come back for the chunk holding STALL_WORD."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if k != "SENTENCE_VECTORS_DB"},
        "HOST": "127.0.0.1",
        "DATA_DIR": str(data_dir),
        "LOAD_SAMPLE_DATA": "false",
        "LOG_LEVEL": "INFO",  # the server reports its port at INFO (tests/almanac_serve.py)
        "OPENAI_API_KEY": "sk-test",
        "DEFAULT_MODEL": MODEL,
        "ALLOWED_MODELS": MODEL,
        "PROVIDER_MAX_RETRIES": "0",
        "AGENT_TIMEOUT": "600",  # the turn outlives the test: only the kill ends it
        "PROVIDER_TIMEOUT": "600",  # so does the stalled embeddings request
        "EMBEDDING_PROVIDER": "openai",
        "EMBEDDING_MODEL": EMBEDDING_MODEL,
        "RERANKER_ENABLED": "false",
        "UPLOAD_JOB_BYTES": "1000",
        "CHUNK_TOKENS": "32",
        "CHUNK_OVERLAP": "0",
        "EMBEDDING_BATCH_SIZE": "4",
        "PYTHONUNBUFFERED": "1",
    }
    started: list[Server] = []

    def start(*, stall: bool = False) -> Server:
        fake = fake_models("--stall-embeddings", STALL_WORD) if stall else fake_models()
        server = Server(
            data_dir, {**env, "OPENAI_BASE_URL": fake}, tmp_path / f"serve-{len(started)}.log"
        )
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


def _ui_chat() -> dict[str, object]:
    return {
        "trigger": "submit-message",
        "id": CHAT_ID,
        "messages": [{"id": "m1", "role": "user", "parts": [{"type": "text", "text": QUESTION}]}],
    }


def _assistant(http: httpx.Client, url: str) -> dict[str, Any]:
    response = http.get(f"{url}/chats/{CHAT_ID}/messages")
    assert response.status_code == 200, response.text
    messages = response.json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"], messages
    return dict(messages[-1])


@pytest.mark.slow
@pytest.mark.slow
def test_a_killed_server_recovers_its_upload_job_and_streaming_answer_at_the_next_start(
    tmp_path: Path, servers: Callable[..., Server]
) -> None:
    knowledge_db = tmp_path / "data" / "knowledge.db"
    app_db = tmp_path / "data" / "app.db"
    first = servers(stall=True)
    with httpx.Client(timeout=30) as http:
        first.ready(http)

        # A streamed answer, left open: the fake model streams for ~80 minutes.
        with http.stream("POST", f"{first.url}/api/chat", json=_ui_chat()) as stream:
            assert stream.status_code == 200
            lines = stream.iter_lines()  # kept: a dropped iterator closes the connection
            for line in lines:  # bounded by the client's read timeout
                if '"text-delta"' in line:
                    break
            else:
                pytest.fail("the stream ended before any text")
            assert _assistant(http, first.url)["status"] == "streaming"

            # A large upload, run as a job: killed once its first batch is staged.
            upload = http.post(
                f"{first.url}/api/documents",
                files={"file": ("handbook.md", _handbook(), "text/markdown")},
            )
            assert upload.status_code == 202, upload.text
            job_id = upload.json()["id"]

            def first_batch_staged() -> bool:
                job = http.get(f"{first.url}/api/jobs/{job_id}").json()
                assert job["status"] in ("queued", "running"), job
                return bool(job["progress"]["chunks_done"] > 0)

            _until("the job stages its first batch", first_batch_staged, STEP_S)
            first.kill()

        # Killed mid-way, as intended: rows staged and uncommitted, the answer streaming.
        assert _count(knowledge_db, "SELECT count(*) FROM staged_chunks") > 0
        assert _count(knowledge_db, "SELECT count(*) FROM documents") == 0
        streaming = "SELECT count(*) FROM messages WHERE role = 'assistant' AND status = ?"
        assert _count(app_db, streaming, "streaming") == 1
        # The dead worker's lease never runs out in this test: only the knowledge that its
        # process is dead can make the next start take the job over (and at once).
        _never_stale(app_db, job_id)

        second = servers()
        second.ready(http)
        # As soon as the new process answers, the dead one's answer is no longer streaming.
        assistant = _assistant(http, second.url)
        assert assistant["status"] == "interrupted"

        # The job outlived the crash, and runs again from the start.
        def finished() -> dict[str, Any] | None:
            response = http.get(f"{second.url}/api/jobs/{job_id}")
            assert response.status_code == 200, response.text
            job = response.json()
            return job if job["status"] in ("done", "failed") else None

        job = _until("the job finishes after the restart", finished, STEP_S)
        assert job["status"] == "done", job["error"]
        assert job["result"]["status"] == "added"
        document = job["result"]["document"]

        # Nothing of the killed run is left, and the document is stored once.
        assert _count(knowledge_db, "SELECT count(*) FROM staged_chunks") == 0
        assert _count(knowledge_db, "SELECT count(*) FROM staged_sections") == 0
        listed = http.get(f"{second.url}/api/documents").json()
        assert [d["source"] for d in listed["documents"]] == ["handbook.md"], listed
        stored_chunks = "SELECT count(*) FROM chunks WHERE document_id = ?"
        assert _count(knowledge_db, stored_chunks, document["id"]) == document["chunk_count"]
        hits = http.get(
            f"{second.url}/api/search", params={"q": "zebracrossing quartermaster"}
        ).json()
        assert hits["hits"], json.dumps(hits)[:500]
        assert {hit["document_id"] for hit in hits["hits"]} == {document["id"]}
        assert len({hit["chunk_id"] for hit in hits["hits"]}) == len(hits["hits"])
