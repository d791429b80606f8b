"""A synced web page cited by an answer is shown with its URL as a link in the web app: in the
answer's list of sources and in the cited passage's dialog, opened in a new tab with
rel="noopener noreferrer", its URL set as an attribute and as text (never as markup). A
file's source has no link, and the app itself refuses any URL that is not http(s)."""

from __future__ import annotations

from typing import Any

from backend.bootstrap import Container
from tests.browser.conftest import assert_accessible, shot
from tests.browser.test_chat import ask, open_chat
from tests.conftest import wait_answer_ready
from use_cases.knowledge.ingest import IngestRequest, IngestSource

PAGE = "https://intranet.example/facilities/parking?site=north&lang=en"
TEXT = b"# Visitor parking\n\nVisitors park in bay seven, next to the loading dock.\n"


def _ingest_page(container: Container) -> None:
    """The page as a website sync stores it: its text, with its URL as the `link`."""
    read = IngestSource(source="intranet/parking", name="parking.md", read=lambda: TEXT, link=PAGE)
    report = container.knowledge.ingest.run(IngestRequest(sources=[read]))
    assert [item.status for item in report.items] == ["added"], report
    wait_answer_ready(container, report)


def test_a_cited_page_is_a_link_that_opens_in_a_new_tab(
    page: Any, app_url: str, container: Container
) -> None:
    _ingest_page(container)
    open_chat(page, app_url + "/#/chat")
    answer = ask(page, "Which bay do visitors park in?")
    assert "bay seven" in answer.locator(".chat-answer").inner_text()

    links = answer.locator("a.chat-source-link")
    assert links.count() == 1, answer.inner_html()
    link = links.first
    assert link.get_attribute("href") == PAGE
    assert link.get_attribute("rel") == "noopener noreferrer"
    assert link.get_attribute("target") == "_blank"
    # Only the page's source has one: the sample's Markdown files are listed without.
    chips = answer.locator(".chat-source-item")
    assert chips.count() == answer.locator("button.chat-source-chip").count()
    assert answer.locator(".chat-source-item:has(a.chat-source-link)").count() == 1
    assert link.get_attribute("aria-label") == (
        "Open the page: Visitor parking (opens in a new tab)"
    )
    shot(page, "chat-page-link-desktop")
    assert_accessible(page)

    answer.locator(".chat-source-item:has(a.chat-source-link) button.chat-source-chip").click()
    dialog = page.locator("dialog[open]")
    in_dialog = dialog.locator("a.chat-page-link")
    in_dialog.wait_for()
    assert in_dialog.get_attribute("href") == PAGE
    assert in_dialog.inner_text() == PAGE  # the URL as text: "&" shown, not markup
    assert in_dialog.get_attribute("rel") == "noopener noreferrer"


def test_the_app_renders_only_http_and_https_links(page: Any, app_url: str) -> None:
    open_chat(page, app_url + "/#/chat")
    checked = page.evaluate(
        """async () => {
            const { webLink } = await import('/app/js/chat/sources.js');
            return [
                'https://intranet.example/a', 'HTTP://intranet.example/b',
                'javascript:alert(1)', ' javascript:alert(1)', 'data:text/html,x',
                'file:///etc/passwd', '//intranet.example/c', 'https://', null, 7,
            ].map((value) => webLink(value));
        }"""
    )
    assert checked == [
        "https://intranet.example/a",
        "HTTP://intranet.example/b",
        *([None] * 8),
    ]
