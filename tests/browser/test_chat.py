"""The chat page in a real browser, against the real server on the offline model and the
bundled sample: streamed answers with citation chips, the cited passage, confidence and
feedback, stopping a stream, the chats sidebar, history, HTML in documents shown as text,
errors, the phone layout and accessibility."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from backend.api.app import create_app
from backend.bootstrap import bootstrap
from backend.config import ChatSettings
from tests.browser.conftest import PHONE, SecuredApp, assert_accessible, shot, sign_in
from tests.conftest import FixedClock, container_with_models, make_settings
from tests.fakes import streamed
from tests.live_server import serve

QUESTION = "How often must passwords be rotated?"


def ask(page: Any, question: str) -> Any:
    """Type a question, press Enter, and wait for its answer to end; the answer's element."""
    composer = page.get_by_label("Your question")
    composer.fill(question)
    composer.press("Enter")
    answer = page.locator(".chat-turn-assistant").last
    page.wait_for_function(
        "() => !document.querySelector('.chat-turn-assistant[aria-busy]')", timeout=30_000
    )
    return answer


def open_chat(page: Any, url: str) -> None:
    page.goto(url)
    page.get_by_label("Your question").wait_for()
    page.locator(".chat-list-status").first.wait_for(state="attached")


def test_a_question_streams_an_answer_with_citation_chips_and_confidence(
    page: Any, app_url: str
) -> None:
    open_chat(page, app_url + "/#/chat")
    shot(page, "chat-empty-desktop")
    assert_accessible(page)

    answer = ask(page, QUESTION)

    assert "compromise" in answer.locator(".chat-answer").inner_text()
    chips = answer.locator(".chat-answer button.chat-cite")
    assert chips.count() >= 2
    assert "**Sources**" not in answer.inner_text()  # the Sources block became chips
    sources = answer.get_by_role("list").last.locator("button.chat-source-chip")
    assert sources.count() >= 2
    assert "Password and Credential Rotation Policy" in sources.first.inner_text()
    assert re.search(
        r"Confidence: (very high|high|moderate|low|very low) · \d+%",
        answer.locator(".chat-confidence").inner_text(),
    )
    # The chat exists now: its address names it, and it is in the sidebar.
    assert re.search(r"#/chat/c[0-9a-f]{24}$", page.url)
    assert page.locator(".chat-list-link").first.inner_text() == QUESTION
    assert page.get_by_role("heading", level=1).inner_text() == QUESTION
    assert page.get_by_label("Your question").evaluate("el => el === document.activeElement")
    shot(page, "chat-answer-desktop")
    assert_accessible(page)


def test_a_citation_opens_the_cited_passage_with_its_document_section_and_date(
    page: Any, app_url: str
) -> None:
    open_chat(page, app_url + "/#/chat")
    answer = ask(page, QUESTION)
    chip = answer.locator(".chat-answer button.chat-cite").first
    number = chip.inner_text()
    chip.click()

    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert dialog.get_by_role("heading", level=2).inner_text() == (
        "Password and Credential Rotation Policy"
    )
    facts = dialog.locator(".chat-facts").inner_text()
    assert "policies/password-policy-2025.md" in facts
    assert re.search(r"Section\s+\S", facts)
    assert "Current version, supersedes" in dialog.inner_text()
    passage = dialog.locator(".chat-passage")
    passage.get_by_text(re.compile(r"\w")).first.wait_for()
    page.wait_for_function("() => !document.querySelector('.chat-passage [role=status]')")
    cited_section = answer.locator(f".chat-source-chip:has(.chat-cite-n:text-is('{number}'))")
    assert cited_section.count() == 1
    assert len(passage.inner_text()) > 40
    # What the answer quotes from this passage is highlighted: the first quoted sentence's
    # words are in the highlighted block.
    quoted = passage.locator(".quoted")
    expect(quoted.first).to_be_visible()
    dialog.get_by_text("Highlighted: what the answer quotes.").wait_for()
    first_quote = answer.locator(".chat-answer").inner_text().split(".")[0]
    words = set(re.findall(r"[a-z0-9]{3,}", first_quote.lower()))
    held = set(re.findall(r"[a-z0-9]{3,}", quoted.first.inner_text().lower()))
    assert len(words & held) >= 0.6 * len(words), (first_quote, quoted.first.inner_text())
    shot(page, "chat-source-dialog-desktop")
    assert_accessible(page)

    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    assert chip.evaluate("el => el === document.activeElement")  # focus went back


def test_feedback_is_posted_for_that_answer_and_can_be_changed(page: Any, app_url: str) -> None:
    open_chat(page, app_url + "/#/chat")
    answer = ask(page, QUESTION)
    good = answer.get_by_role("button", name="Good answer")
    wrong = answer.get_by_role("button", name="Wrong answer")

    good.click()
    answer.get_by_text("Thanks for the feedback.").wait_for()
    assert good.get_attribute("aria-pressed") == "true"
    assert wrong.get_attribute("aria-pressed") == "false"
    recent = httpx.get(app_url + "/confidence/recent", params={"limit": 5}).json()["responses"]
    assert recent[0]["feedback"]["outcome"] is True

    wrong.click()
    answer.get_by_text("Feedback changed.").wait_for()
    assert wrong.get_attribute("aria-pressed") == "true"
    assert good.get_attribute("aria-pressed") == "false"
    recent = httpx.get(app_url + "/confidence/recent", params={"limit": 5}).json()["responses"]
    assert len(recent) == 1 and recent[0]["feedback"]["outcome"] is False
    # A thumbs-down asks what was wrong; the note goes with the verdict.
    note = answer.get_by_label("What was wrong? (optional)")
    expect(note).to_be_focused()
    assert_accessible(page)
    note.fill("It cites the 2023 policy.")
    answer.get_by_role("button", name="Send").click()
    answer.get_by_text("Thanks: what was wrong is noted.").wait_for()
    expect(note).to_be_hidden()
    recent = httpx.get(app_url + "/confidence/recent", params={"limit": 5}).json()["responses"]
    assert recent[0]["feedback"]["outcome"] is False
    assert recent[0]["feedback"]["notes"] == "It cites the 2023 policy."

    # Opened again, the chat shows the answer as it was given, with the verdict.
    page.reload()
    answer = page.locator(".chat-turn-assistant").last
    answer.locator(".chat-confidence").wait_for()
    assert answer.locator(".chat-answer button.chat-cite").count() >= 2
    assert answer.get_by_role("button", name="Wrong answer").get_attribute("aria-pressed") == "true"
    assert page.locator(".chat-turn-user .chat-user-text").inner_text() == QUESTION

    # Undo takes the verdict back: the answer is unrated again, here and on the server.
    answer.get_by_role("button", name="Undo").click()
    answer.get_by_text("Feedback withdrawn.").wait_for()
    expect(answer.get_by_role("button", name="Wrong answer")).to_have_attribute(
        "aria-pressed", "false"
    )
    expect(answer.get_by_role("button", name="Undo")).to_be_hidden()
    recent = httpx.get(app_url + "/confidence/recent", params={"limit": 5}).json()["responses"]
    assert recent[0]["feedback"] is None
    # ... as does pressing the pressed thumb again
    good = answer.get_by_role("button", name="Good answer")
    good.click()
    answer.get_by_text("Thanks for the feedback.").wait_for()
    good.click()
    answer.get_by_text("Feedback withdrawn.").wait_for()
    expect(good).to_have_attribute("aria-pressed", "false")
    recent = httpx.get(app_url + "/confidence/recent", params={"limit": 5}).json()["responses"]
    assert recent[0]["feedback"] is None


def test_two_chats_keep_their_own_history_and_can_be_renamed_and_deleted(
    page: Any, app_url: str
) -> None:
    open_chat(page, app_url + "/#/chat")
    ask(page, QUESTION)
    first_url = page.url
    page.get_by_role("link", name="New chat").click()
    page.get_by_role("heading", name="New chat").wait_for()
    ask(page, "What is the acknowledgement time for a SEV1 incident?")
    second_url = page.url
    assert first_url != second_url

    # Retrying assertions: the page swaps the old chat's turns for the new ones after the
    # address changes, so a one-shot read can catch the old or the emptied list.
    expect(page.locator(".chat-list-link")).to_have_text(
        ["What is the acknowledgement time for a SEV1 incident?", QUESTION]
    )
    page.get_by_role("link", name=QUESTION, exact=True).click()
    page.wait_for_url(first_url)
    expect(page.locator(".chat-user-text")).to_have_text([QUESTION])
    current = page.get_by_role("link", name=QUESTION, exact=True)
    assert current.get_attribute("aria-current") == "page"

    # Rename the open chat: the dialog, then the heading and the sidebar follow.
    page.get_by_role("button", name=f"Rename “{QUESTION}”").click()
    dialog = page.get_by_role("dialog", name="Rename chat")
    assert_accessible(page)
    dialog.get_by_label("Title").fill("Password rotation")
    dialog.get_by_role("button", name="Save").click()
    page.get_by_role("heading", level=1, name="Password rotation").wait_for()
    assert page.get_by_role("link", name="Password rotation", exact=True).is_visible()
    titles = [c["title"] for c in httpx.get(app_url + "/chats").json()]
    assert "Password rotation" in titles

    # Download it as Markdown: the server's export, under the title's name.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download “Password rotation” as Markdown").click()
    assert download.value.suggested_filename == "password-rotation.md"
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert exported.startswith("# Password rotation\n") and f"\n{QUESTION}\n" in exported

    # Delete the other chat: asked first; cancelling keeps it.
    sev1 = "What is the acknowledgement time for a SEV1 incident?"
    page.get_by_role("button", name=f"Delete “{sev1}”").click()
    confirm = page.get_by_role("dialog", name="Delete this chat?")
    confirm.get_by_role("button", name="Cancel").click()
    assert len(httpx.get(app_url + "/chats").json()) == 2
    page.get_by_role("button", name=f"Delete “{sev1}”").click()
    confirm.get_by_role("button", name="Delete").click()
    page.get_by_role("link", name=sev1, exact=True).wait_for(state="detached")
    assert [c["title"] for c in httpx.get(app_url + "/chats").json()] == ["Password rotation"]
    shot(page, "chat-after-rename-delete-desktop")

    # Deleting the open chat goes back to a new chat.
    page.get_by_role("button", name="Delete “Password rotation”").click()
    confirm.get_by_role("button", name="Delete").click()
    page.get_by_role("heading", level=1, name="New chat").wait_for()
    assert httpx.get(app_url + "/chats").json() == []


def test_a_table_citation_shows_the_rows_the_answer_read_and_its_query(
    page: Any, app_url: str
) -> None:
    open_chat(page, app_url + "/#/chat")
    answer = ask(page, "Who is the manager of Fleur Janssen?")
    expect(answer.locator(".chat-answer")).to_contain_text("Ifeoma Adeyemi")
    answer.locator(".chat-answer button.chat-cite", has_text="table").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("heading", name="Rows the answer read").wait_for()
    table = dialog.locator(".chat-passage table")
    expect(table.locator("tbody tr").first).to_be_visible()
    assert "Ifeoma Adeyemi" in table.inner_text()
    query = dialog.locator("details.chat-sql")
    assert not query.locator("pre").is_visible()  # the SQL is behind a disclosure
    query.locator("summary").click()
    expect(query.locator("pre")).to_contain_text("SELECT")
    assert_accessible(page)
    shot(page, "chat-table-citation-desktop")


def test_the_chat_list_is_searched_by_title_and_message(page: Any, app_url: str) -> None:
    for question in (QUESTION, "Who leads Site Reliability?", "How do I request a new laptop?"):
        assert httpx.post(app_url + "/chat", json={"message": question}, timeout=30).is_success
    open_chat(page, app_url + "/#/chat")
    expect(page.locator(".chat-list-link")).to_have_count(3)
    search = page.get_by_role("searchbox", name="Search chats")
    search.fill("COMPROMISE")  # in the rotation answer only, not in any title
    expect(page.locator(".chat-list-link")).to_have_count(1)
    found = page.locator(".chat-list-link").first
    expect(found).to_contain_text(QUESTION)
    expect(found.locator(".chat-list-match")).to_contain_text("compromise")
    page.get_by_role("heading", name="Search results").wait_for()
    page.get_by_text("1 chat matches “COMPROMISE”.").wait_for()
    assert_accessible(page)
    shot(page, "chat-search-desktop")
    search.fill("xylophone zebra")  # no word and no meaning in common with any chat
    page.get_by_text("No chats match “xylophone zebra”.").wait_for()
    expect(page.locator(".chat-list-link")).to_have_count(0)
    search.press("Escape")  # the whole list again
    expect(page.locator(".chat-list-link")).to_have_count(3)
    page.get_by_role("heading", name="Recent chats").wait_for()
    search.fill("reliability kubernetes")  # hybrid search: any word, or the meaning
    expect(page.locator(".chat-list-link").first.locator(".chat-list-match")).to_have_text(
        "Who leads Site Reliability?"  # the title, and the question that holds the word
    )
    page.locator(".chat-list-link").first.click()
    expect(page.locator(".chat-user-text")).to_have_text(["Who leads Site Reliability?"])


def test_an_unknown_chat_says_so(page: Any, app_url: str) -> None:
    page.goto(app_url + "/#/chat/no-such-chat")
    page.get_by_role("heading", name="Chat not found").wait_for()
    assert page.get_by_role("alert").get_by_role("link", name="Start a new chat").is_visible()
    assert_accessible(page)


DOCUMENT = b"""---
title: Visitor Badge Policy
updated: 2025-05-01
---
# Visitor Badge Policy

## Returning badges

Visitor badges must be returned to reception before leaving the building \
<img src=x onerror="document.title='pwned'"> and lost badges are reported \
<script>document.title='pwned'</script> to security within one day.
"""


def test_html_in_a_document_is_shown_as_text_and_never_runs(page: Any, app_url: str) -> None:
    uploaded = httpx.post(
        app_url + "/api/documents",
        files={"file": ("visitor-badges.md", DOCUMENT, "text/markdown")},
    )
    assert uploaded.status_code == 201, uploaded.text
    open_chat(page, app_url + "/#/chat")
    answer = ask(page, "When must visitor badges be returned?")

    text = answer.locator(".chat-answer").inner_text()
    assert "<img src=x onerror=\"document.title='pwned'\">" in text
    assert "<script>document.title='pwned'</script>" in text
    shot(page, "chat-html-as-text-desktop")
    # The answer may cite other documents too (the offboarding rule on returning devices).
    answer.locator(".chat-answer button.chat-cite[title*='Visitor Badge']").first.click()
    passage = page.locator(".chat-passage")
    passage.get_by_text("Visitor badges must be returned").wait_for()
    assert "<script>document.title='pwned'</script>" in passage.inner_text()

    assert page.locator("#view img, #view script, #view iframe").count() == 0
    assert page.title() != "pwned"


def test_the_markdown_renderer_builds_only_safe_nodes(page: Any, app_url: str) -> None:
    open_chat(page, app_url + "/#/chat")
    rendered = page.evaluate(
        """async () => {
            const { renderMarkdown, loadMarkdown } = await import('/app/js/markdown.js');
            await loadMarkdown();
            const box = document.createElement('div');
            box.append(renderMarkdown([
                '# Title <b>x</b>',
                'A **bold** and *italic* `<code>` <img src=x onerror=alert(1)>',
                '[safe](https://example.com/a) [relative](/docs) [bad](javascript:alert(1))',
                '[data](data:text/html,<script>alert(1)</script>) [spaced](java\\tscript:x)',
                '',
                '- one',
                '- two [2]',
                '',
                '1. first',
                '2. second',
                '',
                '```',
                '<script>alert(1)</script>',
                '```',
                '',
                '| a | b |',
                '|---|---|',
                '| <i>c</i> | d |',
            ].join('\\n'), { cite: (keys) => {
                const b = document.createElement('button');
                b.textContent = 'cite ' + keys;
                return b;
            } }));
            const all = [...box.querySelectorAll('*')];
            return {
                tags: all.map((el) => el.tagName.toLowerCase()),
                links: [...box.querySelectorAll('a')].map(
                    (a) => [a.textContent, a.getAttribute('href'), a.rel]),
                text: box.textContent,
                attributes: all.flatMap((el) => [...el.attributes].map((a) => a.name)),
            };
        }"""
    )
    allowed = {
        "h3",
        "p",
        "strong",
        "em",
        "code",
        "a",
        "br",
        "ul",
        "ol",
        "li",
        "pre",
        "button",
        "div",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    }
    assert set(rendered["tags"]) <= allowed, rendered["tags"]
    assert not {"img", "script", "b", "i", "iframe"} & set(rendered["tags"])
    assert not any(name.startswith("on") for name in rendered["attributes"])
    assert rendered["links"] == [
        ["safe", "https://example.com/a", "noopener noreferrer"],
        ["relative", "/docs", "noopener"],
    ]
    for literal in (
        "<b>x</b>",
        "<img src=x onerror=alert(1)>",
        "<script>alert(1)</script>",
        "<i>c</i>",
        "[bad](javascript:alert(1))",
        "cite 2",
    ):
        assert literal in rendered["text"], literal


def test_the_markdown_renderer_reads_commonmark_and_keeps_arithmetic_as_written(
    page: Any, app_url: str
) -> None:
    """The hand-written renderer italicised the 3 of `2*3*4` and knew no setext
    headings, reference links, autolinks, strikethrough or task lists (markdown-it now)."""
    open_chat(page, app_url + "/#/chat")
    rendered = page.evaluate(
        """async () => {
            const { renderMarkdown, loadMarkdown } = await import('/app/js/markdown.js');
            await loadMarkdown();
            const box = document.createElement('div');
            box.append(renderMarkdown([
                'Setext title',
                '============',
                '',
                'Volume is 2*3*4 = 24 m³; **bold** and *italic* still work.',
                'See [the guide][guide], <https://example.com/auto> and ~~old~~ text [1].',
                '',
                '- [x] backed up',
                '- [ ] restored',
                '',
                '[guide]: https://example.com/guide',
            ].join('\\n'), { cite: (keys) => {
                const b = document.createElement('button');
                b.textContent = 'cite ' + keys;
                return b;
            } }));
            return {
                heading: box.querySelector('h3')?.textContent,
                em: [...box.querySelectorAll('em')].map((e) => e.textContent),
                strong: [...box.querySelectorAll('strong')].map((e) => e.textContent),
                struck: [...box.querySelectorAll('s')].map((e) => e.textContent),
                links: [...box.querySelectorAll('a')].map(
                    (a) => [a.textContent, a.getAttribute('href')]),
                tasks: [...box.querySelectorAll('li input[type=checkbox]')].map(
                    (i) => [i.checked, i.disabled, i.parentElement.textContent]),
                cites: [...box.querySelectorAll('button')].map((b) => b.textContent),
                text: box.textContent,
            };
        }"""
    )
    assert rendered["heading"] == "Setext title"
    assert "2*3*4 = 24" in rendered["text"]
    assert rendered["em"] == ["italic"]
    assert rendered["strong"] == ["bold"]
    assert rendered["struck"] == ["old"]
    assert rendered["links"] == [
        ["the guide", "https://example.com/guide"],
        ["https://example.com/auto", "https://example.com/auto"],
    ]
    assert rendered["tasks"] == [[True, True, "backed up"], [False, True, "restored"]]
    assert rendered["cites"] == ["cite 1"]
    assert "[guide]:" not in rendered["text"]


class SlowModel:
    """Streams a word every 50 ms (about 20 s in all): long enough to be stopped."""

    def __init__(self) -> None:
        self.closed = False

    async def stream(self, messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        try:
            for n in range(400):
                yield f"word{n} "
                await asyncio.sleep(0.05)
        finally:
            self.closed = True


@pytest.fixture
def slow() -> SlowModel:
    return SlowModel()


@pytest.fixture
def slow_url(data_dir: Path, slow: SlowModel) -> Iterator[str]:
    """The app whose chat turns stream from the slow model (the admin's default for chat)."""
    model = FunctionModel(stream_function=slow.stream)
    with (
        container_with_models(data_dir, {"test:slow": model}) as container,
        serve(create_app(container=container)) as url,
    ):
        chosen = httpx.put(url + "/api/llm-defaults/chat", json={"model": "test:slow"})
        assert chosen.status_code == 200, chosen.text
        yield url


def test_a_streaming_answer_can_be_stopped_and_is_kept_as_interrupted(
    page: Any, slow_url: str, slow: SlowModel
) -> None:
    open_chat(page, slow_url + "/#/chat")
    composer = page.get_by_label("Your question")
    composer.fill("Tell me everything")
    composer.press("Enter")
    answer = page.locator(".chat-turn-assistant").last
    answer.get_by_text("word5").wait_for()  # streamed, not all at once
    stop = page.get_by_role("button", name="Stop")
    assert page.get_by_role("button", name="Send").count() == 0  # Stop takes its place
    shot(page, "chat-streaming-desktop")
    stop.click()

    answer.get_by_text("Stopped", exact=True).wait_for()
    page.get_by_role("button", name="Send").wait_for()
    assert answer.get_attribute("aria-busy") is None
    chat_id = page.url.rsplit("/", 1)[1]
    deadline = 50
    while deadline and not slow.closed:  # the server closes the model stream at once
        page.wait_for_timeout(100)
        deadline -= 1
    assert slow.closed
    stored = httpx.get(f"{slow_url}/chats/{chat_id}/messages").json()["messages"][-1]
    assert stored["status"] == "interrupted" and stored["content"].startswith("word0 word1")
    assert stored["response_id"] is None

    page.reload()  # the stored turn says so too
    page.locator(".chat-turn-assistant").get_by_text("Stopped", exact=True).wait_for()
    assert "word0 word1" in page.locator(".chat-answer").inner_text()


def test_a_refused_question_says_why_and_when_to_try_again(page: Any, limited_url: str) -> None:
    open_chat(page, limited_url + "/#/chat")
    ask(page, QUESTION)
    answer = ask(page, "And for service accounts?")

    alert = answer.get_by_role("alert")
    assert re.fullmatch(
        r"Too many requests just now\. Try again in \d+ seconds?\.", alert.inner_text()
    )
    # Nothing was stored: the question is back in the composer, to send again later.
    assert page.get_by_label("Your question").input_value() == "And for service accounts?"
    shot(page, "chat-rate-limited-desktop")
    assert_accessible(page)


def test_an_answer_complete_before_markdown_it_arrives_stays_busy_until_its_chips_show(
    new_page: Any, app_url: str
) -> None:
    """markdown-it is fetched with the first answer; an offline answer can be complete first.
    The turn stays busy until its text is Markdown with citation chips, so whoever waits for
    the answer (a screen reader, a test) never sees the plain-text stand-in as the end."""
    page = new_page()
    held: list[Any] = []

    def hold(route: Any) -> None:
        held.append(route)  # answered below, not now

    page.route("**/vendor/markdown-it.min.js", hold)
    open_chat(page, app_url + "/#/chat")
    composer = page.get_by_label("Your question")
    composer.fill(QUESTION)
    composer.press("Enter")
    answer = page.locator(".chat-turn-assistant").last
    answer.locator(".chat-confidence").wait_for()  # the answer is complete
    assert held, "markdown-it was not requested with the first answer"
    assert answer.get_attribute("aria-busy") == "true"
    assert answer.locator("button.chat-cite").count() == 0

    for route in held:
        route.continue_()
    page.wait_for_function(
        "() => !document.querySelector('.chat-turn-assistant[aria-busy]')", timeout=30_000
    )
    assert answer.locator("button.chat-cite").count() >= 2
    assert answer.locator(".md-pending").count() == 0


def test_on_a_phone_the_chats_fold_away_and_nothing_scrolls_sideways(
    new_page: Any, app_url: str
) -> None:
    page = new_page(viewport=PHONE)
    open_chat(page, app_url + "/#/chat")
    sidebar = page.get_by_role("complementary", name="Your chats")
    toggle = page.get_by_role("button", name="Chats")
    assert not sidebar.is_visible()
    shot(page, "chat-empty-phone")
    answer = ask(page, QUESTION)
    assert answer.locator("button.chat-cite").count() >= 2
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    composer = page.get_by_label("Your question")
    box = composer.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"]  # pinned in view
    shot(page, "chat-answer-phone")
    assert_accessible(page)

    toggle.click()
    assert sidebar.is_visible() and toggle.get_attribute("aria-expanded") == "true"
    assert page.get_by_role("link", name=QUESTION, exact=True).is_visible()
    shot(page, "chat-sidebar-phone")
    answer.locator("button.chat-cite").first.click()
    page.get_by_role("dialog").get_by_text("Cited passage").wait_for()
    page.wait_for_function("() => !document.querySelector('.chat-passage [role=status]')")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "chat-source-dialog-phone")


def test_shift_enter_starts_a_new_line_and_enter_sends(page: Any, app_url: str) -> None:
    open_chat(page, app_url + "/#/chat")
    composer = page.get_by_label("Your question")
    composer.type("How often must passwords")
    composer.press("Shift+Enter")
    composer.type("be rotated?")
    assert composer.input_value() == "How often must passwords\nbe rotated?"
    assert page.locator(".chat-turn-user").count() == 0
    composer.press("Enter")
    page.locator(".chat-turn-assistant .chat-confidence").wait_for()
    assert page.locator(".chat-user-text").inner_text() == "How often must passwords\nbe rotated?"
    assert composer.input_value() == ""


def test_with_keys_each_user_chats_with_their_own_key_and_sees_only_their_chats(
    new_page: Any, secured_app: SecuredApp
) -> None:
    ana = new_page()
    sign_in(ana, secured_app.url, secured_app.keys["user"])
    ana.get_by_label("Your question").wait_for()
    answer = ask(ana, QUESTION)
    answer.get_by_role("button", name="Good answer").click()
    answer.get_by_text("Thanks for the feedback.").wait_for()
    chat_url = ana.url

    bob = new_page()
    sign_in(bob, secured_app.url, secured_app.keys["other"])
    bob.get_by_text("No chats yet.", exact=False).wait_for()
    bob.goto(chat_url)
    bob.get_by_role("heading", name="Chat not found").wait_for()


async def _echo(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
    yield "The echo model answers this one."


@pytest.fixture
def two_models_url(data_dir: Path) -> Iterator[str]:
    """The app allowing the offline model (the default) and a second one."""
    model = FunctionModel(stream_function=_echo)
    with (
        container_with_models(data_dir, {"test:echo": model}) as container,
        serve(create_app(container=container)) as url,
    ):
        yield url


def test_a_person_picks_the_model_when_the_server_allows_several(
    page: Any, two_models_url: str
) -> None:
    open_chat(page, two_models_url + "/#/chat")
    picker = page.get_by_label("Model", exact=True)
    picker.wait_for()  # shown once the server's models are in
    assert picker.input_value() == "offline-extractive"  # the server's default, preselected
    picker.select_option("test:echo")
    # `/nosrch`: the echo model never searches, and a required search would send it back.
    answer = ask(page, "/nosrch what is 12 * 7?")
    answer.get_by_text("The echo model answers this one.").wait_for()
    assert answer.locator(".chat-model").inner_text() == "test:echo"
    shot(page, "chat-model-picker-desktop")
    assert_accessible(page)
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "chat-model-picker-phone")


def test_with_one_model_there_is_nothing_to_pick(page: Any, app_url: str) -> None:
    open_chat(page, app_url + "/#/chat")
    expect(page.locator("#chat-model option")).to_have_count(1)
    assert not page.get_by_label("Model", exact=True).is_visible()
    answer = ask(page, QUESTION)
    assert answer.locator(".chat-model").inner_text() == "offline-extractive"


def test_a_draft_the_server_sent_back_gives_way_to_the_stored_answer(
    page: Any, two_models_url: str
) -> None:
    """The echo model answers without the search this question requires: its drafts stream,
    are sent back, and the answer kept is the server's; the page ends on that one."""
    open_chat(page, two_models_url + "/#/chat")
    page.get_by_label("Model", exact=True).select_option("test:echo")
    answer = ask(page, QUESTION)
    answer.get_by_text("no search was made").wait_for()
    assert "The echo model answers" not in answer.inner_text()
    chat_id = page.url.rsplit("/", 1)[1]
    stored = httpx.get(f"{two_models_url}/chats/{chat_id}/messages").json()["messages"][-1]
    assert stored["content"] in answer.locator(".chat-answer").inner_text()


LONG_CHAT = [
    QUESTION,
    "What is the minimum password length?",
    "What is the acknowledgement time for a SEV1 incident?",
    "Who approves a production deploy on Friday?",
    "How many days of remote work are allowed per week?",
    "What is the expense limit for a team dinner?",
]


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_a_reopened_long_chat_shows_its_last_answer_and_the_composer(
    new_page: Any, app_url: str, viewport: dict[str, int] | None
) -> None:
    """Reopening a chat of 4+ turns showed an empty page under the top bar: the
    screen-reader-only labels stretched the page and the whole page scrolled. On a desktop
    only the conversation scrolls (on a phone the page does, under the sticky composer);
    the last answer and the composer are in view."""
    chat_id = None
    for question in LONG_CHAT:
        body = {"message": question} | ({"chat_id": chat_id} if chat_id else {})
        reply = httpx.post(app_url + "/chat", json=body, timeout=60)
        assert reply.status_code == 200, reply.text
        chat_id = reply.json()["chat_id"]
    page = new_page(viewport=viewport)
    open_chat(page, f"{app_url}/#/chat/{chat_id}")
    expect(page.locator(".chat-user-text")).to_have_count(len(LONG_CHAT))
    height = page.viewport_size["height"]
    page.wait_for_timeout(300)  # let the reopened chat scroll to its end
    for locator in (page.get_by_label("Your question"), page.locator(".chat-answer").last):
        box = locator.bounding_box()
        assert box is not None
        assert box["y"] < height and box["y"] + box["height"] > 0, box  # in view
    composer = page.get_by_label("Your question").bounding_box()
    assert composer is not None and composer["y"] + composer["height"] <= height
    if viewport is None:  # on a desktop only the conversation scrolls, never the page
        assert page.evaluate("document.scrollingElement.scrollTop") == 0
    shot(page, f"chat-long-reopened-{'phone' if viewport else 'desktop'}")


def test_code_blocks_start_at_their_edge_and_table_columns_keep_their_alignment(
    page: Any, app_url: str
) -> None:
    """A code block's first line was indented by the inline-code padding, and a
    table's column alignment (":--", "--:", ":--:") was ignored."""
    open_chat(page, app_url + "/#/chat")
    styles = page.evaluate(
        """async () => {
            const { renderMarkdown, loadMarkdown } = await import('/app/js/markdown.js');
            await loadMarkdown();
            const box = document.createElement('div');
            box.className = 'md';
            box.append(renderMarkdown([
                '```', 'first line', 'second line', '```', '',
                '| name | count | state |', '|:--|--:|:--:|', '| a | 1 | ok |',
            ].join('\\n')));
            document.querySelector('.chat-log').append(box);
            const code = box.querySelector('pre code');
            const cells = [...box.querySelectorAll('td')]
                .map((td) => getComputedStyle(td).textAlign);
            return {padding: getComputedStyle(code).paddingLeft, cells};
        }"""
    )
    assert styles == {"padding": "0px", "cells": ["left", "right", "center"]}


def test_an_answer_is_read_to_the_end_of_its_stream(page: Any, app_url: str) -> None:
    """Every answer ended with net::ERR_ABORTED: the page cancelled the stream at
    its [DONE] line instead of reading it to its end."""
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(f"{request.url} {request.failure}"))
    open_chat(page, app_url + "/#/chat")
    ask(page, QUESTION)
    ask(page, "What is the minimum password length?")
    page.wait_for_timeout(300)
    assert failed == []


CODE_ANSWER = "Start it with:\n\n```\nalmanac serve\n  --port 8000\n```\n\nThen open the page."


async def _coder(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
    yield CODE_ANSWER


@pytest.fixture
def coder_url(data_dir: Path) -> Iterator[str]:
    """The app allowing the offline model and one that answers with a code block."""
    model = FunctionModel(stream_function=_coder)
    with (
        container_with_models(data_dir, {"test:coder": model}) as container,
        serve(create_app(container=container)) as url,
    ):
        yield url


def test_an_answer_and_its_code_blocks_can_be_copied(new_page: Any, coder_url: str) -> None:
    """No Copy on answers and no copy button on code blocks."""
    page = new_page(permissions=["clipboard-read", "clipboard-write"])
    open_chat(page, coder_url + "/#/chat")
    page.get_by_label("Model", exact=True).select_option("test:coder")
    answer = ask(page, "/nosrch how do I start it?")
    code = answer.locator(".chat-code pre")
    expect(code).to_have_text("almanac serve\n  --port 8000")

    answer.get_by_role("button", name="Copy code").click()
    expect(answer.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == "almanac serve\n  --port 8000"

    answer.locator(".chat-meta").get_by_role("button", name="Copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == CODE_ANSWER
    assert_accessible(page)

    # A reopened chat's answers have them too.
    page.reload()
    page.locator(".chat-meta").get_by_role("button", name="Copy").wait_for()
    expect(page.get_by_role("button", name="Copy code")).to_have_count(1)


def test_a_question_the_documents_do_not_answer_gets_a_neutral_not_found_state(
    page: Any, app_url: str
) -> None:
    """A right "not in the knowledge base" answer wore a red "very low · 16%" badge,
    like an error. The server says `not_found`; the page shows a neutral state instead of a
    score, live and when the chat is reopened."""
    question = "What is the parental leave policy?"
    assert httpx.post(app_url + "/chat", json={"message": question}, timeout=60).json()["not_found"]
    open_chat(page, app_url + "/#/chat")
    answer = ask(page, question)
    badge = answer.locator(".chat-not-found")
    expect(badge).to_have_text("Not in the documents")
    assert answer.locator(".chat-confidence").count() == 0
    assert_accessible(page)
    page.reload()
    expect(page.locator(".chat-turn-assistant .chat-not-found")).to_have_count(1)
    found = ask(page, QUESTION)
    assert found.locator(".chat-not-found").count() == 0
    assert found.locator(".chat-confidence").count() == 1


def test_the_chat_list_groups_chats_by_day_and_shows_two_lines_of_a_title(
    page: Any, app_url: str
) -> None:
    """Titles were cut to ~18 characters and the list had no dates."""
    long_question = "What is the acknowledgement time for a SEV1 incident during a weekend?"
    httpx.post(app_url + "/chat", json={"message": long_question}, timeout=60)
    open_chat(page, app_url + "/#/chat")
    expect(page.locator(".chat-list-group")).to_have_text(["Today"])
    link = page.get_by_role("link", name=long_question, exact=True)
    lines = link.evaluate(
        """el => {
            const style = getComputedStyle(el);
            const inner = el.clientHeight - parseFloat(style.paddingTop)
                - parseFloat(style.paddingBottom);
            return Math.round(inner / parseFloat(style.lineHeight));
        }"""
    )
    assert lines == 2  # two lines of the title, not one
    groups = page.evaluate(
        """async () => {
            const { dayGroup } = await import('/app/js/chat.js');
            const now = new Date(2026, 10, 24, 9, 0);
            return [new Date(2026, 10, 24, 0, 5), new Date(2026, 10, 23, 23, 59),
                    new Date(2026, 10, 19, 12, 0), new Date(2026, 9, 1), null]
                .map((d) => dayGroup(d && d.toISOString(), now));
        }"""
    )
    assert groups == ["Today", "Yesterday", "Previous 7 days", "Older", "Today"]
    assert_accessible(page)


def test_the_last_answer_is_retried_and_the_last_question_edited_in_place(
    page: Any, app_url: str
) -> None:
    open_chat(page, app_url + "/#/chat")
    ask(page, QUESTION)
    ask(page, "What is the minimum pasword lenght?")
    chat_id = page.url.rsplit("/", 1)[1]
    turns = page.locator(".chat-turn")
    expect(turns).to_have_count(4)
    # Only the last exchange offers Retry and Edit.
    expect(page.get_by_role("button", name="Retry")).to_have_count(1)
    expect(page.get_by_role("button", name="Edit")).to_have_count(1)
    assert_accessible(page)

    first_answer = page.locator(".chat-turn-assistant").last.locator(".chat-answer").inner_text()
    page.get_by_role("button", name="Retry").click()
    page.wait_for_function(
        "() => !document.querySelector('.chat-turn-assistant[aria-busy]')", timeout=30_000
    )
    expect(turns).to_have_count(4)  # the exchange was replaced, not added
    again = page.locator(".chat-turn-assistant").last.locator(".chat-answer")
    assert again.inner_text() == first_answer  # the offline model answers alike, paragraphs too
    stored = httpx.get(f"{app_url}/chats/{chat_id}/messages").json()["messages"]
    assert [m["role"] for m in stored] == ["user", "assistant", "user", "assistant"]
    # The answer it replaced stays reachable, as a previous version.
    versions = page.locator(".chat-turn-assistant").last.locator(".chat-versions")
    expect(versions.locator("summary")).to_have_text("Previous 1 answer")
    versions.locator("summary").click()
    # As stored: the text with its own numbers and its Sources list (the chips are live).
    expect(versions.locator(".chat-version-item .md")).to_contain_text(first_answer[:40])
    expect(versions.locator(".chat-version-item .md")).to_contain_text("Sources")

    page.get_by_role("button", name="Edit").click()
    composer = page.get_by_label("Your question")
    expect(composer).to_have_value("What is the minimum pasword lenght?")
    expect(page.get_by_role("status").filter(has_text="Editing your last question")).to_be_visible()
    composer.fill("How many vacation days do employees get?")
    composer.press("Enter")
    page.wait_for_function(
        "() => !document.querySelector('.chat-turn-assistant[aria-busy]')", timeout=30_000
    )
    expect(turns).to_have_count(4)
    expect(page.locator(".chat-user-text").last).to_have_text(
        "How many vacation days do employees get?"
    )
    stored = httpx.get(f"{app_url}/chats/{chat_id}/messages").json()["messages"]
    assert [m["content"] for m in stored if m["role"] == "user"] == [
        QUESTION,
        "How many vacation days do employees get?",
    ]
    page.reload()
    expect(page.locator(".chat-turn")).to_have_count(4)
    expect(page.get_by_role("button", name="Retry")).to_have_count(1)
    versions = page.locator(".chat-turn-assistant").last.locator(".chat-versions")
    expect(versions.locator("summary")).to_have_text("Previous 2 answers")
    versions.locator("summary").click()
    expect(versions.locator(".chat-version-when").first).to_contain_text(
        "to “What is the minimum pasword lenght?”"
    )
    assert_accessible(page)


def _cites_out_of_order(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """Searches, then cites the third passage before the first (as models do)."""
    if not any(isinstance(p, ToolReturnPart) for m in messages for p in getattr(m, "parts", [])):
        return ModelResponse(
            parts=[ToolCallPart("search_knowledge_base", {"query": "password rotation length"})]
        )
    return ModelResponse(
        parts=[TextPart("Passwords change only on compromise [3]. They have 14 characters [1].")]
    )


@pytest.fixture
def citing_url(data_dir: Path) -> Iterator[str]:
    model = FunctionModel(_cites_out_of_order, stream_function=streamed(_cites_out_of_order))
    with (
        container_with_models(data_dir, {"test:citing": model}) as container,
        serve(create_app(container=container)) as url,
    ):
        yield url


def test_citations_are_numbered_in_the_order_the_answer_cites_them(
    page: Any, citing_url: str
) -> None:
    """Citation numbers arrived with gaps and out of order (3, 1 in the text). The
    server numbers them (tests/e2e/test_citation_numbers.py); the page shows its numbers."""
    open_chat(page, citing_url + "/#/chat")
    page.get_by_label("Model", exact=True).select_option("test:citing")
    answer = ask(page, "How often do passwords change, and how long are they?")
    chips = answer.locator(".chat-answer button.chat-cite")
    expect(chips).to_have_text(["1", "2"])
    listed = answer.locator(".chat-source-chip .chat-cite-n")
    assert listed.all_inner_texts() == ["1", "2"]
    # The chip "1" and the first listed source are the same passage: the model's [3].
    stored = httpx.get(f"{citing_url}/chats/{page.url.rsplit('/', 1)[1]}/messages").json()
    last = stored["messages"][-1]
    assert last["content"].startswith("Passwords change only on compromise [1].")
    first = last["sources"][0]
    assert first["number"] == 1
    assert first["title"] in (chips.first.get_attribute("aria-label") or "")
    assert first["title"] in answer.locator(".chat-source-chip").first.inner_text()
    assert_accessible(page)


@pytest.fixture
def paced_url(data_dir: Path) -> Iterator[str]:
    """The app with streams paced as shipped (STREAM_WORD_DELAY_MS's default)."""
    shipped = ChatSettings.model_fields["stream_word_delay_ms"].default
    settings = make_settings(data_dir, stream_word_delay_ms=shipped)
    assert settings.chat.stream_word_delay_ms > 0
    container = bootstrap(settings, clock=FixedClock())
    try:
        with serve(create_app(container=container)) as url:
            yield url
    finally:
        container.close()


#: Records the length of the newest answer's text at every change of the page.
RECORD_ANSWER_LENGTHS = """() => {
  window.answerLengths = [];
  new MutationObserver(() => {
    const answers = document.querySelectorAll('.chat-turn-assistant .chat-answer');
    const last = answers[answers.length - 1];
    if (last) window.answerLengths.push(last.textContent.length);
  }).observe(document.body, { childList: true, subtree: true, characterData: true });
}"""


def test_an_offline_answer_is_seen_being_written(page: Any, paced_url: str) -> None:
    """The offline model's answer arrived all at once. It now streams a word at a
    time (the server paces a sentence that arrives whole), and the page shows it growing."""
    open_chat(page, paced_url + "/#/chat")
    page.evaluate(RECORD_ANSWER_LENGTHS)
    answer = ask(page, QUESTION)
    lengths = page.evaluate("window.answerLengths")
    final = len(answer.locator(".chat-answer").text_content() or "")
    growing = sorted({n for n in lengths if 0 < n < final})
    assert len(growing) >= 5, f"the answer appeared in {len(growing) + 1} steps: {lengths}"


def _search_then_cite_nothing(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """Searches, then answers without a single [n] (as a small model does)."""
    searched = any(isinstance(p, ToolReturnPart) for m in messages for p in m.parts)
    if not searched:
        return ModelResponse(
            parts=[ToolCallPart("search_knowledge_base", {"query": QUESTION}, "call-1")]
        )
    return ModelResponse(parts=[TextPart("They are changed only when compromised.")])


@pytest.fixture
def uncited_url(data_dir: Path) -> Iterator[str]:
    """The app whose chat turns are answered by a model that cites nothing."""
    model = FunctionModel(
        _search_then_cite_nothing, stream_function=streamed(_search_then_cite_nothing)
    )
    with (
        container_with_models(data_dir, {"test:uncited": model}) as container,
        serve(create_app(container=container)) as url,
    ):
        chosen = httpx.put(url + "/api/llm-defaults/chat", json={"model": "test:uncited"})
        assert chosen.status_code == 200, chosen.text
        yield url


def test_an_answer_citing_nothing_shows_the_passages_it_was_given_apart(
    page: Any, uncited_url: str
) -> None:
    open_chat(page, uncited_url + "/#/chat")
    answer = ask(page, QUESTION)
    assert answer.locator(".chat-answer button.chat-cite").count() == 0
    titles = answer.locator(".chat-sources-title").all_inner_texts()
    assert [t.lower() for t in titles] == ["passages it was given (not cited)"]
    given = answer.locator("button.chat-source-chip")
    assert given.count() >= 1
    assert "Password and Credential Rotation Policy" in given.first.inner_text()
    given.first.click()
    expect(page.locator(".chat-passage-title").first).to_have_text("Passage it was given")
    assert_accessible(page)
