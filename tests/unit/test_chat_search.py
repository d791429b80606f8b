"""Searching chats (`ManageChats.search`, over the in-memory history store): what the query
may be, and the snippet each chat found shows."""

from __future__ import annotations

import pytest

from tests.fakes import InMemoryHistoryStore
from use_cases.chat.domain import NewMessage
from use_cases.chat.manage_chats import SNIPPET_CHARS, ManageChats, snippet_of
from use_cases.shared.errors import InvalidRequest

LONG = (
    "The retention schedule keeps invoices for seven years and contracts for ten, "
    "while personal data of applicants is deleted after four weeks unless they agree to a "
    "longer period, and backups follow the same rules within ninety days of a deletion."
)


def test_a_snippet_shows_the_first_match_with_words_kept_whole() -> None:
    text = snippet_of(LONG, ["APPLICANTS"])
    assert text.startswith("…") and text.endswith("…")
    assert "applicants" in text
    assert len(text) <= SNIPPET_CHARS + 2
    inner = text.strip("…")
    assert inner in LONG  # no word cut in two at either end
    assert LONG[LONG.index(inner) - 1] == " " and LONG[LONG.index(inner) + len(inner)] == " "


def test_a_short_message_is_its_own_snippet_with_whitespace_collapsed() -> None:
    assert snippet_of("How  often\nmust passwords\tbe rotated?", ["rotat"]) == (
        "How often must passwords be rotated?"
    )
    assert snippet_of(LONG, ["retention"]).startswith("The retention schedule")


@pytest.fixture
def chats() -> ManageChats:
    history = InMemoryHistoryStore()
    history.get_or_create_chat("c1", "ana", "Retention")
    history.append_message("c1", NewMessage("user", LONG))
    return ManageChats(history)


async def test_the_query_is_bounded_and_must_hold_a_word(chats: ManageChats) -> None:
    found = await chats.search("ana", "deleted  applicants")
    assert [(m.chat.id, "applicants" in (m.snippet or "")) for m in found] == [("c1", True)]
    assert await chats.search("ana", "deleted kubernetes") == []
    for bad in ("   ", "x" * 201, " ".join("abcdefghi")):
        with pytest.raises(InvalidRequest):
            await chats.search("ana", bad)
    with pytest.raises(InvalidRequest):
        await chats.search("ana", "deleted", limit=0)
