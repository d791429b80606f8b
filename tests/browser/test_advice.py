"""The advice page in a real browser, against the real server on the offline model: the
structured advice as a card (advice, reasoning, alternatives, sources, confidence), follow-up
questions, feedback, refusals shown as messages, the phone layout and accessibility."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, assert_accessible, shot

QUESTION = "How often must passwords be rotated?"


def open_advice(page: Any, url: str) -> None:
    page.goto(url + "/#/advice")
    page.get_by_label("Your question").wait_for()


def ask(page: Any, question: str) -> Any:
    """Ask and wait until the card is complete; the card."""
    field = page.get_by_label("Your question")
    field.fill(question)
    page.get_by_role("button", name="Get advice").click()
    card = page.locator(".advice-card").last  # oldest first: the newest comes last
    page.wait_for_function(
        "() => !document.querySelector('.advice-card[aria-busy]')", timeout=30_000
    )
    return card


def test_advice_arrives_as_a_card_with_reasoning_sources_and_confidence(
    page: Any, app_url: str
) -> None:
    open_advice(page, app_url)
    shot(page, "advice-empty-desktop")
    assert_accessible(page)

    card = ask(page, QUESTION)

    assert card.get_by_role("heading", level=2).inner_text() == QUESTION
    advice = card.get_by_role("region", name="Advice")
    assert "compromise" in advice.inner_text()
    assert "This follows" in card.get_by_role("region", name="Reasoning").inner_text()
    sources = card.get_by_role("region", name="Sources").get_by_role("listitem")
    assert sources.count() >= 2
    assert "Password and Credential Rotation Policy" in sources.first.inner_text()
    assert re.search(r"\(\d{4}-\d{2}-\d{2}\)", sources.first.inner_text())
    assert re.search(
        r"Confidence: (very high|high|moderate|low|very low) · \d+%",
        card.locator(".chat-confidence").inner_text(),
    )
    assert "offline-extractive" in card.locator(".advice-foot").inner_text()
    assert page.get_by_label("Your question").evaluate("el => el === document.activeElement")
    shot(page, "advice-card-desktop")
    assert_accessible(page)
    # A [n] in the advice is a chip that takes the reader to that source, highlighted.
    chip = advice.locator("button.chat-cite").first
    number = chip.inner_text()
    assert chip.get_attribute("aria-label").startswith(f"Source {number}: ")
    chip.click()
    shown = card.locator(f".advice-sources li[value='{number}']")
    assert shown.evaluate("el => el === document.activeElement")
    assert "advice-source-shown" in shown.get_attribute("class")


def test_a_thread_is_kept_on_the_server_reopened_and_deleted(page: Any, app_url: str) -> None:
    """Advice cards vanished on reload or after visiting Chat, and stacked
    newest-first. A thread is kept on the server (oldest first), its follow-ups are sent as
    the new question alone (the server holds the rest), and it is listed, reopened and
    deleted like a chat."""
    sent: list[dict[str, Any]] = []
    page.on(
        "request",
        lambda request: (
            sent.append(json.loads(request.post_data or "{}"))
            if request.url.endswith("/advice") and request.method == "POST"
            else None
        ),
    )
    open_advice(page, app_url)
    ask(page, QUESTION)
    page.wait_for_url(re.compile(r"#/advice/a[0-9a-f]{24}$"))
    ask(page, "And what about service-account keys?")
    address = page.url
    thread_id = address.rsplit("/", 1)[1]
    assert [s["thread_id"] for s in sent] == [thread_id, thread_id]
    assert sent[1]["conversation"] == [
        {"role": "user", "content": "And what about service-account keys?"}
    ]
    first = page.locator(".advice-card").first  # oldest first
    assert first.get_by_role("heading", level=2).inner_text() == QUESTION
    verdict = first.locator(".advice-verdict")
    assert verdict.is_visible() and (verdict.text_content() or "").startswith("Verdict ")

    first.get_by_role("button", name="Good answer").click()
    first.get_by_text("Thanks for the feedback.").wait_for()
    recent = httpx.get(app_url + "/confidence/recent", params={"limit": 5}).json()["responses"]
    advised = [r for r in recent if r["feedback"] is not None]
    assert len(advised) == 1 and advised[0]["kind"] == "advice"
    assert advised[0]["feedback"]["outcome"] is True

    # Away to Chat and back by the thread's address: the same cards, in the same order.
    page.get_by_role("link", name="Chat", exact=True).click()
    page.get_by_label("Your question").wait_for()
    page.goto(address)
    expect(page.locator(".advice-card")).to_have_count(2)
    headings = page.locator(".advice-card h2").all_inner_texts()
    assert headings == [QUESTION, "And what about service-account keys?"]
    # The verdict given before is shown as it was left.
    reopened = page.locator(".advice-card")
    expect(reopened.first.get_by_role("button", name="Good answer")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(reopened.last.get_by_role("button", name="Good answer")).to_have_attribute(
        "aria-pressed", "false"
    )
    threads = page.get_by_role("navigation", name="Your advice threads")
    link = threads.get_by_role("link", name=QUESTION)
    assert link.get_attribute("aria-current") == "page"
    page.evaluate("window.scrollTo(0, 0)")  # the fixed header at the top of the picture
    shot(page, "advice-thread-desktop")
    assert_accessible(page)

    threads.get_by_role("link", name="New thread").click()
    expect(page.locator(".advice-card")).to_have_count(0)
    threads.get_by_role("button", name=f"Delete “{QUESTION}”").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(threads.get_by_role("link", name=QUESTION)).to_have_count(0)
    page.goto(address)
    page.get_by_text("This advice thread does not exist").wait_for()


def test_a_question_over_the_limit_is_refused_with_the_reason(page: Any, app_url: str) -> None:
    open_advice(page, app_url)
    card = ask(page, "word " * 1700)  # over MAX_MESSAGE_CHARS (8,000)
    alert = card.get_by_role("alert")
    assert "8,000" in alert.inner_text() or "8000" in alert.inner_text()
    # Nothing was given: the question is back in the field to shorten.
    assert page.get_by_label("Your question").input_value().startswith("word word")
    shot(page, "advice-refused-desktop")
    assert_accessible(page)


def test_too_many_requests_says_when_to_try_again(page: Any, limited_url: str) -> None:
    open_advice(page, limited_url)
    ask(page, QUESTION)
    card = ask(page, "Can I deploy to production on a Friday?")
    assert re.fullmatch(
        r"Too many requests just now\. Try again in \d+ seconds?\.",
        card.get_by_role("alert").inner_text(),
    )


def test_on_a_phone_the_card_fits_the_screen(new_page: Any, app_url: str) -> None:
    page = new_page(viewport=PHONE)
    open_advice(page, app_url)
    card = ask(page, QUESTION)
    assert card.get_by_role("region", name="Sources").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "advice-card-phone")
    assert_accessible(page)


def test_the_advice_stream_is_read_to_its_end(page: Any, app_url: str) -> None:
    """Leaving the stream at its `end` event cancelled the response, which the
    browser reports as a failed request (net::ERR_ABORTED)."""
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(f"{request.url} {request.failure}"))
    open_advice(page, app_url)
    card = ask(page, QUESTION)
    assert "compromise" in card.get_by_role("region", name="Advice").inner_text()
    page.wait_for_timeout(300)
    assert failed == []
