"""A scanned PDF attached to a chat by a plain user, through the real app with authentication
on: a few pages are read by OCR within the attachment's own limits (its parse's memory,
CHAT_FILE_PARSE_MEMORY_MB; its pages, CHAT_FILE_OCR_MAX_PAGES, one at a time), and their
text is what the chat's search finds; a scan of more pages is refused with a 413 that names
the setting and says what to do instead. (Every scanned PDF attached used to fail with
422 "its parser stopped": numpy's OpenBLAS could not start its threads under the
attachment's memory limit and stopped the parse.)"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from backend.api.app import create_app
from backend.bootstrap import Container, bootstrap
from tests.conftest import FixedClock, make_settings
from tests.integration.test_ocr import LEFT, RIGHT, needs_tesseract, page, scanned_pdf
from use_cases.access.domain import CLI_ADMIN

pytestmark = needs_tesseract

#: CHAT_FILE_OCR_MAX_PAGES here.
MAX_PAGES = 2
#: A letter-size page (8.5 x 11 inches) scanned at 200 dpi.
LETTER = (1700, 2200)

World = tuple[Container, dict[str, str], str]


@pytest.fixture(scope="module")
def world(sample_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("chat-scans") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    settings = make_settings(data_dir, auth_enabled=True, chat_file_ocr_max_pages=MAX_PAGES)
    # The attachment's memory budget (CHAT_FILE_PARSE_MEMORY_MB) is the default one.
    container = bootstrap(settings, clock=FixedClock())
    created = asyncio.run(
        container.access.create_key.execute(CLI_ADMIN, user_id="ann", role="user")
    )
    history = container.adapters.history
    history.ensure_user("ann")
    chat = history.get_or_create_chat(None, "ann", "Notes").id
    yield container, {"Authorization": f"Bearer {created.secret}"}, chat
    container.close()


@pytest.fixture
async def http(world: World) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(container=world[0]))
    async with httpx.AsyncClient(transport=transport, base_url="http://almanac.test") as client:
        yield client


async def attach(http: httpx.AsyncClient, world: World, data: bytes) -> httpx.Response:
    return await http.post(
        f"/api/conversations/{world[2]}/files",
        files={"file": ("scan.pdf", data, "application/pdf")},
        headers=world[1],
    )


async def test_a_scanned_letter_attached_to_a_chat_is_read_by_ocr(
    http: httpx.AsyncClient, world: World
) -> None:
    attached = await attach(http, world, scanned_pdf(page([LEFT, RIGHT], size=LETTER)))
    assert attached.status_code == 201, attached.text
    assert attached.json()["chunk_count"] >= 1
    stored, _ = world[0].adapters.chat_files.chunks(world[2])
    text = " ".join(chunk.text for chunk in stored)
    assert "Visitors park in bay seven" in text
    assert "racks beside building two" in text


async def test_a_scan_of_more_pages_than_attachments_read_is_413_saying_what_to_do(
    http: httpx.AsyncClient, world: World
) -> None:
    pages = [page([LEFT], size=LETTER) for _ in range(MAX_PAGES + 1)]
    refused = await attach(http, world, scanned_pdf(*pages))
    assert refused.status_code == 413, refused.text
    problem = refused.json()
    assert problem["code"] == "input_too_costly"
    assert f"has {MAX_PAGES + 1} scanned pages" in problem["detail"]
    assert f"at most {MAX_PAGES} (CHAT_FILE_OCR_MAX_PAGES)" in problem["detail"]
    assert "knowledge base" in problem["detail"]
    assert "within 1,800 s of CPU: OCR_CPU_SECONDS" in problem["detail"]  # not a page count
