"""The readers of share pages, export files and Slack threads, on the reconstructed
fixtures (tests/fixtures/conversations/README.md) and generated exports."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from services.conversations.import_formats import ConversationFormatReader, read_turbo_stream
from tests.conversation_exports import chatgpt_export
from use_cases.conversations.import_domain import InvalidExport, NoConversation, UnsupportedPage
from use_cases.shared.errors import InvalidRequest

FIXTURES = Path(__file__).parents[1] / "fixtures" / "conversations"
reader = ConversationFormatReader()


def page(name: str) -> str:
    return (FIXTURES / name).read_text()


@pytest.mark.parametrize(
    "name", ["chatgpt-share-next-data.html", "chatgpt-share-react-router.html"]
)
def test_a_chatgpt_share_page_gives_the_active_branch_without_hidden_or_tool_messages(
    name: str,
) -> None:
    conversation = reader.parse_page("https://chatgpt.com/share/abc", page(name))
    assert conversation.source == "chatgpt"
    assert [m.role for m in conversation.messages] == [
        "user",
        "assistant",
        "assistant",
        "user",
        "assistant",
    ]
    texts = [m.text for m in conversation.messages]
    assert texts[0].startswith("How often should I water")  # the edited question, not the first
    assert "abandoned" not in " ".join(texts)
    assert "seedling watering" not in " ".join(texts)  # the call to a tool
    assert conversation.messages[0].created_at is not None
    assert conversation.external_id.startswith("674")
    assert conversation.title


def test_a_claude_share_page_reads_text_blocks_split_over_flight_chunks() -> None:
    conversation = reader.parse_page("https://claude.ai/share/x", page("claude-share.html"))
    assert conversation.source == "claude"
    assert conversation.title == "Sourdough starter schedule"
    assert [m.role for m in conversation.messages] == ["user", "assistant", "user", "assistant"]
    assert conversation.messages[1].text == (
        "Once a week is enough in the fridge.\n\nTake it out a day before baking and feed it twice."
    )
    assert "internal" not in conversation.messages[1].text  # a thinking block is not text
    assert conversation.messages[2].text == "What ratio of flour to water?"


def test_a_grok_share_page_maps_senders_to_roles() -> None:
    conversation = reader.parse_page("https://grok.com/share/x", page("grok-share.html"))
    assert conversation.source == "grok"
    assert conversation.title == "Bike chain maintenance"
    assert [m.role for m in conversation.messages] == ["user", "assistant", "assistant"]
    assert conversation.external_id == "c0ffee00-1234-4abc-9def-000000000001"


def test_a_page_without_embedded_data_is_unsupported() -> None:
    with pytest.raises(UnsupportedPage):
        reader.parse_page("https://chatgpt.com/share/x", page("plain.html"))


def test_an_expired_share_page_has_no_conversation() -> None:
    with pytest.raises(NoConversation):
        reader.parse_page("https://chatgpt.com/share/x", page("chatgpt-share-expired.html"))


def test_turbo_stream_decoding_resolves_keys_values_and_shared_entries() -> None:
    flat = [{"_1": 2, "_3": 4}, "name", "value", "list", [2, 2, -5]]
    assert read_turbo_stream(flat) == {"name": "value", "list": ["value", "value", None]}


def test_a_chatgpt_export_takes_each_conversations_current_branch() -> None:
    conversations = reader.parse_export("conversations.json", chatgpt_export(6, turns=2))
    assert len(conversations) == 6
    first = conversations[0]
    assert first.source == "chatgpt-export"
    assert first.external_id == "conv-00000"
    assert first.messages[0].text == "Question 1 of conversation 0 about watering?"
    assert all("abandoned" not in m.text for c in conversations for m in c.messages)
    assert all(len(c.messages) == 4 for c in conversations)


def test_an_export_zip_is_read_from_its_conversations_json() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("chat.html", "<html></html>")
        archive.writestr("conversations.json", chatgpt_export(2))
    assert len(reader.parse_export("export.zip", buffer.getvalue())) == 2


def test_a_claude_export_skips_empty_conversations_and_titles_untitled_ones() -> None:
    data = (FIXTURES / "claude-export-conversations.json").read_bytes()
    conversations = reader.parse_export("conversations.json", data)
    assert [c.source for c in conversations] == ["claude-export", "claude-export"]
    assert conversations[0].title == "Planning a reading list"
    assert conversations[1].messages[1].text == "About 375 grams of all-purpose flour."


@pytest.mark.parametrize(
    "data",
    [b"not json", b'{"a": 1}', b"[1, 2]", b'[{"title": "x"}]', b"[{}", b"3"],
)
def test_a_broken_export_is_refused(data: bytes) -> None:
    with pytest.raises(InvalidExport):
        reader.parse_export("conversations.json", data)


def test_a_slack_thread_makes_bot_messages_the_assistant() -> None:
    payload = json.loads((FIXTURES / "slack-thread.json").read_text())
    conversation = reader.parse_slack(payload)
    assert conversation.source == "slack"
    assert conversation.external_id == "C0RECON01:1732100000.000100"
    assert [m.role for m in conversation.messages] == ["user", "assistant", "user"]
    assert conversation.source_url == payload["permalink"]


def test_a_slack_payload_without_messages_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        reader.parse_slack({"channel": "C1", "messages": []})
