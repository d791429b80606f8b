"""A chat's summary and attached files in the chat view: shown above its messages when the
chat has them (the summary comes with the chat's messages page, the files from GET
/api/conversations/{id}/files), each file with a link that downloads its bytes; a chat with
neither shows nothing of the kind, and asks for no summary that is not there."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, shot
from tests.browser.test_chat import open_chat

NOTES = b"# Offsite notes\n\nThe quarterly offsite moves to Lisbon in May.\n"


def new_chat(url: str) -> str:
    answered = httpx.post(
        url + "/chat", json={"message": "How often must passwords be rotated?"}, timeout=60
    )
    assert answered.status_code == 200, answered.text
    return str(answered.json()["chat_id"])


def test_a_chat_shows_its_summary_and_its_files_with_download_links(
    page: Any, app_url: str, tmp_path: Path
) -> None:
    chat_id = new_chat(app_url)
    base = f"{app_url}/api/conversations/{chat_id}"
    attached = httpx.post(f"{base}/files", files={"file": ("notes.md", NOTES, "text/markdown")})
    assert attached.status_code == 201, attached.text
    summary = httpx.post(f"{base}/summary", timeout=60)
    assert summary.status_code == 200, summary.text
    [listed] = httpx.get(f"{base}/files").json()

    open_chat(page, f"{app_url}/#/chat/{chat_id}")
    box = page.locator(".chat-context")
    expect(box.locator(".chat-summary-text")).to_have_text(summary.json()["text"])
    expect(box.get_by_text("Attached files (1)")).to_be_visible()
    link = box.get_by_role("link", name="Download notes.md")
    assert link.get_attribute("href") == listed["download_url"]
    expect(box).to_contain_text(re.compile(r"text/markdown · \d+ B"))
    assert_accessible(page)
    shot(page, "chat-context-desktop")

    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "notes.md"
    download.value.save_as(saved)
    assert saved.read_bytes() == NOTES


def test_a_file_attached_from_the_chat_is_listed_and_searched_by_its_questions(
    page: Any, app_url: str, tmp_path: Path
) -> None:
    chat_id = new_chat(app_url)
    open_chat(page, f"{app_url}/#/chat/{chat_id}")
    page.locator(".chat-turn-user").first.wait_for()
    expect(page.locator(".chat-context")).to_be_hidden()
    notes = tmp_path / "offsite.md"
    notes.write_bytes(NOTES)
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach a file").click()
    chooser.value.set_files(str(notes))
    expect(page.locator(".toast")).to_contain_text("Attached offsite.md")
    box = page.locator(".chat-context")
    expect(box.get_by_text("Attached files (1)")).to_be_visible()
    expect(box.get_by_role("link", name="Download offsite.md")).to_be_visible()
    [listed] = httpx.get(f"{app_url}/api/conversations/{chat_id}/files").json()
    assert listed["name"] == "offsite.md" and listed["size_bytes"] == len(NOTES)


def test_a_chat_without_a_summary_or_files_shows_neither(page: Any, app_url: str) -> None:
    chat_id = new_chat(app_url)
    with page.expect_response(re.compile(rf"/api/conversations/{chat_id}/files$")):
        open_chat(page, f"{app_url}/#/chat/{chat_id}")
    page.locator(".chat-turn-user").first.wait_for()
    page.wait_for_load_state("networkidle")
    expect(page.locator(".chat-context")).to_be_hidden()
    assert page.get_by_text("Attached files").count() == 0


def test_a_whole_visit_logs_no_console_error_at_all(page: Any, app_url: str) -> None:
    """The app asks for nothing that is not there: a visit over the chat (a chat without a
    summary or files, one with a summary), advice and the admin pages sends no request that
    answers 4xx, so the browser logs no error of any kind (the other tests let 4xx logs
    through, for the app shows those answers itself)."""
    plain = new_chat(app_url)
    summarised = new_chat(app_url)
    made = httpx.post(f"{app_url}/api/conversations/{summarised}/summary", timeout=60)
    assert made.status_code == 200, made.text
    logged: list[str] = []
    page.on(
        "console",
        lambda message: logged.append(message.text) if message.type == "error" else None,
    )
    page.on(
        "response",
        lambda response: (
            logged.append(f"{response.status} {response.url}") if response.status >= 400 else None
        ),
    )
    open_chat(page, f"{app_url}/#/chat")
    for chat_id in (plain, summarised):
        with page.expect_response(re.compile(rf"/api/conversations/{chat_id}/files$")):
            page.goto(f"{app_url}/#/chat/{chat_id}")
        page.locator(".chat-turn-user").first.wait_for()
    expect(page.locator(".chat-summary-text")).to_be_visible()
    for route in ("#/advice", "#/admin/evaluation", "#/admin/cleaning", "#/admin/prompts"):
        page.goto(f"{app_url}/{route}")
        page.wait_for_load_state("networkidle")
    assert logged == []
