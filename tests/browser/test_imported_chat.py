"""An imported conversation in the web app: its badge in the chat list, the note naming its
source, a new question continuing it after the imported turns, and the sidebar's import of
an export file (found again: nothing new)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from backend.bootstrap import Container
from tests.browser.test_chat import ask, open_chat
from tests.share_pages import FIXTURES


def test_an_imported_conversation_opens_with_its_source_and_can_be_continued(
    page: Any, app_url: str, container: Container
) -> None:
    data = (FIXTURES / "claude-export-conversations.json").read_bytes()
    user = container.settings.default_user_id
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
