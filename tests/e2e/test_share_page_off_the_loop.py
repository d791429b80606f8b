"""A hostile share page (160 KB of unclosed `<script>` tags once held the event loop
for 12 s) is refused cleanly, and while its page is being read the server answers other
requests: the read is held in the middle of its tokenizer, and `/health` answers meanwhile."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backend.config import Settings
from services.conversations import import_formats
from tests.conftest import make_settings
from tests.hostile_inputs import MiB
from tests.share_pages import share_page_server

#: Longest a safety net waits for the other side (far past what the waits take).
WAIT_S = 120


@pytest.fixture(scope="module")
def pages() -> Iterator[str]:
    with share_page_server() as url:
        yield url


@pytest.fixture
def settings(data_dir: Path, pages: str) -> Settings:
    return make_settings(
        data_dir,
        import_allowed_hosts=pages.removeprefix("http://"),
        import_allow_http=True,
        import_allow_private_hosts=True,
        import_max_page_bytes=2 * MiB,
        import_timeout_s=30.0,
    )


@pytest.mark.parametrize("size", [160 * 1024, 1 * MiB], ids=["160K", "1M"])
async def test_health_answers_while_an_unclosed_script_page_is_read(
    client: httpx.AsyncClient, pages: str, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    reading, release = threading.Event(), threading.Event()
    real_step = import_formats._Scripts.handle_starttag

    def held_step(self: import_formats._Scripts, tag: str, attrs: list) -> None:
        if tag == "script" and not reading.is_set():
            reading.set()
            release.wait(WAIT_S)
        real_step(self, tag, attrs)

    monkeypatch.setattr(import_formats._Scripts, "handle_starttag", held_step)
    url = f"{pages}/unclosed-scripts/{size}"
    importing = asyncio.create_task(client.post("/api/conversations/import", json={"url": url}))
    try:
        if not await asyncio.to_thread(reading.wait, WAIT_S):
            pytest.fail("the page was never read")
        health = await client.get("/health")  # the page's read is held meanwhile
        assert health.status_code == 200
        assert not importing.done()
    finally:
        release.set()
    answer = await importing
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "unsupported_page"
