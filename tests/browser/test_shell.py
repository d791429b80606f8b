"""The app's shell in a real browser: signing in, the navigation by role, the page policy,
the phone layout and the weight of the chat page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from backend.api.app import create_app
from backend.bootstrap import bootstrap
from tests.browser.conftest import PHONE, SecuredApp, assert_accessible, run_async, shot, sign_in
from tests.conftest import FixedClock, make_settings
from tests.live_server import serve
from use_cases.access.domain import CLI_ADMIN

CHAT_PAGE_BUDGET = 200_000  # bytes: the bar for loading the chat page


def nav_links(page: Any) -> list[str]:
    return page.locator("#site-nav a").all_inner_texts()


def test_development_mode_opens_the_app_without_signing_in(page: Any, app_url: str) -> None:
    page.goto(app_url + "/")
    page.locator(".session .who").wait_for()
    assert page.locator(".session .who").inner_text().startswith("default")
    assert nav_links(page) == [
        "Chat",
        "Advice",
        "Documents",
        "Tables",
        "Sources",
        "Collections",
        "Calibration",
        "Evaluation",
        "Cleaning",
        "Prompts & models",
    ]
    assert page.get_by_role("button", name="Sign out").count() == 0  # no keys, nothing to end
    shot(page, "shell-desktop")
    assert_accessible(page)


def test_the_page_allows_only_its_own_files(app_url: str) -> None:
    response = httpx.get(app_url + "/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert (
        httpx.get(app_url + "/app/js/main.js").headers["content-type"].startswith("text/javascript")
    )


def test_a_wrong_key_is_refused_and_a_user_sees_no_admin_pages(
    page: Any, secured_app: SecuredApp
) -> None:
    page.goto(secured_app.url + "/")
    page.get_by_label("API key").wait_for()
    assert nav_links(page) == []  # nothing to go to before signing in
    page.get_by_label("API key").fill("alm_wrong")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("That key was not accepted.").wait_for()
    shot(page, "shell-sign-in-refused")
    assert_accessible(page)

    page.get_by_label("API key").fill(secured_app.keys["user"])
    page.get_by_role("button", name="Sign in").click()
    page.locator(".session .who").wait_for()
    assert nav_links(page) == ["Chat", "Advice"]
    # The key is not kept by the page: the browser holds an HttpOnly session cookie instead,
    # which scripts cannot read.
    assert page.evaluate("sessionStorage.getItem('almanac.key')") is None
    assert page.evaluate("localStorage.length") == 0
    assert page.evaluate("document.cookie") == ""
    [cookie] = page.context.cookies()
    assert cookie["name"] == "almanac_session" and cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict" and secured_app.keys["user"] not in cookie["value"]

    page.goto(secured_app.url + "/#/admin/documents")
    page.get_by_text("This page is for admins.").wait_for()


def test_without_an_openid_provider_the_sign_in_page_offers_keys_only(
    page: Any, secured_app: SecuredApp
) -> None:
    with page.expect_response(re.compile(r"/api/auth/status$")) as status:
        page.goto(secured_app.url + "/")
    assert status.value.json()["login_available"] is False
    page.get_by_label("API key").wait_for()
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("link", name="Sign in with Google").count() == 0


@pytest.fixture
def provider_app(data_dir: Path) -> Iterator[str]:
    """The app with keys and an OpenID Connect provider set up (never reached here: the
    browser only has to be offered the way to it; tests/e2e/test_oidc_sign_in.py signs in)."""
    settings = make_settings(
        data_dir,
        auth_enabled=True,
        oidc_client_id="almanac-test",
        oidc_client_secret="almanac-test-secret",
        oidc_issuer="http://127.0.0.1:9",
        oidc_allowed_domains="example.org",
    )
    container = bootstrap(settings, clock=FixedClock())
    try:
        with serve(create_app(container=container)) as url:
            yield url
    finally:
        container.close()


def test_with_an_openid_provider_the_sign_in_page_offers_google(
    page: Any, provider_app: str
) -> None:
    page.goto(provider_app + "/#/advice")
    link = page.get_by_role("link", name="Sign in with Google")
    link.wait_for()
    # To the provider through /api/auth/login, coming back to the page asked for.
    assert link.get_attribute("href") == "/api/auth/login?next=%2F%23%2Fadvice"
    expect(page.get_by_label("API key")).to_be_visible()  # keys still sign in
    assert_accessible(page)
    shot(page, "shell-sign-in-provider")


def test_an_admin_sees_every_page_and_signing_out_forgets_the_key(
    page: Any, secured_app: SecuredApp
) -> None:
    sign_in(page, secured_app.url, secured_app.keys["admin"])
    assert "Documents" in nav_links(page) and "Evaluation" in nav_links(page)
    assert page.locator(".session .badge").inner_text() == "admin"
    page.get_by_role("link", name="Chat", exact=True).click()
    chat_id = httpx.post(
        secured_app.url + "/chat",
        json={"message": "How often must passwords be rotated?"},
        headers={"Authorization": f"Bearer {secured_app.keys['admin']}"},
        timeout=60,
    ).json()["chat_id"]
    page.goto(f"{secured_app.url}/#/chat/{chat_id}")
    page.locator(".chat-user-text").first.wait_for()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("API key").wait_for()
    assert page.evaluate("sessionStorage.getItem('almanac.key')") is None
    assert page.context.cookies() == []  # the session ended (and on the server: e2e tests)
    assert nav_links(page) == []
    # The next person starts at a new chat, not at the previous person's chat.
    page.get_by_label("API key").fill(secured_app.keys["user"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", level=1, name="New chat").wait_for()
    assert chat_id not in page.url


def test_a_sign_in_lasts_in_every_tab_until_signing_out_in_one(
    page: Any, secured_app: SecuredApp
) -> None:
    sign_in(page, secured_app.url, secured_app.keys["user"])
    second = page.context.new_page()  # another tab of the same browser: no key to paste
    try:
        second.goto(secured_app.url + "/#/advice")
        second.locator(".session .who").wait_for()
        assert second.locator(".session .who").inner_text().startswith("ana")
        page.get_by_role("button", name="Sign out").click()
        page.get_by_label("API key").wait_for()
        second.reload()  # the other tab is signed out as well
        second.get_by_label("API key").wait_for()
    finally:
        second.close()


def test_a_revoked_key_sends_the_reader_back_to_signing_in(
    page: Any, secured_app: SecuredApp
) -> None:
    sign_in(page, secured_app.url, secured_app.keys["user"])
    # The chat page has loaded what it asks for at once (its chats and models): the key is
    # revoked while the reader is idle, not under a request in flight.
    page.get_by_text("No chats yet. Ask a question to start one.").wait_for()
    expect(page.locator("#chat-model option").first).to_be_attached()
    revoke = secured_app.container.access.revoke_key.execute(CLI_ADMIN, secured_app.key_ids["user"])
    run_async(revoke)
    page.get_by_role("link", name="Advice").click()  # its list of advice threads: a 401
    page.get_by_text(
        "Your sign-in has ended (signed out, expired, or the key was revoked). Sign in again."
    ).wait_for()
    assert page.evaluate("sessionStorage.getItem('almanac.key')") is None

    # A key that is not accepted when the page loads asks for a key too.
    page.evaluate("sessionStorage.setItem('almanac.key', 'alm_unknown')")
    page.reload()
    page.get_by_label("API key").wait_for()


def test_on_a_phone_the_navigation_folds_behind_a_menu_button(new_page: Any, app_url: str) -> None:
    page = new_page(viewport=PHONE)
    page.goto(app_url + "/")
    page.locator(".session .who").wait_for()
    links = page.locator("#site-nav")
    assert not links.is_visible()
    menu = page.get_by_role("button", name="Menu")
    assert menu.get_attribute("aria-expanded") == "false"
    menu.click()
    expect(links).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "true")
    shot(page, "shell-phone-menu")
    page.get_by_role("link", name="Advice").click()
    # The menu folds when the route changes (a hashchange handler: not synchronous with the
    # click), so wait for it as a user would see it.
    expect(links).to_be_hidden()
    expect(menu).to_have_attribute("aria-expanded", "false")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "the page scrolls sideways on a phone"


def test_the_keyboard_reaches_the_content_first(page: Any, app_url: str) -> None:
    page.goto(app_url + "/")
    page.locator(".session .who").wait_for()
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    assert skip.evaluate("el => el === document.activeElement")


def test_an_unknown_page_says_so(page: Any, app_url: str) -> None:
    page.goto(app_url + "/#/nowhere")
    page.get_by_role("heading", name="Page not found").wait_for()


def test_the_chat_page_loads_under_200_kb(page: Any, app_url: str) -> None:
    page.goto(app_url + "/#/chat")
    page.locator(".session .who").wait_for()
    page.wait_for_load_state("networkidle")
    total = page.evaluate(
        """() => {
            const entries = [...performance.getEntriesByType('navigation'),
                             ...performance.getEntriesByType('resource')];
            return entries.reduce((sum, e) => sum + (e.decodedBodySize || 0), 0);
        }"""
    )
    assert 0 < total < CHAT_PAGE_BUDGET, f"the chat page loads {total} bytes"
    # ... and travels compressed: the scripts and styles arrive gzipped, in a fraction
    sizes = page.evaluate(
        """() => performance.getEntriesByType('resource')
            .filter((e) => /\\.(js|css)$/.test(e.name))
            .map((e) => [e.encodedBodySize, e.decodedBodySize])"""
    )
    encoded, decoded = sum(e for e, _ in sizes), sum(d for _, d in sizes)
    assert len(sizes) >= 8 and 0 < encoded < decoded / 2, sizes


def test_the_theme_follows_the_system_and_a_chosen_one_is_remembered(
    new_page: Any, app_url: str
) -> None:
    """Dark mode following prefers-color-scheme, with a toggle that is remembered;
    every page stays accessible (axe-core, contrast included) in the dark theme."""
    page = new_page(color_scheme="dark")
    page.goto(app_url + "/#/chat")
    page.get_by_label("Your question").wait_for()

    def background() -> str:
        return page.evaluate("getComputedStyle(document.body).backgroundColor")

    assert background() == "rgb(13, 17, 23)"  # the system says dark
    toggle = page.get_by_role("button", name=re.compile("^Colour theme"))
    assert toggle.inner_text() == "Theme: system"
    composer = page.get_by_label("Your question")
    composer.fill("How often must passwords be rotated?")
    composer.press("Enter")
    page.locator(".chat-confidence").wait_for()
    assert_accessible(page)  # an answer's chips, badge and buttons, in the dark theme
    shot(page, "chat-answer-dark")
    for route, heading in [("advice", "Advice"), ("admin/calibration", "Calibration")]:
        page.goto(f"{app_url}/#/{route}")
        page.get_by_role("heading", level=1, name=heading).wait_for()
        assert_accessible(page)

    toggle.click()
    assert toggle.inner_text() == "Theme: light" and background() == "rgb(246, 247, 249)"
    page.reload()
    page.get_by_role("heading", level=1).first.wait_for()
    assert background() == "rgb(246, 247, 249)"  # remembered
    toggle = page.get_by_role("button", name=re.compile("^Colour theme"))
    toggle.click()
    assert toggle.inner_text() == "Theme: dark" and background() == "rgb(13, 17, 23)"
    toggle.click()
    assert toggle.inner_text() == "Theme: system" and background() == "rgb(13, 17, 23)"
