"""The `curl` examples of docs/conversation-import.md run, in order, against a live server
(development mode) whose import settings allow the local server of reconstructed share pages
(tests/share_pages.py): the documented share links are replaced by that server's pages, the
documented `conversations.json` by the reconstructed Claude export, and `JOB_ID` by the job
the upload answered, once it is done."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from backend.config import PROJECT_ROOT
from tests.conftest import FixedClock, make_settings
from tests.e2e.test_readme import _check, _run_curl
from tests.live_server import serve
from tests.share_pages import share_page_server

DOC = (PROJECT_ROOT / "docs" / "conversation-import.md").read_text()
LINKS = {
    "https://chatgpt.com/share/6744c0de-0000-8000-9000-0123456789ab": (
        "chatgpt-share-next-data.html"
    ),
    "https://claude.ai/share/0b6a7e52-3c1d-4c7e-9d59-2f1f2f7a0c11": "claude-share.html",
}
EXPORT = "tests/fixtures/conversations/claude-export-conversations.json"


def _curl_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", DOC, flags=re.S)
    return [
        line.strip() for block in blocks for line in block.splitlines() if line.startswith("curl ")
    ]


@pytest.fixture
def pages() -> Iterator[str]:
    with share_page_server() as url:
        yield url


@pytest.fixture
def importing(data_dir: Path, pages: str) -> Iterator[Container]:
    settings = make_settings(
        data_dir,
        import_allowed_hosts=urlsplit(pages).netloc,  # 127.0.0.1 on the server's port
        import_allow_http=True,
        import_allow_private_hosts=True,
    )
    built = bootstrap(settings, clock=FixedClock())
    yield built
    built.close()


def _wait_for(url: str, job_id: str) -> None:
    for _ in range(3000):
        if httpx.get(f"{url}/api/conversations/import/jobs/{job_id}").json()["status"] == "done":
            return
        time.sleep(0.01)
    raise AssertionError(f"import job {job_id} did not finish")


def test_conversation_import_doc_curl_examples_work_against_a_live_server(
    importing: Container, pages: str
) -> None:
    commands = _curl_commands()
    assert len(commands) == 5
    with serve(create_app(container=importing)) as url:
        job_id = None
        for command in commands:
            for link, page in LINKS.items():
                command = command.replace(link, f"{pages}/{page}")
            command = command.replace("@conversations.json", f"@{EXPORT}")
            if "JOB_ID" in command:
                assert job_id is not None
                _wait_for(url, job_id)
                command = command.replace("JOB_ID", job_id)
            result = _run_curl(command, url, {})
            if "/stream" in command:
                assert result.returncode == 0, result.stderr
                assert "event: done" in result.stdout and '"source": "claude"' in result.stdout
                continue
            _check(command, result)
            body = json.loads(result.stdout)
            if command.rstrip().endswith("/import/file"):
                job_id = body["id"]
            elif "/jobs/" in command:
                assert body["progress"]["imported"] == 2
            else:
                assert body["created"] is True
