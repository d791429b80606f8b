"""Editing the prompt library on #/admin/prompts in a real browser: a project, a use case and
a prompt edited (name, description, tags) and deleted after a confirmation, through document
001's routes under /api/v1; a built-in prompt's project is refused and stays."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, shot


def post(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(url + path, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_an_admin_edits_and_deletes_library_items(page: Any, app_url: str) -> None:
    project = post(app_url, "/api/v1/projects", {"name": "Support", "description": "Old"})
    use_case = post(app_url, f"/api/v1/projects/{project['id']}/use-cases", {"name": "triage"})
    prompt = post(
        app_url,
        "/api/v1/prompts",
        {"use_case_id": use_case["id"], "name": "short answers", "tags": ["terse"]},
    )
    page.goto(app_url + "/#/admin/prompts")
    library = page.get_by_role("region", name="Library")

    library.get_by_text("Support", exact=True).click()
    library.get_by_role("button", name="Edit project").click()
    dialog = page.get_by_role("dialog", name="Edit project “Support”")
    dialog.get_by_label("Name").fill("Customer support")
    dialog.get_by_label("Description").fill("Tickets & chats")
    assert_accessible(page)
    dialog.get_by_role("button", name="Save").click()
    expect(library.get_by_text("Customer support", exact=True)).to_be_visible()
    expect(library.get_by_text(" — Tickets & chats")).to_be_visible()
    saved = httpx.get(f"{app_url}/api/v1/projects/{project['id']}").json()
    assert (saved["name"], saved["description"]) == ("Customer support", "Tickets & chats")

    library.get_by_text("Customer support", exact=True).click()
    library.get_by_text("triage", exact=True).click()
    library.get_by_text("short answers", exact=True).click()
    library.get_by_role("button", name="Edit prompt").click()
    page.get_by_role("dialog").get_by_label("Tags").fill("terse, brief")
    page.get_by_role("dialog").get_by_role("button", name="Save").click()
    expect(library.get_by_text("brief", exact=True)).to_be_visible()
    tags = httpx.get(f"{app_url}/api/v1/prompts/{prompt['id']}").json()["tags"]
    assert tags == ["terse", "brief"]
    shot(page, "library-edited-desktop")

    library.get_by_text("short answers", exact=True).click()
    library.get_by_role("button", name="Delete prompt").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(library.get_by_text("short answers", exact=True)).to_have_count(0)
    assert httpx.get(f"{app_url}/api/v1/prompts/{prompt['id']}").status_code == 404

    library.get_by_role("button", name="Delete use case").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(library.get_by_text("triage", exact=True)).to_have_count(0)
    assert httpx.get(f"{app_url}/api/v1/use-cases/{use_case['id']}").status_code == 404


def test_a_project_holding_a_built_in_prompt_is_not_deleted(page: Any, app_url: str) -> None:
    page.goto(app_url + "/#/admin/prompts")
    library = page.get_by_role("region", name="Library")
    library.get_by_text("Default", exact=True).click()
    library.get_by_role("button", name="Delete project").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.locator(".toast-error")).to_contain_text("Not deleted:")
    expect(library.get_by_text("Default", exact=True)).to_be_visible()
