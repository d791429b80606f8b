"""A source's `link` (a synced web page's URL): only an absolute http(s) URL is ever written
out, in an answer's JSON, its stored history read back, the search API's hits and the
Markdown export; without one the JSON has no `link` key, as before links were shown."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backend.api.schemas import HitOut, ScoresOut
from use_cases.chat.domain import Chat, Message, Source
from use_cases.chat.export import chat_as_markdown
from use_cases.chat.manage_chats import ChatTranscript
from use_cases.knowledge.domain import web_link

PAGE = "https://intranet.example.com/handbook/parking?lang=en#visitors"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

REFUSED = [
    None,
    "",
    42,
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<b>x</b>",
    "file:///etc/passwd",
    "ftp://files.example.com/a",
    "//intranet.example.com/no-scheme",
    "/relative/path",
    "https://",
    " https://intranet.example.com/leading-space",
    "https://intranet.example.com/a page",
    "https://intranet.example.com/\nnext-line",
    'https://intranet.example.com/"onclick="x',
    "https://intranet.example.com/<script>",
    "http://[::1",  # urlsplit raises on it
]


@pytest.mark.parametrize("value", [PAGE, "http://127.0.0.1:8080/a.html", "HTTPS://EXAMPLE.COM/"])
def test_an_http_or_https_url_is_a_link(value: str) -> None:
    assert web_link(value) == value


@pytest.mark.parametrize("value", REFUSED)
def test_anything_else_is_no_link(value: object) -> None:
    assert web_link(value) is None


def _source(link: str | None) -> Source:
    return Source(1, "document", "Parking", "intranet/parking", section="Visitors", link=link)


def test_a_source_without_a_link_has_no_link_key() -> None:
    assert "link" not in _source(None).as_dict()


def test_a_page_link_is_written_and_read_back_from_history() -> None:
    data = _source(PAGE).as_dict()
    assert data["link"] == PAGE
    assert Source.from_dict(data).link == PAGE


@pytest.mark.parametrize("value", REFUSED[3:])
def test_a_stored_link_of_another_kind_is_dropped_on_either_side(value: str) -> None:
    assert "link" not in _source(value).as_dict()
    stored = {**_source(None).as_dict(), "link": value}  # a history row written elsewhere
    assert Source.from_dict(stored).link is None


def _hit(link: str | None) -> HitOut:
    return HitOut(
        rank=1,
        document_id=3,
        source="intranet/parking",
        title="Parking",
        category=None,
        section_path=["Parking"],
        updated_at=None,
        chunk_id=9,
        text="Visitors park in bay seven.",
        section_text="Visitors park in bay seven.",
        highlight="",
        scores=ScoresOut(
            fused=0.5,
            bm25_rank=1,
            bm25_score=2.0,
            vector_rank=None,
            vector_distance=None,
            rerank_score=None,
        ),
        link=link,
    )


def test_a_search_hit_has_a_link_key_only_with_a_link() -> None:
    assert "link" not in _hit(None).model_dump(mode="json")
    assert '"link"' not in _hit(None).model_dump_json()
    assert _hit(PAGE).model_dump(mode="json")["link"] == PAGE
    assert "link" in HitOut.model_json_schema(mode="serialization")["properties"]


def _exported(*sources: Source) -> str:
    question = Message("m1", "c1", "user", "Where?", (), (), None, None, None, "complete", NOW)
    answer = Message(
        "m2", "c1", "assistant", "Bay seven [1].", (), sources, "m", 5, None, "complete", NOW
    )
    chat = Chat("c1", "ana", "Parking", NOW, NOW)
    return chat_as_markdown(ChatTranscript(chat, [question, answer], {}))


def test_the_export_lists_a_page_by_its_link() -> None:
    assert "1. Parking, Visitors: `intranet/parking` <" + PAGE + ">" in _exported(_source(PAGE))


def test_the_export_of_a_file_or_a_refused_link_is_unchanged() -> None:
    plain = _exported(_source(None))
    assert plain.endswith("1. Parking, Visitors: `intranet/parking`\n")
    assert _exported(_source("javascript:alert(1)")) == plain
