"""The Collections page in a real browser: an admin creates a collection, grants it to a user,
sees the grant and revokes it, and a refusal (a user the server has never seen) is shown in
words; a user's key is told the page is for admins."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import SecuredApp, assert_accessible, sign_in


def test_an_admin_creates_grants_and_revokes_a_collection(
    page: Any, secured_app: SecuredApp
) -> None:
    sign_in(page, secured_app.url, secured_app.keys["admin"])
    page.goto(f"{secured_app.url}/#/admin/documents")
    # The Documents page links to Collections; the main navigation has a link of the same name.
    page.locator("#view").get_by_role("link", name="Collections").click()
    page.get_by_role("heading", level=1, name="Collections").wait_for()
    page.get_by_text("No collections yet").wait_for()
    page.get_by_label("Name", exact=True).fill("hr")
    page.get_by_label("Description").fill("People team")
    page.get_by_role("button", name="Create collection").click()
    item = page.locator(".collections-item[data-name=hr]")
    item.get_by_text("Not granted to anyone yet").wait_for()

    item.get_by_label("User id or group").fill("nobody-seen")
    item.get_by_role("button", name="Grant").click()
    item.get_by_role("alert").get_by_text("No user 'nobody-seen'").wait_for()

    item.get_by_label("User id or group").fill("ana")
    item.get_by_role("button", name="Grant").click()
    item.locator("[data-grant='user:ana']").wait_for()
    stored = secured_app.container.adapters.collection_store.get_collection("hr")
    assert stored is not None and [(g.kind, g.principal) for g in stored.grants] == [
        ("user", "ana")
    ]
    assert_accessible(page)

    item.locator("[data-grant='user:ana']").get_by_role("button", name="Revoke").click()
    page.locator(".collections-item[data-name=hr]").get_by_text(
        "Not granted to anyone yet"
    ).wait_for()


def test_a_users_key_is_told_the_collections_page_is_for_admins(
    page: Any, secured_app: SecuredApp
) -> None:
    sign_in(page, secured_app.url, secured_app.keys["user"])
    page.goto(f"{secured_app.url}/#/admin/collections")
    page.get_by_role("heading", level=1, name="Collections").wait_for()
    page.get_by_text("This page is for admins.").wait_for()
