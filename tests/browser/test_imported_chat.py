"""An imported conversation in the web app: its badge in the chat list, the note naming its
source, a new question continuing it after the imported turns, and the sidebar's import of
an export file (found again: nothing new); a long one opens on its last page of messages and
shows the earlier ones a page at a time."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from backend.bootstrap import Container
from tests.browser.test_chat import ask, open_chat
from tests.conversation_exports import chatgpt_export
from tests.share_pages import FIXTURES


def test_an_imported_conversation_opens_with_its_source_and_can_be_continued(
    page: Any, app_url: str, container: Container
) -> None:
    data = (FIXTURES / "claude-export-conversations.json").read_bytes()
    user = container.settings.auth.default_user_id
    result = container.conversation_import.from_file.run_now(
        user, "conversations.json", data, lambda done, total: None
    )
    chat_id = result["chat_ids"][0]

    open_chat(page, f"{app_url}/#/chat/{chat_id}")
    item = page.locator(".chat-list-item", has_text="Planning a reading list")
    expect(item.locator(".chat-source-badge")).to_have_text("Claude export")
    expect(page.locator(".chat-imported")).to_contain_text("Imported from Claude export")
    expect(page.locator(".chat-turn-user").first).to_contain_text("three classic novels")

    ask(page, "How often must passwords be rotated?")
    expect(page.locator(".chat-turn-user")).to_have_count(2)
    messages = container.adapters.history.list_messages(chat_id)
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[0].content.startswith("Suggest an order")

    page.get_by_text("Import a conversation").click()
    page.set_input_files("#chat-import-file", str(FIXTURES / "claude-export-conversations.json"))
    page.get_by_role("button", name="Import file").click()
    expect(page.locator(".chat-import-status")).to_contain_text(
        "0 conversations imported, 2 already there", timeout=15_000
    )


def test_a_long_chat_opens_on_its_last_page_and_shows_earlier_pages_on_request(
    page: Any, app_url: str, container: Container
) -> None:
    data = chatgpt_export(1, turns=125)  # 250 messages: pages of 100, 100 and 50
    user = container.settings.auth.default_user_id
    result = container.conversation_import.from_file.run_now(
        user, "conversations.json", data, lambda done, total: None
    )
    assert result["messages_imported"] == 250

    open_chat(page, f"{app_url}/#/chat/{result['chat_ids'][0]}")
    turns = page.locator(".chat-log .chat-turn")
    expect(turns).to_have_count(100)
    expect(turns.last).to_contain_text("Answer 125 on")
    earlier = page.get_by_role("button", name="Show earlier messages")
    earlier.click()
    expect(turns).to_have_count(200)
    earlier.click()
    expect(turns).to_have_count(250)
    expect(earlier).to_have_count(0)
    expect(turns.first).to_contain_text("Question 1 of conversation 0")
    expect(turns.last).to_contain_text("Answer 125 on")
