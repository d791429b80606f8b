"""A chat's project draft in the web app (#/chat/ID/draft), with the offline model: drafted
from the chat, changed through the streamed draft chat (its turns stored), an older version
made active again, and the downloads."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, assert_accessible, shot
from tests.browser.test_chat import open_chat


def test_a_chat_is_drafted_into_a_project_changed_in_words_and_rolled_back(
    page: Any, app_url: str
) -> None:
    answered = httpx.post(
        app_url + "/chat",
        json={"message": "We need to rotate the service-account keys. How often must we?"},
        timeout=60,
    )
    assert answered.status_code == 200, answered.text
    chat_id = answered.json()["chat_id"]
    base = f"{app_url}/api/conversations/{chat_id}/project-draft"

    open_chat(page, f"{app_url}/#/chat/{chat_id}")
    page.get_by_role("link", name="Project draft").click()
    page.wait_for_url(re.compile(rf"#/chat/{chat_id}/draft$"))
    page.get_by_role("heading", name="Project draft", level=1).wait_for()
    page.get_by_role("button", name="Draft a project from this chat").click()

    card = page.locator(".draft-card")
    card.get_by_role("heading", level=2).wait_for()  # drawn once the draft is stored
    drafted = httpx.get(base).json()
    expect(card.get_by_role("heading", level=2)).to_have_text(drafted["title"])
    expect(card).to_contain_text("Version 1 of 1, in force")
    markdown = card.get_by_role("link", name="Download Markdown")
    assert markdown.get_attribute("href") == (
        f"/api/conversations/{chat_id}/project-draft/export?format=markdown"
    )
    assert_accessible(page)

    page.get_by_label("What to change").fill("add a goal: publish the rota")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status").filter(has_text="Done:")).to_have_text(
        "Done: the draft changed."
    )
    expect(card.get_by_role("listitem").filter(has_text="publish the rota")).to_be_visible()
    expect(card).to_contain_text("Version 2 of 2, in force")
    log = page.get_by_role("list", name="Draft chat")
    expect(log.get_by_role("listitem")).to_have_count(2)
    stored = httpx.get(f"{base}/chat").json()["messages"]
    assert [m["role"] for m in stored] == ["user", "assistant"]
    expect(log.get_by_role("listitem").last).to_contain_text(stored[1]["content"])
    shot(page, "chat-draft-desktop")

    page.get_by_role("button", name="Make version 1 active").click()
    expect(card).to_contain_text("Version 1 of 2, in force")
    expect(card.get_by_text("publish the rota")).to_have_count(0)
    assert httpx.get(base).json()["active_version"] == 1
    versions = page.get_by_role("table", name="2 versions, newest first")
    expect(versions.get_by_role("row", name=re.compile(r"^1 .*in force"))).to_be_visible()

    page.reload()  # the stored draft chat comes back
    expect(page.get_by_role("list", name="Draft chat").get_by_role("listitem")).to_have_count(2)


def test_the_draft_page_fits_a_phone(new_page: Any, app_url: str) -> None:
    answered = httpx.post(app_url + "/chat", json={"message": "We need a rota."}, timeout=60)
    chat_id = answered.json()["chat_id"]
    drafted = httpx.post(f"{app_url}/api/conversations/{chat_id}/project-draft", json={})
    assert drafted.status_code == 201, drafted.text
    page = new_page(viewport=PHONE)
    page.goto(f"{app_url}/#/chat/{chat_id}/draft")
    page.get_by_label("What to change").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert_accessible(page)
    shot(page, "chat-draft-phone")
